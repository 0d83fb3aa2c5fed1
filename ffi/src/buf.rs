//! Library-owned byte buffers handed to C, and the argument conversions every entry point
//! shares (slices, strings, handles).

use std::ffi::{c_char, CStr};

use crate::error::{fail, rewrap_result};
use crate::panic::ffi_boundary;

/// Bytes allocated by rewrap. Release with `rewrap_buf_free`. An empty buffer may have a
/// NULL `data`.
#[repr(C)]
#[derive(Debug)]
pub struct rewrap_buf {
    /// Start of the bytes.
    pub data: *mut u8,
    /// Number of bytes.
    pub len: usize,
}

impl rewrap_buf {
    pub(crate) fn from_vec(v: Vec<u8>) -> Self {
        let boxed = v.into_boxed_slice();
        let len = boxed.len();
        rewrap_buf {
            data: Box::into_raw(boxed).cast::<u8>(),
            len,
        }
    }
}

/// Stores `v` into `*out` (which must not be NULL; checked by the caller).
pub(crate) fn give(out: *mut rewrap_buf, v: Vec<u8>) {
    // SAFETY: callers check `out` for NULL; C promises it points to a writable rewrap_buf.
    unsafe { out.write(rewrap_buf::from_vec(v)) };
}

/// Frees the bytes of a buffer rewrap returned and sets it to {NULL, 0}. NULL is ignored;
/// freeing the same buffer twice is safe because the first call empties it.
#[no_mangle]
pub unsafe extern "C" fn rewrap_buf_free(buf: *mut rewrap_buf) {
    ffi_boundary! {
        if buf.is_null() {
            return;
        }
        // SAFETY: non-NULL, and C promises it points to a rewrap_buf.
        let b = unsafe { &mut *buf };
        if !b.data.is_null() {
            // SAFETY: `data`/`len` came from `Box<[u8]>::into_raw` in `from_vec`, and are
            // reset below so the same allocation is never freed twice.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(b.data, b.len)) });
        }
        b.data = std::ptr::null_mut();
        b.len = 0;
    }
}

/// A byte slice from a C pointer and length; NULL is allowed only with length 0.
pub(crate) fn slice<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], rewrap_result> {
    slice_of(ptr, len)
}

/// A `&str` from a NUL-terminated C string.
pub(crate) fn string<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, rewrap_result> {
    if ptr.is_null() {
        return Err(fail(
            rewrap_result::REWRAP_NULL_PARAMETER,
            &format!("NULL argument: {what}"),
        ));
    }
    // SAFETY: non-NULL; C promises a NUL-terminated string that outlives the call.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| {
        fail(
            rewrap_result::REWRAP_INVALID_UTF8,
            &format!("{what} is not UTF-8"),
        )
    })
}

/// Copies `bytes` into a caller buffer of `cap` bytes.
pub(crate) fn copy_out(bytes: &[u8], out: *mut u8, cap: usize) -> rewrap_result {
    if out.is_null() {
        return fail(rewrap_result::REWRAP_NULL_PARAMETER, "NULL output buffer");
    }
    if cap < bytes.len() {
        return fail(
            rewrap_result::REWRAP_BUFFER_TOO_SMALL,
            &format!("output buffer needs {} bytes, has {cap}", bytes.len()),
        );
    }
    // SAFETY: `out` is non-NULL and C promises `cap` >= bytes.len() writable bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
    rewrap_result::REWRAP_OK
}

/// Moves a Rust value into a handle for C.
pub(crate) fn into_handle<T>(value: T) -> *const T {
    Box::into_raw(Box::new(value))
}

/// Borrows a handle C passed in.
pub(crate) fn handle<'a, T>(ptr: *const T) -> &'a T {
    // SAFETY: callers check for NULL first; C promises a live handle from `into_handle`.
    unsafe { &*ptr }
}

/// Frees a handle (NULL is ignored).
pub(crate) fn free_handle<T>(ptr: *const T) {
    if !ptr.is_null() {
        // SAFETY: the pointer came from `into_handle` and C frees each handle once.
        drop(unsafe { Box::from_raw(ptr.cast_mut()) });
    }
}

/// Writes a handle into an out-parameter (checked non-NULL by the caller).
pub(crate) fn set_out<T>(out: *mut *const T, value: T) -> rewrap_result {
    // SAFETY: callers check `out` for NULL; C promises it is writable.
    unsafe { out.write(into_handle(value)) };
    rewrap_result::REWRAP_OK
}

/// A slice of `T` from a C array; NULL is allowed only with length 0.
pub(crate) fn slice_of<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], rewrap_result> {
    if ptr.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(fail(
            rewrap_result::REWRAP_NULL_PARAMETER,
            "NULL array with non-zero length",
        ));
    }
    // SAFETY: non-NULL; C promises `len` readable elements that outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}
