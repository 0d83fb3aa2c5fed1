//! The seed scenario in one process, on the embedded directory grant store: producers a, b, c
//! write to one channel, each signing its sessions with a key the administrator authorized
//! (a producer grant in the store); consumers 1 and 2 are granted, 3 is not; a forger who
//! knows only the public delegating key is refused by everyone; then 2 is revoked and the
//! producers start new sessions. Prints who read what, how each record was verified and the
//! cache hit rates, and fails if any outcome differs from what the grants say.

use std::collections::BTreeMap;
use std::error::Error as StdError;

use rewrap::{
    Decryptor, DecryptorStats, DirGrantStore, Encryptor, Error, Grant, GrantTerms, Opened,
    ProducerGrant, PublicKey, ReEncryptor, ReEncryptorStats, Revocation, SecretKey, Signer,
    SigningMode, CFRAG_HEADER, CHANNEL_SIG_HEADER,
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
    /// Records read, by how their producer was verified (`Vouch::name`).
    pub verified: BTreeMap<&'static str, usize>,
}

impl Tally {
    /// Counts one `open` of a record whose payload should be `expected`.
    pub fn count(
        &mut self,
        consumer: &str,
        opened: rewrap::Result<Opened>,
        expected: impl FnOnce(&[u8]) -> bool,
    ) -> Result<()> {
        match opened {
            Ok(Opened::Decrypted(d)) if expected(&d.payload) => {
                self.read += 1;
                *self.verified.entry(d.vouch.name()).or_default() += 1;
            }
            Ok(other) => {
                return Err(format!("consumer {consumer} got a wrong result: {other:?}").into())
            }
            Err(e) => *self.refused.entry(format!("{e:?}")).or_default() += 1,
        }
        Ok(())
    }

