//! The panic boundary: every entry point runs its body inside `ffi_boundary!`, which clears
//! the thread's last error, catches any unwind and turns it into the function's failure
//! value (`REWRAP_PANIC`, NULL or 0), so no panic ever crosses into C.
//!
//! Entry points taking pointers are `unsafe extern "C"`: their contract (valid, live
//! pointers; lengths that match) is the C caller's to keep, as the header documents.

use crate::error::rewrap_result;

/// What an entry point returns when its body panicked.
pub(crate) trait PanicValue {
    fn panic_value() -> Self;
}

impl PanicValue for rewrap_result {
    fn panic_value() -> Self {
        rewrap_result::REWRAP_PANIC
    }
}

impl<T> PanicValue for *const T {
    fn panic_value() -> Self {
        std::ptr::null()
    }
}

impl PanicValue for () {
    fn panic_value() -> Self {}
}

macro_rules! ffi_boundary {
    ($($body:tt)*) => {{
        $crate::error::clear();
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(_) => {
                let _ = $crate::error::fail(
                    $crate::error::rewrap_result::REWRAP_PANIC,
                    "internal panic caught at the C boundary",
                );
                <_ as $crate::panic::PanicValue>::panic_value()
            }
        }
    }};
}
pub(crate) use ffi_boundary;

/// Turns a NULL pointer argument into `REWRAP_NULL_PARAMETER` with the argument's name.
macro_rules! non_null {
    ($ptr:expr) => {
        if $ptr.is_null() {
            return $crate::error::fail(
                $crate::error::rewrap_result::REWRAP_NULL_PARAMETER,
                concat!("NULL argument: ", stringify!($ptr)),
            );
        }
    };
}
pub(crate) use non_null;

/// Unwraps an engine result or returns its code.
macro_rules! engine_try {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $crate::error::engine(e),
        }
    };
}
pub(crate) use engine_try;

/// Unwraps an argument check (`Result<T, rewrap_result>`, the error already recorded) or
/// returns its code: rustls-ffi's `try_*!` pattern.
macro_rules! try_arg {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
pub(crate) use try_arg;
