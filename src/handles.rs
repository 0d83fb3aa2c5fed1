//! Thread-safe handles over the core engine, with the OS RNG and the system clock filled in.
//! Each wraps one core object in a mutex held for book-keeping only: AES-GCM, signatures and
//! Umbral steps run after it is released, so threads sharing a handle seal and open in
//! parallel. The engine never panics on input, so a poisoned lock can only follow a bug
//! elsewhere in the process and is recovered rather than spread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use rewrap_core as engine;
use rewrap_core::{
    Attestation, CfragHeaders, Compression, DecryptorConfig, DecryptorStats, Error, Grant, Header,
    KeyId, Opened, Policy, ProducerGrant, PublicKey, ReEncryptorConfig, ReEncryptorStats, Result,
    Revocation, RotationPolicy, SealedRecord, SecretKey, SessionId, Signer, SigningMode, Verdict,
};

use crate::{now, rng};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Producer handle: seals payloads; safe to share between threads. The lock covers only the
/// reservation of a record's nonce in its session (which keeps nonces unique and rotation by
/// count exact); the AES-GCM pass, a record signature and a new session's Umbral step run
/// outside it.
pub struct Encryptor(Mutex<engine::Encryptor>);

impl Encryptor {
    /// Encrypts to `delegating` (a producer's own key, or a channel's) with the default
    /// rotation policy.
    pub fn new(delegating: PublicKey) -> Result<Self> {
        Self::with_policy(delegating, RotationPolicy::default())
    }

    /// Encrypts to `delegating` with an explicit rotation policy.
    pub fn with_policy(delegating: PublicKey, policy: RotationPolicy) -> Result<Self> {
        Ok(Encryptor(Mutex::new(engine::Encryptor::new(
            delegating, policy,
        )?)))
    }

    /// Signs every new session with `signer` in `mode` (`None`: unsigned sessions, which
    /// readers accept only under policy `optional` or `off`).
    pub fn set_signer(&self, signer: Option<(&SecretKey, SigningMode)>) {
        lock(&self.0).set_signer(signer.map(|(key, mode)| (Signer::from_secret(key), mode)))
    }

    /// Compresses payloads before sealing them from the next record on (`Compression::None`,
    /// the default, seals them as given); a payload is sealed compressed only when that makes
    /// it smaller. Record lengths then reveal how compressible payloads are: keep it off for
    /// records mixing attacker-chosen data with secrets (README, "Compression").
    pub fn set_compression(&self, compression: Compression) -> Result<()> {
        lock(&self.0).set_compression(compression)
    }

    /// How payloads are compressed before sealing.
    pub fn compression(&self) -> Compression {
        lock(&self.0).compression()
    }

    /// The producer's verifying key and mode, when it signs.
    pub fn signer(&self) -> Option<(PublicKey, SigningMode)> {
        lock(&self.0).signer()
    }

    /// Seals `payload` for `topic` under the record `key` (`None`: a null Kafka key).
    pub fn seal(&self, topic: &str, key: Option<&[u8]>, payload: &[u8]) -> Result<SealedRecord> {
        let reservation = loop {
            let now = now();
            let request = {
                let mut enc = lock(&self.0);
                match enc.try_reserve(now, topic)? {
                    Some(reservation) => break reservation,
                    None => enc.session_request(topic),
                }
            };
            // A new session: its Umbral step runs unlocked. Threads racing here each open one
            // and the first installed wins (the others' DEKs are dropped unused).
            let new = request.open(&mut rng(), now)?;
            lock(&self.0).install(new, now);
        };
        Ok(reservation.seal(&mut rng(), key, payload))
    }

    /// Seals like [`Encryptor::seal`] when that is quick: an open session and no per-record
    /// signature. `None` when the seal would need a new session's Umbral step or an ECDSA
    /// signature (then call `seal`, e.g. with a binding's interpreter lock released).
    pub fn seal_quick(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<Option<SealedRecord>> {
        let now = now();
        let reservation = {
            let mut enc = lock(&self.0);
            if matches!(enc.signer(), Some((_, SigningMode::Record))) {
                return Ok(None);
            }
            enc.try_reserve(now, topic)?
        };
        Ok(reservation.map(|r| r.seal(&mut rng(), key, payload)))
    }

    /// Starts fresh sessions (new DEKs) on the next seal of every topic.
    pub fn rotate(&self) {
        lock(&self.0).rotate()
    }

    /// Sessions replaced so far.
    pub fn rotations(&self) -> u64 {
        lock(&self.0).rotations()
    }

    /// The key records are encrypted to.
    pub fn delegating_key(&self) -> PublicKey {
        lock(&self.0).delegating_key()
    }
}

/// Consumer handle: opens records; safe to share between threads. A cache hit takes the lock
/// for the look-up only (the AES-GCM pass and a record signature's check run after it); a
/// miss opens the DEK (the Umbral step) and the record outside the lock, once per session
/// however many threads need it at the same moment.
pub struct Decryptor(Mutex<engine::Decryptor>, Flights<SessionId, ()>);

impl Decryptor {
    /// A consumer trusting fragments from grants signed by `trusted_admins`.
    pub fn new(secret: SecretKey, trusted_admins: &[PublicKey]) -> Result<Self> {
        Self::with_config(secret, trusted_admins, DecryptorConfig::default())
    }

