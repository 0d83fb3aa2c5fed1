//! `rewrap produce` and `rewrap consume`: console clients for quick checks without a JVM —
//! lines on stdin become sealed records on a topic; records read through the proxy come out
//! opened, one payload per line. A line is the bytes up to a newline, so a payload holding a
//! newline does not survive the round trip; anything else does, byte for byte.

use std::path::PathBuf;

use clap::Args;

use crate::registry::{key_value, RegistryArgs};

/// `rewrap produce`.
#[derive(Args)]
pub struct ProduceArgs {
    /// Kafka bootstrap servers to write to (the broker, or the rewrap proxy in front of it).
    #[arg(long)]
    broker: String,
    /// Topic (the channel); `--channel` is accepted as an alias.
    #[arg(long, alias = "channel")]
    topic: String,
    /// Delegating public key file the records' DEKs are sealed to: the channel's
    /// (channel-key mode) or the producer's own (producer-key mode).
    #[arg(long)]
    delegating_key: PathBuf,
    /// Producer signing secret key file (`rewrap keygen --signer`, authorized with `rewrap
    /// grant --producer`). Without it records are unsigned, which consumers and proxies refuse
    /// under the default policy `require`.
    #[arg(long)]
    signer: Option<PathBuf>,
    /// Sign every record instead of once per session (record signatures).
    #[arg(long, requires = "signer")]
    sign_records: bool,
    /// Split each line at the first SEP into the record key (left in plaintext, bound to the
    /// value) and the payload; a line without SEP has a null key.
    #[arg(long, value_name = "SEP")]
    key_separator: Option<String>,
    /// More librdkafka producer properties (KEY=VALUE, repeatable), e.g.
    /// security.protocol=SASL_SSL or compression.type=zstd.
    #[arg(long = "property", value_parser = key_value)]
    properties: Vec<(String, String)>,
}

/// `rewrap consume`.
#[derive(Args)]
pub struct ConsumeArgs {
    /// Kafka bootstrap servers to read from: the rewrap proxy in front of the broker (read
    /// straight from the broker, every record fails closed with MissingCfrag).
    #[arg(long)]
    proxy: String,
    /// Topic (the channel); `--channel` is accepted as an alias.
    #[arg(long, alias = "channel")]
    topic: String,
    /// Consumer id, sent as the Kafka client id: the id the proxy finds grants under when the
    /// connection has no SASL principal.
    #[arg(long)]
    consumer: String,
    /// The consumer's secret key file.
    #[arg(long)]
    secret: PathBuf,
    /// Administrator public key file: grants (and producer grants) it signed are trusted
    /// (repeatable).
    #[arg(long, required = true)]
    admin_pub: Vec<PathBuf>,
    /// Grant store directory holding the topic's producer grants (or --registry), to verify
    /// producers against.
    #[arg(long)]
    store: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Trust this public key file as the topic's channel signing key (`rewrap channel-key
    /// --out`), for a proxy that converts producer signatures.
    #[arg(long)]
    channel_key: Option<PathBuf>,
    /// Producer signature policy: require, optional or off (migration only). Under optional
    /// or off an unsigned record (anyone holding the delegating public key can seal one) is
    /// printed and named on stderr as `unsigned`.
    #[arg(long, default_value = "require", value_parser = ["require", "optional", "off"])]
    policy: String,
    /// Start at the beginning of every partition (default: only records produced from now on).
    #[arg(long)]
    from_beginning: bool,
    /// Stop after N records, opened or not.
    #[arg(long, value_name = "N")]
    max: Option<u64>,
    /// Stop after SECS seconds without a record (default: run until --max or interrupted).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// More librdkafka consumer properties (KEY=VALUE, repeatable); --registry-property
    /// configures the registry's connection.
    #[arg(long = "property", value_parser = key_value)]
    client_properties: Vec<(String, String)>,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Reads stdin to its end, one sealed record per line; fails if any record was not delivered.
pub fn produce(args: &ProduceArgs) -> Result<()> {
    imp::produce(args)
}

/// Prints each record it opens on stdout, one per line, and each it cannot open as a named
/// error on stderr; fails at the end (exit status 1) if any record could not be opened, so a
/// script learns of a refusal without losing the records that did open.
pub fn consume(args: &ConsumeArgs) -> Result<()> {
    imp::consume(args)
}

#[cfg(not(feature = "kafka"))]
mod imp {
    use super::{ConsumeArgs, ProduceArgs, Result};

