//! The one result type of the C ABI and the per-thread last-error message. Every code and name
//! comes from the engine's error table (`rewrap::ERROR_KINDS`); the C enum in `rewrap.h` is
//! generated from that table by `ffi/tests/header.rs`, so this file lists no error by hand.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use rewrap::{Error, ErrorKind, ERROR_KINDS};

/// Result of every fallible rewrap function: 0 is success, every other value is the code of a
/// row of the engine's error table. In C this is the generated `enum rewrap_result`.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct rewrap_result(pub u32);

impl rewrap_result {
    /// Success.
    pub const REWRAP_OK: Self = rewrap_result(0);
    /// A required pointer argument was NULL.
    pub const REWRAP_NULL_PARAMETER: Self = Self::of(ErrorKind::NullParameter);
    /// A caught panic.
    pub const REWRAP_PANIC: Self = Self::of(ErrorKind::Panic);
    /// A string argument was not UTF-8.
    pub const REWRAP_INVALID_UTF8: Self = Self::of(ErrorKind::InvalidUtf8);
    /// A caller buffer was too small.
    pub const REWRAP_BUFFER_TOO_SMALL: Self = Self::of(ErrorKind::BufferTooSmall);

    /// The result code of an error kind.
    pub const fn of(kind: ErrorKind) -> Self {
        rewrap_result(kind.code())
    }
}

/// `REWRAP_` + the kind's name in SCREAMING_SNAKE case: the C constant of a table row.
pub fn c_name(name: &str) -> String {
    let mut out = String::from("REWRAP_");
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

impl From<&Error> for rewrap_result {
    fn from(e: &Error) -> Self {
        rewrap_result::of(e.kind())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error and returns `code`.
pub(crate) fn fail(code: rewrap_result, message: &str) -> rewrap_result {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
    code
}

/// Records an engine error.
pub(crate) fn engine(e: Error) -> rewrap_result {
    fail(rewrap_result::from(&e), &e.to_string())
}

/// Records a key-file or store error under its table kind.
pub(crate) fn store(e: rewrap::StoreError) -> rewrap_result {
    fail(rewrap_result::of(e.kind()), &e.to_string())
}

/// Clears this thread's last error (at the start of every call); allocation-free when it
/// is already clear, so successful calls stay cheap.
pub(crate) fn clear() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if !e.as_bytes().is_empty() {
            *e = CString::default();
        }
    });
}

/// The message of the calling thread's last failure ("" if the last call succeeded). The
/// pointer stays valid until this thread's next rewrap call; do not free it.
#[no_mangle]
pub extern "C" fn rewrap_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A static, NUL-terminated name for a result code ("REWRAP_WRONG_TOPIC"...);
/// "REWRAP_UNKNOWN" for a code this build does not know.
#[no_mangle]
pub extern "C" fn rewrap_result_name(result: rewrap_result) -> *const c_char {
    static NAMES: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        std::iter::once((0, "REWRAP_OK".to_string()))
            .chain(ERROR_KINDS.iter().map(|row| (row.code, c_name(row.name))))
            .map(|(code, name)| (code, CString::new(name).expect("names have no NUL")))
            .collect()
    });
    let unknown = ErrorKind::Unknown.code();
    names
        .iter()
        .find(|(code, _)| *code == result.0)
        .or_else(|| names.iter().find(|(code, _)| *code == unknown))
        .map_or(std::ptr::null(), |(_, name)| name.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_table() {
        assert_eq!(c_name("WrongTopic"), "REWRAP_WRONG_TOPIC");
        assert_eq!(c_name("InvalidUtf8"), "REWRAP_INVALID_UTF8");
        let name = |code| {
            // SAFETY: rewrap_result_name returns a static NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(rewrap_result_name(rewrap_result(code))) }
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(name(105), "REWRAP_WRONG_TOPIC");
        assert_eq!(name(0), "REWRAP_OK");
        assert_eq!(name(12345), "REWRAP_UNKNOWN");
    }

    #[test]
    fn engine_errors_keep_their_codes() {
        let e = Error::WrongTopic;
        assert_eq!(rewrap_result::from(&e).0, e.code());
    }
}
