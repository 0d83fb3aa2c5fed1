//! Broker side: holds verified kfrags per (topic, consumer, delegating key) and turns an
//! EDEK into capsule fragments for a consumer. A fragment depends only on the capsule and the
//! grant's kfrag, so the cache is keyed on exactly that (consumer, topic, delegating key,
//! capsule): EDEKs that differ elsewhere (the sealed DEK bytes) cannot force new Umbral work.
//! A revoke drops the grant and purges its cache entries at once, so no new fragment is issued
//! from that moment. `lookup` / `PendingCfrags::compute` / `complete` split a miss so a
//! threaded caller can run the Umbral step without holding the re-encryptor.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};

use crate::cache::{Cache, CacheStats};
use crate::cfrag;
use crate::codec::{decode_simple, CAPSULE_LEAVES};
use crate::edek::{EdekRef, CAPSULE_LEN};
use crate::error::Object;
use crate::error::{Error, Result};
use crate::grant::{Grant, VerifiedGrant};
use crate::keys::{KeyId, PublicKey};
use crate::revocation::Revocation;

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

#[derive(Clone)]
struct ActiveGrant {
    delegating_id: KeyId,
    /// Unix milliseconds (0 for a version 1 grant), judged against revocations.
    issued_at: u64,
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
    /// The latest signed revocation per (topic, consumer, delegating key or all).
    revocations: BTreeMap<(String, String, Option<KeyId>), Revocation>,
    cache: Cache<Box<[u8]>, CachedCfrags>,
    key_buf: Vec<u8>,
    reencryptions: u64,
    refused: u64,
}

/// Cache key: what a fragment depends on. Consumer and topic are length-prefixed (both are at
/// most 255 bytes), then the delegating key id and the capsule.
fn cache_key(buf: &mut Vec<u8>, consumer: &str, topic: &str, edek: &EdekRef<'_>) {
    buf.clear();
    buf.push(consumer.len() as u8);
    buf.extend_from_slice(consumer.as_bytes());
    buf.push(topic.len() as u8);
    buf.extend_from_slice(topic.as_bytes());
    buf.extend_from_slice(&edek.delegating_key_id().0);
    buf.extend_from_slice(edek.capsule_bytes());
}

/// The (consumer, topic) a cache key was made for.
fn key_pair(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&clen, rest) = key.split_first()?;
    let consumer = rest.get(..clen as usize)?;
    let rest = &rest[clen as usize..];
    let (&tlen, rest) = rest.split_first()?;
    Some((consumer, rest.get(..tlen as usize)?))
}

/// What answering a request takes.
pub enum Lookup {
    /// Served from the cache.
    Hit(CfragHeaders),
    /// Needs the Umbral step: run `PendingCfrags::compute`, then `ReEncryptor::complete`.
    Miss(Box<PendingCfrags>),
}

/// A cache miss taken out of the re-encryptor: everything the Umbral re-encryption needs, so
/// it can run while other requests are served.
pub struct PendingCfrags {
    key: Box<[u8]>,
    /// The capsule's bytes: decoded (curve points, ~0.4 ms) by `compute`, never under the
    /// re-encryptor's lock and never for a request a budget refuses.
    capsule: [u8; CAPSULE_LEN],
    grant: ActiveGrant,
}

