//! Administrator commands: keys, grants (consumer and producer), revocation, listing and
//! inspection.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};

use clap::Args;
use rewrap::engine::cfrag::CfragRef;
use rewrap::engine::edek::EdekRef;
use rewrap::engine::envelope::EnvelopeRef;
use rewrap::engine::signing::SessionSignature;
use rewrap::{
    keyfile, DirGrantStore, Grant, GrantStore, GrantTerms, ProducerGrant, Revocation, SecretKey,
    Signer,
};

use crate::registry::{self, RegistryArgs};

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

/// Reads a 32-byte seed file (64 hex characters, mode 0600), as `--master-seed` and the
/// proxy's `channel_signing_seed` take it.
fn read_seed(path: &Path) -> Result<zeroize::Zeroizing<[u8; 32]>> {
    Ok(rewrap::keyfile::read_seed(path)?)
}

/// Writes PREFIX.sec and PREFIX.pub. A producer signing key (`signer`) is an ordinary key
/// pair; only its use differs, so the files are the same.
pub fn keygen(
    prefix: &Path,
    master_seed: Option<&Path>,
    topic: Option<&str>,
    signer: bool,
) -> Result<()> {
    let key = match (master_seed, topic) {
        (Some(seed_file), Some(topic)) => {
            SecretKey::derive_channel_key(read_seed(seed_file)?.as_slice(), topic)?
        }
        _ => SecretKey::generate(),
    };
    let public = key.public_key();
    keyfile::write_secret(&with_ext(prefix, ".sec"), &key)?;
    keyfile::write_public(&with_ext(prefix, ".pub"), &public)?;
    let role = if signer { "producer signing key: " } else { "" };
    println!(
        "{role}key id {}  public {}",
        public.key_id(),
        public.to_hex()
    );
    Ok(())
}

/// Prints the channel signing key a proxy with this `channel_signing_seed` signs `topic`'s
/// channel signatures with: the key consumers trust instead of holding producer grants.
pub fn channel_key(seed: &Path, topic: &str, out: Option<&Path>) -> Result<()> {
    let public =
        SecretKey::derive_channel_signing_key(read_seed(seed)?.as_slice(), topic)?.public_key();
    if let Some(out) = out {
        keyfile::write_public(out, &public)?;
    }
    println!(
        "channel signing key of {topic:?}: key id {}  public {}",
        public.key_id(),
        public.to_hex()
    );
    Ok(())
}

/// Where grants are kept: a directory store, or the Kafka grant registry.
#[derive(Args)]
pub struct Place {
    /// Grant store directory (or --registry).
    #[arg(long, required_unless_present = "registry")]
    store: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl Place {
    fn open(&self) -> Result<Box<dyn GrantStore>> {
        match &self.store {
            Some(dir) => Ok(Box::new(DirGrantStore::open(dir)?)),
            None => registry::open(&self.registry),
        }
    }
}

#[derive(Args)]
pub struct GrantArgs {
    #[command(flatten)]
    place: Place,
    /// Administrator secret key file (signs the grant).
    #[arg(long)]
    admin: PathBuf,
    /// Authorize this producer signing public key file to produce to --topic (a producer
    /// grant) instead of granting a consumer.
    #[arg(long, conflicts_with_all = ["delegating", "consumer", "consumer_key", "threshold", "shares"])]
    producer: Option<PathBuf>,
    /// Delegating secret key file (the producer's or the channel's).
    #[arg(long, required_unless_present = "producer")]
    delegating: Option<PathBuf>,
    /// Topic (the channel); `--channel` is accepted as an alias.
    #[arg(long, alias = "channel")]
    topic: String,
    /// Consumer id as the re-encryptor sees it (Kafka principal or client id).
    #[arg(long, required_unless_present = "producer")]
    consumer: Option<String>,
    /// Consumer public key file.
    #[arg(long, required_unless_present = "producer")]
    consumer_key: Option<PathBuf>,
    /// Fragments needed (t).
    #[arg(long, default_value_t = 1)]
    threshold: u8,
    /// Fragments made, one per re-encryptor (n).
    #[arg(long, default_value_t = 1)]
    shares: u8,
    /// Seconds until the grant expires (default: 30 days; renew by granting again).
    #[arg(long, conflicts_with = "no_expiry")]
    expires_in: Option<u64>,
    /// Issue a grant that never expires (only a revocation ends it).
    #[arg(long)]
    no_expiry: bool,
}

/// Lifetime of a grant when `--expires-in` is not given.
const DEFAULT_LIFETIME_SECS: u64 = 30 * 24 * 3600;

pub fn grant(a: &GrantArgs) -> Result<()> {
    let admin = Signer::new(keyfile::read_secret(&a.admin)?);
    let now = rewrap::now();
    let expires = (!a.no_expiry).then(|| now + a.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS));
    if let Some(producer) = &a.producer {
        let producer = keyfile::read_public(producer)?;
        let grant = ProducerGrant::issue(
            &mut rewrap::rng(),
            &admin,
            &a.topic,
            &producer,
            now,
            expires,
        )?;
        let path = a.place.open()?.put_producer(&grant)?;
        println!(
            "wrote {path} (producer {} may produce to {:?})",
            producer.key_id(),
            a.topic
        );
        return Ok(());
    }
    // clap requires these three unless --producer is given.
    let (Some(delegating), Some(consumer), Some(consumer_key)) =
        (&a.delegating, &a.consumer, &a.consumer_key)
    else {
        return Err("a consumer grant needs --delegating, --consumer and --consumer-key".into());
    };
    let delegating = keyfile::read_secret(delegating)?;
    let terms = GrantTerms {
        topic: &a.topic,
        consumer,
        consumer_key: keyfile::read_public(consumer_key)?,
        threshold: a.threshold,
        shares: a.shares,
        not_before: now,
        expires,
        issued_at: None,
    };
    let grant = Grant::issue(&mut rewrap::rng(), &admin, &delegating, &terms)?;
    // A threshold grant's shares go where each re-encryptor reads its own (STORE/share-I,
    // or one registry record per share).
    for place in a.place.open()?.put_grant(&grant)? {
        println!("wrote {place}");
    }
    Ok(())
}