    const NO_KAFKA: &str =
        "this rewrap was built without Kafka support: cargo build -p rewrap-cli --features kafka";

    pub fn produce(_: &ProduceArgs) -> Result<()> {
        Err(NO_KAFKA.into())
    }

    pub fn consume(_: &ConsumeArgs) -> Result<()> {
        Err(NO_KAFKA.into())
    }
}

#[cfg(feature = "kafka")]
pub(crate) use imp::{owned_headers, record_headers};

#[cfg(feature = "kafka")]
mod imp {
    use std::collections::BTreeMap;
    use std::io::{BufRead, Write};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::error::KafkaError;
    use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
    use rdkafka::types::RDKafkaErrorCode;
    use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
    use rewrap::{keyfile, Decryptor, Encryptor, GrantStore, Opened, Policy, SigningMode, Vouch};

    use super::{ConsumeArgs, ProduceArgs, Result};

    /// How long metadata, the final flush and a topic's first appearance may take.
    const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);

    /// Counts records the broker did not take (librdkafka reports them after `send`).
    #[derive(Default)]
    struct Deliveries {
        failed: AtomicU64,
        first_error: Mutex<Option<String>>,
    }

    impl ClientContext for Deliveries {}

    impl ProducerContext for Deliveries {
        type DeliveryOpaque = ();

        fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
            if let Err((e, _)) = result {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }

    fn config(bootstrap: &str, properties: &[(String, String)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", bootstrap);
        for (k, v) in properties {
            config.set(k, v);
        }
        config
    }

    pub fn produce(a: &ProduceArgs) -> Result<()> {
        let encryptor = Encryptor::new(keyfile::read_public(&a.delegating_key)?)?;
        if let Some(path) = &a.signer {
            let signing = keyfile::read_secret(path)?;
            let mode = if a.sign_records {
                SigningMode::Record
            } else {
                SigningMode::Session
            };
            encryptor.set_signer(Some((&signing, mode)));
        }
        let producer: BaseProducer<Deliveries> =
            config(&a.broker, &a.properties).create_with_context(Deliveries::default())?;
        let separator = a.key_separator.as_deref().map(str::as_bytes);

        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        let mut sent = 0u64;
        loop {
            line.clear();
            if stdin.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let (key, payload) = match separator.and_then(|sep| split_once(&line, sep)) {
                Some((key, payload)) => (Some(key), payload),
                None => (None, &line[..]),
            };
            let sealed = encryptor.seal(&a.topic, key, payload)?;
            let headers = owned_headers(&sealed);
            let mut record = BaseRecord::<[u8], [u8]>::to(&a.topic)
                .payload(&sealed.value[..])
                .headers(headers);
            if let Some(key) = key {
                record = record.key(key);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            }
            producer.poll(Duration::ZERO);
            sent += 1;
        }
        producer.flush(KAFKA_TIMEOUT)?;
        let failed = producer.context().failed.load(Ordering::Relaxed);
        if failed > 0 {
            let first = producer
                .context()
                .first_error
                .lock()
                .map_or_else(|p| p.into_inner().clone(), |first| first.clone());
            return Err(format!(
                "{failed} of {sent} records were not delivered to {:?} (first error: {})",
                a.topic,
                first.unwrap_or_default()
            )
            .into());
        }
        let signing = match (&a.signer, a.sign_records) {
            (None, _) => "unsigned",
            (Some(_), false) => "session signatures",
            (Some(_), true) => "record signatures",
        };
        eprintln!(
            "produced {sent} sealed record(s) to {:?} ({signing})",
            a.topic
        );
        Ok(())
    }

    fn split_once<'a>(line: &'a [u8], sep: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
        if sep.is_empty() {
            return None;
        }
        let at = line.windows(sep.len()).position(|w| w == sep)?;
        Some((&line[..at], &line[at + sep.len()..]))
    }

