//! The encrypted DEK carried in the `rewrap.edek` header: the DEK encapsulated with Umbral
//! under a delegating public key, plus the topic the session was opened for. Parsing only
//! checks framing (cheap enough for every record); curve points are decoded on a cache miss.

use alloc::sync::Arc;
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::codec::{decode_simple, put_short_str, Reader, CAPSULE_LEAVES};
use crate::dek::Dek;
use crate::error::{Error, Object, Result};
use crate::ids::{SessionId, Topic};
use crate::keys::{KeyId, PublicKey, SecretKey, PUBLIC_KEY_LEN};

/// Kafka header name of the EDEK.
pub const EDEK_HEADER: &str = "rewrap.edek";
/// Current EDEK layout version.
pub const EDEK_VERSION: u8 = 1;
/// Length of an Umbral capsule in its simple layout.
pub const CAPSULE_LEN: usize = 98;
/// Length of the DEK sealed by Umbral's DEM: XChaCha20 nonce (24) + DEK (32) + tag (16).
pub const SEALED_DEK_LEN: usize = 72;

const FIXED_LEN: usize = 1 + PUBLIC_KEY_LEN + CAPSULE_LEN + SEALED_DEK_LEN + 1;

/// A parsed, framing-checked view of an EDEK header value.
#[derive(Clone, Copy, Debug)]
pub struct EdekRef<'a> {
    bytes: &'a [u8],
    topic: Topic<'a>,
}

impl<'a> EdekRef<'a> {
    /// Checks version and framing. Curve points are validated later by `capsule`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Object::Edek);
        let version = r.u8()?;
        if version != EDEK_VERSION {
            return Err(Error::UnsupportedVersion(Object::Edek, version));
        }
        r.take(PUBLIC_KEY_LEN + CAPSULE_LEN + SEALED_DEK_LEN)?;
        let topic = Topic::new(r.short_str()?).map_err(|_| Error::Malformed(Object::Edek))?;
        r.finish()?;
        Ok(EdekRef { bytes, topic })
    }

    /// The whole header value.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The topic this producer session was opened for.
    pub fn topic(&self) -> Topic<'a> {
        self.topic
    }

    /// Raw bytes of the delegating public key.
    pub fn delegating_key_bytes(&self) -> &'a [u8] {
        &self.bytes[1..1 + PUBLIC_KEY_LEN]
    }

    /// Id of the delegating key, without decoding the point.
    pub fn delegating_key_id(&self) -> KeyId {
        KeyId::of_bytes(self.delegating_key_bytes())
    }

    /// The delegating public key (decodes and validates the point).
    pub fn delegating_key(&self) -> Result<PublicKey> {
        PublicKey::from_bytes(self.delegating_key_bytes())
            .map_err(|_| Error::Malformed(Object::Edek))
    }

    /// The capsule's bytes (what a capsule fragment depends on, with the kfrag).
    pub fn capsule_bytes(&self) -> &'a [u8] {
        &self.bytes[1 + PUBLIC_KEY_LEN..1 + PUBLIC_KEY_LEN + CAPSULE_LEN]
    }

    fn sealed_dek(&self) -> &'a [u8] {
        let start = 1 + PUBLIC_KEY_LEN + CAPSULE_LEN;
        &self.bytes[start..start + SEALED_DEK_LEN]
    }

    /// The Umbral capsule (decodes points and checks the capsule's own consistency proof).
    pub(crate) fn capsule(&self) -> Result<umbral_pre::Capsule> {
        decode_simple(self.capsule_bytes(), CAPSULE_LEAVES, Object::Edek)
    }

    /// SHA-256 of the header value; bound into every sealed value's AAD.
    pub fn digest(&self) -> [u8; 32] {
        digest(self.bytes)
    }

    /// The session this EDEK opens (what its sealed values carry).
    pub fn session_id(&self) -> SessionId {
        SessionId::of_edek_digest(&self.digest())
    }

    /// Opens the DEK with the delegating secret key: the administrator's path for re-keying
    /// stored data, never the broker's.
    pub fn open_with_delegating_key(&self, secret: &SecretKey) -> Result<Dek> {
        let capsule = self.capsule()?;
        let dek = umbral_pre::decrypt_original(&secret.0, &capsule, self.sealed_dek())
            .map_err(|_| Error::DekUnavailable)?;
        Dek::from_slice(&dek)
    }

    /// Opens the DEK with a consumer's secret key and verified capsule fragments.
    pub(crate) fn open_reencrypted(
        &self,
        consumer: &SecretKey,
        delegating: &PublicKey,
        capsule: &umbral_pre::Capsule,
        cfrags: Vec<umbral_pre::VerifiedCapsuleFrag>,
    ) -> Result<Dek> {
        let dek = umbral_pre::decrypt_reencrypted(
            &consumer.0,
            &delegating.0,
            capsule,
            cfrags,
            self.sealed_dek(),
        )
        .map_err(|_| Error::DekUnavailable)?;
        Dek::from_slice(&dek)
    }
}

