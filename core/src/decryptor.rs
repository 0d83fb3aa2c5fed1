//! Consumer side: opens records with the consumer's own secret key and the capsule fragments
//! a re-encryptor attached, caching each session's DEK so Umbral runs once per session.
//! Fails closed: a record without rewrap headers is an error unless plaintext is allowed.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::cache::{Cache, CacheStats};
use crate::cfrag::{CfragRef, CFRAG_HEADER};
use crate::dek::PayloadKey;
use crate::edek::{EdekRef, EDEK_HEADER, SESSION_ID_LEN};
use crate::envelope::SealedValue;
use crate::error::{Error, Object, Result};
use crate::keys::{KeyId, PublicKey, SecretKey};

/// A Kafka record header as (name, value).
pub type Header<'a> = (&'a str, &'a [u8]);

/// Consumer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecryptorConfig {
    /// Most sessions whose DEKs are kept (each entry ~300 bytes).
    pub cache_capacity: usize,
    /// Forget a DEK this many seconds after opening it; `None` keeps it until evicted.
    pub cache_ttl_secs: Option<u64>,
    /// Accept records without rewrap headers as plaintext (only for migrating a channel).
    pub allow_plaintext: bool,
}

impl Default for DecryptorConfig {
    fn default() -> Self {
        DecryptorConfig {
            cache_capacity: 4096,
            cache_ttl_secs: None,
            allow_plaintext: false,
        }
    }
}

impl DecryptorConfig {
    /// The config with 0 meaning "default capacity" and "no TTL": how the C and JVM bindings
    /// pass unset values.
    pub fn or_default(cache_capacity: usize, cache_ttl_secs: u64, allow_plaintext: bool) -> Self {
        DecryptorConfig {
            cache_capacity: if cache_capacity == 0 {
                Self::default().cache_capacity
            } else {
                cache_capacity
            },
            cache_ttl_secs: (cache_ttl_secs != 0).then_some(cache_ttl_secs),
            allow_plaintext,
        }
    }
}

/// What a record turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A sealed record, decrypted.
    Plaintext(Vec<u8>),
    /// A null value (tombstone); kept null so compaction works.
    Tombstone,
    /// A record without rewrap headers, passed through because `allow_plaintext` is set.
    Unencrypted(Vec<u8>),
}

/// Counters of a decryptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecryptorStats {
    /// The DEK cache.
    pub cache: CacheStats,
    /// Umbral opens performed (one per session on a warm cache).
    pub dek_opens: u64,
}

struct CachedDek {
    key: PayloadKey,
    edek: Box<[u8]>,
    edek_digest: [u8; 32],
}

/// Opens records for one consumer.
pub struct Decryptor {
    secret: SecretKey,
    public: PublicKey,
    key_id: KeyId,
    admins: Vec<PublicKey>,
    allow_plaintext: bool,
    cache: Cache<[u8; SESSION_ID_LEN], CachedDek>,
    dek_opens: u64,
}

impl Decryptor {
    /// A consumer with its own secret key, trusting fragments made from kfrags signed by any of
    /// `trusted_admins`.
    pub fn new(
        secret: SecretKey,
        trusted_admins: &[PublicKey],
        config: DecryptorConfig,
    ) -> Result<Self> {
        if trusted_admins.is_empty() {
            return Err(Error::InvalidArgument(
                "at least one trusted administrator key",
            ));
        }
        let public = secret.public_key();
        Ok(Decryptor {
            key_id: public.key_id(),
            public,
            secret,
            admins: trusted_admins.to_vec(),
            allow_plaintext: config.allow_plaintext,
            cache: Cache::new(config.cache_capacity, config.cache_ttl_secs)?,
            dek_opens: 0,
        })
    }

