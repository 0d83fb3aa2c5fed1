//! The re-encryptor's side of producer authenticity (DESIGN.md §5, the seed's conversion):
//! it checks a session's producer signature once against the topic's authorized producers
//! and answers with the channel signature to attach (`rewrap.chsig`), so consumers trust one
//! key per channel and need not know any producer.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cache::{Cache, CacheStats};
use crate::edek::EdekRef;
use crate::error::{Error, Result};
use crate::keys::{KeyId, PublicKey, SecretKey, Signer};
use crate::signing::{
    check_session, sign_channel, Policies, Policy, ProducerGrant, Producers, SessionSignature,
    SignatureHeaders,
};

/// Sessions whose verdict a notary keeps by default.
pub const DEFAULT_NOTARY_CACHE_CAPACITY: usize = 65_536;

/// What the re-encryptor does with one session's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attestation {
    /// Serve cfrags, attaching this channel signature when there is one (none when the
    /// record is unsigned under `optional`, the policy is `off`, or no channel key is held).
    Serve(Option<Arc<[u8]>>),
    /// Refuse cfrags: the record fails the topic's policy with this error.
    Refuse(Error),
}

/// A look-up's answer: known, or a verification to run (`Notary::check`).
#[derive(Debug)]
pub enum Verdict {
    /// Already decided for this session (or decided without a signature check).
    Known(Attestation),
    /// Needs a signature verification (one ECDSA verify, and a sign when it passes).
    Unknown,
}

/// Producer grants, policies and channel signing keys of a re-encryptor, and the verdicts it
/// reached per session.
pub struct Notary {
    policies: Policies,
    producers: Producers,
    seed: Option<Zeroizing<[u8; 32]>>,
    signers: BTreeMap<String, Arc<Signer>>,
    verdicts: Cache<[u8; 32], Attestation>,
    /// Bumped whenever verdicts are forgotten, so a verification that ran meanwhile is not
    /// remembered (a revocation wins over a check in flight).
    generation: u64,
}

/// A signature verification taken out of the notary (after `lookup` answered `Unknown`),
/// so it runs without holding it: the topic's policy, producer grants and channel signer.
pub struct PendingAttestation {
    topic: String,
    policy: Policy,
    producers: Producers,
    signer: Option<Arc<Signer>>,
    generation: u64,
}

impl PendingAttestation {
    /// Verifies the session signature `sig` of `edek` and, when it passes, signs the channel
    /// signature. Pure: call `Notary::complete` to remember the answer.
    pub fn check(
        &self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        edek: &[u8],
        sig: &[u8],
    ) -> Attestation {
        let edek_digest = match EdekRef::parse(edek) {
            Ok(e) => e.digest(),
            Err(e) => return Attestation::Refuse(e),
        };
        let headers = SignatureHeaders {
            session: Some(sig),
            record: None,
            channel: None,
        };
        let topic = self.topic.as_str();
        match check_session(
            self.policy,
            topic,
            &edek_digest,
            &headers,
            None,
            &self.producers,
            now,
        ) {
            Err(e) => Attestation::Refuse(e),
            Ok(_) => Attestation::Serve(
                self.signer
                    .as_ref()
                    .map(|s| sign_channel(rng, s, topic, &edek_digest, sig).into()),
            ),
        }
    }
}

impl Notary {
    /// Accepts producer grants signed by `trusted_admins`; every topic under `policy`.
    pub fn new(
        trusted_admins: &[PublicKey],
        policy: Policy,
        cache_capacity: usize,
    ) -> Result<Self> {
        Ok(Notary {
            policies: Policies::new(policy),
            producers: Producers::new(trusted_admins),
            seed: None,
            signers: BTreeMap::new(),
            verdicts: Cache::new(cache_capacity, None)?,
            generation: 0,
        })
    }

    /// Signs channel signatures with keys derived from `seed` (32 bytes;
    /// `SecretKey::derive_channel_signing_key`), or none when `None`.
    pub fn set_channel_seed(&mut self, seed: Option<&[u8]>) -> Result<()> {
        self.seed = match seed {
            Some(s) => {
                Some(Zeroizing::new(s.try_into().map_err(|_| {
                    Error::InvalidArgument("signing seed must be 32 bytes")
                })?))
            }
            None => None,
        };
        self.signers.clear();
        self.forget();
        Ok(())
    }

    /// The channel verifying key of `topic`, when a seed is set.
    pub fn channel_key(&mut self, topic: &str) -> Result<Option<PublicKey>> {
        Ok(self.signer(topic)?.map(|s| s.verifying_key()))
    }

    fn signer(&mut self, topic: &str) -> Result<Option<&Arc<Signer>>> {
        let Some(seed) = &self.seed else {
            return Ok(None);
        };
        if !self.signers.contains_key(topic) {
            let key = SecretKey::derive_channel_signing_key(seed.as_slice(), topic)?;
            self.signers
                .insert(topic.to_string(), Arc::new(Signer::new(key)));
        }
        Ok(self.signers.get(topic))
    }

