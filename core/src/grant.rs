//! Grants: the administrator's signed decision that a consumer may read a topic under a
//! delegating key, carrying the Umbral key fragments a re-encryptor needs. A grant for t-of-n
//! can be split into n per-re-encryptor shares, each still verifiable on its own.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::codec::{put_short_str, Reader};
use crate::error::{Error, Object, Result};
use crate::ids::{ConsumerId, Topic};
use crate::keys::{verify_signature, PublicKey, SecretKey, Signer, PUBLIC_KEY_LEN};

/// Current grant layout version: 2 adds the issue time revocations are judged by. Version 1
/// grants still parse and verify, as issued at time 0 (any revocation of their pair voids
/// them).
pub const GRANT_VERSION: u8 = 2;
const GRANT_VERSION_1: u8 = 1;
const SIGNATURE_DOMAIN: &[u8] = b"rewrap/grant/v1";
const SIGNATURE_LEN: usize = 64;
/// How far in the future (milliseconds, by the verifier's clock) an issue time may lie: a
/// grant issued later than that is not valid yet. Without the bound a grant from a clock far
/// ahead would escape every revocation made before that time.
pub const MAX_ISSUE_SKEW_MS: u64 = 5 * 60 * 1000;

/// What an administrator decides when granting; the delegating secret and signer are passed
/// separately so this can be logged or shown.
#[derive(Debug, Clone)]
pub struct GrantTerms<'a> {
    /// Topic (the channel) the grant opens.
    pub topic: &'a str,
    /// Consumer identity as the re-encryptor sees it (Kafka principal or client id).
    pub consumer: &'a str,
    /// The consumer's public key: all the administrator needs of the consumer.
    pub consumer_key: PublicKey,
    /// Fragments needed to open (t).
    pub threshold: u8,
    /// Fragments made, one per re-encryptor (n).
    pub shares: u8,
    /// Unix seconds from which the grant is valid.
    pub not_before: u64,
    /// Unix seconds after which the grant is void; `None` for no expiry.
    pub expires: Option<u64>,
    /// When the administrator issued it, in Unix milliseconds; a revocation voids the grants
    /// issued at or before its own time. `None`: now, from the system clock (`std` only).
    pub issued_at: Option<u64>,
}

impl<'a> GrantTerms<'a> {
    /// 1-of-1 terms valid from `not_before` with no expiry: the single re-encryptor case.
    pub fn one_of_one(
        topic: &'a str,
        consumer: &'a str,
        consumer_key: PublicKey,
        not_before: u64,
    ) -> Self {
        GrantTerms {
            topic,
            consumer,
            consumer_key,
            threshold: 1,
            shares: 1,
            not_before,
            expires: None,
            issued_at: None,
        }
    }
}

/// The issue time of `terms`: given, or the system clock's now in milliseconds.
fn issued_at(terms: &GrantTerms<'_>) -> Result<u64> {
    match terms.issued_at {
        Some(0) => Err(Error::InvalidArgument(
            "issue time 0 is reserved for version 1 grants",
        )),
        Some(at) => Ok(at),
        #[cfg(feature = "std")]
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .map_err(|_| Error::InvalidArgument("the system clock is before 1970")),
        #[cfg(not(feature = "std"))]
        None => Err(Error::InvalidArgument(
            "without std a grant needs its issue time",
        )),
    }
}

fn check_terms(terms: &GrantTerms<'_>) -> Result<()> {
    Topic::new(terms.topic)?;
    ConsumerId::new(terms.consumer)?;
    if terms.threshold == 0 || terms.threshold > terms.shares {
        return Err(Error::InvalidArgument("need 1 <= threshold <= shares"));
    }
    match terms.expires {
        Some(0) => Err(Error::InvalidArgument("expiry 0 means none; pass None")),
        Some(e) if e <= terms.not_before => {
            Err(Error::InvalidArgument("grant expires before it starts"))
        }
        _ => Ok(()),
    }
}

/// A signed grant, or one share of it. Parse with `Grant::from_bytes`, then `verify` before use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    version: u8,
    topic: String,
    consumer: String,
    delegating_key: PublicKey,
    consumer_key: PublicKey,
    admin_key: PublicKey,
    threshold: u8,
    shares: u8,
    not_before: u64,
    expires: u64,
    /// Unix milliseconds; 0 for version 1.
    issued_at: u64,
    kfrag_digests: Vec<[u8; 32]>,
    kfrags: Vec<(u8, Vec<u8>)>,
    signature: [u8; SIGNATURE_LEN],
}

