//! The grant registry's records: what the Kafka grant registry (a compacted topic, default
//! `__rewrap_grants`) holds, and how a re-encryptor applies them. No Kafka client here: the
//! proxy and the CLI bring their own and hand records to [`RegistryFollower::apply`] or take
//! them from [`record_for`]. `docs/FORMAT.md` §5.4.
//!
//! Keys (UTF-8, one record per key survives compaction):
//! - `grant/hex(topic)/hex(consumer)/KEYID/SHARE`: a signed grant carrying share SHARE's kfrag
//!   (one record per share of a threshold grant; each proxy takes its own share);
//! - `revocation/hex(topic)/hex(consumer)/KEYID` or `/all`: a signed revocation. Revocations are
//!   never deleted (no tombstone is written for one), so compaction keeps them;
//! - `producer/hex(topic)/PRODUCERKEYID`: a signed producer grant; a tombstone on this key
//!   withdraws it.
//!
//! The value is the object's wire form. Every record is checked as if an attacker wrote it:
//! unsigned, forged, malformed or superseded records are ignored and counted by reason.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rewrap_core::{Error, Grant, KeyId, ProducerGrant, Revocation};

use crate::handles::ReEncryptor;

/// The registry topic unless configured otherwise.
pub const DEFAULT_REGISTRY_TOPIC: &str = "__rewrap_grants";

/// A registry record's key and value.
pub type Record = (String, Vec<u8>);

/// The records that publish `grant`: one per share it carries.
pub fn grant_records(grant: &Grant) -> Result<Vec<Record>, Error> {
    grant
        .share_indices()
        .into_iter()
        .map(|i| {
            let share = if grant.share_indices().len() == 1 {
                grant.clone()
            } else {
                grant.share(i)?
            };
            Ok((
                format!(
                    "grant/{}/{}/{}/{i}",
                    hex::encode(grant.topic()),
                    hex::encode(grant.consumer()),
                    grant.delegating_key().key_id()
                ),
                share.to_bytes(),
            ))
        })
        .collect()
}

/// The record that publishes `revocation`.
pub fn revocation_record(revocation: &Revocation) -> Record {
    let scope = revocation
        .delegating_key_id()
        .map_or("all".to_string(), |k| k.to_string());
    (
        format!(
            "revocation/{}/{}/{scope}",
            hex::encode(revocation.topic()),
            hex::encode(revocation.consumer())
        ),
        revocation.to_bytes(),
    )
}

/// The key of a producer grant's record (a tombstone on it withdraws the grant).
pub fn producer_key(topic: &str, producer: &KeyId) -> String {
    format!("producer/{}/{producer}", hex::encode(topic))
}

/// The record that publishes a producer grant.
pub fn producer_record(grant: &ProducerGrant) -> Record {
    (
        producer_key(grant.topic(), &grant.producer().key_id()),
        grant.to_bytes(),
    )
}

/// What a registry record holds, once parsed.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A grant (one share of it).
    Grant(Grant),
    /// A signed revocation.
    Revocation(Revocation),
    /// A producer grant.
    Producer(ProducerGrant),
    /// A producer grant withdrawn (tombstone on its key): topic and producer key id.
    ProducerWithdrawn(String, KeyId),
}

/// Why a record was not applied; each is counted under its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// The key names no kind of record this version knows.
    UnknownKey,
    /// The value does not parse as the object the key names, or disagrees with the key.
    Malformed,
    /// Not signed by a trusted administrator (forged, or an unknown administrator).
    Untrusted,
    /// A revoked grant, or one older than the grant held (a replay).
    Superseded,
    /// Not valid now (expired or not yet valid).
    Expired,
    /// Another re-encryptor's share of a threshold grant.
    OtherShare,
    /// A tombstone where only a signed record may stand (grants and revocations).
    Tombstone,
    /// Refused by the re-encryptor for another reason.
    Refused(String),
}