    /// The consumer's decryptor, trusting the administrators, the topic's producer grants
    /// from the store and the channel key given.
    fn decryptor(a: &ConsumeArgs) -> Result<Decryptor> {
        let admins = a
            .admin_pub
            .iter()
            .map(|p| keyfile::read_public(p))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let decryptor = Decryptor::new(keyfile::read_secret(&a.secret)?, &admins)?;
        decryptor.set_policy(Some(&a.topic), Policy::parse(&a.policy)?)?;
        if let Some(path) = &a.channel_key {
            decryptor.trust_channel_key(&a.topic, keyfile::read_public(path)?)?;
        }
        let store: Option<Box<dyn GrantStore>> = match (&a.store, &a.registry.registry) {
            (Some(dir), _) => Some(Box::new(rewrap::DirGrantStore::open(dir)?)),
            (None, Some(_)) => Some(crate::registry::open(&a.registry)?),
            (None, None) => None,
        };
        if let Some(store) = store {
            for (place, grant) in store.snapshot()?.producers {
                // Another topic's grants are no business of this consumer; a bad one is named.
                match grant {
                    Ok(g) if g.topic() != a.topic => {}
                    Ok(g) => {
                        if let Err(e) = decryptor.add_producer_grant(&g) {
                            eprintln!("rewrap: producer grant {place} not accepted: {e}");
                        }
                    }
                    Err(e) => eprintln!("rewrap: producer grant {place} unreadable: {e}"),
                }
            }
        }
        Ok(decryptor)
    }

