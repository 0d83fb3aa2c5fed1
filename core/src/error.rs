//! The one error type of the engine and the one table of error kinds. Every variant is a
//! distinct failure a caller can act on; `ERROR_KINDS` gives each kind its stable name, code
//! and summary, and every binding (C enum, Python and Java exception classes) is generated
//! from that table, never written out again.

use core::fmt;

/// Which wire object a parse error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// The sealed record value (`docs/FORMAT.md` §2).
    Envelope,
    /// The `rewrap.edek` header (§3).
    Edek,
    /// A `rewrap.cfrag` header (§4).
    Cfrag,
    /// A serialized grant (§5).
    Grant,
    /// A public or secret key.
    Key,
    /// A `rewrap.sig`, `rewrap.rsig` or `rewrap.chsig` header (§7).
    Signature,
    /// A serialized producer grant (§5.2).
    ProducerGrant,
    /// A serialized revocation (§5.3).
    Revocation,
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Object::Envelope => "sealed value",
            Object::Edek => "EDEK header",
            Object::Cfrag => "cfrag header",
            Object::Grant => "grant",
            Object::Key => "key",
            Object::Signature => "signature header",
            Object::ProducerGrant => "producer grant",
            Object::Revocation => "revocation",
        })
    }
}

/// Why a compressed payload did not decompress (`Error::DecompressionFailed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecompressFailure {
    /// The stream declares more bytes than the reader's bound; nothing was allocated for it.
    TooLarge {
        /// Bytes the stream declares.
        declared: u64,
        /// The reader's bound.
        limit: u64,
    },
    /// The stream is truncated, malformed, or does not expand to the size it declares.
    Corrupt,
}

/// Who raises an error kind: the engine, or a binding's own boundary (NULL pointers, caught
/// panics, closed handles). Both share one numbering so no binding invents a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Raised by the engine (`Error::kind`).
    Engine,
    /// Raised by the std facade (files), never by the no_std engine.
    Facade,
    /// Raised only at a language boundary (C, Python, JVM), never by the engine.
    Binding,
}

/// One row of the error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKindInfo {
    /// The kind.
    pub kind: ErrorKind,
    /// UpperCamelCase name: the Java exception class, the Python class (plus `Error`), the C
    /// constant (as `REWRAP_` + SCREAMING_SNAKE).
    pub name: &'static str,
    /// Stable numeric code. Never reuse a number.
    pub code: u32,
    /// Who raises it.
    pub origin: Origin,
    /// One line for documentation in every language.
    pub summary: &'static str,
}

macro_rules! error_kinds {
    ($($name:ident = $code:literal, $origin:ident, $summary:literal;)*) => {
        /// Every kind of error, engine and binding, in the order of `ERROR_KINDS`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $(#[doc = $summary] $name,)*
        }

        /// The error table: every binding's codes, names and documentation come from here.
        pub const ERROR_KINDS: &[ErrorKindInfo] = &[
            $(ErrorKindInfo {
                kind: ErrorKind::$name,
                name: stringify!($name),
                code: $code,
                origin: Origin::$origin,
                summary: $summary,
            },)*
        ];

        impl ErrorKind {
            /// The stable numeric code.
            pub const fn code(self) -> u32 {
                match self {
                    $(ErrorKind::$name => $code,)*
                }
            }
        }
    };
}

error_kinds! {
    NullParameter = 1, Binding, "A required pointer argument was NULL.";
    Panic = 2, Binding, "A panic inside the library was caught (a bug: please report it).";
    InvalidUtf8 = 3, Binding, "A string argument was not valid UTF-8.";
    BufferTooSmall = 4, Binding, "A caller buffer was too small; the message says how large it must be.";
    Truncated = 100, Engine, "Input ended before the object was complete.";
    UnsupportedVersion = 101, Engine, "Unknown version or algorithm id.";
    Malformed = 102, Engine, "Bytes are not a well-formed object of their kind.";
    ForeignRecord = 103, Engine, "The record value is not a rewrap envelope.";
    Unencrypted = 104, Engine, "No rewrap headers on an encrypted channel (plaintext not allowed).";
    WrongTopic = 105, Engine, "The record was sealed for another topic.";
    EdekMismatch = 106, Engine, "The value and its EDEK header belong to different sessions.";
    AuthenticationFailed = 107, Engine, "Authenticated decryption failed: the record was altered.";
    DecompressionFailed = 108, Engine, "A compressed payload is corrupt or would decompress past the reader's bound.";
    MissingCfrag = 200, Engine, "No capsule fragment for this consumer (not granted or not re-encrypted).";
    WrongConsumer = 201, Engine, "Capsule fragments are for another consumer.";
    InsufficientCfrags = 202, Engine, "Fewer capsule fragments than the grant's threshold.";
    InvalidCfrag = 203, Engine, "A capsule fragment failed verification.";
    DekUnavailable = 204, Engine, "The DEK could not be opened from valid fragments.";
    NotGranted = 300, Engine, "The consumer has no grant for this topic and key.";
    Revoked = 301, Engine, "The consumer's grant was revoked.";
    GrantExpired = 302, Engine, "The grant is outside its validity period.";
    UntrustedGrant = 303, Engine, "The grant is not signed by a trusted administrator.";
    InvalidKeyFrag = 304, Engine, "A key fragment in the grant failed verification.";
    Throttled = 305, Engine, "The re-encryptor's budget of Umbral re-encryptions per second is spent; retry later.";
    InvalidArgument = 400, Engine, "An argument is out of its allowed range.";
    Io = 410, Facade, "Reading or writing a file failed.";
    InsecureKeyFile = 411, Facade, "A secret key file may be read by group or others (chmod 600).";
    Closed = 500, Binding, "The handle was closed.";
    Unsigned = 600, Engine, "The record carries no producer signature and the channel's policy requires one.";
    BadSignature = 601, Engine, "A producer, record or channel signature does not verify.";
    UnauthorizedProducer = 602, Engine, "The record's producer has no producer grant for this topic.";
    Unknown = 999, Binding, "An error this build of the binding has no class for.";
}

