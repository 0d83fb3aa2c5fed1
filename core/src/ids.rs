//! The names rewrap passes around, each checked once where it enters: a Kafka topic, a
//! consumer identity, a producer session. After parsing, code takes these types instead of
//! bare strings and byte arrays, so no layer re-checks (or forgets to check) a length.

use core::fmt;

use crate::error::{Error, Result};

/// Longest topic name Kafka allows.
pub const MAX_TOPIC_LEN: usize = 249;
/// Longest consumer identity a grant can name.
pub const MAX_CONSUMER_ID_LEN: usize = 255;
/// Length of a session id (prefix of the EDEK digest, carried in every sealed value).
pub const SESSION_ID_LEN: usize = 16;

/// A Kafka topic name: 1..=249 bytes of UTF-8. The channel a grant opens is a topic.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Topic<'a>(&'a str);

impl<'a> Topic<'a> {
    /// Checks the length Kafka allows.
    pub fn new(name: &'a str) -> Result<Self> {
        if name.is_empty() || name.len() > MAX_TOPIC_LEN {
            return Err(Error::InvalidArgument("topic must be 1..=249 bytes"));
        }
        Ok(Topic(name))
    }

    /// The name.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl<'a> TryFrom<&'a str> for Topic<'a> {
    type Error = Error;
    fn try_from(name: &'a str) -> Result<Self> {
        Topic::new(name)
    }
}

impl<'a> TryFrom<&'a [u8]> for Topic<'a> {
    type Error = Error;
    fn try_from(name: &'a [u8]) -> Result<Self> {
        let name =
            core::str::from_utf8(name).map_err(|_| Error::InvalidArgument("topic is not UTF-8"))?;
        Topic::new(name)
    }
}

impl PartialEq<str> for Topic<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A consumer identity as the re-encryptor sees it (Kafka principal or client id):
/// 1..=255 bytes of UTF-8. Not a key id: the grant maps it to the consumer's public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ConsumerId<'a>(&'a str);

impl<'a> ConsumerId<'a> {
    /// Checks the length a grant can hold.
    pub fn new(name: &'a str) -> Result<Self> {
        if name.is_empty() || name.len() > MAX_CONSUMER_ID_LEN {
            return Err(Error::InvalidArgument("consumer id must be 1..=255 bytes"));
        }
        Ok(ConsumerId(name))
    }

    /// The identity.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl<'a> TryFrom<&'a str> for ConsumerId<'a> {
    type Error = Error;
    fn try_from(name: &'a str) -> Result<Self> {
        ConsumerId::new(name)
    }
}

impl fmt::Display for ConsumerId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A producer session: the first 16 bytes of SHA-256 over its EDEK header value. Every sealed
/// value carries it, so a consumer finds the session's cached DEK without hashing the EDEK.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub [u8; SESSION_ID_LEN]);

impl SessionId {
    /// The session id of an EDEK whose full digest is `edek_digest`.
    pub fn of_edek_digest(edek_digest: &[u8; 32]) -> Self {
        let mut id = [0u8; SESSION_ID_LEN];
        id.copy_from_slice(&edek_digest[..SESSION_ID_LEN]);
        SessionId(id)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; SESSION_ID_LEN] {
        &self.0
    }
}

impl TryFrom<&[u8]> for SessionId {
    type Error = Error;
    fn try_from(bytes: &[u8]) -> Result<Self> {
        bytes
            .try_into()
            .map(SessionId)
            .map_err(|_| Error::InvalidArgument("session id must be 16 bytes"))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn topics_are_checked_once() {
        assert!(Topic::new("").is_err());
        assert!(Topic::new(&"t".repeat(MAX_TOPIC_LEN + 1)).is_err());
        let max = "t".repeat(MAX_TOPIC_LEN);
        assert_eq!(Topic::new(&max).unwrap().as_str().len(), 249);
        assert!(Topic::try_from(&b"\xff"[..]).is_err());
        assert_eq!(Topic::try_from(&b"caf\xc3\xa9"[..]).unwrap(), *"café");
    }

    #[test]
    fn consumer_ids_are_checked_once() {
        assert!(ConsumerId::new("").is_err());
        assert!(ConsumerId::new(&"c".repeat(256)).is_err());
        assert!(ConsumerId::new(&"c".repeat(255)).is_ok());
    }

    #[test]
    fn session_ids_print_as_hex() {
        let id = SessionId::of_edek_digest(&[0xab; 32]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert!(SessionId::try_from(&[0u8; 15][..]).is_err());
    }
}