    /// Same, with explicit cache and plaintext settings.
    pub fn with_config(
        secret: SecretKey,
        trusted_admins: &[PublicKey],
        config: DecryptorConfig,
    ) -> Result<Self> {
        Ok(Decryptor(
            Mutex::new(engine::Decryptor::new(secret, trusted_admins, config)?),
            Flights::new(),
        ))
    }

    /// Sets the signature policy of `topic` (or the default, when `None`).
    pub fn set_policy(&self, topic: Option<&str>, policy: Policy) -> Result<()> {
        lock(&self.0).set_policy(topic, policy)
    }

    /// The policy `topic` is read under.
    pub fn policy(&self, topic: &str) -> Policy {
        lock(&self.0).policy(topic)
    }

    /// Verifies a producer grant and accepts that producer's sessions on its topic.
    pub fn add_producer_grant(&self, grant: &ProducerGrant) -> Result<()> {
        lock(&self.0).add_producer_grant(grant, now())
    }

    /// Stops accepting a producer on `topic`.
    pub fn revoke_producer(&self, topic: &str, producer: &KeyId) -> bool {
        lock(&self.0).revoke_producer(topic, producer)
    }

    /// Trusts `key` as `topic`'s channel signing key.
    pub fn trust_channel_key(&self, topic: &str, key: PublicKey) -> Result<()> {
        lock(&self.0).trust_channel_key(topic, key)
    }