impl ErrorKind {
    /// This kind's row of `ERROR_KINDS`.
    pub fn info(self) -> &'static ErrorKindInfo {
        ERROR_KINDS
            .iter()
            .find(|row| row.kind == self)
            .unwrap_or(&ERROR_KINDS[ERROR_KINDS.len() - 1])
    }

    /// The UpperCamelCase name.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The kind with this code, if any.
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ERROR_KINDS
            .iter()
            .find(|row| row.code == code)
            .map(|row| row.kind)
    }
}

/// Everything that can go wrong in rewrap. Bad input is always one of these, never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the object it should hold was complete.
    Truncated(Object),
    /// The object carries a version (or algorithm id) this build does not know.
    UnsupportedVersion(Object, u8),
    /// The bytes are not a well-formed object of this kind (bad lengths, invalid curve points,
    /// trailing bytes, bad encoding).
    Malformed(Object),
    /// The record value is not a rewrap envelope (wrong magic): a foreign record.
    ForeignRecord,
    /// The record carries no rewrap headers on a channel that requires encryption; plaintext
    /// is accepted only when explicitly allowed for a migration.
    Unencrypted,
    /// The record was sealed for another topic than the one it was read from.
    WrongTopic,
    /// The record value and its EDEK header belong to different producer sessions.
    EdekMismatch,
    /// Authenticated decryption failed: the value or its binding data was altered.
    AuthenticationFailed,
    /// An authenticated, compressed payload did not decompress: its declared size is past the
    /// reader's bound (`DecryptorConfig::max_decompressed_len`), or the stream is corrupt
    /// (which only the holder of the session's DEK can have made).
    DecompressionFailed(DecompressFailure),
    /// The record carries no capsule fragment for this consumer (not granted, or not
    /// re-encrypted by a re-encryptor).
    MissingCfrag,
    /// The record carries capsule fragments, but only for other consumers.
    WrongConsumer,
    /// Fewer capsule fragments than the grant's threshold.
    InsufficientCfrags {
        /// Usable fragments present.
        have: usize,
        /// Fragments the grant requires.
        need: usize,
    },
    /// A capsule fragment failed verification (not made from a kfrag the trusted administrator
    /// signed for this delegating key and this consumer, or altered).
    InvalidCfrag,
    /// Opening the re-encrypted capsule or the DEK failed despite valid fragments.
    DekUnavailable,
    /// The consumer has no grant for this channel and delegating key.
    NotGranted,
    /// The consumer's grant for this channel was revoked.
    Revoked,
    /// The grant's validity period has ended (or not begun).
    GrantExpired,
    /// The grant is not signed by a trusted administrator, or its signature is invalid.
    UntrustedGrant,
    /// A key fragment inside a grant failed verification.
    InvalidKeyFrag,
    /// A re-encryption budget (misses per second) is spent; the request may be retried.
    Throttled,
    /// No producer signature where the policy requires one (or a v1 record).
    Unsigned,
    /// A signature does not verify.
    BadSignature,
    /// The producer is not authorized for the topic.
    UnauthorizedProducer,
    /// A parameter is out of its allowed range (threshold, topic length, rotation limits...).
    InvalidArgument(&'static str),
}