impl Ignored {
    /// The name metrics and logs use.
    pub fn name(&self) -> &'static str {
        match self {
            Ignored::UnknownKey => "unknown_key",
            Ignored::Malformed => "malformed",
            Ignored::Untrusted => "untrusted",
            Ignored::Superseded => "superseded",
            Ignored::Expired => "expired",
            Ignored::OtherShare => "other_share",
            Ignored::Tombstone => "tombstone",
            Ignored::Refused(_) => "refused",
        }
    }

    fn from_error(e: Error) -> Ignored {
        match e {
            Error::UntrustedGrant => Ignored::Untrusted,
            Error::Revoked => Ignored::Superseded,
            Error::GrantExpired => Ignored::Expired,
            Error::Truncated(_) | Error::Malformed(_) | Error::UnsupportedVersion(..) => {
                Ignored::Malformed
            }
            e => Ignored::Refused(e.to_string()),
        }
    }
}

/// Parses a record; checks that the key is exactly the canonical key of what the value
/// holds (one spelling per record, so compaction collapses every copy written under it).
pub fn parse(key: &[u8], value: Option<&[u8]>) -> Result<Entry, Ignored> {
    let entry = parse_loose(key, value)?;
    let canonical = match &entry {
        Entry::Grant(g) => grant_records(g)
            .map_err(|_| Ignored::Malformed)?
            .into_iter()
            .next()
            .map(|(k, _)| k),
        Entry::Revocation(r) => Some(revocation_record(r).0),
        Entry::Producer(g) => Some(producer_record(g).0),
        Entry::ProducerWithdrawn(topic, id) => Some(producer_key(topic, id)),
    };
    if canonical.as_deref().map(str::as_bytes) != Some(key) {
        return Err(Ignored::Malformed);
    }
    Ok(entry)
}

fn parse_loose(key: &[u8], value: Option<&[u8]>) -> Result<Entry, Ignored> {
    let key = std::str::from_utf8(key).map_err(|_| Ignored::UnknownKey)?;
    let parts: Vec<&str> = key.split('/').collect();
    let text = |h: &str| -> Result<String, Ignored> {
        String::from_utf8(hex::decode(h).map_err(|_| Ignored::Malformed)?)
            .map_err(|_| Ignored::Malformed)
    };
    match parts.as_slice() {
        ["grant", ..] | ["revocation", ..] if value.is_none() => Err(Ignored::Tombstone),
        ["grant", topic, consumer, key_id, share] => {
            let grant =
                Grant::from_bytes(value.unwrap_or_default()).map_err(|_| Ignored::Malformed)?;
            let matches = grant.topic() == text(topic)?
                && grant.consumer() == text(consumer)?
                && grant.delegating_key().key_id().to_string() == *key_id
                && grant.share_indices()
                    == [share.parse::<u8>().map_err(|_| Ignored::Malformed)?];
            if !matches {
                return Err(Ignored::Malformed);
            }
            Ok(Entry::Grant(grant))
        }
        ["revocation", topic, consumer, scope] => {
            let r = Revocation::from_bytes(value.unwrap_or_default())
                .map_err(|_| Ignored::Malformed)?;
            let scope_ok = match r.delegating_key_id() {
                Some(k) => k.to_string() == *scope,
                None => *scope == "all",
            };
            if r.topic() != text(topic)? || r.consumer() != text(consumer)? || !scope_ok {
                return Err(Ignored::Malformed);
            }
            Ok(Entry::Revocation(r))
        }
        ["producer", topic, producer] => match value {
            None => {
                let id = hex::decode(producer)
                    .ok()
                    .and_then(|b| <[u8; rewrap_core::KEY_ID_LEN]>::try_from(b).ok())
                    .map(KeyId)
                    .ok_or(Ignored::Malformed)?;
                Ok(Entry::ProducerWithdrawn(text(topic)?, id))
            }
            Some(bytes) => {
                let g = ProducerGrant::from_bytes(bytes).map_err(|_| Ignored::Malformed)?;
                if g.topic() != text(topic)? || g.producer().key_id().to_string() != *producer {
                    return Err(Ignored::Malformed);
                }
                Ok(Entry::Producer(g))
            }
        },
        _ => Err(Ignored::UnknownKey),
    }
}