impl<'a> TryFrom<&'a [u8]> for EdekRef<'a> {
    type Error = Error;
    fn try_from(bytes: &'a [u8]) -> Result<Self> {
        EdekRef::parse(bytes)
    }
}

pub(crate) fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Encapsulates `dek` under `delegating` for `topic`, returning the header value.
pub(crate) fn seal_dek(
    rng: &mut (impl CryptoRng + RngCore),
    delegating: &PublicKey,
    dek: &Dek,
    topic: Topic<'_>,
) -> Result<Arc<[u8]>> {
    let (capsule, sealed) = umbral_pre::encrypt_with_rng(rng, &delegating.0, dek.as_bytes())
        .map_err(|_| Error::InvalidArgument("Umbral encryption failed"))?;
    let capsule = capsule.to_bytes_simple();
    debug_assert_eq!(capsule.len(), CAPSULE_LEN);
    debug_assert_eq!(sealed.len(), SEALED_DEK_LEN);
    let mut out = Vec::with_capacity(FIXED_LEN + topic.as_str().len());
    out.push(EDEK_VERSION);
    out.extend_from_slice(&delegating.to_bytes());
    out.extend_from_slice(&capsule);
    out.extend_from_slice(&sealed);
    put_short_str(&mut out, topic.as_str());
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn sample() -> (SecretKey, Dek, Arc<[u8]>) {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let sk = SecretKey::random(&mut rng);
        let dek = Dek::random(&mut rng);
        let edek = seal_dek(
            &mut rng,
            &sk.public_key(),
            &dek,
            Topic::new("orders").unwrap(),
        )
        .unwrap();
        (sk, dek, edek)
    }

    #[test]
    fn delegating_key_opens_its_edek() {
        let (sk, dek, edek) = sample();
        let parsed = EdekRef::parse(&edek).unwrap();
        assert_eq!(parsed.topic().as_str(), "orders");
        assert_eq!(parsed.delegating_key().unwrap(), sk.public_key());
        assert_eq!(parsed.delegating_key_id(), sk.public_key().key_id());
        let opened = parsed.open_with_delegating_key(&sk).unwrap();
        assert_eq!(opened.as_bytes(), dek.as_bytes());
    }

    #[test]
    fn every_truncation_is_rejected() {
        let (_, _, edek) = sample();
        for len in 0..edek.len() {
            let err = EdekRef::parse(&edek[..len]).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Truncated(Object::Edek) | Error::Malformed(Object::Edek)
                ),
                "len {len}: {err:?}"
            );
        }
    }

    #[test]
    fn unknown_version_is_named() {
        let (_, _, edek) = sample();
        let mut bad = edek.to_vec();
        bad[0] = 2;
        assert_eq!(
            EdekRef::parse(&bad).unwrap_err(),
            Error::UnsupportedVersion(Object::Edek, 2)
        );
    }

    #[test]
    fn corrupted_capsule_is_malformed() {
        let (sk, _, edek) = sample();
        let mut bad = edek.to_vec();
        bad[1 + PUBLIC_KEY_LEN + 40] ^= 1;
        let parsed = EdekRef::parse(&bad).unwrap();
        assert!(parsed.capsule().is_err());
        assert!(parsed.open_with_delegating_key(&sk).is_err());
    }

    #[test]
    fn long_topics_in_an_edek_are_malformed() {
        let (_, _, edek) = sample();
        let mut long = edek[..edek.len() - 7].to_vec();
        long.push(250);
        long.extend_from_slice(&[b't'; 250]);
        assert_eq!(
            EdekRef::parse(&long).unwrap_err(),
            Error::Malformed(Object::Edek)
        );
    }
}