impl Error {
    /// This error's kind (its row in `ERROR_KINDS`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Truncated(_) => ErrorKind::Truncated,
            Error::UnsupportedVersion(..) => ErrorKind::UnsupportedVersion,
            Error::Malformed(_) => ErrorKind::Malformed,
            Error::ForeignRecord => ErrorKind::ForeignRecord,
            Error::Unencrypted => ErrorKind::Unencrypted,
            Error::WrongTopic => ErrorKind::WrongTopic,
            Error::EdekMismatch => ErrorKind::EdekMismatch,
            Error::AuthenticationFailed => ErrorKind::AuthenticationFailed,
            Error::DecompressionFailed(_) => ErrorKind::DecompressionFailed,
            Error::MissingCfrag => ErrorKind::MissingCfrag,
            Error::WrongConsumer => ErrorKind::WrongConsumer,
            Error::InsufficientCfrags { .. } => ErrorKind::InsufficientCfrags,
            Error::InvalidCfrag => ErrorKind::InvalidCfrag,
            Error::DekUnavailable => ErrorKind::DekUnavailable,
            Error::NotGranted => ErrorKind::NotGranted,
            Error::Revoked => ErrorKind::Revoked,
            Error::GrantExpired => ErrorKind::GrantExpired,
            Error::UntrustedGrant => ErrorKind::UntrustedGrant,
            Error::InvalidKeyFrag => ErrorKind::InvalidKeyFrag,
            Error::Throttled => ErrorKind::Throttled,
            Error::Unsigned => ErrorKind::Unsigned,
            Error::BadSignature => ErrorKind::BadSignature,
            Error::UnauthorizedProducer => ErrorKind::UnauthorizedProducer,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
        }
    }

    /// Stable numeric code used by the C, Python and JVM bindings (`ERROR_KINDS`).
    pub fn code(&self) -> u32 {
        self.kind().code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated(o) => write!(f, "truncated {o}"),
            Error::UnsupportedVersion(o, v) => write!(f, "unsupported {o} version {v}"),
            Error::Malformed(o) => write!(f, "malformed {o}"),
            Error::ForeignRecord => f.write_str("record value is not a rewrap envelope"),
            Error::Unencrypted => {
                f.write_str("record has no rewrap headers and plaintext is not allowed")
            }
            Error::WrongTopic => f.write_str("record was sealed for another topic"),
            Error::EdekMismatch => {
                f.write_str("record value and EDEK belong to different sessions")
            }
            Error::AuthenticationFailed => f.write_str("authentication of the sealed value failed"),
            Error::DecompressionFailed(DecompressFailure::TooLarge { declared, limit }) => write!(
                f,
                "compressed payload declares {declared} bytes, over the bound of {limit}"
            ),
            Error::DecompressionFailed(DecompressFailure::Corrupt) => {
                f.write_str("compressed payload is corrupt")
            }
            Error::MissingCfrag => f.write_str("no capsule fragment for this consumer"),
            Error::WrongConsumer => f.write_str("capsule fragments are for another consumer"),
            Error::InsufficientCfrags { have, need } => {
                write!(f, "{have} capsule fragment(s), threshold is {need}")
            }
            Error::InvalidCfrag => f.write_str("capsule fragment failed verification"),
            Error::DekUnavailable => f.write_str("could not open the DEK from the fragments"),
            Error::NotGranted => f.write_str("consumer has no grant for this channel and key"),
            Error::Revoked => f.write_str("consumer's grant was revoked"),
            Error::GrantExpired => f.write_str("grant is outside its validity period"),
            Error::UntrustedGrant => f.write_str("grant not signed by a trusted administrator"),
            Error::InvalidKeyFrag => f.write_str("key fragment failed verification"),
            Error::Throttled => f.write_str("re-encryption budget spent; retry later"),
            Error::Unsigned => f.write_str("record is not signed and the policy requires it"),
            Error::BadSignature => f.write_str("signature does not verify"),
            Error::UnauthorizedProducer => f.write_str("producer is not authorized for this topic"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Result alias used throughout the engine.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    /// One sample of every engine variant; `kind()`'s match makes the compiler list them.
    fn every_engine_error() -> [Error; 24] {
        [
            Error::Truncated(Object::Edek),
            Error::UnsupportedVersion(Object::Edek, 9),
            Error::Malformed(Object::Edek),
            Error::ForeignRecord,
            Error::Unencrypted,
            Error::WrongTopic,
            Error::EdekMismatch,
            Error::AuthenticationFailed,
            Error::DecompressionFailed(DecompressFailure::Corrupt),
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
            Error::Throttled,
            Error::Unsigned,
            Error::BadSignature,
            Error::UnauthorizedProducer,
            Error::InvalidArgument("x"),
        ]
    }

    #[test]
    fn table_codes_and_names_are_unique() {
        let codes: BTreeSet<u32> = ERROR_KINDS.iter().map(|r| r.code).collect();
        let names: BTreeSet<&str> = ERROR_KINDS.iter().map(|r| r.name).collect();
        assert_eq!(codes.len(), ERROR_KINDS.len());
        assert_eq!(names.len(), ERROR_KINDS.len());
        assert!(!codes.contains(&0), "0 is success in every binding");
    }

    #[test]
    fn every_engine_error_is_an_engine_row() {
        let all = every_engine_error();
        for e in &all {
            let info = e.kind().info();
            assert_eq!(info.kind, e.kind());
            assert_eq!(info.code, e.code());
            assert_eq!(info.origin, Origin::Engine, "{e:?}");
            assert_eq!(ErrorKind::from_code(e.code()), Some(e.kind()));
        }
        let engine_rows = ERROR_KINDS
            .iter()
            .filter(|r| r.origin == Origin::Engine)
            .count();
        let kinds: BTreeSet<ErrorKind> = all.iter().map(Error::kind).collect();
        assert_eq!(
            kinds.len(),
            engine_rows,
            "an engine row no Error variant raises"
        );
    }
}
