//! Producer side: one session (DEK + EDEK) per topic, rotated by message count and age, and
//! `seal` that costs one AES-256-GCM pass over the payload plus a fixed few dozen bytes (and,
//! when the producer opts in, one compression pass before it).

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};

use crate::compression::{Compression, Compressor};
use crate::dek::{Dek, PayloadKey, NONCE_LEN};
use crate::edek::{self, EDEK_HEADER};
use crate::envelope::{self, Binding};
use crate::error::{Error, Result};
use crate::ids::{SessionId, Topic};
use crate::keys::{PublicKey, Signer};
use crate::signing::{
    header_digest, record_key_digest, RecordSigned, SessionSignature, SigningMode,
    RECORD_SIG_HEADER, SIG_HEADER,
};

/// Hard ceiling on messages per DEK: with 64-bit counter nonces AES-GCM could go much further,
/// but NIST SP 800-38D's 2^32 invocation guidance is the conservative bound we hold to.
pub const MAX_MESSAGES_PER_DEK: u64 = 1 << 32;

/// Messages per session before rotation by default.
pub const DEFAULT_ROTATION_MAX_MESSAGES: u64 = 1_000_000;
/// Seconds per session before rotation by default.
pub const DEFAULT_ROTATION_MAX_AGE_SECS: u64 = 3600;

/// When the producer starts a new session (fresh DEK and EDEK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Messages sealed under one DEK before rotating (1..=2^32).
    pub max_messages: u64,
    /// Seconds a DEK is used before rotating (>= 1).
    pub max_age_secs: u64,
}

impl Default for RotationPolicy {
    /// One million messages or one hour, whichever comes first.
    fn default() -> Self {
        RotationPolicy {
            max_messages: DEFAULT_ROTATION_MAX_MESSAGES,
            max_age_secs: DEFAULT_ROTATION_MAX_AGE_SECS,
        }
    }
}

impl RotationPolicy {
    /// The policy with 0 meaning "the default" for either limit: how the C and JVM bindings
    /// pass an unset value.
    pub fn or_default(max_messages: u64, max_age_secs: u64) -> Self {
        let d = RotationPolicy::default();
        RotationPolicy {
            max_messages: if max_messages == 0 {
                d.max_messages
            } else {
                max_messages
            },
            max_age_secs: if max_age_secs == 0 {
                d.max_age_secs
            } else {
                max_age_secs
            },
        }
    }

    fn check(&self) -> Result<()> {
        if self.max_messages == 0 || self.max_messages > MAX_MESSAGES_PER_DEK {
            return Err(Error::InvalidArgument("max_messages must be 1..=2^32"));
        }
        if self.max_age_secs == 0 {
            return Err(Error::InvalidArgument("max_age_secs must be >= 1"));
        }
        Ok(())
    }
}

/// A sealed record: the value to produce and the header(s) to attach.
#[derive(Clone, Debug)]
pub struct SealedRecord {
    /// The record value (the envelope, `docs/FORMAT.md` §2).
    pub value: Vec<u8>,
    /// The `rewrap.edek` header value, shared by every record of the session.
    pub edek: Arc<[u8]>,
    /// The `rewrap.sig` header value (signed sessions), shared by every record of the session.
    pub sig: Option<Arc<[u8]>>,
    /// The `rewrap.rsig` header value (record signing mode).
    pub rsig: Option<Vec<u8>>,
}

impl SealedRecord {
    /// The headers to attach, in this order: `rewrap.edek`, then `rewrap.sig` and
    /// `rewrap.rsig` when present.
    pub fn headers(&self) -> Vec<(&'static str, &[u8])> {
        let mut out = Vec::with_capacity(3);
        out.push((EDEK_HEADER, &self.edek[..]));
        if let Some(sig) = &self.sig {
            out.push((SIG_HEADER, &sig[..]));
        }
        if let Some(rsig) = &self.rsig {
            out.push((RECORD_SIG_HEADER, rsig.as_slice()));
        }
        out
    }
}

struct Session {
    topic: String,
    key: PayloadKey,
    edek: Arc<[u8]>,
    edek_digest: [u8; 32],
    sig: Option<Arc<[u8]>>,
    sig_digest: [u8; 32],
    nonce_prefix: [u8; 4],
    sealed: u64,
    started: u64,
}

impl Session {
    fn open(
        rng: &mut (impl CryptoRng + RngCore),
        delegating: &PublicKey,
        signer: Option<&(Signer, SigningMode)>,
        topic: Topic<'_>,
        now: u64,
    ) -> Result<Self> {
        let dek = Dek::random(rng);
        let edek = edek::seal_dek(rng, delegating, &dek, topic)?;
        let edek_digest = edek::digest(&edek);
        let sig: Option<Arc<[u8]>> = signer.map(|(signer, mode)| {
            SessionSignature::sign(rng, signer, *mode, now, topic, &edek_digest).into()
        });
        let mut nonce_prefix = [0u8; 4];
        rng.fill_bytes(&mut nonce_prefix);
        Ok(Session {
            topic: topic.as_str().to_string(),
            key: PayloadKey::new(&dek),
            edek_digest,
            sig_digest: sig.as_deref().map_or([0; 32], header_digest),
            sig,
            edek,
            nonce_prefix,
            sealed: 0,
            started: now,
        })
    }
}

