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

/// What every record of a session shares: immutable once opened, so records are sealed
/// without access to the encryptor (and, when it is shared, without its lock).
struct SessionKeys {
    topic: String,
    key: PayloadKey,
    edek: Arc<[u8]>,
    edek_digest: [u8; 32],
    sig: Option<Arc<[u8]>>,
    sig_digest: [u8; 32],
    nonce_prefix: [u8; 4],
    /// The producer's key when it signs every record (`SigningMode::Record`).
    record_signer: Option<Arc<Signer>>,
}

struct Session {
    keys: Arc<SessionKeys>,
    /// Nonce counters reserved so far: the next record's counter.
    sealed: u64,
    started: u64,
}

impl Session {
    fn open(
        rng: &mut (impl CryptoRng + RngCore),
        delegating: &PublicKey,
        signer: Option<&(Arc<Signer>, SigningMode)>,
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
        let record_signer = match signer {
            Some((signer, SigningMode::Record)) => Some(signer.clone()),
            _ => None,
        };
        Ok(Session {
            keys: Arc::new(SessionKeys {
                topic: topic.as_str().to_string(),
                key: PayloadKey::new(&dek),
                edek_digest,
                sig_digest: sig.as_deref().map_or([0; 32], header_digest),
                sig,
                edek,
                nonce_prefix,
                record_signer,
            }),
            sealed: 0,
            started: now,
        })
    }

    fn expired(&self, policy: &RotationPolicy, now: u64) -> bool {
        self.sealed >= policy.max_messages
            || now.saturating_sub(self.started) >= policy.max_age_secs
    }
}

/// One record's share of a session: the session's keys and a nonce counter reserved for this
/// record alone. `Encryptor::reserve` makes it (the only step needing `&mut`, so the only one
/// under a lock when the encryptor is shared); `seal` then runs AES-GCM, and ECDSA in record
/// signing mode, with no access to the encryptor. Neither `Clone` nor `Copy`: `seal` consumes
/// it, so a reserved nonce seals exactly one record.
pub struct Reservation {
    session: Arc<SessionKeys>,
    counter: u64,
    compressor: Compressor,
}

impl Reservation {
    /// The record's counter in its session (the last 8 bytes of its nonce).
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// Seals `payload` under the record `key` (`None`: a null Kafka key; the key is bound, not
    /// sealed) with the reserved nonce.
    pub fn seal(
        self,
        rng: &mut (impl CryptoRng + RngCore),
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> SealedRecord {
        let session = &*self.session;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..4].copy_from_slice(&session.nonce_prefix);
        nonce[4..].copy_from_slice(&self.counter.to_be_bytes());
        let binding = Binding {
            key_digest: record_key_digest(key),
            sig_digest: session.sig_digest,
        };
        let value = envelope::seal(
            &session.key,
            &session.edek_digest,
            &binding,
            &nonce,
            &self.compressor,
            payload,
        );
        let rsig = session.record_signer.as_ref().map(|signer| {
            RecordSigned {
                topic: &session.topic,
                key_digest: &binding.key_digest,
                value: &value,
                edek_digest: &session.edek_digest,
            }
            .sign(rng, signer)
        });
        SealedRecord {
            value,
            edek: session.edek.clone(),
            sig: session.sig.clone(),
            rsig,
        }
    }
}

/// What opening a new session needs (the Umbral encapsulation and, when signing, the session
/// signature), taken from the encryptor so a shared one can open it without its lock.
pub struct SessionRequest {
    delegating: PublicKey,
    signer: Option<(Arc<Signer>, SigningMode)>,
    topic: String,
    epoch: u64,
}

impl SessionRequest {
    /// Opens the session (about 0.3 ms of Umbral work, plus a signature when signing); give
    /// it to `Encryptor::install`.
    pub fn open(&self, rng: &mut (impl CryptoRng + RngCore), now: u64) -> Result<NewSession> {
        let topic = Topic::new(&self.topic)?;
        Ok(NewSession {
            session: Session::open(rng, &self.delegating, self.signer.as_ref(), topic, now)?,
            epoch: self.epoch,
        })
    }
}

