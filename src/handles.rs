//! Thread-safe handles over the core engine, with the OS RNG and the system clock filled in.
//! Each wraps one core object in a mutex: the engine never panics on input, so a poisoned
//! lock can only follow a bug elsewhere in the process and is recovered rather than spread.

use std::sync::{Mutex, MutexGuard};

use rewrap_core as engine;
use rewrap_core::{
    CfragHeaders, DecryptorConfig, DecryptorStats, Grant, Header, Opened, PublicKey,
    ReEncryptorConfig, ReEncryptorStats, Result, RotationPolicy, SealedRecord, SecretKey,
};

use crate::{now, rng};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Producer handle: seals payloads; safe to share between threads.
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

    /// Seals `payload` for `topic`.
    pub fn seal(&self, topic: &str, payload: &[u8]) -> Result<SealedRecord> {
        lock(&self.0).seal(&mut rng(), now(), topic, payload)
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

/// Consumer handle: opens records; safe to share between threads.
pub struct Decryptor(Mutex<engine::Decryptor>);

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
        Ok(Decryptor(Mutex::new(engine::Decryptor::new(
            secret,
            trusted_admins,
            config,
        )?)))
    }

    /// Opens one record read from `topic` (`value` is `None` for a tombstone).
    pub fn open(
        &self,
        topic: &str,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<Opened> {
        lock(&self.0).open(now(), topic, value, headers)
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

/// Re-encryptor handle: holds grants and its fragment cache; safe to share between threads.
pub struct ReEncryptor(Mutex<engine::ReEncryptor>);

impl ReEncryptor {
    /// A re-encryptor accepting grants signed by `trusted_admins`.
    pub fn new(trusted_admins: &[PublicKey]) -> Result<Self> {
        Self::with_config(trusted_admins, ReEncryptorConfig::default())
    }

    /// Same, with explicit cache settings.
    pub fn with_config(trusted_admins: &[PublicKey], config: ReEncryptorConfig) -> Result<Self> {
        Ok(ReEncryptor(Mutex::new(engine::ReEncryptor::new(
            trusted_admins,
            config,
        )?)))
    }

    /// Verifies and installs a grant.
    pub fn add_grant(&self, grant: &Grant) -> Result<()> {
        lock(&self.0).add_grant(grant, now())
    }

    /// Revokes `consumer` on `topic`; returns how many grants were removed.
    pub fn revoke(&self, topic: &str, consumer: &str) -> usize {
        lock(&self.0).revoke(topic, consumer)
    }

    /// Capsule fragment headers for `consumer` reading `edek` from `topic`.
    pub fn reencrypt(&self, topic: &str, edek: &[u8], consumer: &str) -> Result<CfragHeaders> {
        lock(&self.0).reencrypt(&mut rng(), now(), topic, edek, consumer)
    }

    /// Cache counters, re-encryptions and grants held.
    pub fn stats(&self) -> ReEncryptorStats {
        lock(&self.0).stats()
    }
}