/// Applies registry records to a re-encryptor, in the order they are read.
pub struct RegistryFollower {
    target: Arc<ReEncryptor>,
    /// The share of threshold grants this re-encryptor takes (`None`: 1-of-n grants only).
    share: Option<u8>,
    /// (consumer, topic) pairs some installed grant names.
    granted: BTreeMap<(String, String), BTreeSet<String>>,
    /// Grant records refused as not valid yet, with when (Unix seconds) to try again.
    waiting: BTreeMap<Vec<u8>, (Vec<u8>, u64)>,
}

/// Grant records kept for a retry at most (a flood of future grants is not kept beyond it).
const WAITING_CAPACITY: usize = 4096;

impl RegistryFollower {
    /// Feeds `target`, taking share `share` of threshold grants.
    pub fn new(target: Arc<ReEncryptor>, share: Option<u8>) -> Self {
        RegistryFollower {
            target,
            share,
            granted: BTreeMap::new(),
            waiting: BTreeMap::new(),
        }
    }

    /// The re-encryptor being fed.
    pub fn target(&self) -> &Arc<ReEncryptor> {
        &self.target
    }

    /// Applies one record (key, value or `None` for a tombstone).
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Ignored> {
        match parse(key, value)? {
            Entry::Grant(grant) => {
                if grant.threshold() > 1 && Some(grant.share_indices()[0]) != self.share {
                    return Err(Ignored::OtherShare);
                }
                if grant.shares() > 1
                    && grant.threshold() == 1
                    && self.share.is_some_and(|s| s != grant.share_indices()[0])
                {
                    return Err(Ignored::OtherShare);
                }
                if let Err(e) = self.target.add_grant(&grant) {
                    let valid_from = grant.not_before().max(
                        grant
                            .issued_at()
                            .saturating_sub(rewrap_core::MAX_ISSUE_SKEW_MS)
                            / 1000,
                    );
                    if e == Error::GrantExpired
                        && valid_from > crate::now()
                        && self.waiting.len() < WAITING_CAPACITY
                    {
                        // Not valid yet (or this clock is behind): tried again then.
                        let value = value.unwrap_or_default().to_vec();
                        self.waiting.insert(key.to_vec(), (value, valid_from));
                    }
                    return Err(Ignored::from_error(e));
                }
                self.waiting.remove(key);
                self.granted
                    .entry((grant.consumer().to_string(), grant.topic().to_string()))
                    .or_default()
                    .insert(grant.delegating_key().key_id().to_string());
                Ok(())
            }
            Entry::Revocation(r) => {
                match self.target.add_revocation(&r) {
                    Ok(true) => {}
                    Ok(false) => return Err(Ignored::Superseded),
                    Err(e) => return Err(Ignored::from_error(e)),
                }
                let pair = (r.consumer().to_string(), r.topic().to_string());
                match r.delegating_key_id() {
                    None => {
                        self.granted.remove(&pair);
                    }
                    Some(k) => {
                        if let Some(keys) = self.granted.get_mut(&pair) {
                            keys.remove(&k.to_string());
                            if keys.is_empty() {
                                self.granted.remove(&pair);
                            }
                        }
                    }
                }
                Ok(())
            }
            Entry::Producer(g) => self
                .target
                .add_producer_grant(&g)
                .map_err(Ignored::from_error),
            Entry::ProducerWithdrawn(topic, id) => {
                self.target.revoke_producer(&topic, &id);
                Ok(())
            }
        }
    }