/// Who a revoke is for.
pub enum Revoked<'a> {
    /// A consumer id: every grant of it on the topic (or under one delegating key), signed
    /// by the administrator.
    Consumer {
        consumer: &'a str,
        admin: &'a Path,
        delegating_key: Option<&'a Path>,
    },
    /// A producer signing public key file: its producer grant on the topic.
    Producer(&'a Path),
}

pub fn revoke(place: &Place, topic: &str, who: Revoked<'_>) -> Result<()> {
    let store = place.open()?;
    match who {
        Revoked::Consumer {
            consumer,
            admin,
            delegating_key,
        } => {
            let admin = Signer::new(keyfile::read_secret(admin)?);
            let key = delegating_key.map(keyfile::read_public).transpose()?;
            let in_scope: Vec<Grant> = store
                .snapshot()?
                .grants
                .into_iter()
                .filter_map(|(_, g)| g.ok())
                .filter(|g| {
                    g.topic() == topic
                        && g.consumer() == consumer
                        && key.is_none_or(|k| k == g.delegating_key())
                })
                .collect();
            // Stamped no earlier than the newest grant it revokes: a grant issued by a clock
            // running ahead (up to the 5 minutes re-encryptors tolerate) is covered too.
            let at = in_scope
                .iter()
                .map(Grant::issued_at)
                .fold(rewrap::now_millis(), u64::max);
            let revocation =
                Revocation::issue(&mut rewrap::rng(), &admin, topic, consumer, key, at)?;
            if let Some(missed) = in_scope.iter().find(|g| !revocation.covers(g)) {
                return Err(format!(
                    "the revocation would not cover a grant issued at {} ms",
                    missed.issued_at()
                )
                .into());
            }
            let covered = in_scope.len();
            let written = store.put_revocation(&revocation)?;
            let scope = key.map_or("every key".to_string(), |k| format!("key {}", k.key_id()));
            println!(
                "revoked {consumer} on {topic} under {scope}: covers {covered} grant(s); \
                 written to {}",
                written.join(", ")
            );
        }
        Revoked::Producer(key) => {
            let id = keyfile::read_public(key)?.key_id();
            let removed = store.withdraw_producer(topic, Some(&id))?;
            println!("revoked producer {id} on {topic}: {removed} producer grant file(s) removed");
        }
    }
    Ok(())
}

fn status(verified: Option<rewrap::Result<()>>) -> String {
    match verified {
        Some(Ok(())) => "valid".to_string(),
        Some(Err(e)) => format!("REJECTED: {e}"),
        None => "unverified (pass --admin-pub)".to_string(),
    }
}