/// Seals payloads for one delegating public key (a producer's own, or a channel's).
///
/// ```
/// # use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
/// use rewrap_core::{Encryptor, RotationPolicy, SecretKey};
/// let mut rng = ChaCha20Rng::seed_from_u64(0); // use OsRng in real code
/// let channel = SecretKey::random(&mut rng).public_key();
/// let mut enc = Encryptor::new(channel, RotationPolicy::default()).unwrap();
/// let record = enc.seal(&mut rng, 1_700_000_000, "orders", None, b"hello").unwrap();
/// assert_eq!(record.headers()[0].0, "rewrap.edek");
/// ```
pub struct Encryptor {
    delegating: PublicKey,
    signer: Option<(Signer, SigningMode)>,
    policy: RotationPolicy,
    compressor: Compressor,
    sessions: Vec<Session>,
    rotations: u64,
}

impl Encryptor {
    /// A producer encrypting to `delegating`; sessions open lazily per topic.
    pub fn new(delegating: PublicKey, policy: RotationPolicy) -> Result<Self> {
        policy.check()?;
        Ok(Encryptor {
            delegating,
            signer: None,
            policy,
            compressor: Compressor::new(Compression::None)?,
            sessions: Vec::new(),
            rotations: 0,
        })
    }

    /// Signs every session from now on with `signer` in `mode` (`None`: unsigned sessions,
    /// which readers accept only under policy `optional` or `off`). Open sessions end, so no
    /// session mixes signed and unsigned records.
    pub fn set_signer(&mut self, signer: Option<(Signer, SigningMode)>) {
        self.signer = signer;
        self.rotate();
    }

    /// Compresses payloads before sealing them from the next record on (`Compression::None`,
    /// the default, seals them as given). A payload is sealed compressed only when that makes
    /// it smaller; sessions are unaffected. Compressing leaks how compressible a payload is
    /// through its length: keep it off for records mixing attacker-chosen data with secrets
    /// (docs/FORMAT.md §2.1). `InvalidArgument` for a zstd level outside 1..=22, or zstd in a
    /// build without `std`.
    pub fn set_compression(&mut self, compression: Compression) -> Result<()> {
        self.compressor = Compressor::new(compression)?;
        Ok(())
    }

    /// How payloads are compressed before sealing.
    pub fn compression(&self) -> Compression {
        self.compressor.setting()
    }

    /// The producer's verifying key and signing mode, if it signs.
    pub fn signer(&self) -> Option<(PublicKey, SigningMode)> {
        self.signer
            .as_ref()
            .map(|(s, mode)| (s.verifying_key(), *mode))
    }

    /// Seals one payload for `topic` under the record `key` (`None`: a null Kafka key; the key
    /// is bound, not sealed), opening or rotating the topic's session as needed.
    pub fn seal(
        &mut self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<SealedRecord> {
        let index = self.session_for(rng, now, topic)?;
        let session = &mut self.sessions[index];
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..4].copy_from_slice(&session.nonce_prefix);
        nonce[4..].copy_from_slice(&session.sealed.to_be_bytes());
        session.sealed += 1;
        let binding = Binding {
            key_digest: record_key_digest(key),
            sig_digest: session.sig_digest,
        };
        let value = envelope::seal(
            &session.key,
            &session.edek_digest,
            &binding,
            &nonce,
            &mut self.compressor,
            payload,
        );
        let rsig = match &self.signer {
            Some((signer, SigningMode::Record)) => Some(
                RecordSigned {
                    topic,
                    key_digest: &binding.key_digest,
                    value: &value,
                    edek_digest: &session.edek_digest,
                }
                .sign(rng, signer),
            ),
            _ => None,
        };
        Ok(SealedRecord {
            value,
            edek: session.edek.clone(),
            sig: session.sig.clone(),
            rsig,
        })
    }

    fn session_for(
        &mut self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        topic: &str,
    ) -> Result<usize> {
        match self.sessions.iter().position(|s| s.topic == topic) {
            Some(i) => {
                let s = &self.sessions[i];
                if s.sealed >= self.policy.max_messages
                    || now.saturating_sub(s.started) >= self.policy.max_age_secs
                {
                    let topic = Topic::new(topic)?;
                    self.sessions[i] =
                        Session::open(rng, &self.delegating, self.signer.as_ref(), topic, now)?;
                    self.rotations += 1;
                }
                Ok(i)
            }
            None => {
                let topic = Topic::new(topic)?;
                self.sessions.push(Session::open(
                    rng,
                    &self.delegating,
                    self.signer.as_ref(),
                    topic,
                    now,
                )?);
                Ok(self.sessions.len() - 1)
            }
        }
    }