    /// Sets the policy of `topic`, or the default when `None`.
    pub fn set_policy(&mut self, topic: Option<&str>, policy: Policy) -> Result<()> {
        self.policies.set(topic, policy)?;
        self.forget();
        Ok(())
    }

    /// The policy of `topic`.
    pub fn policy(&self, topic: &str) -> Policy {
        self.policies.of(topic)
    }

    /// Verifies and adds a producer grant.
    pub fn add_producer_grant(&mut self, grant: &ProducerGrant, now: u64) -> Result<()> {
        self.producers.add(grant, now)?;
        self.forget();
        Ok(())
    }

    /// Removes a producer's grant; its sessions' verdicts are forgotten, so its records get
    /// no more cfrags.
    pub fn revoke_producer(&mut self, topic: &str, producer: &KeyId) -> bool {
        let removed = self.producers.revoke(topic, producer);
        if removed {
            self.forget();
        }
        removed
    }

    /// Replaces every producer grant with `grants` (a reload); returns the ones refused.
    pub fn replace_producer_grants<'a>(
        &mut self,
        grants: impl IntoIterator<Item = &'a ProducerGrant>,
        now: u64,
    ) -> Vec<(ProducerGrant, Error)> {
        self.producers.clear();
        let mut refused = Vec::new();
        for g in grants {
            if let Err(e) = self.producers.add(g, now) {
                refused.push((g.clone(), e));
            }
        }
        self.forget();
        refused
    }

    /// The producer grants held.
    pub fn producers(&self) -> &Producers {
        &self.producers
    }

    fn forget(&mut self) {
        self.verdicts.remove_where(|_| true);
        self.generation += 1;
    }

    fn verdict_key(topic: &str, edek_digest: &[u8; 32], sig: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([topic.len() as u8]);
        h.update(topic.as_bytes());
        h.update(edek_digest);
        h.update(sig);
        h.finalize().into()
    }

    /// What to do with a record of `topic` carrying `edek` and the session signature `sig`,
    /// when it is known without verifying a signature: the policy decides alone, or the
    /// verdict is cached, or the signature is refused by its framing or because its producer
    /// holds no grant (checks that cost no ECDSA verification, so a flood of them is not
    /// charged to a budget; they are remembered like verified ones).
    pub fn lookup(&mut self, now: u64, topic: &str, edek: &[u8], sig: Option<&[u8]>) -> Verdict {
        let sig = match (self.policies.of(topic), sig) {
            (Policy::Off, _) | (Policy::Optional, None) => {
                return Verdict::Known(Attestation::Serve(None))
            }
            (Policy::Require, None) => return Verdict::Known(Attestation::Refuse(Error::Unsigned)),
            (_, Some(sig)) => sig,
        };
        let edek_digest = match EdekRef::parse(edek) {
            Ok(e) => e.digest(),
            Err(e) => return Verdict::Known(Attestation::Refuse(e)),
        };
        let key = Self::verdict_key(topic, &edek_digest, sig);
        if let Some(known) = self.verdicts.get(&key, now) {
            return Verdict::Known(known.clone());
        }
        let refused = match SessionSignature::parse(sig) {
            Err(e) => e,
            Ok(parsed) => match self.producers.authorize(topic, &parsed.producer(), now) {
                Err(e) => e,
                Ok(()) => return Verdict::Unknown,
            },
        };
        let answer = Attestation::Refuse(refused);
        self.verdicts.insert(key, answer.clone(), now);
        Verdict::Known(answer)
    }

    /// Takes out what verifying a session of `topic` needs (after `lookup` answered
    /// `Unknown`), to run with `PendingAttestation::check` outside the notary's lock.
    pub fn pending(&mut self, topic: &str, sig: &[u8]) -> Result<PendingAttestation> {
        let producer = SessionSignature::parse(sig)?.producer();
        let signer = self.signer(topic)?.cloned();
        Ok(PendingAttestation {
            topic: topic.to_string(),
            policy: self.policies.of(topic),
            producers: self.producers.only(topic, &producer),
            signer,
            generation: self.generation,
        })
    }

    /// Remembers a verdict reached by `pending.check`, unless grants, policies or keys
    /// changed since `pending` was taken out (then the next record is checked again).
    pub fn complete(
        &mut self,
        now: u64,
        pending: &PendingAttestation,
        edek: &[u8],
        sig: &[u8],
        answer: &Attestation,
    ) {
        let Ok(edek) = EdekRef::parse(edek) else {
            return;
        };
        if pending.generation == self.generation {
            let key = Self::verdict_key(&pending.topic, &edek.digest(), sig);
            self.verdicts.insert(key, answer.clone(), now);
        }
    }

    /// Verifies and remembers in one call (`pending`, `check`, `complete`).
    pub fn check(
        &mut self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        topic: &str,
        edek: &[u8],
        sig: &[u8],
    ) -> Attestation {
        let pending = match self.pending(topic, sig) {
            Ok(p) => p,
            Err(e) => return Attestation::Refuse(e),
        };
        let answer = pending.check(rng, now, edek, sig);
        self.complete(now, &pending, edek, sig, &answer);
        answer
    }

    /// Verdict cache counters.
    pub fn stats(&self) -> CacheStats {
        self.verdicts.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Topic;
    use crate::signing::{verify_channel, SessionSignature, SigningMode};
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn vouches_for_authorized_producers_only() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let admin = Signer::new(SecretKey::random(&mut rng));
        let producer = Signer::new(SecretKey::random(&mut rng));
        let stranger = Signer::new(SecretKey::random(&mut rng));
        let delegating = SecretKey::random(&mut rng).public_key();
        let topic = Topic::new("orders").unwrap();
        let dek = crate::dek::Dek::random(&mut rng);
        let edek = crate::edek::seal_dek(&mut rng, &delegating, &dek, topic).unwrap();
        let digest = crate::edek::digest(&edek);
        let mut notary = Notary::new(&[admin.verifying_key()], Policy::Require, 16).unwrap();
        notary.set_channel_seed(Some(&[7; 32])).unwrap();
        let channel = notary.channel_key("orders").unwrap().unwrap();
        let grant = ProducerGrant::issue(
            &mut rng,
            &admin,
            "orders",
            &producer.verifying_key(),
            0,
            None,
        )
        .unwrap();
        notary.add_producer_grant(&grant, 5).unwrap();

        let good =
            SessionSignature::sign(&mut rng, &producer, SigningMode::Session, 5, topic, &digest);
        assert!(matches!(
            notary.lookup(5, "orders", &edek, Some(&good)),
            Verdict::Unknown
        ));
        let Attestation::Serve(Some(chsig)) = notary.check(&mut rng, 5, "orders", &edek, &good)
        else {
            panic!("authorized producer refused");
        };
        verify_channel(&channel, "orders", &digest, &good, &chsig).unwrap();
        assert!(matches!(
            notary.lookup(5, "orders", &edek, Some(&good)),
            Verdict::Known(Attestation::Serve(Some(_)))
        ));

        // A producer without a grant is refused at the look-up: no ECDSA verification.
        let forged =
            SessionSignature::sign(&mut rng, &stranger, SigningMode::Session, 5, topic, &digest);
        assert!(matches!(
            notary.lookup(5, "orders", &edek, Some(&forged)),
            Verdict::Known(Attestation::Refuse(Error::UnauthorizedProducer))
        ));
        assert_eq!(
            notary.check(&mut rng, 5, "orders", &edek, &forged),
            Attestation::Refuse(Error::UnauthorizedProducer)
        );
        // A bad signature claiming the authorized producer costs a verification, once.
        let mut bad = good.clone();
        bad[50] ^= 1;
        assert!(matches!(
            notary.lookup(5, "orders", &edek, Some(&bad)),
            Verdict::Unknown
        ));
        assert_eq!(
            notary.check(&mut rng, 5, "orders", &edek, &bad),
            Attestation::Refuse(Error::BadSignature)
        );
        assert!(matches!(
            notary.lookup(5, "orders", &edek, Some(&bad)),
            Verdict::Known(Attestation::Refuse(Error::BadSignature))
        ));
        assert!(matches!(
            notary.lookup(5, "orders", &edek, None),
            Verdict::Known(Attestation::Refuse(Error::Unsigned))
        ));

        assert!(notary.revoke_producer("orders", &producer.verifying_key().key_id()));
        assert!(matches!(
            notary.lookup(6, "orders", &edek, Some(&good)),
            Verdict::Known(Attestation::Refuse(Error::UnauthorizedProducer))
        ));
        assert_eq!(
            notary.check(&mut rng, 6, "orders", &edek, &good),
            Attestation::Refuse(Error::UnauthorizedProducer)
        );

        // A verification in flight when the producer is revoked is not remembered.
        notary.add_producer_grant(&grant, 6).unwrap();
        let pending = notary.pending("orders", &good).unwrap();
        let answer = pending.check(&mut rng, 6, &edek, &good);
        assert!(matches!(answer, Attestation::Serve(Some(_))));
        assert!(notary.revoke_producer("orders", &producer.verifying_key().key_id()));
        notary.complete(6, &pending, &edek, &good, &answer);
        assert!(matches!(
            notary.lookup(6, "orders", &edek, Some(&good)),
            Verdict::Known(Attestation::Refuse(Error::UnauthorizedProducer))
        ));

        notary.set_policy(Some("orders"), Policy::Off).unwrap();
        assert!(matches!(
            notary.lookup(6, "orders", &edek, None),
            Verdict::Known(Attestation::Serve(None))
        ));
    }
}