impl Grant {
    /// Makes the kfrags from `delegating` to the consumer and signs the grant with `admin`.
    pub fn issue(
        rng: &mut (impl CryptoRng + RngCore),
        admin: &Signer,
        delegating: &SecretKey,
        terms: &GrantTerms<'_>,
    ) -> Result<Grant> {
        check_terms(terms)?;
        let kfrags = umbral_pre::generate_kfrags_with_rng(
            rng,
            &delegating.0,
            &terms.consumer_key.0,
            admin.umbral(),
            terms.threshold as usize,
            terms.shares as usize,
            true,
            true,
        )
        .into_vec()
        .into_iter()
        .map(|k| postcard::to_allocvec(&k.unverify()).expect("kfrag serializes"))
        .collect();
        Self::assemble(rng, admin, delegating.public_key(), terms, kfrags)
    }

    /// Wraps kfrags made elsewhere with umbral-pre's own serialization (`bytes(kfrag)` in its
    /// Python and JS bindings) into a signed grant. They must have been generated from
    /// `delegating` to the consumer's key with `admin`'s key as their signer, signing both
    /// keys, as `terms.shares` shares of threshold `terms.threshold`; each is verified now.
    #[cfg(feature = "std")]
    pub fn issue_with_umbral_kfrags(
        rng: &mut (impl CryptoRng + RngCore),
        admin: &Signer,
        delegating: PublicKey,
        terms: &GrantTerms<'_>,
        kfrags: &[&[u8]],
    ) -> Result<Grant> {
        use umbral_pre::DefaultDeserialize;
        check_terms(terms)?;
        if kfrags.len() != terms.shares as usize {
            return Err(Error::InvalidArgument("need exactly `shares` kfrags"));
        }
        let admin_key = admin.verifying_key();
        let encoded = kfrags
            .iter()
            .map(|bytes| {
                let kfrag =
                    umbral_pre::KeyFrag::from_bytes(bytes).map_err(|_| Error::InvalidKeyFrag)?;
                let verified = kfrag
                    .verify(
                        &admin_key.0,
                        Some(&delegating.0),
                        Some(&terms.consumer_key.0),
                    )
                    .map_err(|_| Error::InvalidKeyFrag)?;
                Ok(postcard::to_allocvec(&verified.unverify()).expect("kfrag serializes"))
            })
            .collect::<Result<Vec<Vec<u8>>>>()?;
        Self::assemble(rng, admin, delegating, terms, encoded)
    }

    fn assemble(
        rng: &mut (impl CryptoRng + RngCore),
        admin: &Signer,
        delegating_key: PublicKey,
        terms: &GrantTerms<'_>,
        kfrags: Vec<Vec<u8>>,
    ) -> Result<Grant> {
        let kfrags: Vec<(u8, Vec<u8>)> = kfrags
            .into_iter()
            .enumerate()
            .map(|(i, k)| (i as u8, k))
            .collect();
        let mut grant = Grant {
            version: GRANT_VERSION,
            topic: terms.topic.to_string(),
            consumer: terms.consumer.to_string(),
            delegating_key,
            consumer_key: terms.consumer_key,
            admin_key: admin.verifying_key(),
            threshold: terms.threshold,
            shares: terms.shares,
            not_before: terms.not_before,
            expires: terms.expires.unwrap_or(0),
            issued_at: issued_at(terms)?,
            kfrag_digests: kfrags
                .iter()
                .map(|(_, b)| Sha256::digest(b).into())
                .collect(),
            kfrags,
            signature: [0; SIGNATURE_LEN],
        };
        grant.signature = admin.sign(rng, &grant.signed_message());
        Ok(grant)
    }

    /// The share for re-encryptor `index` (0-based): same signed terms, one kfrag.
    pub fn share(&self, index: u8) -> Result<Grant> {
        let kfrag = self
            .kfrags
            .iter()
            .find(|(i, _)| *i == index)
            .ok_or(Error::InvalidArgument(
                "no kfrag with that share index in this grant",
            ))?;
        Ok(Grant {
            kfrags: alloc::vec![kfrag.clone()],
            ..self.clone()
        })
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(SIGNATURE_DOMAIN.len() + 512);
        m.extend_from_slice(SIGNATURE_DOMAIN);
        self.write_terms(&mut m);
        m
    }

