//! The sealed record value: a versioned AES-256-GCM envelope whose AAD binds the envelope
//! header and the EDEK digest (which itself covers the topic), so a value moved to another
//! topic or paired with another EDEK does not open.

use alloc::vec::Vec;

use crate::dek::{PayloadKey, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Object, Result};
use crate::ids::{SessionId, SESSION_ID_LEN};

/// First two bytes of every sealed value ("RW").
pub const MAGIC: [u8; 2] = *b"RW";
/// Current envelope version.
pub const ENVELOPE_VERSION: u8 = 1;
/// Algorithm id of AES-256-GCM.
pub const ALG_AES_256_GCM: u8 = 1;
/// Bytes before the ciphertext: magic, version, algorithm, session id, nonce.
pub const HEADER_LEN: usize = 2 + 1 + 1 + SESSION_ID_LEN + NONCE_LEN;
/// Total bytes an envelope adds to a payload.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

const AAD_LEN: usize = HEADER_LEN + 32;

/// A framing-checked view of a sealed value.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeRef<'a> {
    header: &'a [u8; HEADER_LEN],
    ciphertext: &'a [u8],
    tag: &'a [u8; TAG_LEN],
}

impl<'a> EnvelopeRef<'a> {
    /// Checks magic, version, algorithm and minimum length.
    pub fn parse(value: &'a [u8]) -> Result<Self> {
        if value.len() < MAGIC.len() || value[..2] != MAGIC {
            return Err(Error::ForeignRecord);
        }
        if value.len() < 4 {
            return Err(Error::Truncated(Object::Envelope));
        }
        if value[2] != ENVELOPE_VERSION {
            return Err(Error::UnsupportedVersion(Object::Envelope, value[2]));
        }
        if value[3] != ALG_AES_256_GCM {
            return Err(Error::UnsupportedVersion(Object::Envelope, value[3]));
        }
        if value.len() < OVERHEAD {
            return Err(Error::Truncated(Object::Envelope));
        }
        let (header, rest) = value.split_at(HEADER_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        Ok(EnvelopeRef {
            header: header.try_into().expect("split at HEADER_LEN"),
            ciphertext,
            tag: tag.try_into().expect("split at TAG_LEN"),
        })
    }

    /// The producer session this value belongs to (prefix of its EDEK's digest).
    pub fn session_id(&self) -> SessionId {
        SessionId(
            self.header[4..4 + SESSION_ID_LEN]
                .try_into()
                .expect("fixed header layout"),
        )
    }

    fn nonce(&self) -> &'a [u8; NONCE_LEN] {
        self.header[4 + SESSION_ID_LEN..]
            .try_into()
            .expect("fixed header layout")
    }

    /// Decrypts with the session's key; `edek_digest` is the full digest of its EDEK.
    pub(crate) fn open(&self, key: &PayloadKey, edek_digest: &[u8; 32]) -> Result<Vec<u8>> {
        let aad = aad(self.header, edek_digest);
        let mut buf = self.ciphertext.to_vec();
        key.open_in_place(self.nonce(), &aad, &mut buf, self.tag)?;
        Ok(buf)
    }
}

impl<'a> TryFrom<&'a [u8]> for EnvelopeRef<'a> {
    type Error = Error;
    fn try_from(value: &'a [u8]) -> Result<Self> {
        EnvelopeRef::parse(value)
    }
}

fn aad(header: &[u8; HEADER_LEN], edek_digest: &[u8; 32]) -> [u8; AAD_LEN] {
    let mut aad = [0u8; AAD_LEN];
    aad[..HEADER_LEN].copy_from_slice(header);
    aad[HEADER_LEN..].copy_from_slice(edek_digest);
    aad
}

/// Seals `payload` into a new value.
pub(crate) fn seal(
    key: &PayloadKey,
    edek_digest: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    payload: &[u8],
) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    header[..2].copy_from_slice(&MAGIC);
    header[2] = ENVELOPE_VERSION;
    header[3] = ALG_AES_256_GCM;
    header[4..4 + SESSION_ID_LEN]
        .copy_from_slice(SessionId::of_edek_digest(edek_digest).as_bytes());
    header[4 + SESSION_ID_LEN..].copy_from_slice(nonce);

    let mut out = Vec::with_capacity(OVERHEAD + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    let tag = key.seal_in_place(nonce, &aad(&header, edek_digest), &mut out[HEADER_LEN..]);
    out.extend_from_slice(&tag);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dek::Dek;

    fn key() -> PayloadKey {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        PayloadKey::new(&Dek::random(&mut rng))
    }

    #[test]
    fn seal_then_open() {
        let k = key();
        let value = seal(&k, &[9; 32], &[1; 12], b"payload");
        assert_eq!(value.len(), OVERHEAD + 7);
        let parsed = EnvelopeRef::parse(&value).unwrap();
        assert_eq!(parsed.session_id(), SessionId([9; 16]));
        assert_eq!(parsed.open(&k, &[9; 32]).unwrap(), b"payload");
    }

    #[test]
    fn other_edek_digest_fails() {
        let k = key();
        let value = seal(&k, &[9; 32], &[1; 12], b"payload");
        let mut other = [9; 32];
        other[31] = 0;
        let parsed = EnvelopeRef::parse(&value).unwrap();
        assert_eq!(parsed.open(&k, &other), Err(Error::AuthenticationFailed));
    }

    #[test]
    fn framing_errors_are_named() {
        assert_eq!(EnvelopeRef::parse(b"").unwrap_err(), Error::ForeignRecord);
        assert_eq!(
            EnvelopeRef::parse(b"{\"json\":1}").unwrap_err(),
            Error::ForeignRecord
        );
        assert_eq!(
            EnvelopeRef::parse(b"RW").unwrap_err(),
            Error::Truncated(Object::Envelope)
        );
        assert_eq!(
            EnvelopeRef::parse(b"RW\x07\x01").unwrap_err(),
            Error::UnsupportedVersion(Object::Envelope, 7)
        );
        assert_eq!(
            EnvelopeRef::parse(b"RW\x01\x01short").unwrap_err(),
            Error::Truncated(Object::Envelope)
        );
    }
}
