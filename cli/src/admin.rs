//! Administrator commands: keys, grants, revocation, listing and inspection.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};

use clap::Args;
use rewrap::engine::cfrag::CfragRef;
use rewrap::engine::edek::EdekRef;
use rewrap::engine::envelope::EnvelopeRef;
use rewrap::{keyfile, DirGrantStore, Grant, GrantTerms, SecretKey, Signer};

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

pub fn keygen(prefix: &Path, master_seed: Option<&Path>, topic: Option<&str>) -> Result<()> {
    let key = match (master_seed, topic) {
        (Some(seed_file), Some(topic)) => {
            let text = zeroize::Zeroizing::new(std::fs::read_to_string(seed_file)?);
            let seed = zeroize::Zeroizing::new(hex::decode(text.trim())?);
            SecretKey::derive_channel_key(&seed, topic)?
        }
        _ => SecretKey::generate(),
    };
    let public = key.public_key();
    keyfile::write_secret(&with_ext(prefix, ".sec"), &key)?;
    keyfile::write_public(&with_ext(prefix, ".pub"), &public)?;
    println!("key id {}  public {}", public.key_id(), public.to_hex());
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
    /// Delegating secret key file (the producer's or the channel's).
    #[arg(long)]
    delegating: PathBuf,
    /// Topic (the channel); `--channel` is accepted as an alias.
    #[arg(long, alias = "channel")]
    topic: String,
    /// Consumer id as the re-encryptor sees it (Kafka principal or client id).
    #[arg(long)]
    consumer: String,
    /// Consumer public key file.
    #[arg(long)]
    consumer_key: PathBuf,
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
    let delegating = keyfile::read_secret(&a.delegating)?;
    let now = rewrap::now();
    let terms = GrantTerms {
        topic: &a.topic,
        consumer: &a.consumer,
        consumer_key: keyfile::read_public(&a.consumer_key)?,
        threshold: a.threshold,
        shares: a.shares,
        not_before: now,
        expires: a.expires_in.map(|s| now + s),
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

pub fn revoke(store: &Path, topic: &str, consumer: &str) -> Result<()> {
    let removed = DirGrantStore::open(store)?.revoke(topic, consumer)?;
    println!("revoked {consumer} on {topic}: {removed} grant file(s) removed");
    Ok(())
}

pub fn list(store: &Path, admin_pub: Option<&Path>) -> Result<()> {
    let admin = admin_pub.map(keyfile::read_public).transpose()?;
    let now = rewrap::now();
    println!(
        "{:<20} {:<20} {:<17} {:<6} {:<8} status",
        "topic", "consumer", "delegating key", "t/n", "shares"
    );
    for (path, parsed) in DirGrantStore::open(store)?.list()? {
        match parsed {
            Ok(g) => {
                let status = match admin {
                    Some(admin) => match g.verify(&[admin], now) {
                        Ok(_) => "valid".to_string(),
                        Err(e) => format!("REJECTED: {e}"),
                    },
                    None => "unverified (pass --admin-pub)".to_string(),
                };
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
    Ok(())
}

pub fn inspect(value: Option<&str>, edek: Option<&str>, cfrags: &[String]) -> Result<()> {
    if let Some(v) = value {
        let bytes = hex::decode(v.trim())?;
        match EnvelopeRef::parse(&bytes) {
            Ok(s) => println!(
                "value: rewrap envelope v1, AES-256-GCM, session {}, {} payload bytes",
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
