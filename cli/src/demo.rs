//! The seed scenario in one process, on the embedded directory grant store: producers a, b, c
//! write to one channel; consumers 1 and 2 are granted, 3 is not; then 2 is revoked and the
//! producers start new sessions. Prints who read what and the cache hit rates, and fails if
//! any outcome differs from what the access policy says.

use std::collections::BTreeMap;
use std::error::Error as StdError;

use rewrap::{
    Decryptor, DecryptorStats, DirGrantStore, Encryptor, Error, Grant, GrantTerms, Opened,
    PublicKey, ReEncryptor, ReEncryptorStats, SecretKey, Signer, CFRAG_HEADER, EDEK_HEADER,
};

pub(crate) type Result<T> = std::result::Result<T, Box<dyn StdError>>;

pub(crate) const CHANNEL: &str = "orders";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// EDEKs under each producer's own key; one grant per producer and consumer.
    Producer,
    /// EDEKs under the channel key; one grant per consumer.
    Channel,
}

pub(crate) struct Consumer {
    pub id: &'static str,
    pub decryptor: Decryptor,
}

#[derive(Default)]
pub(crate) struct Tally {
    pub read: usize,
    pub refused: BTreeMap<String, usize>,
}

/// Producers a, b, c and consumers 1, 2, 3, with the delegating keys of `mode`.
pub(crate) struct Cast {
    pub delegating: Vec<SecretKey>,
    pub producers: Vec<(&'static str, Encryptor)>,
    pub consumers: Vec<Consumer>,
}

pub(crate) fn cast(mode: Mode, admins: &[PublicKey]) -> Result<Cast> {
    let delegating: Vec<SecretKey> = match mode {
        Mode::Producer => (0..3).map(|_| SecretKey::generate()).collect(),
        Mode::Channel => vec![SecretKey::generate()],
    };
    let producers = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            Ok((
                *name,
                Encryptor::new(delegating[i % delegating.len()].public_key())?,
            ))
        })
        .collect::<Result<_>>()?;
    let consumers = ["1", "2", "3"]
        .iter()
        .map(|id| {
            Ok(Consumer {
                id,
                decryptor: Decryptor::new(SecretKey::generate(), admins)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Cast {
        delegating,
        producers,
        consumers,
    })
}

/// The administrator grants `consumers` (knowing only their public keys) into the store.
pub(crate) fn grant_all(
    store: &DirGrantStore,
    admin: &Signer,
    delegating: &[SecretKey],
    consumers: &[Consumer],
    channel: &str,
) -> Result<()> {
    for key in delegating {
        for c in consumers {
            let terms =
                GrantTerms::one_of_one(channel, c.id, c.decryptor.public_key(), rewrap::now());
            store.put(&Grant::issue(&mut rewrap::rng(), admin, key, &terms)?)?;
        }
    }
    Ok(())
}

pub fn run(messages: usize, mode: Mode) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = DirGrantStore::open(dir.path().join("grants"))?;
    let admin = Signer::new(SecretKey::generate());
    let admins = [admin.verifying_key()];

    let Cast {
        delegating,
        producers,
        consumers,
    } = cast(mode, &admins)?;
    grant_all(&store, &admin, &delegating, &consumers[..2], CHANNEL)?;
    let reencryptor = ReEncryptor::new(&admins)?;
    let report = store.load_into(&reencryptor)?;

    println!("rewrap demo: producers a, b, c -> channel {CHANNEL:?} -> re-encryptor -> consumers 1, 2, 3");
    println!(
        "mode: {}-key; {} delegating key(s); grants in {} ({} loaded): 1 and 2 granted, 3 not\n",
        if mode == Mode::Producer {
            "producer"
        } else {
            "channel"
        },
        delegating.len(),
        store.root().display(),
        report.loaded
    );

    println!("phase 1: {messages} messages");
    let before = Snapshot::take(&reencryptor, &consumers);
    let phase1 = exchange(&producers, &reencryptor, &consumers, messages, "p1")?;
    print_phase(&phase1, &consumers, &reencryptor, &before);
    expect(&phase1, "1", messages)?;
    expect(&phase1, "2", messages)?;
    expect(&phase1, "3", 0)?;

    println!("\nphase 2: revoke consumer 2; producers start new sessions");
    let removed = store.revoke(CHANNEL, "2")?;
    reencryptor.revoke(CHANNEL, "2");
    println!("  store: {removed} grant file(s) removed; re-encryptor purged its fragments for 2");
    for (_, p) in &producers {
        p.rotate();
    }
    let later = messages / 3;
    println!("phase 2: {later} messages");
    let before = Snapshot::take(&reencryptor, &consumers);
    let phase2 = exchange(&producers, &reencryptor, &consumers, later, "p2")?;
    print_phase(&phase2, &consumers, &reencryptor, &before);
    expect(&phase2, "1", later)?;
    expect(&phase2, "2", 0)?;
    expect(&phase2, "3", 0)?;
    println!("\nok: every outcome matches the grants");
    Ok(())
}

/// Each producer seals its share of `count` messages; every consumer fetches every record
/// through the re-encryptor, as a proxy would serve it.
fn exchange(
    producers: &[(&str, Encryptor)],
    reencryptor: &ReEncryptor,
    consumers: &[Consumer],
    count: usize,
    phase: &str,
) -> Result<BTreeMap<&'static str, Tally>> {
    let mut tallies: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for i in 0..count {
        let (name, producer) = &producers[i % producers.len()];
        let payload = format!("{phase} message {i} from producer {name}");
        let record = producer.seal(CHANNEL, payload.as_bytes())?;
        for c in consumers {
            let cfrags = match reencryptor.reencrypt(CHANNEL, &record.edek, c.id) {
                Ok(h) => h.to_vec(),
                Err(Error::NotGranted | Error::Revoked) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let mut headers = vec![(EDEK_HEADER, &record.edek[..])];
            headers.extend(cfrags.iter().map(|c| (CFRAG_HEADER, c.as_slice())));
            let tally = tallies.entry(c.id).or_default();
            match c.decryptor.open(CHANNEL, Some(&record.value), &headers) {
                Ok(Opened::Decrypted(p)) if p == payload.as_bytes() => tally.read += 1,
                Ok(other) => {
                    return Err(format!("consumer {} got a wrong result: {other:?}", c.id).into())
                }
                Err(e) => *tally.refused.entry(format!("{e:?}")).or_default() += 1,
            }
        }
    }
    Ok(tallies)
}

/// Counters before a phase, so each table shows that phase alone.
struct Snapshot {
    reencryptor: ReEncryptorStats,
    consumers: Vec<DecryptorStats>,
}

impl Snapshot {
    fn take(r: &ReEncryptor, consumers: &[Consumer]) -> Self {
        Snapshot {
            reencryptor: r.stats(),
            consumers: consumers.iter().map(|c| c.decryptor.stats()).collect(),
        }
    }
}

fn rate(hits: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * hits as f64 / total as f64
    }
}