    /// Every partition of the topic, at the beginning or the end; waits for the topic to
    /// appear (a producer may create it just after this starts).
    fn assignment(consumer: &BaseConsumer, a: &ConsumeArgs) -> Result<TopicPartitionList> {
        let offset = if a.from_beginning {
            Offset::Beginning
        } else {
            Offset::End
        };
        let deadline = Instant::now() + KAFKA_TIMEOUT;
        loop {
            let metadata = consumer.fetch_metadata(Some(&a.topic), KAFKA_TIMEOUT)?;
            let topic = metadata.topics().iter().find(|t| t.name() == a.topic);
            if let Some(t) = topic.filter(|t| t.error().is_none() && !t.partitions().is_empty()) {
                let mut list = TopicPartitionList::new();
                for p in t.partitions() {
                    list.add_partition_offset(&a.topic, p.id(), offset)?;
                }
                return Ok(list);
            }
            if Instant::now() > deadline {
                return Err(format!("topic {:?} not found at {}", a.topic, a.proxy).into());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A sealed record's headers (`rewrap.edek`, `rewrap.sig`, ...) for an rdkafka record.
    pub(crate) fn owned_headers(sealed: &rewrap::SealedRecord) -> OwnedHeaders {
        sealed
            .headers()
            .into_iter()
            .fold(OwnedHeaders::new(), |h, (key, value)| {
                h.insert(Header {
                    key,
                    value: Some(value),
                })
            })
    }

    /// The record's headers as (name, value), a null value as empty. A name that is not UTF-8
    /// is left out (no rewrap header is named so): rdkafka's own `Headers::iter` panics on one
    /// (rdkafka 0.38, `BorrowedHeaders::try_get` unwraps `to_str`), and anyone who can write to
    /// the topic can put one there.
    pub(crate) fn record_headers(h: &BorrowedHeaders) -> Vec<(&str, &[u8])> {
        use rdkafka::bindings::{rd_kafka_header_get_all, rd_kafka_headers_t, rd_kafka_resp_err_t};
        // A `&BorrowedHeaders` is the librdkafka headers pointer itself (rdkafka casts it
        // the same way in `BorrowedHeaders::as_native_ptr`).
        let raw = h as *const BorrowedHeaders as *const rd_kafka_headers_t;
        (0..h.count())
            .filter_map(|i| {
                let mut name = std::ptr::null();
                let mut value = std::ptr::null();
                let mut size = 0usize;
                // SAFETY: `raw` is the message's live headers list, borrowed for as long as
                // `h`; librdkafka hands back pointers into it, valid for that long, the name
                // NUL-terminated and the value `size` bytes (or null).
                unsafe {
                    if rd_kafka_header_get_all(raw, i, &mut name, &mut value, &mut size)
                        != rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                    {
                        return None;
                    }
                    let name = std::ffi::CStr::from_ptr(name).to_str().ok()?;
                    let value: &[u8] = if value.is_null() {
                        &[]
                    } else {
                        std::slice::from_raw_parts(value.cast::<u8>(), size)
                    };
                    Some((name, value))
                }
            })
            .collect()
    }

    pub fn consume(a: &ConsumeArgs) -> Result<()> {
        let decryptor = decryptor(a)?;
        let mut config = config(&a.proxy, &a.client_properties);
        // Partitions are assigned here: the group never joins (librdkafka wants a group.id
        // all the same) and no offset is committed.
        config
            .set("client.id", &a.consumer)
            .set(
                "group.id",
                format!("rewrap-consume-{}", rewrap::now_millis()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let consumer: BaseConsumer = config.create()?;
        consumer.assign(&assignment(&consumer, a)?)?;

        let idle = a.timeout.map(Duration::from_secs_f64);
        let mut last = Instant::now();
        let (mut read, mut opened, mut unsigned) = (0u64, 0u64, 0u64);
        let mut refused: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut out = std::io::stdout().lock();
        while a.max.is_none_or(|max| read < max) {
            if idle.is_some_and(|idle| last.elapsed() >= idle) {
                break;
            }
            let m = match consumer.poll(Duration::from_millis(200)) {
                None => continue,
                Some(Ok(m)) => m,
                Some(Err(KafkaError::MessageConsumption(
                    RDKafkaErrorCode::UnknownTopicOrPartition,
                ))) => continue,
                Some(Err(e)) => return Err(e.into()),
            };
            last = Instant::now();
            read += 1;
            let headers = m.headers().map(record_headers).unwrap_or_default();
            let place = format!("{}[{}]@{}", m.topic(), m.partition(), m.offset());
            match decryptor.open(&a.topic, m.key(), m.payload(), &headers) {
                Ok(Opened::Decrypted(d)) => {
                    if d.vouch == Vouch::Unsigned {
                        // Policy optional or off: anyone with the delegating public key could
                        // have sealed it.
                        unsigned += 1;
                        eprintln!(
                            "rewrap: {place}: unsigned: printed under policy {}, not authenticated",
                            a.policy
                        );
                    }
                    out.write_all(&d.payload)?;
                    out.write_all(b"\n")?;
                    out.flush()?;
                    opened += 1;
                }
                Ok(Opened::Tombstone) => eprintln!("rewrap: {place}: tombstone (no value)"),
                // Not reached: this decryptor does not allow plaintext.
                Ok(Opened::UnencryptedAllowed(_)) => {
                    *refused.entry("Unencrypted").or_default() += 1;
                    eprintln!("rewrap: {place}: Unencrypted: record without rewrap headers");
                }
                Err(e) => {
                    let name = e.kind().name();
                    *refused.entry(name).or_default() += 1;
                    eprintln!("rewrap: {place}: {name}: {e}");
                }
            }
        }
        let failed: u64 = refused.values().sum();
        let names: Vec<String> = refused.iter().map(|(k, n)| format!("{k} {n}")).collect();
        eprintln!(
            "consumed {read} record(s) from {:?} as {:?}: {opened} opened{}, {failed} refused{}",
            a.topic,
            a.consumer,
            if unsigned > 0 {
                format!(" ({unsigned} unsigned)")
            } else {
                String::new()
            },
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            }
        );
        if failed > 0 {
            return Err(format!("{failed} record(s) could not be opened").into());
        }
        Ok(())
    }
}
