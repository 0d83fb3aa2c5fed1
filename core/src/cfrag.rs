//! The `rewrap.cfrag` header a re-encryptor adds on fetch: one Umbral capsule fragment for
//! one consumer, with the threshold the consumer needs and the consumer's key id (so a
//! fragment for someone else is reported as such instead of failing verification).

use alloc::vec::Vec;

use crate::codec::{decode_simple, Reader, CFRAG_LEAVES};
use crate::error::{Error, Object, Result};
use crate::keys::{KeyId, KEY_ID_LEN};

/// Kafka header name of a capsule fragment (repeated for t-of-n).
pub const CFRAG_HEADER: &str = "rewrap.cfrag";
/// Current cfrag header version.
pub const CFRAG_VERSION: u8 = 1;
/// Length of a capsule fragment in umbral-pre's simple layout.
pub const CFRAG_LEN: usize = 359;
/// Length of the whole header value.
pub const CFRAG_HEADER_LEN: usize = 2 + KEY_ID_LEN + CFRAG_LEN;

/// A framing-checked view of a cfrag header value.
#[derive(Clone, Copy, Debug)]
pub struct CfragRef<'a> {
    threshold: u8,
    consumer: KeyId,
    cfrag: &'a [u8],
}

impl<'a> CfragRef<'a> {
    /// Checks version and framing; the fragment itself is decoded by `decode`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Object::Cfrag);
        let version = r.u8()?;
        if version != CFRAG_VERSION {
            return Err(Error::UnsupportedVersion(Object::Cfrag, version));
        }
        let threshold = r.u8()?;
        if threshold == 0 {
            return Err(Error::Malformed(Object::Cfrag));
        }
        let consumer = KeyId(r.array()?);
        let cfrag = r.take(CFRAG_LEN)?;
        r.finish()?;
        Ok(CfragRef {
            threshold,
            consumer,
            cfrag,
        })
    }

    /// How many fragments the consumer needs.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Key id of the consumer key this fragment was made for (not the consumer's identity).
    pub fn consumer_key_id(&self) -> KeyId {
        self.consumer
    }

    pub(crate) fn decode(&self) -> Result<umbral_pre::CapsuleFrag> {
        decode_simple(self.cfrag, CFRAG_LEAVES, Object::Cfrag)
    }
}

impl<'a> TryFrom<&'a [u8]> for CfragRef<'a> {
    type Error = Error;
    fn try_from(bytes: &'a [u8]) -> Result<Self> {
        CfragRef::parse(bytes)
    }
}

/// Builds a header value around a fresh fragment.
pub(crate) fn encode(
    threshold: u8,
    consumer: KeyId,
    cfrag: &umbral_pre::VerifiedCapsuleFrag,
) -> Vec<u8> {
    let simple = cfrag.to_bytes_simple();
    debug_assert_eq!(simple.len(), CFRAG_LEN);
    let mut out = Vec::with_capacity(CFRAG_HEADER_LEN);
    out.push(CFRAG_VERSION);
    out.push(threshold);
    out.extend_from_slice(&consumer.0);
    out.extend_from_slice(&simple);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_errors_are_named() {
        assert_eq!(
            CfragRef::parse(&[]).unwrap_err(),
            Error::Truncated(Object::Cfrag)
        );
        assert_eq!(
            CfragRef::parse(&[3, 1]).unwrap_err(),
            Error::UnsupportedVersion(Object::Cfrag, 3)
        );
        assert_eq!(
            CfragRef::parse(&[1, 1, 0, 0]).unwrap_err(),
            Error::Truncated(Object::Cfrag)
        );
        let mut zero_threshold = alloc::vec![0u8; CFRAG_HEADER_LEN];
        zero_threshold[0] = 1;
        assert_eq!(
            CfragRef::parse(&zero_threshold).unwrap_err(),
            Error::Malformed(Object::Cfrag)
        );
        let mut too_long = alloc::vec![1u8; CFRAG_HEADER_LEN + 1];
        too_long[0] = 1;
        assert_eq!(
            CfragRef::parse(&too_long).unwrap_err(),
            Error::Malformed(Object::Cfrag)
        );
    }

    #[test]
    fn garbage_fragment_does_not_decode() {
        let mut bytes = alloc::vec![0x42u8; CFRAG_HEADER_LEN];
        bytes[0] = 1;
        let parsed = CfragRef::parse(&bytes).unwrap();
        assert_eq!(
            parsed.decode().unwrap_err(),
            Error::Malformed(Object::Cfrag)
        );
    }
}