/// One row of `list`, as the table prints it and `--json` writes it.
struct Row {
    kind: &'static str,
    topic: String,
    who: String,
    key: String,
    detail: String,
    /// Unix seconds (grants) or milliseconds (issue and revocation times), as named.
    times: Vec<(&'static str, u64)>,
    status: String,
}

impl Row {
    fn json(&self) -> String {
        let mut object = serde_json::json!({
            "kind": self.kind,
            "topic": self.topic,
            "who": self.who,
            "key": self.key,
            "detail": self.detail,
            "status": self.status,
        });
        for (name, value) in &self.times {
            object[*name] = serde_json::json!(value);
        }
        object.to_string()
    }
}

/// Lists grants (with their shares), revocations and producer grants; verifies them against
/// `admin_pub` when given, and marks the grants a revocation in the store voids.
pub fn list(place: &Place, admin_pub: Option<&Path>, json: bool) -> Result<()> {
    let admin = admin_pub.map(keyfile::read_public).transpose()?;
    let now = rewrap::now();
    let snapshot = place.open()?.snapshot()?;
    let revocations: Vec<Revocation> = snapshot
        .revocations
        .into_iter()
        .filter_map(|(_, r)| r.ok())
        .filter(|r| admin.is_none_or(|a| r.verify(&[a]).is_ok()))
        .collect();
    let mut rows = Vec::new();
    for (path, parsed) in snapshot.grants {
        let g = match parsed {
            Ok(g) => g,
            Err(e) => {
                rows.push(Row {
                    kind: "unreadable",
                    topic: String::new(),
                    who: path,
                    key: String::new(),
                    detail: String::new(),
                    times: vec![],
                    status: format!("REJECTED: {e}"),
                });
                continue;
            }
        };
        let status = if revocations.iter().any(|r| r.covers(&g)) {
            "REVOKED".to_string()
        } else {
            status(admin.map(|a| g.verify(&[a], now).map(|_| ())))
        };
        let mut times = vec![
            ("issued_at_ms", g.issued_at()),
            ("not_before", g.not_before()),
        ];
        times.extend(g.expires().map(|e| ("expires", e)));
        rows.push(Row {
            kind: "grant",
            topic: g.topic().to_string(),
            who: g.consumer().to_string(),
            key: g.delegating_key().key_id().to_string(),
            detail: format!(
                "{}/{} shares {:?}",
                g.threshold(),
                g.shares(),
                g.share_indices()
            ),
            times,
            status,
        });
    }
    for r in &revocations {
        rows.push(Row {
            kind: "revocation",
            topic: r.topic().to_string(),
            who: r.consumer().to_string(),
            key: r
                .delegating_key_id()
                .map_or("all".to_string(), |k| k.to_string()),
            detail: String::new(),
            times: vec![("revoked_at_ms", r.revoked_at())],
            status: status(admin.map(|a| r.verify(&[a]))),
        });
    }
    for (path, parsed) in snapshot.producers {
        match parsed {
            Ok(g) => {
                let mut times = vec![("not_before", g.not_before())];
                times.extend(g.expires().map(|e| ("expires", e)));
                rows.push(Row {
                    kind: "producer",
                    topic: g.topic().to_string(),
                    who: g.producer().key_id().to_string(),
                    key: String::new(),
                    detail: String::new(),
                    times,
                    status: status(admin.map(|a| g.verify(&[a], now))),
                });
            }
            Err(e) => rows.push(Row {
                kind: "unreadable",
                topic: String::new(),
                who: path,
                key: String::new(),
                detail: String::new(),
                times: vec![],
                status: format!("REJECTED: unreadable producer grant: {e}"),
            }),
        }
    }
    if json {
        for row in &rows {
            println!("{}", row.json());
        }
        return Ok(());
    }
    println!(
        "{:<11} {:<20} {:<20} {:<17} {:<20} {:<32} status",
        "kind", "topic", "consumer/producer", "delegating key", "t/n shares", "times"
    );
    for row in &rows {
        let times: Vec<String> = row.times.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<11} {:<20} {:<20} {:<17} {:<20} {:<32} {}",
            row.kind,
            row.topic,
            row.who,
            row.key,
            row.detail,
            times.join(" "),
            row.status
        );
    }
    Ok(())
}

pub fn inspect(
    value: Option<&str>,
    edek: Option<&str>,
    sig: Option<&str>,
    cfrags: &[String],
) -> Result<()> {
    if let Some(v) = value {
        let bytes = hex::decode(v.trim())?;
        match EnvelopeRef::parse(&bytes) {
            Ok(s) => println!(
                "value: rewrap envelope v{}, {}, session {}, {} {} bytes",
                s.version(),
                s.algorithm_name(),
                s.session_id(),
                bytes.len() - rewrap::engine::envelope::OVERHEAD,
                if s.algorithm() == rewrap::engine::envelope::ALG_AES_256_GCM {
                    "payload"
                } else {
                    "compressed payload"
                }
            ),
            Err(e) => println!("value: {e}"),
        }
    }
    if let Some(e) = edek {
        let bytes = hex::decode(e.trim())?;
        match EdekRef::parse(&bytes) {
            Ok(p) => println!(
                "edek: v1, topic {:?}, delegating key {}, session {}",
                p.topic().as_str(),
                p.delegating_key_id(),
                p.session_id()
            ),
            Err(err) => println!("edek: {err}"),
        }
    }
    if let Some(s) = sig {
        let bytes = hex::decode(s.trim())?;
        match SessionSignature::parse(&bytes) {
            Ok(p) => println!(
                "sig: {} signing, producer key {}, session opened at {} (not verified here)",
                p.mode().name(),
                p.producer().key_id(),
                p.created()
            ),
            Err(err) => println!("sig: {err}"),
        }
    }
    for c in cfrags {
        let bytes = hex::decode(c.trim())?;
        match CfragRef::parse(&bytes) {
            Ok(p) => println!(
                "cfrag: v1, for consumer key {}, threshold {}",
                p.consumer_key_id(),
                p.threshold()
            ),
            Err(err) => println!("cfrag: {err}"),
        }
    }
    Ok(())
}