    /// "producer 400" or "channel 400, producer 3": how the records read were verified.
    pub fn verified(&self) -> String {
        let parts: Vec<String> = self
            .verified
            .iter()
            .map(|(how, n)| format!("{how} {n}"))
            .collect();
        if parts.is_empty() {
            "-".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The refusals' error names, joined.
    pub fn errors(&self) -> String {
        if self.refused.is_empty() {
            "-".to_string()
        } else {
            self.refused.keys().cloned().collect::<Vec<_>>().join("+")
        }
    }
}

/// Producers a, b, c (each signing its sessions with its own key) and consumers 1, 2, 3,
/// with the delegating keys of `mode`.
pub(crate) struct Cast {
    pub delegating: Vec<SecretKey>,
    /// The producers' signing public keys, for their producer grants.
    pub signers: Vec<PublicKey>,
    pub producers: Vec<(&'static str, Encryptor)>,
    pub consumers: Vec<Consumer>,
}

pub(crate) fn cast(mode: Mode, admins: &[PublicKey]) -> Result<Cast> {
    let delegating: Vec<SecretKey> = match mode {
        Mode::Producer => (0..3).map(|_| SecretKey::generate()).collect(),
        Mode::Channel => vec![SecretKey::generate()],
    };
    let mut signers = Vec::new();
    let producers = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let enc = Encryptor::new(delegating[i % delegating.len()].public_key())?;
            let signing = SecretKey::generate();
            enc.set_signer(Some((&signing, SigningMode::Session)));
            signers.push(signing.public_key());
            Ok((*name, enc))
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
        signers,
        producers,
        consumers,
    })
}

/// The administrator authorizes each producer's signing key on `channel` (producer grants in
/// the store, which the re-encryptor follows).
pub(crate) fn authorize_producers(
    store: &DirGrantStore,
    admin: &Signer,
    signers: &[PublicKey],
    channel: &str,
) -> Result<()> {
    for key in signers {
        let grant =
            ProducerGrant::issue(&mut rewrap::rng(), admin, channel, key, rewrap::now(), None)?;
        store.put_producer(&grant)?;
    }
    Ok(())
}

/// Installs the store's producer grants for `channel` in `consumer` (each verifies them
/// against the administrator key it trusts); returns how many.
pub(crate) fn trust_producers(
    store: &DirGrantStore,
    consumer: &Consumer,
    channel: &str,
) -> Result<usize> {
    let mut installed = 0;
    for (path, parsed) in store.list_producers()? {
        let grant = parsed.map_err(|e| format!("{}: {e}", path.display()))?;
        if grant.topic() == channel {
            consumer.decryptor.add_producer_grant(&grant)?;
            installed += 1;
        }
    }
    Ok(installed)
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
        signers,
        producers,
        consumers,
    } = cast(mode, &admins)?;
    grant_all(&store, &admin, &delegating, &consumers[..2], CHANNEL)?;
    authorize_producers(&store, &admin, &signers, CHANNEL)?;
    let reencryptor = ReEncryptor::new(&admins)?;
    let report = store.load_into(&reencryptor)?;
    let producer_grants: Vec<ProducerGrant> = store
        .list_producers()?
        .into_iter()
        .filter_map(|(_, g)| g.ok())
        .collect();
    let refused = reencryptor.replace_producer_grants(&producer_grants);
    if let Some((_, e)) = refused.first() {
        return Err(format!("the re-encryptor refused a producer grant: {e}").into());
    }
    // The re-encryptor vouches for the sessions it checked with a channel signature;
    // consumer 1 trusts only that channel key, 2 and 3 hold the producer grants themselves.
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rewrap::rng(), &mut seed[..]);
    reencryptor.set_channel_seed(Some(&seed[..]))?;
    let channel_key = reencryptor
        .channel_key(CHANNEL)?
        .ok_or("a seeded re-encryptor has a channel key")?;
    consumers[0]
        .decryptor
        .trust_channel_key(CHANNEL, channel_key)?;
    for c in &consumers[1..] {
        trust_producers(&store, c, CHANNEL)?;
    }

    println!("rewrap demo: producers a, b, c -> channel {CHANNEL:?} -> re-encryptor -> consumers 1, 2, 3");
    println!(
        "mode: {}-key; {} delegating key(s); grants in {} ({} loaded): 1 and 2 granted, 3 not",
        if mode == Mode::Producer {
            "producer"
        } else {
            "channel"
        },
        delegating.len(),
        store.root().display(),
        report.loaded
    );
    println!(
        "signing: a, b, c sign every session (session mode); {} producer grant(s) in the store; \
         policy require everywhere.\n  the re-encryptor checks each session once and attaches \
         a channel signature (key {});\n  consumer 1 trusts that channel key, 2 and 3 verify \
         producers against the producer grants\n",
        producer_grants.len(),
        channel_key.key_id()
    );

    println!("phase 1: {messages} signed messages");
    let before = Snapshot::take(&reencryptor, &consumers);
    let phase1 = exchange(&producers, &reencryptor, &consumers, messages, "p1")?;
    print_phase(&phase1, &consumers, &reencryptor, &before);
    expect(&phase1.tallies, "1", messages)?;
    expect(&phase1.tallies, "2", messages)?;
    expect(&phase1.tallies, "3", 0)?;
    expect_verified(&phase1.tallies, "1", "channel")?;
    expect_verified(&phase1.tallies, "2", "producer")?;

    // Anyone can encrypt to the public delegating key; only authorized producers can sign.
    let forged = 20;
    println!(
        "\nforgery: an outsider with the public delegating key writes {forged} records, half \
         unsigned, half signed with its own (ungranted) key"
    );
    let unsigned = Encryptor::new(delegating[0].public_key())?;
    let signed = Encryptor::new(delegating[0].public_key())?;
    signed.set_signer(Some((&SecretKey::generate(), SigningMode::Session)));
    let forgers = [("x", unsigned), ("y", signed)];
    let before = Snapshot::take(&reencryptor, &consumers);
    let forgery = exchange(&forgers, &reencryptor, &consumers, forged, "forged")?;
    print_phase(&forgery, &consumers, &reencryptor, &before);
    for c in ["1", "2", "3"] {
        expect(&forgery.tallies, c, 0)?;
    }
    if forgery.attested != 0 {
        return Err("the re-encryptor vouched for a forged record".into());
    }

    println!("\nphase 2: revoke consumer 2; producers start new sessions");
    let revocation = Revocation::issue(
        &mut rewrap::rng(),
        &admin,
        CHANNEL,
        "2",
        None,
        rewrap::now_millis(),
    )?;
    let written = store.put_revocation(&revocation)?;
    reencryptor.add_revocation(&revocation)?;
    println!(
        "  store: signed revocation written ({} file); the re-encryptor dropped 2's grant and \
         purged its fragments",
        written.len()
    );
    for (_, p) in &producers {
        p.rotate();
    }
    let later = messages / 3;
    println!("phase 2: {later} signed messages");
    let before = Snapshot::take(&reencryptor, &consumers);
    let phase2 = exchange(&producers, &reencryptor, &consumers, later, "p2")?;
    print_phase(&phase2, &consumers, &reencryptor, &before);
    expect(&phase2.tallies, "1", later)?;
    expect(&phase2.tallies, "2", 0)?;
    expect(&phase2.tallies, "3", 0)?;
    println!(
        "\nok: every outcome matches the grants; every record read was signed by an authorized \
         producer and verified ({} by channel signature, {} by producer grant); forgeries refused",
        phase1.tallies["1"].read + phase2.tallies["1"].read,
        phase1.tallies["2"].read
    );
    Ok(())
}

