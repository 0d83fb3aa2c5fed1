//! Revocations: the administrator's signed statement that every grant of a consumer on a topic
//! (under one delegating key, or under all of them) issued at or before a moment is void.
//!
//! A revocation is a record, not the absence of a grant file: a re-encryptor that has seen it
//! refuses every grant it covers, whatever order the two arrive in, so a saved copy of a grant
//! put back into a store stays dead. Only a grant issued after the revocation (a new decision
//! of the administrator) is accepted again (`docs/FORMAT.md` §5.3).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};

use crate::codec::{put_short_str, Reader};
use crate::error::{Error, Object, Result};
use crate::grant::Grant;
use crate::ids::{ConsumerId, Topic};
use crate::keys::{verify_signature, KeyId, PublicKey, Signer, PUBLIC_KEY_LEN};

/// Current revocation layout version.
pub const REVOCATION_VERSION: u8 = 1;
const SIGNATURE_DOMAIN: &[u8] = b"rewrap/revocation/v1";
const SIGNATURE_LEN: usize = 64;

/// A signed revocation. Parse with `Revocation::from_bytes`, then `verify` before use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    topic: String,
    consumer: String,
    delegating_key: Option<PublicKey>,
    admin_key: PublicKey,
    revoked_at: u64,
    signature: [u8; SIGNATURE_LEN],
}

impl Revocation {
    /// Revokes every grant of `consumer` on `topic` issued at or before `revoked_at` (Unix
    /// milliseconds, the unit of `Grant::issued_at`), under `delegating_key` only or, with
    /// `None`, under every delegating key.
    pub fn issue(
        rng: &mut (impl CryptoRng + RngCore),
        admin: &Signer,
        topic: &str,
        consumer: &str,
        delegating_key: Option<PublicKey>,
        revoked_at: u64,
    ) -> Result<Revocation> {
        Topic::new(topic)?;
        ConsumerId::new(consumer)?;
        if revoked_at == 0 {
            return Err(Error::InvalidArgument("a revocation needs its time"));
        }
        let mut revocation = Revocation {
            topic: topic.to_string(),
            consumer: consumer.to_string(),
            delegating_key,
            admin_key: admin.verifying_key(),
            revoked_at,
            signature: [0; SIGNATURE_LEN],
        };
        revocation.signature = admin.sign(rng, &revocation.signed_message());
        Ok(revocation)
    }