    /// Everything the signature covers, in wire order.
    fn write_terms(&self, out: &mut Vec<u8>) {
        out.push(self.version);
        put_short_str(out, &self.topic);
        put_short_str(out, &self.consumer);
        out.extend_from_slice(&self.delegating_key.to_bytes());
        out.extend_from_slice(&self.consumer_key.to_bytes());
        out.extend_from_slice(&self.admin_key.to_bytes());
        out.push(self.threshold);
        out.push(self.shares);
        out.extend_from_slice(&self.not_before.to_be_bytes());
        out.extend_from_slice(&self.expires.to_be_bytes());
        if self.version >= GRANT_VERSION {
            out.extend_from_slice(&self.issued_at.to_be_bytes());
        }
        for d in &self.kfrag_digests {
            out.extend_from_slice(d);
        }
    }

    /// The wire form (`docs/FORMAT.md` §5).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write_terms(&mut out);
        out.push(self.kfrags.len() as u8);
        for (index, bytes) in &self.kfrags {
            out.push(*index);
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses the wire form. Checks structure only; call `verify` before trusting it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Grant> {
        let mut r = Reader::new(bytes, Object::Grant);
        let version = r.u8()?;
        if version != GRANT_VERSION && version != GRANT_VERSION_1 {
            return Err(Error::UnsupportedVersion(Object::Grant, version));
        }
        let topic = r.short_str()?.to_string();
        let consumer = r.short_str()?.to_string();
        let key = |r: &mut Reader<'_>| -> Result<PublicKey> {
            PublicKey::from_bytes(r.take(PUBLIC_KEY_LEN)?)
                .map_err(|_| Error::Malformed(Object::Grant))
        };
        let delegating_key = key(&mut r)?;
        let consumer_key = key(&mut r)?;
        let admin_key = key(&mut r)?;
        let threshold = r.u8()?;
        let shares = r.u8()?;
        if threshold == 0 || threshold > shares || Topic::new(&topic).is_err() {
            return Err(Error::Malformed(Object::Grant));
        }
        let not_before = r.u64()?;
        let expires = r.u64()?;
        let issued_at = if version == GRANT_VERSION_1 {
            0
        } else {
            match r.u64()? {
                0 => return Err(Error::Malformed(Object::Grant)),
                at => at,
            }
        };
        if version != GRANT_VERSION_1 && expires != 0 && expires <= not_before {
            return Err(Error::Malformed(Object::Grant));
        }
        let kfrag_digests = (0..shares)
            .map(|_| r.array())
            .collect::<Result<Vec<[u8; 32]>>>()?;
        let count = r.u8()?;
        if count == 0 || count > shares {
            return Err(Error::Malformed(Object::Grant));
        }
        let mut kfrags = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let index = r.u8()?;
            // Indices strictly increase, so each share appears once.
            let in_order = kfrags
                .last()
                .is_none_or(|(prev, _): &(u8, Vec<u8>)| index > *prev);
            if index >= shares || !in_order {
                return Err(Error::Malformed(Object::Grant));
            }
            let len = r.u16()? as usize;
            kfrags.push((index, r.take(len)?.to_vec()));
        }
        let signature = r.array()?;
        r.finish()?;
        Ok(Grant {
            version,
            topic,
            consumer,
            delegating_key,
            consumer_key,
            admin_key,
            threshold,
            shares,
            not_before,
            expires,
            issued_at,
            kfrag_digests,
            kfrags,
            signature,
        })
    }

    /// Checks the administrator's signature against `trusted_admins`, the validity period
    /// against `now`, and every kfrag (Umbral's own verification, bound to the delegating and
    /// consumer keys). Only a verified grant can be used for re-encryption.
    pub fn verify(&self, trusted_admins: &[PublicKey], now: u64) -> Result<VerifiedGrant> {
        if !trusted_admins.contains(&self.admin_key)
            || !verify_signature(&self.admin_key, &self.signed_message(), &self.signature)
        {
            return Err(Error::UntrustedGrant);
        }
        if now < self.not_before
            || (self.expires != 0 && now >= self.expires)
            || self.issued_at > now.saturating_mul(1000).saturating_add(MAX_ISSUE_SKEW_MS)
        {
            return Err(Error::GrantExpired);
        }
        let mut kfrags = Vec::with_capacity(self.kfrags.len());
        for (index, bytes) in &self.kfrags {
            let digest: [u8; 32] = Sha256::digest(bytes).into();
            if self.kfrag_digests[*index as usize] != digest {
                return Err(Error::InvalidKeyFrag);
            }
            let kfrag: umbral_pre::KeyFrag =
                postcard::from_bytes(bytes).map_err(|_| Error::InvalidKeyFrag)?;
            let verified = kfrag
                .verify(
                    &self.admin_key.0,
                    Some(&self.delegating_key.0),
                    Some(&self.consumer_key.0),
                )
                .map_err(|_| Error::InvalidKeyFrag)?;
            kfrags.push(verified);
        }
        Ok(VerifiedGrant {
            grant: self.clone(),
            kfrags,
        })
    }

    /// Topic the grant opens.
    pub fn topic(&self) -> &str {
        &self.topic
    }
    /// Consumer identity the grant is for.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }
    /// Delegating (producer or channel) public key.
    pub fn delegating_key(&self) -> PublicKey {
        self.delegating_key
    }
    /// Consumer's public key.
    pub fn consumer_key(&self) -> PublicKey {
        self.consumer_key
    }
    /// Administrator key that signed the grant.
    pub fn admin_key(&self) -> PublicKey {
        self.admin_key
    }
    /// Threshold t.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }
    /// Shares n.
    pub fn shares(&self) -> u8 {
        self.shares
    }
    /// Start of validity (Unix seconds).
    pub fn not_before(&self) -> u64 {
        self.not_before
    }
    /// When the administrator issued it (Unix milliseconds; 0 for a version 1 grant).
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }
    /// Layout version (1 or 2).
    pub fn version(&self) -> u8 {
        self.version
    }
    /// End of validity (Unix seconds), if any.
    pub fn expires(&self) -> Option<u64> {
        (self.expires != 0).then_some(self.expires)
    }
    /// The administrator's signature; every share of one issued grant carries the same.
    pub(crate) fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }
    /// Share indices whose kfrags this grant carries.
    pub fn share_indices(&self) -> Vec<u8> {
        self.kfrags.iter().map(|(i, _)| *i).collect()
    }
}