    /// Opens one record read from `topic`: `key` is its Kafka key (`None` when null), `value`
    /// its value (`None` for a tombstone), `headers` all its headers.
    pub fn open(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<Opened> {
        // The Umbral step of a cache miss runs outside the lock: other threads' records keep
        // opening meanwhile.
        loop {
            // Parsing and the clock need no lock: it covers the look-up only.
            let parts = engine::RecordParts::parse(topic, key, value, headers)?;
            let now = now();
            let prepared = lock(&self.0).prepare_parts(now, parts)?;
            let pending = match prepared {
                engine::Prepared::Done(opened) => return Ok(opened),
                engine::Prepared::Cached(record) => return record.open(),
                engine::Prepared::NeedsDek(pending) => pending,
            };
            let session = pending.session_id();
            let landing = match self.1.join(session, || true, ()) {
                // A leader that finished just before this thread joined has filled the cache:
                // look once more before opening the session again (`mine` lands on return).
                Role::Lead(mine) => {
                    let parts = engine::RecordParts::parse(topic, key, value, headers)?;
                    let again = lock(&self.0).prepare_parts(now, parts)?;
                    match again {
                        engine::Prepared::Done(opened) => return Ok(opened),
                        engine::Prepared::Cached(record) => return record.open(),
                        engine::Prepared::NeedsDek(_) => mine,
                    }
                }
                // Another thread is opening this session: wait, then look again (a hit, or
                // this thread leads if that open failed).
                Role::Follow(other) => {
                    other.wait();
                    continue;
                }
                Role::Refused => continue, // not reached: every caller is admitted
            };
            let result = pending.open_dek().and_then(|dek| {
                let record = pending.open_record(&dek);
                lock(&self.0).complete(pending, dek, record, crate::now())
            });
            landing.land(());
            return result;
        }
    }

    /// Opens like [`Decryptor::open`] when that is quick: the record's session DEK is cached.
    /// `None` when opening would need the Umbral step (then call `open`, e.g. with a binding's
    /// interpreter lock released).
    pub fn open_quick(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<Option<Opened>> {
        let parts = engine::RecordParts::parse(topic, key, value, headers)?;
        let prepared = lock(&self.0).prepare_parts(now(), parts)?;
        match prepared {
            engine::Prepared::Done(opened) => Ok(Some(opened)),
            engine::Prepared::Cached(record) => record.open().map(Some),
            engine::Prepared::NeedsDek(_) => Ok(None),
        }
    }

    /// The consumer's public key.
    pub fn public_key(&self) -> PublicKey {
        lock(&self.0).public_key()
    }

    /// DEK cache counters and Umbral opens.
    pub fn stats(&self) -> DecryptorStats {
        lock(&self.0).stats()
    }
}

/// A token bucket bounding Umbral re-encryptions (cache misses) per second. The re-encryptor
/// holds a global one; a caller such as the proxy keeps its own and passes it in — one per
/// connection `within` one per consumer, so a client that reconnects does not get a fresh
/// allowance.
pub struct MissBudget {
    per_sec: u32,
    state: Mutex<(f64, Instant)>,
    /// A budget every miss taken here is also taken from.
    parent: Option<Arc<MissBudget>>,
}

impl MissBudget {
    /// Up to `per_sec` misses per second, with bursts of as many.
    pub fn per_second(per_sec: u32) -> Self {
        MissBudget {
            per_sec,
            state: Mutex::new((f64::from(per_sec), Instant::now())),
            parent: None,
        }
    }

    /// Up to `per_sec` misses per second, and only while `parent` has some left too.
    pub fn per_second_within(per_sec: u32, parent: Arc<MissBudget>) -> Self {
        MissBudget {
            parent: Some(parent),
            ..MissBudget::per_second(per_sec)
        }
    }

    /// The same own allowance (tokens left, rate) within another parent: what a connection
    /// keeps when it starts reading as another consumer, so switching names renews nothing.
    pub fn rebased(&self, parent: Arc<MissBudget>) -> Self {
        MissBudget {
            per_sec: self.per_sec,
            state: Mutex::new(*lock(&self.state)),
            parent: Some(parent),
        }
    }

    /// Takes one miss from the budget (and its parent's); false when either is spent, and
    /// then neither is charged.
    pub fn try_take(&self) -> bool {
        if !self.take_own() {
            return false;
        }
        if self.parent.as_ref().is_some_and(|p| !p.try_take()) {
            self.refund();
            return false;
        }
        true
    }

    fn take_own(&self) -> bool {
        let mut state = lock(&self.state);
        let (tokens, at) = &mut *state;
        let now = Instant::now();
        let rate = f64::from(self.per_sec);
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn refund(&self) {
        let mut state = lock(&self.state);
        state.0 = (state.0 + 1.0).min(f64::from(self.per_sec));
    }
}

/// One Umbral computation others may be waiting for (single-flight).
struct Flight<T> {
    result: Mutex<Option<T>>,
    done: Condvar,
}

impl<T: Clone> Flight<T> {
    fn new() -> Arc<Self> {
        Arc::new(Flight {
            result: Mutex::new(None),
            done: Condvar::new(),
        })
    }

    fn finish(&self, value: T) {
        *lock(&self.result) = Some(value);
        self.done.notify_all();
    }

    fn wait(&self) -> T {
        let mut result = lock(&self.result);
        loop {
            if let Some(value) = &*result {
                return value.clone();
            }
            result = self.done.wait(result).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A caller's part in a flight.
enum Role<'a, K: std::hash::Hash + Eq, T: Clone> {
    /// Compute, then land the flight.
    Lead(Landing<'a, K, T>),
    /// Wait for the leader's result.
    Follow(Arc<Flight<T>>),
    /// Not admitted (budget spent).
    Refused,
}

/// Who computes a key that several threads may need at once: the first caller leads, the rest
/// wait for its flight.
struct Flights<K, T>(Mutex<HashMap<K, Arc<Flight<T>>>>);

impl<K: std::hash::Hash + Eq, T: Clone> Flights<K, T> {
    fn new() -> Self {
        Flights(Mutex::new(HashMap::new()))
    }

    /// Leads a new flight for `key` (call `land` when done) or follows the one in the air.
    /// `admit` is asked only before leading (a budget).
    /// `fallback` is what followers get if the leader unwinds before landing.
    fn join(&self, key: K, admit: impl FnOnce() -> bool, fallback: T) -> Role<'_, K, T>
    where
        K: Clone,
    {
        let mut map = lock(&self.0);
        if let Some(f) = map.get(&key) {
            return Role::Follow(f.clone());
        }
        if !admit() {
            return Role::Refused;
        }
        let flight = Flight::new();
        map.insert(key.clone(), flight.clone());
        Role::Lead(Landing {
            flights: self,
            key: Some(key),
            flight,
            fallback,
        })
    }
}

/// The leader's duty to land its flight: done by `land`, or on drop (a panic while computing)
/// with the fallback, so followers never wait forever.
struct Landing<'a, K: std::hash::Hash + Eq, T: Clone> {
    flights: &'a Flights<K, T>,
    key: Option<K>,
    flight: Arc<Flight<T>>,
    fallback: T,
}

impl<K: std::hash::Hash + Eq, T: Clone> Landing<'_, K, T> {
    fn land(mut self, value: T) {
        self.finish(value);
    }

    fn finish(&mut self, value: T) {
        if let Some(key) = self.key.take() {
            lock(&self.flights.0).remove(&key);
            self.flight.finish(value);
        }
    }
}

impl<K: std::hash::Hash + Eq, T: Clone> Drop for Landing<'_, K, T> {
    fn drop(&mut self) {
        let fallback = self.fallback.clone();
        self.finish(fallback);
    }
}

/// Re-encryptor handle: holds grants and its fragment cache; safe to share between threads.
/// Cache hits take the lock for a look-up only; a miss runs its Umbral re-encryption outside
/// the lock (hits and other misses proceed meanwhile), concurrent misses for one capsule and
/// consumer grant are computed once, and a global budget bounds misses per second.
pub struct ReEncryptor {
    inner: Mutex<engine::ReEncryptor>,
    notary: Mutex<engine::Notary>,
    inflight: Flights<Box<[u8]>, Result<CfragHeaders>>,
    budget: Option<MissBudget>,
    throttled: AtomicU64,
    /// Umbral steps and signature checks running now, and how many may: a miss waits up to
    /// `SLOT_WAIT` for a slot, then is `Throttled`, so a storm of misses cannot take every
    /// core from the cache hits.
    busy: Slots,
}

/// A counting semaphore for expensive steps.
struct Slots {
    running: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

/// How long a miss waits for a slot before it is throttled.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Releases a slot when dropped.
struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *lock(&self.0.running) -= 1;
        self.0.freed.notify_one();
    }
}

impl Slots {
    /// A slot, waiting up to `wait` for one.
    fn take(&self, wait: std::time::Duration) -> Option<Slot<'_>> {
        let deadline = Instant::now() + wait;
        let mut running = lock(&self.running);
        while *running >= self.max {
            let left = deadline.checked_duration_since(Instant::now())?;
            running = self
                .freed
                .wait_timeout(running, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *running += 1;
        Some(Slot(self))
    }
}

/// Half the cores (at least one): a bound on concurrent misses that leaves the other half
/// serving cache hits during a storm of misses (what the proxy uses by default).
pub fn half_the_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl ReEncryptor {
    /// A re-encryptor accepting grants signed by `trusted_admins`.
    pub fn new(trusted_admins: &[PublicKey]) -> Result<Self> {
        Self::with_config(trusted_admins, ReEncryptorConfig::default())
    }

    /// Same, with explicit cache settings and no global miss budget.
    pub fn with_config(trusted_admins: &[PublicKey], config: ReEncryptorConfig) -> Result<Self> {
        Ok(ReEncryptor {
            inner: Mutex::new(engine::ReEncryptor::new(trusted_admins, config)?),
            notary: Mutex::new(engine::Notary::new(
                trusted_admins,
                Policy::default(),
                config.cache_capacity,
            )?),
            inflight: Flights::new(),
            budget: None,
            throttled: AtomicU64::new(0),
            busy: Slots {
                running: Mutex::new(0),
                freed: Condvar::new(),
                max: usize::MAX,
            },
        })
    }

    /// At most `n` (≥ 1) Umbral steps and producer-signature checks at once; a miss waits
    /// up to 200 ms for its turn, then fails with `Throttled` (default: no bound; the proxy
    /// uses `half_the_cores()`).
    pub fn with_max_concurrent_misses(mut self, n: usize) -> Self {
        self.busy.max = n.max(1);
        self
    }

    /// Takes one miss from the caller's budget and the global one, or from neither.
    fn admit(&self, budget: Option<&MissBudget>) -> bool {
        if budget.is_some_and(|b| !b.try_take()) {
            return false;
        }
        if self.budget.as_ref().is_some_and(|g| !g.try_take()) {
            if let Some(b) = budget {
                b.refund();
            }
            return false;
        }
        true
    }

    /// Bounds Umbral re-encryptions to `per_sec` per second over all callers; beyond it
    /// misses fail with `Throttled` (hits are always served).
    pub fn with_miss_budget(mut self, per_sec: u32) -> Self {
        self.budget = Some(MissBudget::per_second(per_sec));
        self
    }

    /// Verifies and installs a grant. Verification (several Umbral checks) runs before the
    /// lock is taken, so fetches are not blocked behind it.
    pub fn add_grant(&self, grant: &Grant) -> Result<()> {
        let verified = {
            let inner = lock(&self.inner);
            if inner.supersedes(grant) {
                // Revoked or replaced: refused before any verification.
                return Err(Error::Revoked);
            }
            if inner.holds(grant) {
                // This very grant is installed: nothing to do, nothing to verify.
                return Ok(());
            }
            let admins = inner.admins().to_vec();
            drop(inner);
            grant.verify(&admins, now())?
        };
        lock(&self.inner).add_verified_grant_at(grant, verified, now())
    }

    /// Verifies and applies a signed revocation (`engine::ReEncryptor::add_revocation`):
    /// grants it covers are dropped now and refused whenever they arrive again. False when
    /// an equal or later revocation of the same scope was held already.
    pub fn add_revocation(&self, revocation: &Revocation) -> Result<bool> {
        lock(&self.inner).add_revocation(revocation)
    }

    /// Signed revocations held (the latest per topic, consumer and delegating key).
    pub fn revocations(&self) -> Vec<Revocation> {
        lock(&self.inner).revocations().cloned().collect()
    }

    /// Sets the producer-signature policy of `topic` (or the default, when `None`; the
    /// default default is `Require`).
    pub fn set_policy(&self, topic: Option<&str>, policy: Policy) -> Result<()> {
        lock(&self.notary).set_policy(topic, policy)
    }

    /// The policy of `topic`.
    pub fn policy(&self, topic: &str) -> Policy {
        lock(&self.notary).policy(topic)
    }

    /// Signs channel signatures with keys derived from this 32-byte seed (or attaches none).
    pub fn set_channel_seed(&self, seed: Option<&[u8]>) -> Result<()> {
        lock(&self.notary).set_channel_seed(seed)
    }

    /// `topic`'s channel verifying key, when a seed is set (what consumers trust).
    pub fn channel_key(&self, topic: &str) -> Result<Option<PublicKey>> {
        lock(&self.notary).channel_key(topic)
    }

    /// Verifies and installs a producer grant.
    pub fn add_producer_grant(&self, grant: &ProducerGrant) -> Result<()> {
        lock(&self.notary).add_producer_grant(grant, now())
    }

    /// Removes a producer's grant for `topic`.
    pub fn revoke_producer(&self, topic: &str, producer: &KeyId) -> bool {
        lock(&self.notary).revoke_producer(topic, producer)
    }

    /// Replaces every producer grant (a store reload); returns those refused, with why.
    pub fn replace_producer_grants(&self, grants: &[ProducerGrant]) -> Vec<(ProducerGrant, Error)> {
        lock(&self.notary).replace_producer_grants(grants, now())
    }

    /// Checks a record's producer signature under `topic`'s policy: `Ok` with the channel
    /// signature to attach (if any), or the error that refuses its cfrags. A verification
    /// (once per session) is charged to the miss budgets like an Umbral step.
    pub fn attest(
        &self,
        topic: &str,
        edek: &[u8],
        sig: Option<&[u8]>,
        budget: Option<&MissBudget>,
    ) -> Result<Option<Arc<[u8]>>> {
        self.attest_with(topic, edek, sig, budget, &|work| work())
    }

    /// Same, running a verification (an ECDSA verify and, when it passes, a sign) through
    /// `blocking` and outside the notary's lock, as `reencrypt_with` does for Umbral steps.
    pub fn attest_with(
        &self,
        topic: &str,
        edek: &[u8],
        sig: Option<&[u8]>,
        budget: Option<&MissBudget>,
        blocking: &dyn Fn(&mut dyn FnMut()),
    ) -> Result<Option<Arc<[u8]>>> {
        let verdict = lock(&self.notary).lookup(now(), topic, edek, sig);
        let answer = match verdict {
            Verdict::Known(answer) => answer,
            Verdict::Unknown => {
                if !self.admit(budget) {
                    self.throttled.fetch_add(1, Ordering::Relaxed);
                    return Err(Error::Throttled);
                }
                let sig = sig.unwrap_or_default();
                let pending = lock(&self.notary).pending(topic, sig)?;
                let mut answer = None;
                blocking(&mut || {
                    answer = Some(match self.busy.take(SLOT_WAIT) {
                        Some(_slot) => pending.check(&mut rng(), now(), edek, sig),
                        None => Attestation::Refuse(Error::Throttled),
                    })
                });
                let answer = answer.unwrap_or(Attestation::Refuse(Error::Throttled));
                if matches!(answer, Attestation::Refuse(Error::Throttled)) {
                    // Not a verdict on the session: asked again next time.
                    self.throttled.fetch_add(1, Ordering::Relaxed);
                } else {
                    lock(&self.notary).complete(now(), &pending, edek, sig, &answer);
                }
                answer
            }
        };
        match answer {
            Attestation::Serve(chsig) => Ok(chsig),
            Attestation::Refuse(e) => Err(e),
        }
    }

    /// Revokes `consumer` on `topic`; returns how many grants were removed.
    pub fn revoke(&self, topic: &str, consumer: &str) -> usize {
        lock(&self.inner).revoke(topic, consumer)
    }

    /// Capsule fragment headers for `consumer` reading `edek` from `topic`.
    pub fn reencrypt(&self, topic: &str, edek: &[u8], consumer: &str) -> Result<CfragHeaders> {
        self.reencrypt_within(topic, edek, consumer, None)
    }

    /// Same, charging a miss to the caller's own `budget` too (e.g. one per connection).
    pub fn reencrypt_within(
        &self,
        topic: &str,
        edek: &[u8],
        consumer: &str,
        budget: Option<&MissBudget>,
    ) -> Result<CfragHeaders> {
        self.reencrypt_with(topic, edek, consumer, budget, &|work| work())
    }

    /// Same, running the blocking part of a miss (the Umbral step, or waiting for another
    /// thread's) through `blocking` — e.g. `tokio::task::block_in_place` — so a cache hit
    /// costs one look-up and never leaves the caller's thread. A miss refused by a budget
    /// costs only that look-up: the capsule is not even decoded.
    pub fn reencrypt_with(
        &self,
        topic: &str,
        edek: &[u8],
        consumer: &str,
        budget: Option<&MissBudget>,
        blocking: &dyn Fn(&mut dyn FnMut()),
    ) -> Result<CfragHeaders> {
        let pending = match lock(&self.inner).lookup(now(), topic, edek, consumer)? {
            engine::Lookup::Hit(headers) => return Ok(headers),
            engine::Lookup::Miss(pending) => pending,
        };
        let admit = || self.admit(budget);
        let landing = match self
            .inflight
            .join(pending.key().into(), admit, Err(Error::Throttled))
        {
            Role::Refused => {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                return Err(Error::Throttled);
            }
            Role::Follow(other) => {
                let mut answer = None;
                blocking(&mut || answer = Some(other.wait()));
                return answer.unwrap_or(Err(Error::Throttled));
            }
            // As for the decryptor: a leader that just finished may have filled the cache.
            Role::Lead(mine) => {
                let answer = match lock(&self.inner).lookup(now(), topic, edek, consumer) {
                    Ok(engine::Lookup::Miss(_)) => None,
                    Ok(engine::Lookup::Hit(headers)) => Some(Ok(headers)),
                    Err(e) => Some(Err(e)),
                };
                if let Some(answer) = answer {
                    mine.land(answer.clone());
                    return answer;
                }
                mine
            }
        };
        let mut computed = None;
        blocking(&mut || {
            computed = Some(match self.busy.take(SLOT_WAIT) {
                Some(_slot) => pending.compute(&mut rng()),
                None => Err(Error::Throttled),
            })
        });
        let result = match computed {
            Some(Ok(headers)) => lock(&self.inner).complete(&pending, headers, now()),
            Some(Err(e)) => Err(e),
            None => Err(Error::Throttled),
        };
        landing.land(result.clone());
        result
    }

    /// Misses refused because a budget was spent.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Cache counters, re-encryptions and grants held.
    pub fn stats(&self) -> ReEncryptorStats {
        lock(&self.inner).stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_within_a_parent_is_bounded_by_both_and_refunds_what_the_parent_refuses() {
        let consumer = Arc::new(MissBudget::per_second(5));
        // Two "connections" of one consumer: each may take 4, together only 5.
        let a = MissBudget::per_second_within(4, consumer.clone());
        let b = MissBudget::per_second_within(4, consumer.clone());
        let took_a = (0..10).filter(|_| a.try_take()).count();
        let took_b = (0..10).filter(|_| b.try_take()).count();
        assert_eq!((took_a, took_b), (4, 1));
        // A fresh connection of the same consumer gets nothing more.
        let c = MissBudget::per_second_within(4, consumer);
        assert!(!c.try_take());
        // b was refunded what the parent refused: its own bucket still holds 3.
        assert!(lock(&b.state).0 >= 3.0);
    }

    fn granted() -> (ReEncryptor, SecretKey, Signer) {
        let admin = Signer::new(SecretKey::generate());
        let channel = SecretKey::generate();
        let re = ReEncryptor::new(&[admin.verifying_key()]).unwrap();
        let terms = rewrap_core::GrantTerms::one_of_one(
            "orders",
            "alice",
            SecretKey::generate().public_key(),
            0,
        );
        re.add_grant(&Grant::issue(&mut rng(), &admin, &channel, &terms).unwrap())
            .unwrap();
        (re, channel, admin)
    }

    fn edek(channel: &SecretKey) -> Vec<u8> {
        let enc = Encryptor::new(channel.public_key()).unwrap();
        enc.seal("orders", None, b"x").unwrap().edek.to_vec()
    }

    #[test]
    fn misses_beyond_the_concurrency_bound_wait_then_are_throttled_and_hits_need_no_slot() {
        let (re, channel, _) = granted();
        let re = re.with_max_concurrent_misses(1);
        let (first, second) = (edek(&channel), edek(&channel));
        assert!(re.reencrypt("orders", &first, "alice").is_ok());
        // Another miss holds the only slot: a new miss waits, then is throttled; a hit is
        // served meanwhile.
        let held = re.busy.take(SLOT_WAIT).unwrap();
        let started = Instant::now();
        assert_eq!(
            re.reencrypt("orders", &second, "alice"),
            Err(Error::Throttled)
        );
        assert!(started.elapsed() >= SLOT_WAIT);
        assert!(
            re.reencrypt("orders", &first, "alice").is_ok(),
            "a hit needs no slot"
        );
        // Released while a miss waits: that miss runs.
        std::thread::scope(|s| {
            let waiter = s.spawn(|| re.reencrypt("orders", &second, "alice"));
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(held);
            assert!(waiter.join().unwrap().is_ok());
        });
    }

    #[test]
    fn a_callers_budget_is_refunded_when_the_global_budget_refuses() {
        let (re, channel, _) = granted();
        let re = re.with_miss_budget(1);
        let mine = MissBudget::per_second(3);
        assert!(re
            .reencrypt_within("orders", &edek(&channel), "alice", Some(&mine))
            .is_ok());
        for _ in 0..5 {
            assert_eq!(
                re.reencrypt_within("orders", &edek(&channel), "alice", Some(&mine)),
                Err(Error::Throttled)
            );
        }
        // Only the one miss that ran was charged to the caller.
        assert!(lock(&mine.state).0 >= 1.9, "{}", lock(&mine.state).0);
    }

    /// A producer sealing in `mode`, a consumer trusting it, and the cfrag headers for a
    /// record's EDEK.
    struct Channel {
        enc: Encryptor,
        dec: Decryptor,
        re: ReEncryptor,
    }

    impl Channel {
        fn new(policy: RotationPolicy, mode: SigningMode) -> Self {
            let admin = Signer::new(SecretKey::generate());
            let channel = SecretKey::generate();
            let consumer = SecretKey::generate();
            let producer = SecretKey::generate();
            let t0 = now() - 60;
            let re = ReEncryptor::new(&[admin.verifying_key()]).unwrap();
            let terms =
                rewrap_core::GrantTerms::one_of_one("orders", "alice", consumer.public_key(), t0);
            re.add_grant(&Grant::issue(&mut rng(), &admin, &channel, &terms).unwrap())
                .unwrap();
            let dec = Decryptor::new(consumer, &[admin.verifying_key()]).unwrap();
            dec.add_producer_grant(
                &ProducerGrant::issue(
                    &mut rng(),
                    &admin,
                    "orders",
                    &producer.public_key(),
                    t0,
                    None,
                )
                .unwrap(),
            )
            .unwrap();
            let enc = Encryptor::with_policy(channel.public_key(), policy).unwrap();
            enc.set_signer(Some((&producer, mode)));
            Channel { enc, dec, re }
        }

        /// Seals `per_thread` records from each of `threads` threads at once.
        fn seal_from_threads(&self, threads: usize, per_thread: usize) -> Vec<SealedRecord> {
            let start = std::sync::Barrier::new(threads);
            std::thread::scope(|s| {
                let workers: Vec<_> = (0..threads)
                    .map(|t| {
                        let start = &start;
                        s.spawn(move || {
                            start.wait();
                            (0..per_thread)
                                .map(|i| {
                                    let payload = format!("{t}/{i}");
                                    self.enc.seal("orders", None, payload.as_bytes()).unwrap()
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().unwrap())
                    .collect()
            })
        }

        fn open(&self, record: &SealedRecord) -> Result<Opened> {
            let cfrags = self.re.reencrypt("orders", &record.edek, "alice")?;
            let mut headers = record.headers();
            headers.extend(cfrags.iter().map(|c| (rewrap_core::CFRAG_HEADER, &c[..])));
            self.dec.open("orders", None, Some(&record.value), &headers)
        }
    }

    fn counter(record: &SealedRecord) -> u64 {
        engine::EnvelopeRef::parse(&record.value).unwrap().counter()
    }

    #[test]
    fn threads_sealing_one_session_reserve_distinct_nonces_and_every_record_opens() {
        let channel = Channel::new(RotationPolicy::default(), SigningMode::Session);
        let (threads, per_thread) = (4, 500);
        let records = channel.seal_from_threads(threads, per_thread);
        assert_eq!(records.len(), threads * per_thread);
        assert!(records.iter().all(|r| r.edek == records[0].edek));
        let nonces: std::collections::HashSet<_> =
            records.iter().map(|r| r.value[20..32].to_vec()).collect();
        assert_eq!(nonces.len(), records.len(), "a nonce was used twice");
        let mut counters: Vec<u64> = records.iter().map(counter).collect();
        counters.sort_unstable();
        assert!(counters.iter().copied().eq(0..records.len() as u64));

        // Opened from as many threads, each record once: all open, to their own payload, and
        // the session's DEK is opened once.
        std::thread::scope(|s| {
            for chunk in records.chunks(per_thread) {
                let channel = &channel;
                s.spawn(move || {
                    for record in chunk {
                        let Opened::Decrypted(d) = channel.open(record).unwrap() else {
                            panic!("not decrypted");
                        };
                        assert_eq!(d.counter, counter(record));
                        assert!(std::str::from_utf8(&d.payload).unwrap().contains('/'));
                    }
                });
            }
        });
        assert_eq!(channel.dec.stats().dek_opens, 1);
        assert_eq!(channel.enc.rotations(), 0);
    }

    #[test]
    fn quick_paths_decline_exactly_the_umbral_and_ecdsa_work() {
        let channel = Channel::new(RotationPolicy::default(), SigningMode::Session);
        // No session yet: sealing needs the Umbral step.
        assert!(channel
            .enc
            .seal_quick("orders", None, b"a")
            .unwrap()
            .is_none());
        let first = channel.enc.seal("orders", None, b"a").unwrap();
        let second = channel
            .enc
            .seal_quick("orders", None, b"b")
            .unwrap()
            .expect("an open session seals quickly");
        assert_eq!((counter(&first), counter(&second)), (0, 1));
        let headers = |r: &SealedRecord| {
            let cfrags = channel.re.reencrypt("orders", &r.edek, "alice").unwrap();
            let mut h: Vec<(&str, Vec<u8>)> = r
                .headers()
                .into_iter()
                .map(|(n, v)| (n, v.to_vec()))
                .collect();
            h.extend(
                cfrags
                    .iter()
                    .map(|c| (rewrap_core::CFRAG_HEADER, c.to_vec())),
            );
            h
        };
        let (h1, h2) = (headers(&first), headers(&second));
        let b1: Vec<(&str, &[u8])> = h1.iter().map(|(n, v)| (*n, &v[..])).collect();
        let b2: Vec<(&str, &[u8])> = h2.iter().map(|(n, v)| (*n, &v[..])).collect();
        // DEK not cached: declined, and nothing was opened.
        let dec = &channel.dec;
        assert!(dec
            .open_quick("orders", None, Some(&second.value), &b2)
            .unwrap()
            .is_none());
        assert_eq!(dec.stats().dek_opens, 0);
        let Opened::Decrypted(d) = dec.open("orders", None, Some(&first.value), &b1).unwrap()
        else {
            panic!("not decrypted");
        };
        assert_eq!(d.payload, b"a");
        // Cached now: opened quickly, with the same checks (a damaged value is refused).
        let Some(Opened::Decrypted(d)) = dec
            .open_quick("orders", None, Some(&second.value), &b2)
            .unwrap()
        else {
            panic!("a cached session opens quickly");
        };
        assert_eq!(d.payload, b"b");
        let mut bad = second.value.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(dec.open_quick("orders", None, Some(&bad), &b2).is_err());
        assert_eq!(dec.stats().dek_opens, 1);

        // Record signing: every seal makes an ECDSA signature, so none is quick.
        let signed = Channel::new(RotationPolicy::default(), SigningMode::Record);
        signed.enc.seal("orders", None, b"a").unwrap();
        assert!(signed
            .enc
            .seal_quick("orders", None, b"b")
            .unwrap()
            .is_none());
    }

    #[test]
    fn rotation_by_count_stays_exact_when_threads_share_an_encryptor() {
        let max = 7;
        let channel = Channel::new(
            RotationPolicy {
                max_messages: max,
                max_age_secs: 3600,
            },
            SigningMode::Session,
        );
        let records = channel.seal_from_threads(4, 50);
        let mut sessions: HashMap<Vec<u8>, Vec<u64>> = HashMap::new();
        for r in &records {
            sessions
                .entry(r.edek.to_vec())
                .or_default()
                .push(counter(r));
        }
        // Every session but the open one sealed exactly `max` records, counters 0..max.
        let mut partial = 0;
        for counters in sessions.values_mut() {
            counters.sort_unstable();
            assert!(counters.iter().copied().eq(0..counters.len() as u64));
            assert!(counters.len() as u64 <= max);
            if counters.len() as u64 != max {
                partial += 1;
            }
        }
        assert_eq!(partial, usize::from(records.len() as u64 % max != 0));
        assert_eq!(channel.enc.rotations(), sessions.len() as u64 - 1);
        for r in records.iter().step_by(13) {
            assert!(channel.open(r).is_ok());
        }
    }

    #[test]
    fn records_signed_from_threads_verify_and_a_forged_one_does_not() {
        let channel = Channel::new(RotationPolicy::default(), SigningMode::Record);
        let mut records = channel.seal_from_threads(2, 10);
        for r in &records {
            assert!(r.rsig.is_some());
            assert!(channel.open(r).is_ok());
        }
        // Another record's signature on this value (a cache hit by now) is refused.
        records[0].rsig = records[1].rsig.clone();
        assert!(channel.open(&records[0]).is_err());
    }
}
