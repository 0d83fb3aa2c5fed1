//! The seed scenario against a real broker and a running rewrap proxy: producers a, b, c
//! write sealed, signed records straight to the broker; consumers 1, 2, 3 read through the
//! proxy, which follows the grant store this demo writes (the proxy must trust `--admin`'s
//! key): consumer grants and the producers' grants, without which a proxy under policy
//! `require` serves no cfrags. The consumers verify the producers against the same producer
//! grants (the proxy needs no channel signing seed). Then 2 is revoked in the store (no proxy
//! restart) and the producers start new sessions.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use rewrap::{DirGrantStore, Encryptor, Revocation, Signer};

use crate::console::{owned_headers, record_headers};
use crate::demo::{
    authorize_producers, cast, expect, expect_verified, grant_all, trust_producers, Cast, Consumer,
    Mode, Result, Tally, CHANNEL,
};

/// Where the demo runs.
pub struct Target<'a> {
    pub broker: &'a str,
    pub proxy: &'a str,
    pub store: &'a Path,
    pub admin: &'a Path,
}

/// Waits long enough for the proxy to see a store change (it polls every 500 ms by default).
const RELOAD: Duration = Duration::from_millis(1500);

pub fn run(messages: usize, mode: Mode, target: &Target<'_>) -> Result<()> {
    let admin = Signer::new(rewrap::keyfile::read_secret(target.admin)?);
    let admins = [admin.verifying_key()];
    let store = DirGrantStore::open(target.store)?;
    let topic = format!("{CHANNEL}-{:x}", rewrap::now());
    let Cast {
        delegating,
        signers,
        producers,
        consumers,
    } = cast(mode, &admins)?;
    grant_all(&store, &admin, &delegating, &consumers[..2], &topic)?;
    authorize_producers(&store, &admin, &signers, &topic)?;
    for c in &consumers {
        trust_producers(&store, c, &topic)?;
    }
    std::thread::sleep(RELOAD);

    println!(
        "rewrap demo on Kafka: producers a, b, c -> broker {} -> proxy {} -> consumers 1, 2, 3",
        target.broker, target.proxy
    );
    println!(
        "topic {topic:?}; {}-key mode; grants in {}: 1 and 2 granted, 3 not\n",
        if mode == Mode::Producer {
            "producer"
        } else {
            "channel"
        },
        store.root().display()
    );
    println!(
        "signing: a, b, c sign every session; {} producer grant(s) in the store (the proxy \
         follows them, policy require); consumers verify producers against them\n",
        signers.len()
    );
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", target.broker)
        .set("linger.ms", "5")
        .create()?;
    let readers = consumers
        .iter()
        .map(|c| reader(target.proxy, &topic, c))
        .collect::<Result<Vec<_>>>()?;

    println!("phase 1: {messages} signed messages");
    produce(&producer, &producers, &topic, messages, "p1")?;
    let phase1 = read_all(&readers, &consumers, &topic, messages)?;
    print_phase(&phase1, &consumers);
    expect(&phase1, "1", messages)?;
    expect(&phase1, "2", messages)?;
    expect(&phase1, "3", 0)?;
    expect_verified(&phase1, "1", "producer")?;
    expect_verified(&phase1, "2", "producer")?;

    println!(
        "\nphase 2: revoke consumer 2 in the store (the proxy follows it); new producer sessions"
    );
    let revocation = Revocation::issue(
        &mut rewrap::rng(),
        &admin,
        &topic,
        "2",
        None,
        rewrap::now_millis(),
    )?;
    let removed = store.put_revocation(&revocation)?.len();
    std::thread::sleep(RELOAD);
    for (_, p) in &producers {
        p.rotate();
    }
    let later = messages / 3;
    println!("  store: {removed} signed revocation written\nphase 2: {later} signed messages");
    produce(&producer, &producers, &topic, later, "p2")?;
    let phase2 = read_all(&readers, &consumers, &topic, later)?;
    print_phase(&phase2, &consumers);
    expect(&phase2, "1", later)?;
    expect(&phase2, "2", 0)?;
    expect(&phase2, "3", 0)?;
    println!(
        "\nok: every outcome over Kafka matches the grants; all {} records read were signed \
         and verified against the producer grants",
        phase1["1"].read + phase1["2"].read + phase2["1"].read
    );
    Ok(())
}

fn reader(proxy: &str, topic: &str, c: &Consumer) -> Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", proxy)
        .set("client.id", c.id)
        .set("group.id", format!("{topic}-consumer-{}", c.id))
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

fn produce(
    producer: &BaseProducer,
    producers: &[(&str, Encryptor)],
    topic: &str,
    count: usize,
    phase: &str,
) -> Result<()> {
    for i in 0..count {
        let (name, enc) = &producers[i % producers.len()];
        let payload = format!("{phase} message {i} from producer {name}");
        // The record key is bound to the value: a consumer opens it only under this key.
        let sealed = enc.seal(topic, Some(name.as_bytes()), payload.as_bytes())?;
        let headers = owned_headers(&sealed);
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .key(name.as_bytes())
            .payload(&sealed.value[..])
            .headers(headers);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, r)) => {
                    if e.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::QueueFull) {
                        return Err(e.into());
                    }
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60))?;
    Ok(())
}

fn read_all(
    readers: &[BaseConsumer],
    consumers: &[Consumer],
    topic: &str,
    count: usize,
) -> Result<BTreeMap<&'static str, Tally>> {
    let mut tallies: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for (reader, c) in readers.iter().zip(consumers) {
        let tally = tallies.entry(c.id).or_default();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = 0;
        while seen < count {
            if Instant::now() > deadline {
                return Err(format!("consumer {} saw {seen} of {count} records", c.id).into());
            }
            let Some(m) = reader.poll(Duration::from_millis(500)) else {
                continue;
            };
            let m = match m {
                Ok(m) => m,
                // Subscribed before the first produce created the topic: not an error yet.
                Err(rdkafka::error::KafkaError::MessageConsumption(
                    rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
                )) => continue,
                Err(e) => return Err(e.into()),
            };
            seen += 1;
            // Not rdkafka's own iterator: a forged header name that is not UTF-8 panics it.
            let headers = m.headers().map(record_headers).unwrap_or_default();
            let opened = c.decryptor.open(topic, m.key(), m.payload(), &headers);
            tally.count(c.id, opened, |p| p.starts_with(b"p"))?;
        }
    }
    Ok(tallies)
}

fn print_phase(tallies: &BTreeMap<&str, Tally>, consumers: &[Consumer]) {
    println!(
        "  {:<9} {:>6} {:>8}  {:<32} {:<16} {:>9}",
        "consumer", "read", "refused", "error", "verified by", "DEK opens"
    );
    for c in consumers {
        let t = &tallies[c.id];
        println!(
            "  {:<9} {:>6} {:>8}  {:<32} {:<16} {:>9}",
            c.id,
            t.read,
            t.refused.values().sum::<usize>(),
            t.errors(),
            t.verified(),
            c.decryptor.stats().dek_opens
        );
    }
}
