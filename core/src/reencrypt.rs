//! Broker side: holds verified kfrags per (topic, consumer, delegating key) and turns an
//! EDEK into capsule fragments for a consumer. Each (EDEK, consumer) is re-encrypted once and
//! then served from a bounded cache; a revoke drops the grant and purges its cache entries at
//! once, so no new fragment is issued from that moment.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};

use crate::cache::{Cache, CacheStats};
use crate::cfrag;
use crate::edek::EdekRef;
use crate::error::{Error, Result};
use crate::grant::Grant;
use crate::keys::{KeyId, PublicKey};

/// The `rewrap.cfrag` header values for one consumer and one EDEK (t of them, or as many
/// shares as this re-encryptor holds). Cheap to clone.
pub type CfragHeaders = Arc<[Vec<u8>]>;

/// (EDEK, consumer) pairs whose fragments a re-encryptor keeps by default.
pub const DEFAULT_REENCRYPTOR_CACHE_CAPACITY: usize = 65_536;

/// Re-encryptor settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReEncryptorConfig {
    /// Most (EDEK, consumer) pairs whose fragments are kept (each entry ~600 bytes).
    pub cache_capacity: usize,
    /// Recompute fragments after this many seconds; `None` keeps them until evicted.
    pub cache_ttl_secs: Option<u64>,
}

impl Default for ReEncryptorConfig {
    fn default() -> Self {
        ReEncryptorConfig {
            cache_capacity: DEFAULT_REENCRYPTOR_CACHE_CAPACITY,
            cache_ttl_secs: None,
        }
    }
}

impl ReEncryptorConfig {
    /// The config with 0 meaning "default capacity" and "no TTL": how the C and JVM bindings
    /// pass unset values.
    pub fn or_default(cache_capacity: usize, cache_ttl_secs: u64) -> Self {
        ReEncryptorConfig {
            cache_capacity: if cache_capacity == 0 {
                Self::default().cache_capacity
            } else {
                cache_capacity
            },
            cache_ttl_secs: (cache_ttl_secs != 0).then_some(cache_ttl_secs),
        }
    }
}

/// Counters of a re-encryptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReEncryptorStats {
    /// The fragment cache.
    pub cache: CacheStats,
    /// Umbral re-encryptions performed (one per held share per cache miss).
    pub reencryptions: u64,
    /// Requests refused (not granted, revoked, expired, wrong topic): no fragment issued.
    pub refused: u64,
    /// Grants held.
    pub grants: usize,
}

struct ActiveGrant {
    delegating_id: KeyId,
    consumer_id: KeyId,
    threshold: u8,
    not_before: u64,
    expires: Option<u64>,
    /// Signature of the grant the kfrags came from: shares of one grant share it.
    signature: [u8; 64],
    share_indices: Vec<u8>,
    kfrags: Vec<umbral_pre::VerifiedKeyFrag>,
}

struct CachedCfrags {
    headers: CfragHeaders,
    expires: Option<u64>,
}

/// Re-encrypts EDEKs for granted consumers.
pub struct ReEncryptor {
    admins: Vec<PublicKey>,
    grants: BTreeMap<String, BTreeMap<String, Vec<ActiveGrant>>>,
    revoked: BTreeMap<String, BTreeSet<String>>,
    cache: Cache<Box<[u8]>, CachedCfrags>,
    key_buf: Vec<u8>,
    reencryptions: u64,
    refused: u64,
}

/// Cache key: consumer id, a 0xFF separator (never in UTF-8), the EDEK bytes.
fn cache_key(buf: &mut Vec<u8>, consumer: &str, edek: &[u8]) {
    buf.clear();
    buf.extend_from_slice(consumer.as_bytes());
    buf.push(0xff);
    buf.extend_from_slice(edek);
}

impl ReEncryptor {
    /// A re-encryptor accepting grants signed by any of `trusted_admins`.
    pub fn new(trusted_admins: &[PublicKey], config: ReEncryptorConfig) -> Result<Self> {
        if trusted_admins.is_empty() {
            return Err(Error::InvalidArgument(
                "at least one trusted administrator key",
            ));
        }
        Ok(ReEncryptor {
            admins: trusted_admins.to_vec(),
            grants: BTreeMap::new(),
            revoked: BTreeMap::new(),
            cache: Cache::new(config.cache_capacity, config.cache_ttl_secs)?,
            key_buf: Vec::with_capacity(512),
            reencryptions: 0,
            refused: 0,
        })
    }