fn print_phase(
    tallies: &BTreeMap<&str, Tally>,
    consumers: &[Consumer],
    r: &ReEncryptor,
    before: &Snapshot,
) {
    println!(
        "  {:<9} {:>6} {:>8}  {:<14} {:>9} {:>14}",
        "consumer", "read", "refused", "error", "DEK opens", "DEK cache hits"
    );
    for (c, was) in consumers.iter().zip(&before.consumers) {
        let t = &tallies[c.id];
        let refused: usize = t.refused.values().sum();
        let error = t.refused.keys().next().map_or("-", String::as_str);
        let now = c.decryptor.stats();
        let hits = now.cache.hits - was.cache.hits;
        let lookups = hits + now.cache.misses - was.cache.misses;
        println!(
            "  {:<9} {:>6} {:>8}  {:<14} {:>9} {:>13.1}%",
            c.id,
            t.read,
            refused,
            error,
            now.dek_opens - was.dek_opens,
            rate(hits, lookups)
        );
    }
    let (s, was) = (r.stats(), &before.reencryptor);
    // Refused requests never reach the fragment cache: every look-up is a served fetch.
    let served = (s.cache.hits + s.cache.misses) - (was.cache.hits + was.cache.misses);
    let refused = s.refused - was.refused;
    let fetches = served + refused;
    let hits = s.cache.hits - was.cache.hits;
    println!(
        "  re-encryptor: {fetches} fetches, {refused} refused (not granted or revoked); {served} served with {} Umbral re-encryption(s), fragment cache hit rate {:.1}%",
        s.reencryptions - was.reencryptions,
        rate(hits, served)
    );
}

pub(crate) fn expect(tallies: &BTreeMap<&str, Tally>, consumer: &str, read: usize) -> Result<()> {
    let got = tallies[consumer].read;
    if got != read {
        return Err(format!("consumer {consumer} read {got} messages, policy says {read}").into());
    }
    Ok(())
}