/// A grant whose signature, validity and kfrags were checked.
pub struct VerifiedGrant {
    grant: Grant,
    pub(crate) kfrags: Vec<umbral_pre::VerifiedKeyFrag>,
}

impl core::fmt::Debug for VerifiedGrant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedGrant")
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

impl VerifiedGrant {
    /// The grant's terms.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    struct Fixture {
        rng: ChaCha20Rng,
        admin: Signer,
        producer: SecretKey,
        consumer: PublicKey,
    }

    fn fixture() -> Fixture {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        let admin = Signer::new(SecretKey::random(&mut rng));
        let producer = SecretKey::random(&mut rng);
        let consumer = SecretKey::random(&mut rng).public_key();
        Fixture {
            rng,
            admin,
            producer,
            consumer,
        }
    }

    fn terms(consumer: PublicKey, t: u8, n: u8) -> GrantTerms<'static> {
        GrantTerms {
            topic: "orders",
            consumer: "consumer-1",
            consumer_key: consumer,
            threshold: t,
            shares: n,
            not_before: 100,
            expires: Some(1000),
            issued_at: Some(100_000),
        }
    }

    /// Version 1 grants (no issue time) still parse and verify, as issued at 0; version 2
    /// refuses an issue time of 0 and an expiry before the start.
    #[test]
    fn version_1_grants_still_read_as_issued_at_0() {
        let mut f = fixture();
        let mut g =
            Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 1, 1)).unwrap();
        g.version = GRANT_VERSION_1;
        g.issued_at = 0;
        g.signature = f.admin.sign(&mut f.rng, &g.signed_message());
        let bytes = g.to_bytes();
        assert_eq!(bytes[0], 1);
        let parsed = Grant::from_bytes(&bytes).unwrap();
        assert_eq!((parsed.version(), parsed.issued_at()), (1, 0));
        parsed.verify(&[f.admin.verifying_key()], 500).unwrap();

        let v2 = Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 1, 1)).unwrap();
        assert_eq!(v2.issued_at(), 100_000);
        let mut zero = v2.to_bytes();
        let at = 1 + 1 + 6 + 1 + 10 + 3 * 33 + 2 + 16;
        assert_eq!(&zero[at..at + 8], &100_000u64.to_be_bytes());
        zero[at..at + 8].copy_from_slice(&[0; 8]);
        assert_eq!(
            Grant::from_bytes(&zero),
            Err(Error::Malformed(Object::Grant))
        );
        let mut t = terms(f.consumer, 1, 1);
        t.issued_at = Some(0);
        assert!(Grant::issue(&mut f.rng, &f.admin, &f.producer, &t).is_err());
    }

    #[test]
    fn issued_grant_round_trips_and_verifies() {
        let mut f = fixture();
        let g = Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 2, 3)).unwrap();
        let parsed = Grant::from_bytes(&g.to_bytes()).unwrap();
        assert_eq!(parsed, g);
        let v = parsed.verify(&[f.admin.verifying_key()], 500).unwrap();
        assert_eq!(v.kfrags.len(), 3);
        assert_eq!(v.grant().threshold(), 2);
    }

    #[test]
    fn shares_verify_on_their_own() {
        let mut f = fixture();
        let g = Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 2, 3)).unwrap();
        let share = Grant::from_bytes(&g.share(2).unwrap().to_bytes()).unwrap();
        assert_eq!(share.share_indices(), [2]);
        assert_eq!(
            share
                .verify(&[f.admin.verifying_key()], 500)
                .unwrap()
                .kfrags
                .len(),
            1
        );
        assert!(g.share(3).is_err());
    }

    #[test]
    fn untrusted_admin_and_tampering_are_rejected() {
        let mut f = fixture();
        let g = Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 1, 1)).unwrap();
        let other = SecretKey::random(&mut f.rng).public_key();
        assert_eq!(g.verify(&[other], 500).unwrap_err(), Error::UntrustedGrant);

        // Changing the consumer id breaks the signature.
        let mut bytes = g.to_bytes();
        let pos = bytes.windows(10).position(|w| w == b"consumer-1").unwrap();
        bytes[pos + 9] = b'2';
        let forged = Grant::from_bytes(&bytes).unwrap();
        assert_eq!(
            forged.verify(&[f.admin.verifying_key()], 500).unwrap_err(),
            Error::UntrustedGrant
        );
    }

    #[test]
    fn swapped_kfrag_is_rejected() {
        let mut f = fixture();
        let a = Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 1, 1)).unwrap();
        let b = Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 1, 1)).unwrap();
        let mut mixed = a.clone();
        mixed.kfrags = b.kfrags.clone();
        assert_eq!(
            mixed.verify(&[f.admin.verifying_key()], 500).unwrap_err(),
            Error::InvalidKeyFrag
        );
    }

    #[test]
    fn validity_period_is_enforced() {
        let mut f = fixture();
        let g = Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 1, 1)).unwrap();
        let admins = [f.admin.verifying_key()];
        assert_eq!(g.verify(&admins, 99).unwrap_err(), Error::GrantExpired);
        assert_eq!(g.verify(&admins, 1000).unwrap_err(), Error::GrantExpired);
        assert!(g.verify(&admins, 999).is_ok());
    }

    #[test]
    fn bad_terms_are_refused() {
        let mut f = fixture();
        for (t, n) in [(0, 1), (3, 2)] {
            assert!(
                Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, t, n)).is_err()
            );
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn kfrags_in_umbral_serialization_make_a_grant() {
        use umbral_pre::DefaultSerialize;
        let mut f = fixture();
        let made = umbral_pre::generate_kfrags_with_rng(
            &mut f.rng,
            &f.producer.0,
            &f.consumer.0,
            f.admin.umbral(),
            2,
            3,
            true,
            true,
        );
        let bytes: Vec<Vec<u8>> = made
            .iter()
            .map(|k| k.to_bytes().unwrap().into_vec())
            .collect();
        let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let t = terms(f.consumer, 2, 3);
        let g = Grant::issue_with_umbral_kfrags(
            &mut f.rng,
            &f.admin,
            f.producer.public_key(),
            &t,
            &refs,
        )
        .unwrap();
        assert_eq!(
            g.verify(&[f.admin.verifying_key()], 500)
                .unwrap()
                .kfrags
                .len(),
            3
        );
        // Kfrags signed by someone else are refused up front.
        let other = Signer::new(SecretKey::random(&mut f.rng));
        assert_eq!(
            Grant::issue_with_umbral_kfrags(&mut f.rng, &other, f.producer.public_key(), &t, &refs)
                .unwrap_err(),
            Error::InvalidKeyFrag
        );
        assert!(Grant::issue_with_umbral_kfrags(
            &mut f.rng,
            &f.admin,
            f.producer.public_key(),
            &t,
            &refs[..2]
        )
        .is_err());
    }

    #[test]
    fn every_truncation_is_rejected() {
        let mut f = fixture();
        let bytes = Grant::issue(&mut f.rng, &f.admin, &f.producer, &terms(f.consumer, 1, 2))
            .unwrap()
            .to_bytes();
        for len in 0..bytes.len() {
            assert!(Grant::from_bytes(&bytes[..len]).is_err(), "len {len}");
        }
    }
}