/// A session opened from a `SessionRequest`, not yet used for any record.
pub struct NewSession {
    session: Session,
    epoch: u64,
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
    signer: Option<(Arc<Signer>, SigningMode)>,
    policy: RotationPolicy,
    compressor: Compressor,
    sessions: Vec<Session>,
    rotations: u64,
    /// Bumped whenever open sessions end (`rotate`, `set_signer`): a session requested
    /// before is stale and not installed.
    epoch: u64,
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
            epoch: 0,
        })
    }

    /// Signs every session from now on with `signer` in `mode` (`None`: unsigned sessions,
    /// which readers accept only under policy `optional` or `off`). Open sessions end, so no
    /// session mixes signed and unsigned records.
    pub fn set_signer(&mut self, signer: Option<(Signer, SigningMode)>) {
        self.signer = signer.map(|(signer, mode)| (Arc::new(signer), mode));
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
    /// is bound, not sealed) at time `now` (Unix seconds), opening or rotating the topic's
    /// session as needed: `reserve`, then `Reservation::seal`.
    pub fn seal(
        &mut self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<SealedRecord> {
        Ok(self.reserve(rng, now, topic)?.seal(rng, key, payload))
    }

    /// Reserves the next nonce of `topic`'s session for one record, opening or rotating the
    /// session first when its policy says so (the Umbral step, inline).
    pub fn reserve(
        &mut self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        topic: &str,
    ) -> Result<Reservation> {
        loop {
            if let Some(reservation) = self.try_reserve(now, topic)? {
                return Ok(reservation);
            }
            let new = self.session_request(topic).open(rng, now)?;
            self.install(new, now);
        }
    }

    /// Reserves the next nonce of `topic`'s session for one record, without Umbral work:
    /// `None` when the topic needs a new session first (`session_request`, `open`, `install`,
    /// then ask again). Counting reservations is what keeps rotation by count exact and every
    /// nonce of a session distinct, however the records are then sealed.
    pub fn try_reserve(&mut self, now: u64, topic: &str) -> Result<Option<Reservation>> {
        let Some(session) = self.sessions.iter_mut().find(|s| s.keys.topic == topic) else {
            Topic::new(topic)?;
            return Ok(None);
        };
        if session.expired(&self.policy, now) {
            return Ok(None);
        }
        let counter = session.sealed;
        session.sealed += 1;
        Ok(Some(Reservation {
            session: session.keys.clone(),
            counter,
            compressor: self.compressor,
        }))
    }

    /// What opening a new session for `topic` needs.
    pub fn session_request(&self, topic: &str) -> SessionRequest {
        SessionRequest {
            delegating: self.delegating,
            signer: self.signer.clone(),
            topic: topic.to_string(),
            epoch: self.epoch,
        }
    }

    /// Makes `new` its topic's session, unless it is stale: open sessions ended since it was
    /// requested, or the topic already has a current session (another thread's, when shared).
    /// A stale session is dropped unused. True when installed.
    pub fn install(&mut self, new: NewSession, now: u64) -> bool {
        if new.epoch != self.epoch {
            return false;
        }
        let topic = &new.session.keys.topic;
        match self.sessions.iter().position(|s| s.keys.topic == *topic) {
            Some(i) if self.sessions[i].expired(&self.policy, now) => {
                self.sessions[i] = new.session;
                self.rotations += 1;
                true
            }
            Some(_) => false,
            None => {
                self.sessions.push(new.session);
                true
            }
        }
    }

    /// Ends every open session now; the next `seal` per topic starts a fresh DEK.
    pub fn rotate(&mut self) {
        self.rotations += self.sessions.len() as u64;
        self.sessions.clear();
        self.epoch += 1;
    }

    /// The current EDEK header value for `topic`, if a session is open.
    pub fn edek(&self, topic: &str) -> Option<&Arc<[u8]>> {
        self.sessions
            .iter()
            .find(|s| s.keys.topic == topic)
            .map(|s| &s.keys.edek)
    }

    /// The current session id for `topic` (what sealed values carry), if a session is open.
    pub fn session_id(&self, topic: &str) -> Option<SessionId> {
        self.sessions
            .iter()
            .find(|s| s.keys.topic == topic)
            .map(|s| SessionId::of_edek_digest(&s.keys.edek_digest))
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
    fn reservations_sealed_out_of_order_keep_distinct_nonces_and_open() {
        let (mut rng, mut enc) = encryptor(RotationPolicy::default());
        let first = enc.reserve(&mut rng, 0, "t").unwrap();
        let second = enc.reserve(&mut rng, 0, "t").unwrap();
        assert_eq!((first.counter(), second.counter()), (0, 1));
        let b = second.seal(&mut rng, None, b"b").value;
        let a = first.seal(&mut rng, None, b"a").value;
        let c = enc.seal(&mut rng, 0, "t", None, b"c").unwrap().value;
        let nonces: alloc::collections::BTreeSet<_> =
            [&a, &b, &c].iter().map(|v| v[20..32].to_vec()).collect();
        assert_eq!(nonces.len(), 3);
        assert_eq!(crate::EnvelopeRef::parse(&c).unwrap().counter(), 2);
    }

    #[test]
    fn rotation_counts_reservations_not_seals() {
        let (mut rng, mut enc) = encryptor(RotationPolicy {
            max_messages: 2,
            max_age_secs: 100,
        });
        let held: Vec<_> = (0..2)
            .map(|_| enc.reserve(&mut rng, 0, "t").unwrap())
            .collect();
        assert!(enc.try_reserve(0, "t").unwrap().is_none());
        let third = enc.reserve(&mut rng, 0, "t").unwrap();
        assert_eq!(third.counter(), 0);
        assert_eq!(enc.rotations(), 1);
        let edeks: Vec<_> = held
            .into_iter()
            .chain([third])
            .map(|r| r.seal(&mut rng, None, b"x").edek)
            .collect();
        assert!(Arc::ptr_eq(&edeks[0], &edeks[1]));
        assert!(!Arc::ptr_eq(&edeks[1], &edeks[2]));
    }

    #[test]
    fn a_session_requested_before_it_was_needed_or_before_a_rotation_is_not_installed() {
        let (mut rng, mut enc) = encryptor(RotationPolicy::default());
        let early = enc.session_request("t").open(&mut rng, 0).unwrap();
        let late = enc.session_request("t").open(&mut rng, 0).unwrap();
        assert!(enc.install(early, 0));
        // Another caller's session is current: the second one is dropped unused.
        assert!(!enc.install(late, 0));
        let current = enc.edek("t").cloned().unwrap();
        let stale = enc.session_request("t").open(&mut rng, 0).unwrap();
        enc.rotate();
        assert!(!enc.install(stale, 0));
        let sealed = enc.seal(&mut rng, 0, "t", None, b"x").unwrap();
        assert_ne!(sealed.edek, current);
        assert_eq!(enc.rotations(), 1);
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
