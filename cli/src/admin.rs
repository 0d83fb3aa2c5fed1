//! Administrator commands: keys, grants (consumer and producer), revocation, listing and
//! inspection.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};

use clap::Args;
use rewrap::engine::cfrag::CfragRef;
use rewrap::engine::edek::EdekRef;
use rewrap::engine::envelope::EnvelopeRef;
use rewrap::engine::signing::SessionSignature;
use rewrap::{keyfile, DirGrantStore, Grant, GrantTerms, ProducerGrant, SecretKey, Signer};

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

#[derive(Args)]
pub struct GrantArgs {
    /// Grant store directory.
    #[arg(long)]
    store: PathBuf,
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
    /// Seconds until the grant expires (default: never).
    #[arg(long)]
    expires_in: Option<u64>,
}

pub fn grant(a: &GrantArgs) -> Result<()> {
    let admin = Signer::new(keyfile::read_secret(&a.admin)?);
    let now = rewrap::now();
    let expires = a.expires_in.map(|s| now + s);
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
        let path = DirGrantStore::open(&a.store)?.put_producer(&grant)?;
        println!(
            "wrote {} (producer {} may produce to {:?})",
            path.display(),
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
    };
    let grant = Grant::issue(&mut rewrap::rng(), &admin, &delegating, &terms)?;
    let store = DirGrantStore::open(&a.store)?;
    if a.shares == 1 {
        println!("wrote {}", store.put(&grant)?.display());
    } else {
        // One store per re-encryptor: STORE/share-I holds share I.
        for i in 0..a.shares {
            let dir = DirGrantStore::open(a.store.join(format!("share-{i}")))?;
            println!("wrote {}", dir.put(&grant.share(i)?)?.display());
        }
    }
    Ok(())
}

/// Who a revoke is for.
pub enum Revoked<'a> {
    /// A consumer id: every grant of it on the topic.
    Consumer(&'a str),
    /// A producer signing public key file: its producer grant on the topic.
    Producer(&'a Path),
}

pub fn revoke(store: &Path, topic: &str, who: Revoked<'_>) -> Result<()> {
    let store = DirGrantStore::open(store)?;
    match who {
        Revoked::Consumer(consumer) => {
            let removed = store.revoke(topic, consumer)?;
            println!("revoked {consumer} on {topic}: {removed} grant file(s) removed");
        }
        Revoked::Producer(key) => {
            let id = keyfile::read_public(key)?.key_id();
            let removed = store.revoke_producer(topic, Some(&id))?;
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

pub fn list(store: &Path, admin_pub: Option<&Path>) -> Result<()> {
    let admin = admin_pub.map(keyfile::read_public).transpose()?;
    let now = rewrap::now();
    let store = DirGrantStore::open(store)?;
    println!(
        "{:<20} {:<20} {:<17} {:<6} {:<8} status",
        "topic", "consumer", "delegating key", "t/n", "shares"
    );
    for (path, parsed) in store.list()? {
        match parsed {
            Ok(g) => {
                let status = status(admin.map(|a| g.verify(&[a], now).map(|_| ())));
                println!(
                    "{:<20} {:<20} {:<17} {:<6} {:<8} {status}",
                    g.topic(),
                    g.consumer(),
                    g.delegating_key().key_id().to_string(),
                    format!("{}/{}", g.threshold(), g.shares()),
                    format!("{:?}", g.share_indices()),
                );
            }
            Err(e) => println!("{}: unreadable grant: {e}", path.display()),
        }
    }
    let producers = store.list_producers()?;
    if producers.is_empty() {
        return Ok(());
    }
    println!(
        "\n{:<20} {:<20} {:<21} status",
        "topic", "producer key", "valid"
    );
    for (path, parsed) in producers {
        match parsed {
            Ok(g) => {
                let until = g.expires().map_or("forever".to_string(), |e| e.to_string());
                println!(
                    "{:<20} {:<20} {:<21} {}",
                    g.topic(),
                    g.producer().key_id().to_string(),
                    format!("{}..{until}", g.not_before()),
                    status(admin.map(|a| g.verify(&[a], now)))
                );
            }
            Err(e) => println!("{}: unreadable producer grant: {e}", path.display()),
        }
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
                "value: rewrap envelope v{}, AES-256-GCM, session {}, {} payload bytes",
                s.version(),
                s.session_id(),
                bytes.len() - rewrap::engine::envelope::OVERHEAD
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