    /// This consumer's public key (what the administrator grants to).
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// Opens one record read from `topic`. `value` is `None` for a tombstone.
    pub fn open(
        &mut self,
        now: u64,
        topic: &str,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<Opened> {
        let Some(value) = value else {
            return Ok(Opened::Tombstone);
        };
        let mut edeks = headers.iter().filter(|(name, _)| *name == EDEK_HEADER);
        let Some((_, edek)) = edeks.next() else {
            return self.unencrypted(value, headers);
        };
        if edeks.next().is_some() {
            return Err(Error::Malformed(Object::Edek));
        }
        let sealed = SealedValue::parse(value)?;
        let edek = EdekRef::parse(edek)?;
        if edek.topic() != topic {
            return Err(Error::WrongTopic);
        }
        let session = sealed.session_id();
        if let Some(hit) = self.cache.get(session, now) {
            if *hit.edek != *edek.as_bytes() {
                return Err(Error::EdekMismatch);
            }
            return sealed
                .open(&hit.key, &hit.edek_digest)
                .map(Opened::Plaintext);
        }
        let edek_digest = edek.digest();
        if edek_digest[..SESSION_ID_LEN] != session[..] {
            return Err(Error::EdekMismatch);
        }
        let key = self.open_dek(&edek, headers)?;
        let plaintext = sealed.open(&key, &edek_digest)?;
        let entry = CachedDek {
            key,
            edek: edek.as_bytes().into(),
            edek_digest,
        };
        self.cache.insert(*session, entry, now);
        Ok(Opened::Plaintext(plaintext))
    }

    fn unencrypted(&self, value: &[u8], headers: &[Header<'_>]) -> Result<Opened> {
        let has_cfrag = headers.iter().any(|(name, _)| *name == CFRAG_HEADER);
        let looks_sealed = SealedValue::parse(value).is_ok();
        if has_cfrag || looks_sealed {
            // A rewrap record whose EDEK header was stripped: never plaintext.
            return Err(Error::Truncated(Object::Edek));
        }
        if self.allow_plaintext {
            Ok(Opened::Unencrypted(value.to_vec()))
        } else {
            Err(Error::Unencrypted)
        }
    }

    /// Verifies this consumer's fragments and opens the session's DEK (the Umbral step).
    fn open_dek(&mut self, edek: &EdekRef<'_>, headers: &[Header<'_>]) -> Result<PayloadKey> {
        let mut any = false;
        let mut mine = Vec::new();
        for (_, bytes) in headers.iter().filter(|(name, _)| *name == CFRAG_HEADER) {
            any = true;
            let cfrag = CfragRef::parse(bytes)?;
            if cfrag.consumer() == self.key_id {
                mine.push(cfrag);
            }
        }
        let need = match (any, mine.first()) {
            (false, _) => return Err(Error::MissingCfrag),
            (true, None) => return Err(Error::WrongConsumer),
            (true, Some(first)) => first.threshold() as usize,
        };
        if mine.iter().any(|c| c.threshold() as usize != need) {
            return Err(Error::Malformed(Object::Cfrag));
        }
        if mine.len() < need {
            return Err(Error::InsufficientCfrags {
                have: mine.len(),
                need,
            });
        }
        let capsule = edek.capsule()?;
        let delegating = edek.delegating_key()?;
        let mut verified = Vec::with_capacity(need);
        for cfrag in &mine {
            if verified.len() == need {
                break;
            }
            let Ok(decoded) = cfrag.decode() else {
                continue;
            };
            if let Some(v) = self.verify_cfrag(decoded, &capsule, &delegating) {
                verified.push(v);
            }
        }
        if verified.len() < need {
            return Err(Error::InvalidCfrag);
        }
        let dek = edek.open_reencrypted(&self.secret, &delegating, &capsule, verified)?;
        self.dek_opens += 1;
        Ok(PayloadKey::new(&dek))
    }

    fn verify_cfrag(
        &self,
        mut cfrag: umbral_pre::CapsuleFrag,
        capsule: &umbral_pre::Capsule,
        delegating: &PublicKey,
    ) -> Option<umbral_pre::VerifiedCapsuleFrag> {
        for admin in &self.admins {
            match cfrag.verify(capsule, &admin.0, &delegating.0, &self.public.0) {
                Ok(v) => return Some(v),
                Err((_, back)) => cfrag = back,
            }
        }
        None
    }

    /// Cache counters and Umbral opens.
    pub fn stats(&self) -> DecryptorStats {
        DecryptorStats {
            cache: self.cache.stats(),
            dek_opens: self.dek_opens,
        }
    }
}