impl PendingCfrags {
    /// The cache key: two requests with equal keys get equal fragments (single-flight).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Decodes the capsule and runs the Umbral re-encryption, one per held share (about
    /// 0.35 ms each). A capsule that does not decode is `Malformed(Edek)`.
    pub fn compute(&self, rng: &mut (impl CryptoRng + RngCore)) -> Result<CfragHeaders> {
        let capsule: umbral_pre::Capsule =
            decode_simple(&self.capsule, CAPSULE_LEAVES, Object::Edek)?;
        Ok(self
            .grant
            .kfrags
            .iter()
            .map(|kfrag| {
                let cfrag = umbral_pre::reencrypt_with_rng(rng, &capsule, kfrag.clone());
                cfrag::encode(self.grant.threshold, self.grant.consumer_id, &cfrag)
            })
            .collect::<Vec<_>>()
            .into())
    }
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
            revocations: BTreeMap::new(),
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
        self.add_verified_grant_at(grant, verified, now)
    }

    /// The administrator keys grants must be signed by.
    pub fn admins(&self) -> &[PublicKey] {
        &self.admins
    }

    /// Installs a grant `verify` already accepted against `admins()` (so a threaded caller can
    /// verify outside its lock). `verified` must come from `grant.verify`.
    pub fn add_verified_grant(&mut self, grant: &Grant, verified: VerifiedGrant) -> Result<()> {
        self.add_verified_grant_at(grant, verified, u64::MAX / 1000)
    }

    /// Same, installed at `now` (Unix seconds): a revocation judges the grant as issued no
    /// later than that, so one from an administrator clock running ahead (within the skew
    /// `verify` tolerates) is still covered by a revocation made after it was installed.
    pub fn add_verified_grant_at(
        &mut self,
        grant: &Grant,
        verified: VerifiedGrant,
        now: u64,
    ) -> Result<()> {
        if verified.grant() != grant {
            return Err(Error::InvalidArgument("verified grant does not match"));
        }
        if !self.admins.contains(&grant.admin_key()) {
            return Err(Error::UntrustedGrant);
        }
        let topic = grant.topic();
        let consumer = grant.consumer();
        if self.revocations.values().any(|r| r.covers(grant)) {
            // Issued at or before a revocation of its pair: a replayed copy stays dead.
            return Err(Error::Revoked);
        }
        let delegating_id = grant.delegating_key().key_id();
        let held = self
            .grants
            .get(topic)
            .and_then(|m| m.get(consumer))
            .and_then(|list| list.iter().find(|g| g.delegating_id == delegating_id));
        if grant.threshold() > 1 {
            // One re-encryptor holding t shares could answer alone, which is what the
            // threshold exists to prevent: it holds exactly one.
            let other_share = held.is_some_and(|g| {
                g.signature == *grant.signature() && g.share_indices != grant.share_indices()
            });
            if grant.share_indices().len() != 1 || other_share {
                return Err(Error::InvalidArgument(
                    "a re-encryptor holds one share of a threshold grant",
                ));
            }
        }
        if held.is_some_and(|g| g.issued_at > grant.issued_at()) {
            // A newer grant of this pair and key is held: an older copy does not replace it.
            return Err(Error::Revoked);
        }
        if let Some(set) = self.revoked.get_mut(topic) {
            set.remove(consumer);
        }
        let list = self
            .grants
            .entry(topic.to_string())
            .or_default()
            .entry(consumer.to_string())
            .or_default();
        match list.iter_mut().find(|g| g.delegating_id == delegating_id) {
            Some(existing) if existing.signature == *grant.signature() => {
                for (index, kfrag) in grant.share_indices().into_iter().zip(verified.kfrags) {
                    if !existing.share_indices.contains(&index) {
                        existing.share_indices.push(index);
                        existing.kfrags.push(kfrag);
                    }
                }
            }
            Some(existing) => *existing = active(grant, verified.kfrags, now),
            None => list.push(active(grant, verified.kfrags, now)),
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

    /// Verifies and applies a signed revocation: every held grant it covers is dropped (and
    /// its cached fragments purged), and from now on every grant it covers is refused with
    /// `Revoked`, in whatever order they arrive. Returns false when an equal or later
    /// revocation of the same scope was already held (nothing changed).
    pub fn add_revocation(&mut self, revocation: &Revocation) -> Result<bool> {
        revocation.verify(&self.admins)?;
        let topic = revocation.topic();
        let consumer = revocation.consumer();
        let scope = (
            topic.to_string(),
            consumer.to_string(),
            revocation.delegating_key_id(),
        );
        if self
            .revocations
            .get(&scope)
            .is_some_and(|held| held.revoked_at() >= revocation.revoked_at())
        {
            return Ok(false);
        }
        self.revocations.insert(scope, revocation.clone());
        let key = revocation.delegating_key_id();
        if let Some(list) = self.grants.get_mut(topic).and_then(|m| m.get_mut(consumer)) {
            list.retain(|g| {
                !(key.is_none_or(|k| k == g.delegating_id)
                    && g.issued_at <= revocation.revoked_at())
            });
            if list.is_empty() {
                if let Some(m) = self.grants.get_mut(topic) {
                    m.remove(consumer);
                }
            }
        }
        self.revoked
            .entry(topic.to_string())
            .or_default()
            .insert(consumer.to_string());
        self.purge(topic, consumer);
        Ok(true)
    }

    /// True when `grant` would be refused as `Revoked` whatever its signature: a held
    /// revocation covers it, or a grant issued later is held for its pair and key. Cheap, so
    /// callers ask before verifying (a flood of replayed grants costs no verification).
    pub fn supersedes(&self, grant: &Grant) -> bool {
        let key = grant.delegating_key().key_id();
        self.revocations.values().any(|r| r.covers(grant))
            || self
                .grants
                .get(grant.topic())
                .and_then(|m| m.get(grant.consumer()))
                .is_some_and(|list| {
                    list.iter()
                        .any(|g| g.delegating_id == key && g.issued_at > grant.issued_at())
                })
    }

    /// True when exactly this grant (same signature, every share it carries) is installed:
    /// installing it again would change nothing, so callers skip verifying it (a flood of
    /// copies of a held grant costs a look-up each).
    pub fn holds(&self, grant: &Grant) -> bool {
        let key = grant.delegating_key().key_id();
        self.grants
            .get(grant.topic())
            .and_then(|m| m.get(grant.consumer()))
            .is_some_and(|list| {
                list.iter().any(|g| {
                    g.delegating_id == key
                        && g.signature == *grant.signature()
                        && grant
                            .share_indices()
                            .iter()
                            .all(|i| g.share_indices.contains(i))
                })
            })
    }

    /// Signed revocations held (the latest per scope).
    pub fn revocations(&self) -> impl Iterator<Item = &Revocation> {
        self.revocations.values()
    }

    fn purge(&mut self, topic: &str, consumer: &str) {
        self.cache
            .remove_where(|key| key_pair(key) == Some((consumer.as_bytes(), topic.as_bytes())));
    }

    /// The fragment headers for `consumer` reading `edek` from `topic`; computed once per
    /// (capsule, consumer grant), then served from the cache.
    pub fn reencrypt(
        &mut self,
        rng: &mut (impl CryptoRng + RngCore),
        now: u64,
        topic: &str,
        edek: &[u8],
        consumer: &str,
    ) -> Result<CfragHeaders> {
        match self.lookup(now, topic, edek, consumer)? {
            Lookup::Hit(headers) => Ok(headers),
            Lookup::Miss(pending) => {
                let headers = pending.compute(rng)?;
                self.complete(&pending, headers, now)
            }
        }
    }

    /// Checks the request (framing, topic, grant) and answers it from the cache, or says what
    /// must be computed. Refusals are counted here.
    pub fn lookup(&mut self, now: u64, topic: &str, edek: &[u8], consumer: &str) -> Result<Lookup> {
        let result = self.lookup_inner(now, topic, edek, consumer);
        if matches!(
            result,
            Err(Error::NotGranted | Error::Revoked | Error::GrantExpired | Error::WrongTopic)
        ) {
            self.refused += 1;
        }
        result
    }

    fn lookup_inner(
        &mut self,
        now: u64,
        topic: &str,
        edek: &[u8],
        consumer: &str,
    ) -> Result<Lookup> {
        // Framing, topic and grant are checked on every call, hit or miss: an EDEK copied into
        // another topic must not be served fragments cached for its own topic, and an expired
        // grant must not be served from the cache.
        let parsed = EdekRef::parse(edek)?;
        if parsed.topic() != *topic {
            return Err(Error::WrongTopic);
        }
        self.grant_for(now, topic, consumer, &parsed)?;
        cache_key(&mut self.key_buf, consumer, topic, &parsed);
        if let Some(hit) = self.cache.get(&self.key_buf[..], now) {
            if hit.expires.is_none_or(|e| now < e) {
                return Ok(Lookup::Hit(hit.headers.clone()));
            }
        }
        let grant = self.grant_for(now, topic, consumer, &parsed)?.clone();
        let mut capsule = [0u8; CAPSULE_LEN];
        capsule.copy_from_slice(parsed.capsule_bytes());
        Ok(Lookup::Miss(Box::new(PendingCfrags {
            key: self.key_buf.as_slice().into(),
            capsule,
            grant,
        })))
    }

    fn grant_for(
        &self,
        now: u64,
        topic: &str,
        consumer: &str,
        edek: &EdekRef<'_>,
    ) -> Result<&ActiveGrant> {
        let Some(grant) = self
            .grants
            .get(topic)
            .and_then(|m| m.get(consumer))
            .and_then(|list| {
                list.iter()
                    .find(|g| g.delegating_id == edek.delegating_key_id())
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
        Ok(grant)
    }

    /// Files fragments computed for `pending` and returns them, unless the grant they were made
    /// from was revoked, replaced or expired meanwhile (then `Revoked`: nothing is issued from
    /// a grant that is gone).
    pub fn complete(
        &mut self,
        pending: &PendingCfrags,
        headers: CfragHeaders,
        now: u64,
    ) -> Result<CfragHeaders> {
        self.reencryptions += pending.grant.kfrags.len() as u64;
        let still_held = key_pair(&pending.key).is_some_and(|(consumer, topic)| {
            let (Ok(consumer), Ok(topic)) =
                (core::str::from_utf8(consumer), core::str::from_utf8(topic))
            else {
                return false;
            };
            // The same signed grant, still holding every share these fragments came from
            // (another share arriving meanwhile does not void them), still valid now.
            self.grants
                .get(topic)
                .and_then(|m| m.get(consumer))
                .is_some_and(|list| {
                    list.iter().any(|g| {
                        g.signature == pending.grant.signature
                            && pending
                                .grant
                                .share_indices
                                .iter()
                                .all(|i| g.share_indices.contains(i))
                            && now >= g.not_before
                            && g.expires.is_none_or(|e| now < e)
                    })
                })
        });
        if !still_held {
            self.refused += 1;
            return Err(Error::Revoked);
        }
        let entry = CachedCfrags {
            headers: headers.clone(),
            expires: pending.grant.expires,
        };
        self.cache.insert(pending.key.clone(), entry, now);
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

fn active(grant: &Grant, kfrags: Vec<umbral_pre::VerifiedKeyFrag>, now: u64) -> ActiveGrant {
    ActiveGrant {
        delegating_id: grant.delegating_key().key_id(),
        issued_at: grant.issued_at().min(now.saturating_mul(1000)),
        consumer_id: grant.consumer_key().key_id(),
        threshold: grant.threshold(),
        not_before: grant.not_before(),
        expires: grant.expires(),
        signature: *grant.signature(),
        share_indices: grant.share_indices(),
        kfrags,
    }
}