    fn write_terms(&self, out: &mut Vec<u8>) {
        out.push(REVOCATION_VERSION);
        put_short_str(out, &self.topic);
        put_short_str(out, &self.consumer);
        match &self.delegating_key {
            Some(key) => {
                out.push(1);
                out.extend_from_slice(&key.to_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.admin_key.to_bytes());
        out.extend_from_slice(&self.revoked_at.to_be_bytes());
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(SIGNATURE_DOMAIN.len() + 600);
        m.extend_from_slice(SIGNATURE_DOMAIN);
        self.write_terms(&mut m);
        m
    }

    /// The wire form (`docs/FORMAT.md` §5.3).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(600);
        self.write_terms(&mut out);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses the wire form (structure only; `verify` before trusting it).
    pub fn from_bytes(bytes: &[u8]) -> Result<Revocation> {
        let mut r = Reader::new(bytes, Object::Revocation);
        let version = r.u8()?;
        if version != REVOCATION_VERSION {
            return Err(Error::UnsupportedVersion(Object::Revocation, version));
        }
        let topic = r.short_str()?.to_string();
        let consumer = r.short_str()?.to_string();
        if Topic::new(&topic).is_err() || ConsumerId::new(&consumer).is_err() {
            return Err(Error::Malformed(Object::Revocation));
        }
        let key = |r: &mut Reader<'_>| -> Result<PublicKey> {
            PublicKey::from_bytes(r.take(PUBLIC_KEY_LEN)?)
                .map_err(|_| Error::Malformed(Object::Revocation))
        };
        let delegating_key = match r.u8()? {
            0 => None,
            1 => Some(key(&mut r)?),
            _ => return Err(Error::Malformed(Object::Revocation)),
        };
        let admin_key = key(&mut r)?;
        let revoked_at = r.u64()?;
        let signature = r.array()?;
        r.finish()?;
        if revoked_at == 0 {
            return Err(Error::Malformed(Object::Revocation));
        }
        Ok(Revocation {
            topic,
            consumer,
            delegating_key,
            admin_key,
            revoked_at,
            signature,
        })
    }

    /// Admin key among `trusted_admins` and signature valid (`UntrustedGrant`). A revocation
    /// has no validity period: it stands until a later grant supersedes it.
    pub fn verify(&self, trusted_admins: &[PublicKey]) -> Result<()> {
        if !trusted_admins.contains(&self.admin_key)
            || !verify_signature(&self.admin_key, &self.signed_message(), &self.signature)
        {
            return Err(Error::UntrustedGrant);
        }
        Ok(())
    }

    /// True when this revocation voids `grant`: same topic and consumer, same delegating key
    /// (or all keys), and the grant issued at or before the revocation.
    pub fn covers(&self, grant: &Grant) -> bool {
        self.topic == grant.topic()
            && self.consumer == grant.consumer()
            && self
                .delegating_key
                .is_none_or(|k| k == grant.delegating_key())
            && grant.issued_at() <= self.revoked_at
    }

    /// Topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }
    /// Consumer.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }
    /// The delegating key whose grants are revoked; `None` for all.
    pub fn delegating_key(&self) -> Option<PublicKey> {
        self.delegating_key
    }
    /// Its id; `None` for all keys.
    pub fn delegating_key_id(&self) -> Option<KeyId> {
        self.delegating_key.map(|k| k.key_id())
    }
    /// The administrator key that signed it.
    pub fn admin_key(&self) -> PublicKey {
        self.admin_key
    }
    /// Unix milliseconds: grants issued at or before it are void.
    pub fn revoked_at(&self) -> u64 {
        self.revoked_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::GrantTerms;
    use crate::keys::SecretKey;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn grant_at(rng: &mut ChaCha20Rng, admin: &Signer, delegating: &SecretKey, at: u64) -> Grant {
        let consumer = SecretKey::random(rng).public_key();
        let mut terms = GrantTerms::one_of_one("orders", "alice", consumer, 0);
        terms.issued_at = Some(at);
        Grant::issue(rng, admin, delegating, &terms).unwrap()
    }

    #[test]
    fn round_trips_verifies_and_covers_only_older_grants_of_its_pair_and_key() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let admin = Signer::new(SecretKey::random(&mut rng));
        let delegating = SecretKey::random(&mut rng);
        let other = SecretKey::random(&mut rng);
        for key in [None, Some(delegating.public_key())] {
            let r = Revocation::issue(&mut rng, &admin, "orders", "alice", key, 5_000).unwrap();
            let parsed = Revocation::from_bytes(&r.to_bytes()).unwrap();
            assert_eq!(parsed, r);
            parsed.verify(&[admin.verifying_key()]).unwrap();
            assert!(r.covers(&grant_at(&mut rng, &admin, &delegating, 5_000)));
            assert!(r.covers(&grant_at(&mut rng, &admin, &delegating, 1)));
            assert!(!r.covers(&grant_at(&mut rng, &admin, &delegating, 5_001)));
            assert_eq!(
                r.covers(&grant_at(&mut rng, &admin, &other, 10)),
                key.is_none()
            );
        }
    }

    #[test]
    fn tampering_truncation_and_strangers_are_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let admin = Signer::new(SecretKey::random(&mut rng));
        let r = Revocation::issue(&mut rng, &admin, "orders", "alice", None, 9).unwrap();
        let bytes = r.to_bytes();
        for cut in 0..bytes.len() {
            assert!(Revocation::from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Revocation::from_bytes(&longer).is_err());
        // Moving the time back (to resurrect grants) breaks the signature.
        let mut older = bytes.clone();
        let at = bytes.len() - SIGNATURE_LEN - 1;
        older[at] = 1;
        let older = Revocation::from_bytes(&older).unwrap();
        assert_eq!(
            older.verify(&[admin.verifying_key()]),
            Err(Error::UntrustedGrant)
        );
        let stranger = Signer::new(SecretKey::random(&mut rng));
        assert_eq!(
            r.verify(&[stranger.verifying_key()]),
            Err(Error::UntrustedGrant)
        );
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert_eq!(
            Revocation::from_bytes(&bad),
            Err(Error::UnsupportedVersion(Object::Revocation, 2))
        );
        assert!(Revocation::issue(&mut rng, &admin, "orders", "alice", None, 0).is_err());
    }
}
