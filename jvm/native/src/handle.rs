//! Engine objects behind Java `long` handles: boxed here, borrowed per call, freed once by the
//! Java wrapper's `close` (which zeroes its handle under a write lock).

use rewrap::ErrorKind;

use crate::error::{Failure, R};

/// Borrows a handle; 0 means closed.
pub(crate) fn borrow<'a, T>(h: i64) -> R<&'a T> {
    if h == 0 {
        return Err(Failure::Kind(ErrorKind::Closed, "handle is closed".into()));
    }
    // SAFETY: non-zero handles are pointers from `into_handle::<T>` (each Java class passes
    // only its own), and the Java wrapper frees one only under its write lock, after which it
    // never passes it again; calls run under the read lock, so the object outlives the borrow.
    Ok(unsafe { &*(h as *const T) })
}

/// Moves `value` to the heap and returns its handle.
pub(crate) fn into_handle<T>(value: T) -> i64 {
    Box::into_raw(Box::new(value)) as i64
}

/// Frees a handle (0 is ignored).
pub(crate) fn free<T>(h: i64) {
    if h != 0 {
        // SAFETY: `h` came from `into_handle::<T>` and the Java wrapper frees it exactly once.
        drop(unsafe { Box::from_raw(h as *mut T) });
    }
}