    /// Verifies and installs a grant (or a share of one). A grant for the same (topic,
    /// consumer, delegating key) replaces the old one; another share of the same signed grant
    /// is added to it.
    pub fn add_grant(&mut self, grant: &Grant, now: u64) -> Result<()> {
        let verified = grant.verify(&self.admins, now)?;
        let topic = grant.topic();
        let consumer = grant.consumer();
        if let Some(set) = self.revoked.get_mut(topic) {
            set.remove(consumer);
        }
        let list = self
            .grants
            .entry(topic.to_string())
            .or_default()
            .entry(consumer.to_string())
            .or_default();
        let delegating_id = grant.delegating_key().key_id();
        match list.iter_mut().find(|g| g.delegating_id == delegating_id) {
            Some(existing) if existing.signature == *grant.signature() => {
                for (index, kfrag) in grant.share_indices().into_iter().zip(verified.kfrags) {
                    if !existing.share_indices.contains(&index) {
                        existing.share_indices.push(index);
                        existing.kfrags.push(kfrag);
                    }
                }
            }
            Some(existing) => *existing = active(grant, verified.kfrags),
            None => list.push(active(grant, verified.kfrags)),
        }
        // Cached fragments were made with the old share set.
        self.purge(topic, consumer);
        Ok(())
    }

    /// Removes every grant of `consumer` on `topic` and purges its cached fragments; from
    /// now on `reencrypt` answers `Error::Revoked` for it. Returns how many grants were held.
    pub fn revoke(&mut self, topic: &str, consumer: &str) -> usize {
        let removed = self
            .grants
            .get_mut(topic)
            .and_then(|m| m.remove(consumer))
            .map_or(0, |list| list.len());
        self.revoked
            .entry(topic.to_string())
            .or_default()
            .insert(consumer.to_string());
        self.purge(topic, consumer);
        removed
    }

    fn purge(&mut self, topic: &str, consumer: &str) {
        let prefix_len = consumer.len();
        self.cache.remove_where(|key| {
            key.len() > prefix_len
                && key[prefix_len] == 0xff
                && &key[..prefix_len] == consumer.as_bytes()
                && EdekRef::parse(&key[prefix_len + 1..]).is_ok_and(|e| e.topic() == *topic)
        });
    }

    /// The fragment headers for `consumer` reading `edek` from `topic`; computed once per
    /// (EDEK, consumer), then served from the cache.
    pub fn reencrypt(
        &mut self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        topic: &str,
        edek: &[u8],
        consumer: &str,
    ) -> Result<CfragHeaders> {
        let result = self.reencrypt_inner(rng, now, topic, edek, consumer);
        if matches!(
            result,
            Err(Error::NotGranted | Error::Revoked | Error::GrantExpired | Error::WrongTopic)
        ) {
            self.refused += 1;
        }
        result
    }

    fn reencrypt_inner(
        &mut self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        topic: &str,
        edek: &[u8],
        consumer: &str,
    ) -> Result<CfragHeaders> {
        // Framing and topic are checked on every call, hit or miss: an EDEK copied into
        // another topic must not be served fragments cached for its own topic.
        let parsed = EdekRef::parse(edek)?;
        if parsed.topic() != *topic {
            return Err(Error::WrongTopic);
        }
        cache_key(&mut self.key_buf, consumer, edek);
        if let Some(hit) = self.cache.get(&self.key_buf[..], now) {
            if hit.expires.is_none_or(|e| now < e) {
                return Ok(hit.headers.clone());
            }
        }
        let Some(grant) = self
            .grants
            .get(topic)
            .and_then(|m| m.get(consumer))
            .and_then(|list| {
                list.iter()
                    .find(|g| g.delegating_id == parsed.delegating_key_id())
            })
        else {
            let revoked = self
                .revoked
                .get(topic)
                .is_some_and(|s| s.contains(consumer));
            return Err(if revoked {
                Error::Revoked
            } else {
                Error::NotGranted
            });
        };
        if now < grant.not_before || grant.expires.is_some_and(|e| now >= e) {
            return Err(Error::GrantExpired);
        }
        let capsule = parsed.capsule()?;
        let headers: CfragHeaders = grant
            .kfrags
            .iter()
            .map(|kfrag| {
                let cfrag = umbral_pre::reencrypt_with_rng(rng, &capsule, kfrag.clone());
                cfrag::encode(grant.threshold, grant.consumer_id, &cfrag)
            })
            .collect::<Vec<_>>()
            .into();
        self.reencryptions += grant.kfrags.len() as u64;
        let entry = CachedCfrags {
            headers: headers.clone(),
            expires: grant.expires,
        };
        self.cache
            .insert(self.key_buf.as_slice().into(), entry, now);
        Ok(headers)
    }

    /// Cache counters, re-encryptions and grants held.
    pub fn stats(&self) -> ReEncryptorStats {
        ReEncryptorStats {
            cache: self.cache.stats(),
            reencryptions: self.reencryptions,
            refused: self.refused,
            grants: self
                .grants
                .values()
                .flat_map(|m| m.values())
                .map(Vec::len)
                .sum(),
        }
    }
}

fn active(grant: &Grant, kfrags: Vec<umbral_pre::VerifiedKeyFrag>) -> ActiveGrant {
    ActiveGrant {
        delegating_id: grant.delegating_key().key_id(),
        consumer_id: grant.consumer_key().key_id(),
        threshold: grant.threshold(),
        not_before: grant.not_before(),
        expires: grant.expires(),
        signature: *grant.signature(),
        share_indices: grant.share_indices(),
        kfrags,
    }
}