    /// Ends every open session now; the next `seal` per topic starts a fresh DEK.
    pub fn rotate(&mut self) {
        self.rotations += self.sessions.len() as u64;
        self.sessions.clear();
    }

    /// The current EDEK header value for `topic`, if a session is open.
    pub fn edek(&self, topic: &str) -> Option<&Arc<[u8]>> {
        self.sessions
            .iter()
            .find(|s| s.topic == topic)
            .map(|s| &s.edek)
    }

    /// The current session id for `topic` (what sealed values carry), if a session is open.
    pub fn session_id(&self, topic: &str) -> Option<SessionId> {
        self.sessions
            .iter()
            .find(|s| s.topic == topic)
            .map(|s| SessionId::of_edek_digest(&s.edek_digest))
    }

    /// How many sessions were replaced by rotation so far.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// The delegating public key records are encrypted to.
    pub fn delegating_key(&self) -> PublicKey {
        self.delegating
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn encryptor(policy: RotationPolicy) -> (ChaCha20Rng, Encryptor) {
        let mut rng = ChaCha20Rng::seed_from_u64(31);
        let pk = SecretKey::random(&mut rng).public_key();
        (rng, Encryptor::new(pk, policy).unwrap())
    }

    #[test]
    fn rotates_after_message_count() {
        let (mut rng, mut enc) = encryptor(RotationPolicy {
            max_messages: 3,
            max_age_secs: 100,
        });
        let ids: Vec<_> = (0..7)
            .map(|_| {
                let r = enc.seal(&mut rng, 0, "t", None, b"x").unwrap();
                r.edek
            })
            .collect();
        assert!(Arc::ptr_eq(&ids[0], &ids[2]));
        assert!(!Arc::ptr_eq(&ids[2], &ids[3]));
        assert!(Arc::ptr_eq(&ids[3], &ids[5]));
        assert_ne!(ids[5], ids[6]);
        assert_eq!(enc.rotations(), 2);
    }

    #[test]
    fn rotates_after_age() {
        let (mut rng, mut enc) = encryptor(RotationPolicy {
            max_messages: 100,
            max_age_secs: 10,
        });
        let a = enc.seal(&mut rng, 1000, "t", None, b"x").unwrap().edek;
        let b = enc.seal(&mut rng, 1009, "t", None, b"x").unwrap().edek;
        let c = enc.seal(&mut rng, 1010, "t", None, b"x").unwrap().edek;
        assert_eq!(a, b);
        assert_ne!(b, c);
    }

    #[test]
    fn one_session_per_topic() {
        let (mut rng, mut enc) = encryptor(RotationPolicy::default());
        let a = enc.seal(&mut rng, 0, "a", None, b"x").unwrap().edek;
        let b = enc.seal(&mut rng, 0, "b", None, b"x").unwrap().edek;
        assert_ne!(a, b);
        assert_eq!(enc.edek("a"), Some(&a));
        enc.rotate();
        assert_eq!(enc.edek("a"), None);
    }

    #[test]
    fn nonces_never_repeat_within_a_session() {
        let (mut rng, mut enc) = encryptor(RotationPolicy::default());
        let mut seen = alloc::collections::BTreeSet::new();
        for _ in 0..1000 {
            let v = enc.seal(&mut rng, 0, "t", None, b"").unwrap().value;
            assert!(seen.insert(v[20..32].to_vec()));
        }
    }

    #[test]
    fn zero_means_default_for_bindings() {
        let d = RotationPolicy::default();
        assert_eq!(
            RotationPolicy::or_default(0, 5),
            RotationPolicy {
                max_messages: d.max_messages,
                max_age_secs: 5
            }
        );
        assert_eq!(
            RotationPolicy::or_default(7, 0),
            RotationPolicy {
                max_messages: 7,
                max_age_secs: d.max_age_secs
            }
        );
        let c = crate::ReEncryptorConfig::or_default(0, 0);
        assert_eq!(c, crate::ReEncryptorConfig::default());
        assert_eq!(
            crate::DecryptorConfig::or_default(9, 30, true).cache_ttl_secs,
            Some(30)
        );
    }

    #[test]
    fn bad_policy_and_topic_are_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(32);
        let pk = SecretKey::random(&mut rng).public_key();
        for policy in [
            RotationPolicy {
                max_messages: 0,
                max_age_secs: 1,
            },
            RotationPolicy {
                max_messages: MAX_MESSAGES_PER_DEK + 1,
                max_age_secs: 1,
            },
            RotationPolicy {
                max_messages: 1,
                max_age_secs: 0,
            },
        ] {
            assert!(matches!(
                Encryptor::new(pk, policy),
                Err(Error::InvalidArgument(_))
            ));
        }
        let mut enc = Encryptor::new(pk, RotationPolicy::default()).unwrap();
        assert!(matches!(
            enc.seal(&mut rng, 0, "", None, b"x"),
            Err(Error::InvalidArgument(_))
        ));
    }
}