    /// Applies the grant records that were not valid yet and should be now; returns how many
    /// were installed.
    pub fn retry_due(&mut self) -> usize {
        let now = crate::now();
        let due: Vec<(Vec<u8>, Vec<u8>)> = self
            .waiting
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        let mut installed = 0;
        for (key, value) in due {
            self.waiting.remove(&key);
            if self.apply(&key, Some(&value)).is_ok() {
                installed += 1;
            }
        }
        installed
    }

    /// (consumer, topic) pairs an installed, unrevoked grant names (a grant that expired
    /// since is still listed: the re-encryptor refuses it at use).
    pub fn granted(&self) -> impl Iterator<Item = (&str, &str)> {
        self.granted.keys().map(|(c, t)| (c.as_str(), t.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewrap_core::{GrantTerms, SecretKey, Signer};

    fn grant(admin: &Signer, channel: &SecretKey, consumer: &str, t: u8, n: u8) -> Grant {
        let mut terms =
            GrantTerms::one_of_one("orders", consumer, SecretKey::generate().public_key(), 0);
        terms.threshold = t;
        terms.shares = n;
        Grant::issue(&mut crate::rng(), admin, channel, &terms).unwrap()
    }

    #[test]
    fn records_round_trip_and_hostile_ones_are_ignored_by_reason() {
        let admin = Signer::new(SecretKey::generate());
        let stranger = Signer::new(SecretKey::generate());
        let channel = SecretKey::generate();
        let target = Arc::new(ReEncryptor::new(&[admin.verifying_key()]).unwrap());
        let mut f = RegistryFollower::new(target, Some(1));

        let g = grant(&admin, &channel, "alice", 1, 1);
        let records = grant_records(&g).unwrap();
        assert_eq!(records.len(), 1);
        f.apply(records[0].0.as_bytes(), Some(&records[0].1))
            .unwrap();
        assert_eq!(f.granted().collect::<Vec<_>>(), [("alice", "orders")]);

        // A forged grant: a stranger's signature.
        let forged = grant_records(&grant(&stranger, &channel, "mallory", 1, 1)).unwrap();
        assert_eq!(
            f.apply(forged[0].0.as_bytes(), Some(&forged[0].1)),
            Err(Ignored::Untrusted)
        );
        // A value under another pair's key.
        assert_eq!(
            f.apply(forged[0].0.as_bytes(), Some(&records[0].1)),
            Err(Ignored::Malformed)
        );
        assert_eq!(f.apply(b"nonsense", Some(b"x")), Err(Ignored::UnknownKey));
        assert_eq!(
            f.apply(records[0].0.as_bytes(), None),
            Err(Ignored::Tombstone)
        );

        // Threshold grant: this follower takes share 1 only.
        let t = grant(&admin, &channel, "bob", 2, 3);
        let shares = grant_records(&t).unwrap();
        assert_eq!(shares.len(), 3);
        let outcomes: Vec<_> = shares
            .iter()
            .map(|(k, v)| f.apply(k.as_bytes(), Some(v)))
            .collect();
        assert_eq!(
            outcomes,
            [Err(Ignored::OtherShare), Ok(()), Err(Ignored::OtherShare)]
        );

        // A signed revocation, then the grant replayed.
        let r = Revocation::issue(
            &mut crate::rng(),
            &admin,
            "orders",
            "alice",
            None,
            crate::now_millis(),
        )
        .unwrap();
        let (key, value) = revocation_record(&r);
        f.apply(key.as_bytes(), Some(&value)).unwrap();
        assert!(!f.granted().any(|(c, _)| c == "alice"));
        assert_eq!(
            f.apply(records[0].0.as_bytes(), Some(&records[0].1)),
            Err(Ignored::Superseded)
        );
        assert_eq!(
            f.apply(key.as_bytes(), Some(&value)),
            Err(Ignored::Superseded)
        );
        assert_eq!(f.apply(key.as_bytes(), None), Err(Ignored::Tombstone));
    }
}
