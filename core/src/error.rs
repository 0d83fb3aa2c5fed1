//! The one error type of the engine. Every variant is a distinct failure a caller can act on;
//! bindings map each to a stable numeric code (`Error::code`) and never invent their own.

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
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Object::Envelope => "sealed value",
            Object::Edek => "EDEK header",
            Object::Cfrag => "cfrag header",
            Object::Grant => "grant",
            Object::Key => "key",
        })
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
    /// A parameter is out of its allowed range (threshold, topic length, rotation limits...).
    InvalidArgument(&'static str),
}

impl Error {
    /// Stable numeric code used by the C, Python and JVM bindings. Never reuse a number.
    pub fn code(&self) -> u32 {
        match self {
            Error::Truncated(_) => 100,
            Error::UnsupportedVersion(..) => 101,
            Error::Malformed(_) => 102,
            Error::ForeignRecord => 103,
            Error::Unencrypted => 104,
            Error::WrongTopic => 105,
            Error::EdekMismatch => 106,
            Error::AuthenticationFailed => 107,
            Error::MissingCfrag => 200,
            Error::WrongConsumer => 201,
            Error::InsufficientCfrags { .. } => 202,
            Error::InvalidCfrag => 203,
            Error::DekUnavailable => 204,
            Error::NotGranted => 300,
            Error::Revoked => 301,
            Error::GrantExpired => 302,
            Error::UntrustedGrant => 303,
            Error::InvalidKeyFrag => 304,
            Error::InvalidArgument(_) => 400,
        }
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

    #[test]
    fn codes_are_unique() {
        let all = [
            Error::Truncated(Object::Edek),
            Error::UnsupportedVersion(Object::Edek, 9),
            Error::Malformed(Object::Edek),
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
        let codes: BTreeSet<u32> = all.iter().map(Error::code).collect();
        assert_eq!(codes.len(), all.len());
    }
}
