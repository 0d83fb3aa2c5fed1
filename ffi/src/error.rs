//! The one result enum of the C ABI and the per-thread last-error message. Codes of engine
//! errors are the engine's own stable numbers (`rewrap_core::Error::code`).

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use rewrap::Error;

/// Result of every fallible rewrap function. 0 is success; 1..99 are ABI errors; 100 and up
/// mirror the engine's errors.
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rewrap_result {
    /// Success.
    REWRAP_OK = 0,
    /// A required pointer argument was NULL.
    REWRAP_NULL_PARAMETER = 1,
    /// A panic inside the library was caught (a bug: please report it).
    REWRAP_PANIC = 2,
    /// A string argument was not valid UTF-8.
    REWRAP_INVALID_UTF8 = 3,
    /// A caller buffer was too small; the message says how large it must be.
    REWRAP_BUFFER_TOO_SMALL = 4,
    /// Input ended early.
    REWRAP_TRUNCATED = 100,
    /// Unknown version or algorithm id.
    REWRAP_UNSUPPORTED_VERSION = 101,
    /// Bytes are not a well-formed object of their kind.
    REWRAP_MALFORMED = 102,
    /// The value is not a rewrap envelope.
    REWRAP_FOREIGN_RECORD = 103,
    /// No rewrap headers and plaintext not allowed.
    REWRAP_UNENCRYPTED = 104,
    /// Sealed for another topic.
    REWRAP_WRONG_TOPIC = 105,
    /// Value and EDEK of different sessions.
    REWRAP_EDEK_MISMATCH = 106,
    /// Authenticated decryption failed.
    REWRAP_AUTHENTICATION_FAILED = 107,
    /// No capsule fragment for this consumer.
    REWRAP_MISSING_CFRAG = 200,
    /// Capsule fragments only for other consumers.
    REWRAP_WRONG_CONSUMER = 201,
    /// Fewer fragments than the threshold.
    REWRAP_INSUFFICIENT_CFRAGS = 202,
    /// A fragment failed verification.
    REWRAP_INVALID_CFRAG = 203,
    /// The DEK could not be opened.
    REWRAP_DEK_UNAVAILABLE = 204,
    /// No grant for this consumer, channel and key.
    REWRAP_NOT_GRANTED = 300,
    /// The grant was revoked.
    REWRAP_REVOKED = 301,
    /// The grant is outside its validity period.
    REWRAP_GRANT_EXPIRED = 302,
    /// The grant is not signed by a trusted administrator.
    REWRAP_UNTRUSTED_GRANT = 303,
    /// A key fragment in a grant failed verification.
    REWRAP_INVALID_KEY_FRAG = 304,
    /// An argument is out of range.
    REWRAP_INVALID_ARGUMENT = 400,
    /// An engine error this build of the ABI has no code for.
    REWRAP_UNKNOWN_ERROR = 999,
}

use rewrap_result::*;

/// Every result, once: the mapping from engine codes and the names both read this list.
const ALL: [rewrap_result; 25] = [
    REWRAP_OK,
    REWRAP_NULL_PARAMETER,
    REWRAP_PANIC,
    REWRAP_INVALID_UTF8,
    REWRAP_BUFFER_TOO_SMALL,
    REWRAP_TRUNCATED,
    REWRAP_UNSUPPORTED_VERSION,
    REWRAP_MALFORMED,
    REWRAP_FOREIGN_RECORD,
    REWRAP_UNENCRYPTED,
    REWRAP_WRONG_TOPIC,
    REWRAP_EDEK_MISMATCH,
    REWRAP_AUTHENTICATION_FAILED,
    REWRAP_MISSING_CFRAG,
    REWRAP_WRONG_CONSUMER,
    REWRAP_INSUFFICIENT_CFRAGS,
    REWRAP_INVALID_CFRAG,
    REWRAP_DEK_UNAVAILABLE,
    REWRAP_NOT_GRANTED,
    REWRAP_REVOKED,
    REWRAP_GRANT_EXPIRED,
    REWRAP_UNTRUSTED_GRANT,
    REWRAP_INVALID_KEY_FRAG,
    REWRAP_INVALID_ARGUMENT,
    REWRAP_UNKNOWN_ERROR,
];

impl From<&Error> for rewrap_result {
    /// Engine codes are 100 and up, so they never meet the ABI's own 0..99.
    fn from(e: &Error) -> Self {
        let code = e.code();
        ALL.into_iter()
            .find(|r| *r as u32 == code && code >= 100)
            .unwrap_or(REWRAP_UNKNOWN_ERROR)
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

/// A static, NUL-terminated name for a result code ("REWRAP_WRONG_TOPIC"...).
#[no_mangle]
pub extern "C" fn rewrap_result_name(result: rewrap_result) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ALL.iter()
            .map(|r| CString::new(format!("{r:?}")).expect("names have no NUL"))
            .collect()
    });
    let index = ALL
        .iter()
        .position(|r| *r == result)
        .unwrap_or(ALL.len() - 1);
    names[index].as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewrap::Object;

    #[test]
    fn every_engine_error_has_its_own_code() {
        let samples = [
            Error::Truncated(Object::Edek),
            Error::UnsupportedVersion(Object::Edek, 2),
            Error::Malformed(Object::Cfrag),
            Error::ForeignRecord,
            Error::Unencrypted,
            Error::WrongTopic,
            Error::EdekMismatch,
            Error::AuthenticationFailed,
            Error::MissingCfrag,
            Error::WrongConsumer,
            Error::InsufficientCfrags { have: 1, need: 2 },
            Error::InvalidCfrag,
            Error::DekUnavailable,
            Error::NotGranted,
            Error::Revoked,
            Error::GrantExpired,
            Error::UntrustedGrant,
            Error::InvalidKeyFrag,
            Error::InvalidArgument("x"),
        ];
        for e in &samples {
            let r = rewrap_result::from(e);
            assert_ne!(r, REWRAP_UNKNOWN_ERROR, "{e:?}");
            assert_eq!(r as u32, e.code());
        }
    }
}