/// What one phase did: per-consumer tallies and the re-encryptor's signature checks.
struct Phase {
    tallies: BTreeMap<&'static str, Tally>,
    /// Records the re-encryptor vouched for (a channel signature attached).
    attested: usize,
    /// Records it refused cfrags because they failed the producer policy, by error.
    unattested: BTreeMap<String, usize>,
}

/// Each producer seals its share of `count` messages (keyed by the producer's name); every
/// consumer fetches every record through the re-encryptor, as a proxy would serve it: the
/// producer's signature is checked first (a refused record gets no cfrag), then the
/// consumer's fragments and the channel signature are attached.
fn exchange(
    producers: &[(&str, Encryptor)],
    reencryptor: &ReEncryptor,
    consumers: &[Consumer],
    count: usize,
    phase: &str,
) -> Result<Phase> {
    let mut out = Phase {
        tallies: BTreeMap::new(),
        attested: 0,
        unattested: BTreeMap::new(),
    };
    for i in 0..count {
        let (name, producer) = &producers[i % producers.len()];
        let key = name.as_bytes();
        let payload = format!("{phase} message {i} from producer {name}");
        let record = producer.seal(CHANNEL, Some(key), payload.as_bytes())?;
        let chsig = match reencryptor.attest(CHANNEL, &record.edek, record.sig.as_deref(), None) {
            Ok(chsig) => {
                out.attested += 1;
                Some(chsig)
            }
            Err(e) => {
                *out.unattested.entry(format!("{e:?}")).or_default() += 1;
                None
            }
        };
        for c in consumers {
            let cfrags = match chsig {
                None => Vec::new(),
                Some(_) => match reencryptor.reencrypt(CHANNEL, &record.edek, c.id) {
                    Ok(h) => h.to_vec(),
                    Err(Error::NotGranted | Error::Revoked) => Vec::new(),
                    Err(e) => return Err(e.into()),
                },
            };
            let mut headers = record.headers();
            if let Some(Some(chsig)) = &chsig {
                headers.push((CHANNEL_SIG_HEADER, &chsig[..]));
            }
            headers.extend(cfrags.iter().map(|c| (CFRAG_HEADER, c.as_slice())));
            let opened = c
                .decryptor
                .open(CHANNEL, Some(key), Some(&record.value), &headers);
            out.tallies
                .entry(c.id)
                .or_default()
                .count(c.id, opened, |p| p == payload.as_bytes())?;
        }
    }
    Ok(out)
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

fn print_phase(phase: &Phase, consumers: &[Consumer], r: &ReEncryptor, before: &Snapshot) {
    println!(
        "  {:<9} {:>6} {:>8}  {:<32} {:<16} {:>9} {:>14}",
        "consumer", "read", "refused", "error", "verified by", "DEK opens", "DEK cache hits"
    );
    for (c, was) in consumers.iter().zip(&before.consumers) {
        let t = &phase.tallies[c.id];
        let refused: usize = t.refused.values().sum();
        let now = c.decryptor.stats();
        let hits = now.cache.hits - was.cache.hits;
        let lookups = hits + now.cache.misses - was.cache.misses;
        println!(
            "  {:<9} {:>6} {:>8}  {:<32} {:<16} {:>9} {:>13.1}%",
            c.id,
            t.read,
            refused,
            t.errors(),
            t.verified(),
            now.dek_opens - was.dek_opens,
            rate(hits, lookups)
        );
    }
    let unattested: usize = phase.unattested.values().sum();
    let why: Vec<&str> = phase.unattested.keys().map(String::as_str).collect();
    println!(
        "  re-encryptor signatures: {} record(s) vouched for with a channel signature, {unattested} refused{}",
        phase.attested,
        if why.is_empty() {
            String::new()
        } else {
            format!(" ({}; passed without cfrags)", why.join(", "))
        }
    );
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

/// Fails unless every record `consumer` read was verified `how` (`Vouch::name`).
pub(crate) fn expect_verified(
    tallies: &BTreeMap<&str, Tally>,
    consumer: &str,
    how: &str,
) -> Result<()> {
    let t = &tallies[consumer];
    if t.verified.get(how) != Some(&t.read) {
        return Err(format!(
            "consumer {consumer}'s records were verified by {}, expected all by {how}",
            t.verified()
        )
        .into());
    }
    Ok(())
}
