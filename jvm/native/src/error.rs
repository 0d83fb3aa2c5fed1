//! The one way a failure reaches Java: `guard` runs each entry point's body, catches panics
//! and throws `io.rewrap.RewrapException$<Name>`, the class generated from the failure's row
//! of the engine's error table (`rewrap::ERROR_KINDS`). No kind is listed here, so a kind
//! added to the engine needs no change in this crate.

use std::panic::{catch_unwind, AssertUnwindSafe};

use jni::JNIEnv;
use rewrap::{Error, ErrorKind, StoreError};

/// A failure on its way to Java.
pub(crate) enum Failure {
    /// A row of the engine's error table (engine errors, key files, and boundary kinds such
    /// as `Closed`), with its message.
    Kind(ErrorKind, String),
    /// A JNI call failed; when it left a Java exception pending, that exception is kept.
    Jni(jni::errors::Error),
    /// A required Java reference was null: a `NullPointerException`, as Java callers expect.
    Null(&'static str),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Kind(e.kind(), e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Kind(e.kind(), e.to_string())
    }
}

impl From<jni::errors::Error> for Failure {
    fn from(e: jni::errors::Error) -> Self {
        Failure::Jni(e)
    }
}

/// Result of an entry point's body.
pub(crate) type R<T> = Result<T, Failure>;

/// What an entry point returns to Java when it threw: 0, null or nothing (Java ignores the
/// value once an exception is pending).
pub(crate) trait Thrown {
    fn thrown() -> Self;
}

impl Thrown for () {
    fn thrown() -> Self {}
}

impl Thrown for u8 {
    fn thrown() -> Self {
        0
    }
}

impl Thrown for i32 {
    fn thrown() -> Self {
        0
    }
}

impl Thrown for i64 {
    fn thrown() -> Self {
        0
    }
}

impl<T> Thrown for *mut T {
    fn thrown() -> Self {
        std::ptr::null_mut()
    }
}

/// Runs `body`; on failure or panic throws the matching Java exception and returns the
/// type's `Thrown` value.
pub(crate) fn guard<'local, T: Thrown>(
    env: &mut JNIEnv<'local>,
    body: impl FnOnce(&mut JNIEnv<'local>) -> R<T>,
) -> T {
    let failure = match catch_unwind(AssertUnwindSafe(|| body(env))) {
        Ok(Ok(value)) => return value,
        Ok(Err(failure)) => failure,
        Err(_) => Failure::Kind(
            ErrorKind::Panic,
            "internal panic caught at the JNI boundary".into(),
        ),
    };
    // A pending exception (a failed JNI allocation, a bad array index...) says more than
    // anything thrown here would: keep it.
    if env.exception_check().unwrap_or(true) {
        return T::thrown();
    }
    match failure {
        Failure::Kind(kind, message) => throw_kind(env, kind, &message),
        Failure::Jni(e) => {
            let _ = env.throw_new("io/rewrap/RewrapException", format!("JNI: {e}"));
        }
        Failure::Null(what) => {
            let _ = env.throw_new("java/lang/NullPointerException", format!("{what} is null"));
        }
    }
    T::thrown()
}

/// Throws the exception class generated for `kind`'s table row.
fn throw_kind(env: &mut JNIEnv<'_>, kind: ErrorKind, message: &str) {
    let class = format!("io/rewrap/RewrapException${}", kind.name());
    if env.throw_new(class.as_str(), message).is_err() {
        // Only a jar whose generated classes are older than its engine lacks the class: say
        // which kind it was rather than fail silently.
        let _ = env.exception_clear();
        let _ = env.throw_new(
            format!("io/rewrap/RewrapException${}", ErrorKind::Unknown.name()).as_str(),
            format!("{} (code {}): {message}", kind.name(), kind.code()),
        );
    }
}
