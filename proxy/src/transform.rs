//! The `RewrapReencrypt` Shotover transform.
//!
//! Requests pass through unchanged. On the way back, each Fetch response's record batches are
//! rewritten so that every record carrying a `rewrap.edek` header also carries the
//! `rewrap.cfrag` header(s) for the fetching consumer, when that consumer holds a grant for the
//! topic and the record's producer signature passes the topic's policy (then with the proxy's
//! `rewrap.chsig` channel signature, when a channel signing seed is configured). Everything else (Produce, metadata, group protocol, records without rewrap headers)
//! goes through as the broker or client sent it.

use crate::identity::{self, Resolver, Session, Source, Step};
use crate::records::{self, Annotate, Annotation, ChannelSig, Decompress, Output, Scratch};
use crate::registry::RegistryConfig;
use anyhow::{Context, Result};
use async_trait::async_trait;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, RequestHeader};
use metrics::{counter, gauge, Counter};
use rewrap::engine::{CfragHeaders, Error as RewrapError, Policy, PublicKey, ReEncryptorConfig};
use rewrap::{DirGrantStore, GrantSync, MissBudget, ReEncryptor};
use serde::{Deserialize, Serialize};
use shotover::frame::kafka::{KafkaFrame, RequestBody, ResponseBody};
use shotover::frame::Frame;
use shotover::message::{Message, MessageId, MessageIdMap, Messages};
use shotover::transforms::{
    ChainState, DownChainProtocol, Transform, TransformBuilder, TransformConfig,
    TransformContextBuilder, TransformContextConfig, UpChainProtocol,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Name in the topology file.
pub const NAME: &str = "RewrapReencrypt";

/// Topology settings of the transform.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RewrapReencryptConfig {
    /// Directory grant store (as written by `rewrap grant --store`); or `grant_registry`.
    #[serde(default)]
    pub grant_store: Option<String>,
    /// The Kafka grant registry (as written by `rewrap grant --registry`), followed live;
    /// or `grant_store`.
    #[serde(default)]
    pub grant_registry: Option<RegistryConfig>,
    /// Administrator public keys whose grants are accepted: hex, or paths to `.pub` files.
    pub trusted_admins: Vec<String>,
    /// Fragment cache entries (0 = default, 65 536).
    #[serde(default)]
    pub cache_capacity: usize,
    /// Fragment cache time to live in seconds (0 = no TTL).
    #[serde(default)]
    pub cache_ttl_secs: u64,
    /// How often the grant store is checked for changes (default 500 ms).
    #[serde(default = "default_reload_ms")]
    pub reload_interval_ms: u64,
    /// How long the grants loaded stay in use while the store cannot be read; after that
    /// every grant is dropped (fail closed) until the store is readable again. 0 = the
    /// default, 60 s.
    #[serde(default)]
    pub store_unreadable_grace_secs: u64,
    /// Which identity names the consumer.
    #[serde(default)]
    pub identity: Source,
    /// Principal or client id → consumer name in the grants.
    #[serde(default)]
    pub consumers: BTreeMap<String, String>,
    /// Codec of the batches the proxy re-encodes: `SameCodec` (default: the codec they came
    /// in), `Lz4` (LZ4 whatever they came in, uncompressed included: the proxy writes it from
    /// the repeated headers it knows of, at about the cost of a copy; for consumers that all
    /// read LZ4) or `Uncompressed` (more bytes from the proxy to the consumer). See [`Output`].
    #[serde(default)]
    pub rewritten_batches: Output,
    /// Start even though Shotover's debug/trace log level is on. Those levels dump every
    /// frame, SASL PLAIN passwords and SCRAM exchanges included, so the proxy refuses them
    /// unless this says the operator knows.
    #[serde(default)]
    pub allow_frame_logging: bool,
    /// Misses per second over all connections; beyond it records go out without a cfrag (the
    /// consumer sees `MissingCfrag` and can retry) and `rewrap_records_throttled` counts them.
    /// A miss is an Umbral re-encryption (~0.4 ms) or a producer-signature check (one per
    /// session, under `require`): a new signed session costs two. 0 = the default, 1000.
    #[serde(default)]
    pub max_misses_per_sec: u32,
    /// The same per connection, so one client cannot spend the global budget alone. 0 = the
    /// default, 100.
    #[serde(default)]
    pub max_misses_per_sec_per_connection: u32,
    /// The same per consumer over all its connections, so a client that reconnects (or opens
    /// many connections) does not get a fresh allowance each time. 0 = the default, 250.
    #[serde(default)]
    pub max_misses_per_sec_per_consumer: u32,
    /// Umbral steps and producer-signature checks running at once; a miss beyond it goes out
    /// without a cfrag like one beyond a budget, so a storm of misses cannot take every core
    /// from the cache hits. 0 = the default, half the cores (at least 1).
    #[serde(default)]
    pub max_concurrent_misses: usize,
    /// What every topic demands of producer signatures before its records get cfrags:
    /// `require` (the default: signed by a producer the store's `.pgrant` files authorize),
    /// `optional` (unsigned records served, signed ones checked) or `off` (migration only).
    #[serde(default)]
    pub producer_policy: Option<String>,
    /// Topic → policy, overriding `producer_policy` for that topic.
    #[serde(default)]
    pub producer_policies: BTreeMap<String, String>,
    /// File holding the 32-byte channel signing seed as 64 hex characters (mode 0600, like a
    /// secret key file). With it the proxy attaches `rewrap.chsig` to every record whose
    /// producer signature it checked, so consumers trust one channel key per topic; without it
    /// consumers must hold the producer grants themselves.
    #[serde(default)]
    pub channel_signing_seed: Option<String>,
}

const DEFAULT_MAX_MISSES_PER_SEC: u32 = 1000;
const DEFAULT_MAX_MISSES_PER_SEC_PER_CONNECTION: u32 = 100;
const DEFAULT_MAX_MISSES_PER_SEC_PER_CONSUMER: u32 = 250;
/// Consumers whose miss budgets are kept; past it, budgets no connection holds are dropped.
const CONSUMER_BUDGETS: usize = 4096;

fn or_default(value: u32, default: u32) -> u32 {
    if value == 0 {
        default
    } else {
        value
    }
}

/// Topic ids a Fetch may name that neither this proxy nor (so it must assume) the cluster sink
/// has seen. Beyond this the Fetch never reaches the sink: each unknown id costs the broker a
/// metadata lookup, and Shotover's cluster sink resolves unseen ids on its own.
pub const MAX_UNKNOWN_TOPIC_IDS: usize = 100;
/// How long an id the broker did not know is not asked about again.
const UNKNOWN_ID_TTL: Duration = Duration::from_secs(30);
/// Entries of that negative cache.
const UNKNOWN_ID_CAPACITY: usize = 10_000;
/// Decompressed bytes held by all connections at once; a batch that would go beyond passes on
/// as stored (its records without cfrags, counted) rather than growing memory.
pub const DECOMPRESSION_BUDGET: usize = 256 * 1024 * 1024;
/// Rewrite buffers larger than this are released after each partition (before its share of
/// the decompression budget is given back); smaller ones are reused. A 1 MiB partition fetch
/// (Kafka's default `max.partition.fetch.bytes`) re-encodes to ~1.4 MiB with cfrags, so a
/// smaller bound freed and re-faulted both buffers on every partition (measured: proxy CPU per
/// record 9 µs instead of 1.5 µs).
const SCRATCH_KEEP: usize = 4 * 1024 * 1024;
/// Rewrite buffers kept between responses, shared by every connection (not one per
/// connection): at most this many × 2 × `SCRATCH_KEEP` bytes stay allocated.
const SCRATCH_POOL: usize = 4;

fn default_reload_ms() -> u64 {
    500
}

fn policy(text: &str) -> Result<Policy> {
    Policy::parse(text.trim()).map_err(|e| anyhow::anyhow!("producer policy {text:?}: {e}"))
}

fn admin_key(text: &str) -> Result<PublicKey> {
    if let Ok(key) = PublicKey::from_hex(text.trim()) {
        return Ok(key);
    }
    rewrap::keyfile::read_public(std::path::Path::new(text))
        .map_err(|e| anyhow::anyhow!("trusted admin key {text:?}: {e}"))
}

#[typetag::serde(name = "RewrapReencrypt")]
#[async_trait(?Send)]
impl TransformConfig for RewrapReencryptConfig {
    async fn get_builder(
        &self,
        _context: TransformContextConfig,
    ) -> Result<Box<dyn TransformBuilder>> {
        if !self.allow_frame_logging && frame_logging_enabled() {
            anyhow::bail!(
                "the log level is debug or trace, at which Shotover logs whole Kafka frames, \
                 SASL passwords included; use info (or set allow_frame_logging: true)"
            );
        }
        let admins = self
            .trusted_admins
            .iter()
            .map(|t| admin_key(t))
            .collect::<Result<Vec<_>>>()?;
        let config = ReEncryptorConfig::or_default(self.cache_capacity, self.cache_ttl_secs);
        let reencryptor = Arc::new(
            ReEncryptor::with_config(&admins, config)
                .context("building the re-encryptor")?
                .with_miss_budget(or_default(
                    self.max_misses_per_sec,
                    DEFAULT_MAX_MISSES_PER_SEC,
                ))
                .with_max_concurrent_misses(match self.max_concurrent_misses {
                    0 => rewrap::half_the_cores(),
                    n => n,
                }),
        );
        if let Some(text) = &self.producer_policy {
            reencryptor.set_policy(None, policy(text)?)?;
        }
        for (topic, text) in &self.producer_policies {
            reencryptor
                .set_policy(Some(topic), policy(text)?)
                .with_context(|| format!("producer policy of topic {topic:?}"))?;
        }
        if let Some(path) = &self.channel_signing_seed {
            let seed = rewrap::keyfile::read_seed(std::path::Path::new(path))
                .map_err(|e| anyhow::anyhow!("channel signing seed {path}: {e}"))?;
            reencryptor
                .set_channel_seed(Some(seed.as_slice()))
                .context("channel signing seed")?;
        }
        tracing::info!(
            // "" names no topic (`Topic::new` refuses it): this is the default policy.
            producer_policy = reencryptor.policy("").name(),
            overrides = self.producer_policies.len(),
            channel_signatures = self.channel_signing_seed.is_some(),
            "rewrap producer signatures"
        );
        let granted = Arc::new(RwLock::new(Granted::default()));
        let every = Duration::from_millis(self.reload_interval_ms.max(10));
        let grant_store = match (&self.grant_store, &self.grant_registry) {
            (Some(dir), None) => dir,
            (None, Some(registry)) => {
                let publish_to = granted.clone();
                crate::registry::follow(registry, reencryptor.clone(), move |pairs| {
                    let next = Granted(
                        pairs
                            .into_iter()
                            .map(|(c, t)| (c, t.into_iter().collect()))
                            .collect(),
                    );
                    *publish_to.write().unwrap_or_else(|e| e.into_inner()) = next;
                })
                .context("following the grant registry")?;
                spawn_stats(reencryptor.clone(), every);
                return Ok(self.builder(reencryptor, granted));
            }
            _ => anyhow::bail!("configure exactly one of grant_store and grant_registry"),
        };
        let store = DirGrantStore::open(grant_store)
            .with_context(|| format!("opening grant store {grant_store}"))?;
        let listing = DirGrantStore::open(grant_store)
            .with_context(|| format!("opening grant store {grant_store}"))?;
        refresh_granted(&listing, &granted);
        let grace = match self.store_unreadable_grace_secs {
            0 => rewrap::DEFAULT_UNREADABLE_GRACE,
            secs => Duration::from_secs(secs),
        };
        let mut sync = GrantSync::new(store, reencryptor.clone()).with_unreadable_grace(grace);
        let first = sync.sync().context("loading the grant store")?;
        tracing::info!(
            installed = first.installed,
            producer_grants = first.producers_reloaded.unwrap_or(0),
            rejected = first.rejected.len(),
            store = %grant_store,
            "rewrap grants loaded"
        );
        log_rejected(&first.rejected);
        spawn_reloader(sync, listing, granted.clone(), every);
        Ok(self.builder(reencryptor, granted))
    }

    fn up_chain_protocol(&self) -> UpChainProtocol {
        UpChainProtocol::MustBeOneOf(vec![shotover::frame::MessageType::Kafka])
    }

    fn down_chain_protocol(&self) -> DownChainProtocol {
        DownChainProtocol::SameAsUpChain
    }
}

impl RewrapReencryptConfig {
    fn builder(
        &self,
        reencryptor: Arc<ReEncryptor>,
        granted: Arc<RwLock<Granted>>,
    ) -> Box<dyn TransformBuilder> {
        Box::new(RewrapReencryptBuilder {
            shared: Arc::new(Shared::new(
                reencryptor,
                Resolver {
                    source: self.identity,
                    map: self.consumers.clone(),
                },
                self.rewritten_batches,
                granted,
                Budgets {
                    per_connection: or_default(
                        self.max_misses_per_sec_per_connection,
                        DEFAULT_MAX_MISSES_PER_SEC_PER_CONNECTION,
                    ),
                    per_consumer: or_default(
                        self.max_misses_per_sec_per_consumer,
                        DEFAULT_MAX_MISSES_PER_SEC_PER_CONSUMER,
                    ),
                    consumers: Mutex::new(HashMap::new()),
                },
            )),
        })
    }
}

fn log_rejected(rejected: &[(std::path::PathBuf, String)]) {
    for (path, why) in rejected {
        tracing::warn!(file = %path.display(), reason = %why, "rewrap grant file not installed");
    }
}

/// Whether Shotover's codec would log frames (its debug level hex-dumps every message).
fn frame_logging_enabled() -> bool {
    tracing::enabled!(target: "shotover::codec::kafka", tracing::Level::DEBUG)
        || tracing::enabled!(tracing::Level::DEBUG)
}

/// Consumer → topics some grant file names, signature unchecked: a superset of what the
/// re-encryptor will serve, so a connection outside it can never get a cfrag and its batches
/// need not be decompressed.
#[derive(Default)]
struct Granted(HashMap<String, HashSet<String>>);

impl Granted {
    fn any(&self, consumer: &str) -> bool {
        self.0.contains_key(consumer)
    }

    fn topic(&self, consumer: &str, topic: &str) -> bool {
        self.0.get(consumer).is_some_and(|t| t.contains(topic))
    }
}

/// Re-reads which (consumer, topic) pairs the store names. Run before each sync, so the set
/// covers a grant before the re-encryptor installs it and drops a removed one before it is
/// revoked; if the store cannot be listed the set only grows.
fn refresh_granted(listing: &DirGrantStore, granted: &RwLock<Granted>) {
    let Ok(files) = listing.list() else {
        return;
    };
    let mut next = Granted::default();
    for (_, grant) in files {
        if let Ok(grant) = grant {
            next.0
                .entry(grant.consumer().to_string())
                .or_default()
                .insert(grant.topic().to_string());
        }
    }
    *granted.write().unwrap_or_else(|e| e.into_inner()) = next;
}

/// Polls the grant store on its own thread (file I/O and grant verification stay off the
/// proxy's async workers) and publishes cache statistics as metrics.
fn spawn_reloader(
    mut sync: GrantSync,
    listing: DirGrantStore,
    granted: Arc<RwLock<Granted>>,
    every: Duration,
) {
    let spawned = std::thread::Builder::new()
        .name("rewrap-grants".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            refresh_granted(&listing, &granted);
            match sync.sync() {
                Ok(report) if !report.is_empty() => {
                    tracing::info!(
                        installed = report.installed,
                        revoked = ?report.revoked,
                        revocations = report.revocations,
                        producer_grants = ?report.producers_reloaded,
                        rejected = report.rejected.len(),
                        "rewrap grant store changed"
                    );
                    log_rejected(&report.rejected);
                }
                Ok(_) => {}
                Err(e) if sync.failed_closed() => tracing::error!(
                    error = %e,
                    "rewrap grant store unreadable past the grace; every grant dropped until it is readable"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    "rewrap grant store unreadable; keeping the grants loaded for the grace period"
                ),
            }
            publish_stats(sync.target());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the grant reloader; grants stay as loaded");
    }
}

/// Publishes the re-encryptor's statistics every `every` (registry mode: the follower
/// thread waits on Kafka, not on a clock).
fn spawn_stats(reencryptor: Arc<ReEncryptor>, every: Duration) {
    let spawned = std::thread::Builder::new()
        .name("rewrap-stats".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            publish_stats(&reencryptor);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the statistics thread");
    }
}

fn publish_stats(reencryptor: &ReEncryptor) {
    let stats = reencryptor.stats();
    gauge!("rewrap_cache_hits").set(stats.cache.hits as f64);
    gauge!("rewrap_cache_misses").set(stats.cache.misses as f64);
    gauge!("rewrap_cache_entries").set(stats.cache.entries as f64);
    gauge!("rewrap_reencryptions").set(stats.reencryptions as f64);
    gauge!("rewrap_refused").set(stats.refused as f64);
    gauge!("rewrap_grants").set(stats.grants as f64);
}

struct Metrics {
    annotated: Counter,
    without_cfrag: Counter,
    batches_rewritten: Counter,
    batches_malformed: Counter,
    stray_cfrags: Counter,
    unresolved_topics: Counter,
    batches_refused: Counter,
    batches_not_decompressed: Counter,
    batches_deferred: Counter,
    fetches_refused: Counter,
    throttled: Counter,
    channel_signed: Counter,
    stray_chsigs: Counter,
}

/// Warnings whose volume a client controls, at most one per kind per second; every occurrence
/// is counted in `rewrap_warnings_total{kind}` and the suppressed ones are reported with the
/// next warning that gets through.
struct Warnings {
    kinds: [(&'static str, AtomicU64, AtomicU64); 7],
    start: Instant,
}

#[derive(Clone, Copy)]
enum Warn {
    UnresolvedTopic = 0,
    BatchProblem = 1,
    HeaderRejected = 2,
    FetchRefused = 3,
    SaslUnreadable = 4,
    Throttled = 5,
    ProducerRefused = 6,
}

impl Warnings {
    fn new() -> Self {
        let k = |name| (name, AtomicU64::new(0), AtomicU64::new(u64::MAX));
        Warnings {
            kinds: [
                k("unresolved_topic"),
                k("batch_problem"),
                k("header_rejected"),
                k("fetch_refused"),
                k("sasl_unreadable"),
                k("throttled"),
                k("producer_refused"),
            ],
            start: Instant::now(),
        }
    }

    /// `Some(suppressed since the last one)` when this occurrence may be logged.
    fn allow(&self, kind: Warn) -> Option<u64> {
        let (name, suppressed, last) = &self.kinds[kind as usize];
        counter!("rewrap_warnings_total", "kind" => *name).increment(1);
        let now = self.start.elapsed().as_secs();
        let prev = last.load(Ordering::Relaxed);
        if prev == now
            || last
                .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(suppressed.swap(0, Ordering::Relaxed))
    }
}

/// Miss budgets below the re-encryptor's global one.
struct Budgets {
    per_connection: u32,
    per_consumer: u32,
    /// Each consumer's budget, shared by its connections.
    consumers: Mutex<HashMap<String, Arc<MissBudget>>>,
}

impl Budgets {
    /// The connection budget `current` (its tokens kept) within `consumer`'s own.
    fn connection(&self, consumer: &str, current: &MissBudget) -> MissBudget {
        let mut consumers = self.consumers.lock().unwrap_or_else(|e| e.into_inner());
        if consumers.len() >= CONSUMER_BUDGETS && !consumers.contains_key(consumer) {
            // Only consumers some grant names get here, so this is rare: forget idle budgets.
            consumers.retain(|_, b| Arc::strong_count(b) > 1);
        }
        let parent = consumers
            .entry(consumer.to_string())
            .or_insert_with(|| Arc::new(MissBudget::per_second(self.per_consumer)))
            .clone();
        current.rebased(parent)
    }
}

/// State shared by every connection.
struct Shared {
    reencryptor: Arc<ReEncryptor>,
    resolver: Resolver,
    output: Output,
    /// Topic ids learnt from Metadata responses (Fetch v13+ names topics by id only).
    topics: RwLock<HashMap<Uuid, String>>,
    /// Topic ids the broker did not know when asked, and when.
    unknown: Mutex<HashMap<Uuid, Instant>>,
    granted: Arc<RwLock<Granted>>,
    /// Decompressed bytes held right now, all connections together.
    decompressed: AtomicUsize,
    warnings: Warnings,
    metrics: Metrics,
    /// Re-encryption misses per second a connection, and a consumer, may cause.
    budgets: Budgets,
    /// Rewrite buffers between responses (at most `SCRATCH_POOL`).
    scratch_pool: Mutex<Vec<Scratch>>,
}

impl Shared {
    fn take_scratch(&self) -> Scratch {
        self.scratch_pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn give_scratch(&self, mut scratch: Scratch) {
        records::shrink(&mut scratch, SCRATCH_KEEP);
        let mut pool = self.scratch_pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < SCRATCH_POOL {
            pool.push(scratch);
        }
    }

    fn new(
        reencryptor: Arc<ReEncryptor>,
        resolver: Resolver,
        output: Output,
        granted: Arc<RwLock<Granted>>,
        budgets: Budgets,
    ) -> Self {
        Shared {
            budgets,
            reencryptor,
            resolver,
            output,
            topics: RwLock::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
            granted,
            decompressed: AtomicUsize::new(0),
            scratch_pool: Mutex::new(Vec::new()),
            warnings: Warnings::new(),
            metrics: Metrics {
                annotated: counter!("rewrap_records_annotated"),
                without_cfrag: counter!("rewrap_records_without_cfrag"),
                batches_rewritten: counter!("rewrap_batches_rewritten"),
                batches_malformed: counter!("rewrap_batches_malformed"),
                stray_cfrags: counter!("rewrap_stray_cfrags_removed"),
                unresolved_topics: counter!("rewrap_unresolved_topic_ids"),
                batches_refused: counter!("rewrap_batches_refused"),
                batches_not_decompressed: counter!("rewrap_batches_not_decompressed"),
                batches_deferred: counter!("rewrap_batches_deferred"),
                fetches_refused: counter!("rewrap_fetches_refused"),
                throttled: counter!("rewrap_records_throttled"),
                channel_signed: counter!("rewrap_records_channel_signed"),
                stray_chsigs: counter!("rewrap_stray_chsigs_removed"),
            },
        }
    }

    fn topic_name(&self, id: &Uuid) -> Option<String> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Remembers that the broker did not name `ids` (bounded: when full, expired entries go,
    /// and if none has expired the cache starts over).
    fn unknown(&self, ids: impl Iterator<Item = Uuid>) {
        let mut unknown = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for id in ids {
            if unknown.len() >= UNKNOWN_ID_CAPACITY {
                unknown.retain(|_, at| now.duration_since(*at) < UNKNOWN_ID_TTL);
                if unknown.len() >= UNKNOWN_ID_CAPACITY {
                    unknown.clear();
                }
            }
            unknown.insert(id, now);
        }
    }

    fn recently_unknown(&self, id: &Uuid) -> bool {
        let unknown = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        unknown
            .get(id)
            .is_some_and(|at| at.elapsed() < UNKNOWN_ID_TTL)
    }

    fn learn(&self, id: Uuid, name: &str) {
        if id.is_nil() || name.is_empty() {
            return;
        }
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if topics.get(&id).map(String::as_str) != Some(name) {
            topics.insert(id, name.to_string());
        }
    }
}

struct RewrapReencryptBuilder {
    shared: Arc<Shared>,
}

impl TransformBuilder for RewrapReencryptBuilder {
    fn build(&self, _context: TransformContextBuilder) -> Box<dyn Transform> {
        Box::new(RewrapReencrypt {
            shared: self.shared.clone(),
            client_id: None,
            session: Session::default(),
            pending_auth: MessageIdMap::default(),
            refused: MessageIdMap::default(),
            misses: (
                None,
                MissBudget::per_second(self.shared.budgets.per_connection),
            ),
        })
    }

    fn get_name(&self) -> &'static str {
        NAME
    }
}

/// One client connection's transform.
struct RewrapReencrypt {
    shared: Arc<Shared>,
    client_id: Option<String>,
    session: Session,
    /// SaslAuthenticate requests in flight.
    pending_auth: MessageIdMap<Step>,
    /// Fetches naming too many unknown topic ids, emptied before the sink, with what they named.
    refused: MessageIdMap<Vec<FetchTopic>>,
    /// This connection's budget of re-encryption misses, within that of the consumer named.
    misses: (Option<String>, MissBudget),
}

impl RewrapReencrypt {
    /// Reads what the transform needs from the requests; returns topic ids to resolve.
    fn inspect_requests(&mut self, requests: &mut Messages) -> Vec<Uuid> {
        let mut resolve = Vec::new();
        let mut seen = HashSet::new();
        for request in requests.iter_mut() {
            let id = request.id();
            let mut emptied = false;
            let Some(Frame::Kafka(KafkaFrame::Request { header, body })) = request.frame() else {
                continue;
            };
            if let Some(client_id) = &header.client_id {
                if self.client_id.as_deref() != Some(client_id.as_str()) {
                    self.client_id = Some(client_id.to_string());
                }
            }
            match body {
                RequestBody::Fetch(fetch) if header.request_api_version >= 13 => {
                    let mut unresolved = Vec::new();
                    {
                        let topics = self.shared.topics.read().unwrap_or_else(|e| e.into_inner());
                        for topic in &fetch.topics {
                            let t = topic.topic_id;
                            if !t.is_nil() && !topics.contains_key(&t) && seen.insert(t) {
                                unresolved.push(t);
                            }
                        }
                    }
                    if unresolved.len() > MAX_UNKNOWN_TOPIC_IDS {
                        // Answered here (each topic "unknown", which sends an honest client
                        // to refresh its metadata): the broker sees an empty sessionless
                        // fetch, answered at once, and the sink no id to look up.
                        self.refused.insert(id, std::mem::take(&mut fetch.topics));
                        fetch.forgotten_topics_data.clear();
                        fetch.session_id = 0;
                        fetch.session_epoch = -1;
                        fetch.max_wait_ms = 0;
                        fetch.min_bytes = 0;
                        emptied = true;
                        self.shared.metrics.fetches_refused.increment(1);
                        if let Some(suppressed) = self.shared.warnings.allow(Warn::FetchRefused) {
                            tracing::warn!(
                                unknown_ids = unresolved.len(),
                                limit = MAX_UNKNOWN_TOPIC_IDS,
                                suppressed,
                                "fetch names too many unknown topic ids; answered as unknown"
                            );
                        }
                    } else if self.can_receive_cfrags() {
                        resolve.extend(
                            unresolved
                                .into_iter()
                                .filter(|t| !self.shared.recently_unknown(t)),
                        );
                    }
                }
                RequestBody::SaslHandshake(handshake) => {
                    self.session.handshake(handshake.mechanism.as_str());
                }
                RequestBody::SaslAuthenticate(auth) => {
                    let step = self.session.authenticate(&auth.auth_bytes);
                    self.pending_auth.insert(id, step);
                }
                _ => {}
            }
            if emptied {
                request.invalidate_cache();
            }
        }
        resolve.truncate(MAX_UNKNOWN_TOPIC_IDS);
        resolve
    }

    /// Whether any grant names this connection's consumer: only then are topic ids resolved.
    fn can_receive_cfrags(&self) -> bool {
        let granted = self
            .shared
            .granted
            .read()
            .unwrap_or_else(|e| e.into_inner());
        self.consumer().is_some_and(|c| granted.any(&c))
    }

    /// The answer to a refused Fetch: every topic partition it named, as an unknown topic id.
    fn refusal(topics: Vec<FetchTopic>) -> Vec<FetchableTopicResponse> {
        const UNKNOWN_TOPIC_ID: i16 = 100;
        topics
            .into_iter()
            .map(|t| {
                FetchableTopicResponse::default()
                    .with_topic_id(t.topic_id)
                    .with_partitions(
                        t.partitions
                            .into_iter()
                            .map(|p| {
                                PartitionData::default()
                                    .with_partition_index(p.partition)
                                    .with_error_code(UNKNOWN_TOPIC_ID)
                            })
                            .collect(),
                    )
            })
            .collect()
    }

    fn consumer(&self) -> Option<String> {
        self.shared
            .resolver
            .consumer(self.session.authentication(), self.client_id.as_deref())
            .map(str::to_string)
    }

    fn process_response(&mut self, response: &mut Message) {
        let request_id = response.request_id();
        let Some(Frame::Kafka(KafkaFrame::Response { version, body, .. })) = response.frame()
        else {
            return;
        };
        let version = *version;
        match body {
            ResponseBody::Metadata(metadata) => {
                for topic in &metadata.topics {
                    if let Some(name) = &topic.name {
                        self.shared.learn(topic.topic_id, name.0.as_str());
                    }
                }
            }
            ResponseBody::SaslAuthenticate(auth) => {
                if let Some(step) = request_id.and_then(|id| self.pending_auth.remove(&id)) {
                    let before = self.session.authentication().clone();
                    self.session.answered(step, auth.error_code == 0);
                    let now = self.session.authentication();
                    // Authenticated by a mechanism or message whose user this proxy cannot
                    // name (GSSAPI, OAUTHBEARER, a foreign authzid): no consumer, and no
                    // fallback to the self-declared client id.
                    if auth.error_code == 0
                        && now == &identity::Authentication::NoPrincipal
                        && before != *now
                    {
                        if let Some(suppressed) = self.shared.warnings.allow(Warn::SaslUnreadable) {
                            tracing::warn!(
                                suppressed,
                                "SASL principal not readable; this connection gets no cfrags"
                            );
                        }
                    }
                }
            }
            ResponseBody::Fetch(fetch) => {
                if let Some(topics) = request_id.and_then(|id| self.refused.remove(&id)) {
                    fetch.responses = Self::refusal(topics);
                    fetch.session_id = 0;
                    response.invalidate_cache();
                    return;
                }
                let consumer = self.consumer();
                let granted = self
                    .shared
                    .granted
                    .read()
                    .unwrap_or_else(|e| e.into_inner());
                let any_grant = consumer.as_deref().is_some_and(|c| granted.any(c));
                if any_grant && self.misses.0 != consumer {
                    let c = consumer.as_deref().unwrap_or_default();
                    let rebased = self.shared.budgets.connection(c, &self.misses.1);
                    self.misses = (consumer.clone(), rebased);
                }
                let mut scratch = self.shared.take_scratch();
                let mut changed = false;
                for topic in fetch.responses.iter_mut() {
                    let name = if version >= 13 {
                        self.shared.topic_name(&topic.topic_id)
                    } else {
                        Some(topic.topic.0.to_string())
                    };
                    let Some(name) = name else {
                        // No name, so no cfrags: the batches are still cleaned of stray rewrap
                        // headers (decompressed only for a connection some grant names).
                        if topic.partitions.iter().any(|p| p.records.is_some()) {
                            self.shared.metrics.unresolved_topics.increment(1);
                            if let Some(suppressed) =
                                self.shared.warnings.allow(Warn::UnresolvedTopic)
                            {
                                tracing::warn!(
                                    topic_id = %topic.topic_id,
                                    suppressed,
                                    "fetch response for a topic id no metadata named; records pass without cfrags"
                                );
                            }
                        }
                        changed |= rewrite_partitions(
                            &self.shared,
                            &mut scratch,
                            "?",
                            &mut topic.partitions,
                            any_grant,
                            &mut |_, _| Annotation::Nothing,
                        );
                        continue;
                    };
                    let may_get_cfrags =
                        consumer.as_deref().is_some_and(|c| granted.topic(c, &name));
                    let mut annotator = Annotator {
                        shared: &self.shared,
                        misses: &self.misses.1,
                        throttled: false,
                        topic: &name,
                        consumer: consumer.as_deref().filter(|_| may_get_cfrags),
                        last: None,
                    };
                    changed |= rewrite_partitions(
                        &self.shared,
                        &mut scratch,
                        &name,
                        &mut topic.partitions,
                        may_get_cfrags,
                        &mut |edek, sig| annotator.answer(edek, sig),
                    );
                }
                drop(granted);
                self.shared.give_scratch(scratch);
                if changed {
                    response.invalidate_cache();
                }
            }
            _ => {}
        }
    }
}

/// Rewrites one topic's partitions of a Fetch response; whether any changed. Compressed
/// batches are decompressed only when `may_decompress` (a grant names this fetcher for the
/// topic), within a share of the global budget reserved per partition.
fn rewrite_partitions(
    shared: &Shared,
    scratch: &mut Scratch,
    name: &str,
    partitions: &mut [PartitionData],
    may_decompress: bool,
    annotate: &mut Annotate<'_>,
) -> bool {
    let mut changed = false;
    for partition in partitions.iter_mut() {
        let Some(bytes) = partition.records.as_ref() else {
            continue;
        };
        if bytes.is_empty() {
            continue;
        }
        // Reserve a share of the global budget before decompressing (a rewrite holds a batch
        // twice: decompressed, and its re-encoded records), so concurrent connections cannot
        // all decompress against the same unspent budget.
        let (reserved, decompress) = if may_decompress {
            let reserved = reserve(&shared.decompressed, PER_FETCH_DECOMPRESSION);
            (reserved, Decompress::UpTo(reserved / 2))
        } else {
            (0, Decompress::Never)
        };
        let records::Rewritten {
            bytes: rewritten,
            stats,
            problems,
        } = records::rewrite(bytes, shared.output, decompress, scratch, annotate);
        for problem in problems.iter() {
            if let Some(suppressed) = shared.warnings.allow(Warn::BatchProblem) {
                tracing::warn!(
                    topic = %name,
                    partition = partition.partition_index,
                    %problem,
                    suppressed,
                    "record batch passed on unchanged"
                );
            }
        }
        let m = &shared.metrics;
        m.annotated.increment(stats.records_annotated);
        m.without_cfrag.increment(stats.records_without_cfrag);
        m.batches_rewritten.increment(stats.batches_rewritten);
        m.batches_malformed.increment(stats.batches_malformed);
        m.stray_cfrags.increment(stats.stray_cfrags_removed);
        m.channel_signed.increment(stats.records_channel_signed);
        m.stray_chsigs.increment(stats.stray_chsigs_removed);
        m.batches_refused.increment(stats.batches_refused);
        m.batches_not_decompressed
            .increment(stats.batches_not_decompressed);
        m.batches_deferred.increment(stats.batches_deferred);
        if let Some(new) = rewritten {
            if stats.batches_refused > 0 && new.is_empty() {
                // The first batch holds a cfrag name the proxy cannot remove: refused.
                const CORRUPT_MESSAGE: i16 = 2;
                partition.error_code = CORRUPT_MESSAGE;
            }
            partition.records = Some(new.into());
            changed = true;
        }
        // The buffers are released (or kept small) before the reservation is given back.
        records::shrink(scratch, SCRATCH_KEEP);
        shared.decompressed.fetch_sub(reserved, Ordering::Relaxed);
    }
    changed
}

/// Most of the global decompression budget one partition rewrite may reserve: several honest
/// fetches proceed at once, and no one connection can hold the whole budget.
const PER_FETCH_DECOMPRESSION: usize = DECOMPRESSION_BUDGET / 4;

/// Takes up to `want` bytes from the global decompression budget (less when others hold it);
/// what it returns must be given back with `fetch_sub`.
fn reserve(in_use: &AtomicUsize, want: usize) -> usize {
    let mut current = in_use.load(Ordering::Relaxed);
    loop {
        let grant = want.min(DECOMPRESSION_BUDGET.saturating_sub(current));
        match in_use.compare_exchange_weak(
            current,
            current + grant,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => return grant,
            Err(now) => current = now,
        }
    }
}

/// Answers EDEKs for one topic and consumer, remembering the last answer: records of one
/// producer session share their EDEK and signature, so a batch costs one look-up, not one per
/// record.
struct Annotator<'a> {
    shared: &'a Shared,
    misses: &'a MissBudget,
    /// A budget refused a miss during this batch.
    throttled: bool,
    topic: &'a str,
    consumer: Option<&'a str>,
    /// The last (EDEK, `rewrap.sig`) asked about, and its answer.
    last: Option<(Vec<u8>, Option<Vec<u8>>, Answer)>,
}

/// A remembered answer for one (EDEK, signature).
#[derive(Clone)]
enum Answer {
    Serve(CfragHeaders, Option<ChannelSig>),
    /// The producer policy refused it; counted per record under the refusal's kind.
    Refused(Counter),
    /// No cfrag for another reason (not granted, malformed EDEK...).
    Nothing,
}

impl Answer {
    fn annotation(&self) -> Annotation {
        match self {
            Answer::Serve(cfrags, chsig) => Annotation::Cfrags(cfrags.clone(), chsig.clone()),
            Answer::Refused(counter) => {
                counter.increment(1);
                Annotation::Nothing
            }
            Answer::Nothing => Annotation::Nothing,
        }
    }
}

impl Annotator<'_> {
    fn answer(&mut self, edek: &[u8], sig: Option<&[u8]>) -> Annotation {
        let Some(consumer) = self.consumer else {
            return Annotation::Nothing;
        };
        if let Some((last, last_sig, answer)) = &self.last {
            if last.as_slice() == edek && last_sig.as_deref() == sig {
                return answer.annotation();
            }
        }
        if self.throttled {
            // This batch already spent its budget: no more misses for it (a hit would be
            // served, but telling hits from misses costs the same look-up as answering).
            self.shared.metrics.throttled.increment(1);
            return Annotation::Nothing;
        }
        // The producer's signature first: a record the topic's policy refuses costs no
        // re-encryption. Its verification (once per session) is charged to the miss budgets
        // and runs off the async workers, outside the notary's lock.
        let reencryptor = &self.shared.reencryptor;
        let attested =
            reencryptor.attest_with(self.topic, edek, sig, Some(self.misses), &off_worker);
        let chsig = match attested {
            Ok(chsig) => chsig,
            Err(RewrapError::Throttled) => return self.throttle(consumer),
            Err(e) => {
                if let Some(suppressed) = self.shared.warnings.allow(Warn::ProducerRefused) {
                    tracing::warn!(
                        topic = self.topic,
                        consumer,
                        error = %e,
                        code = e.code(),
                        suppressed,
                        "record refused by the producer policy; passed without a cfrag"
                    );
                }
                let counter = counter!("rewrap_records_refused", "reason" => e.kind().name());
                return self.remember(edek, sig, Answer::Refused(counter));
            }
        };
        // One look-up per record; a miss (the Umbral step, ~0.4 ms) runs with this worker
        // handed over as a blocking thread, so other connections' tasks move on meanwhile.
        let answer = match reencryptor.reencrypt_with(
            self.topic,
            edek,
            consumer,
            Some(self.misses),
            &off_worker,
        ) {
            Ok(headers) => Answer::Serve(headers, chsig),
            Err(RewrapError::Throttled) => return self.throttle(consumer),
            Err(
                e @ (RewrapError::NotGranted | RewrapError::Revoked | RewrapError::GrantExpired),
            ) => {
                tracing::debug!(topic = self.topic, consumer, error = %e, "no cfrag");
                Answer::Nothing
            }
            Err(e) => {
                if let Some(suppressed) = self.shared.warnings.allow(Warn::HeaderRejected) {
                    tracing::warn!(
                        topic = self.topic,
                        consumer,
                        error = %e,
                        code = e.code(),
                        suppressed,
                        "rewrap header rejected; record passed without a cfrag"
                    );
                }
                Answer::Nothing
            }
        };
        self.remember(edek, sig, answer)
    }

    fn remember(&mut self, edek: &[u8], sig: Option<&[u8]>, answer: Answer) -> Annotation {
        let annotation = answer.annotation();
        self.last = Some((edek.to_vec(), sig.map(<[u8]>::to_vec), answer));
        annotation
    }

    /// A budget was spent: this record, and the rest of this batch, go without cfrags. Not
    /// remembered past the batch: the next one may find budget again.
    fn throttle(&mut self, consumer: &str) -> Annotation {
        self.throttled = true;
        self.shared.metrics.throttled.increment(1);
        if let Some(suppressed) = self.shared.warnings.allow(Warn::Throttled) {
            tracing::warn!(
                topic = self.topic,
                consumer,
                suppressed,
                "re-encryption budget spent; records passed without a cfrag"
            );
        }
        Annotation::Nothing
    }
}

/// Runs blocking work off the async workers where the runtime allows it (a multi-threaded
/// runtime, which Shotover uses); inline otherwise.
fn off_worker(work: &mut dyn FnMut()) {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

fn metadata_request(ids: &[Uuid]) -> Message {
    Message::from_frame(Frame::Kafka(KafkaFrame::Request {
        header: RequestHeader::default()
            .with_request_api_key(ApiKey::Metadata as i16)
            .with_request_api_version(12)
            .with_correlation_id(0),
        body: RequestBody::Metadata(
            MetadataRequest::default()
                .with_allow_auto_topic_creation(false)
                .with_topics(Some(
                    ids.iter()
                        .map(|id| {
                            MetadataRequestTopic::default()
                                .with_name(None)
                                .with_topic_id(*id)
                        })
                        .collect(),
                )),
        ),
    }))
}

#[async_trait]
impl Transform for RewrapReencrypt {
    fn get_name(&self) -> &'static str {
        NAME
    }

    async fn transform<'shorter, 'longer: 'shorter>(
        &mut self,
        chain_state: &'shorter mut ChainState<'longer>,
    ) -> Result<Messages> {
        let unknown = self.inspect_requests(&mut chain_state.requests);
        // A client that fetches by topic id before this proxy saw the topic's metadata (e.g.
        // after the proxy restarted) gets its ids resolved by a Metadata request sent ahead of
        // its own, whose response is consumed here.
        let injected: Option<MessageId> = if unknown.is_empty() {
            None
        } else {
            let request = metadata_request(&unknown);
            let id = request.id();
            chain_state.requests.insert(0, request);
            Some(id)
        };
        let mut responses = chain_state.call_next_transform().await?;
        for response in responses.iter_mut() {
            self.process_response(response);
        }
        // The injected request's response has taught its topic ids; the client never sent it.
        // Ids it did not name are not asked about again for a while.
        if let Some(id) = injected {
            if responses.iter().any(|r| r.request_id() == Some(id)) {
                let shared = &self.shared;
                shared.unknown(
                    unknown
                        .iter()
                        .copied()
                        .filter(|t| shared.topic_name(t).is_none()),
                );
            }
            responses.retain(|r| r.request_id() != Some(id));
        }
        Ok(responses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample files `make dist` ships beside the binary (and the README shows) are what the
    /// proxy reads: every key is known (the transform's config denies unknown fields).
    #[test]
    fn the_shipped_sample_topology_and_config_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
        let readme = include_str!("../../README.md");
        let topology =
            shotover::config::topology::Topology::from_file(&format!("{dir}/topology.yaml"))
                .expect("config/topology.yaml parses");
        let yaml = topology.serialize().unwrap();
        assert!(
            yaml.contains(NAME) && yaml.contains("KafkaSinkCluster"),
            "{yaml}"
        );
        assert!(
            yaml.contains("producer_policy: require") && yaml.contains("trusted_admins"),
            "{yaml}"
        );
        shotover::config::Config::from_file(format!("{dir}/config.yaml"))
            .expect("config.yaml parses");
        for file in ["topology.yaml", "config.yaml"] {
            let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
            assert!(
                readme.contains(&text),
                "README.md no longer shows config/{file} as shipped"
            );
        }
    }

    #[test]
    fn policies_are_named() {
        assert!(policy("optional").is_ok() && policy("sometimes").is_err());
    }

    #[test]
    fn decompression_reservations_never_exceed_the_global_budget() {
        let in_use = AtomicUsize::new(0);
        let granted: Vec<usize> = (0..6)
            .map(|_| reserve(&in_use, PER_FETCH_DECOMPRESSION))
            .collect();
        // Four fetches get a full share, the rest nothing until a share is given back.
        assert_eq!(granted[..4], [PER_FETCH_DECOMPRESSION; 4]);
        assert_eq!(granted[4..], [0, 0]);
        assert_eq!(in_use.load(Ordering::Relaxed), DECOMPRESSION_BUDGET);
        in_use.fetch_sub(granted[0], Ordering::Relaxed);
        assert_eq!(
            reserve(&in_use, PER_FETCH_DECOMPRESSION),
            PER_FETCH_DECOMPRESSION
        );
    }

    #[test]
    fn concurrent_reservations_add_up_to_at_most_the_budget() {
        let in_use = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let in_use = in_use.clone();
                std::thread::spawn(move || {
                    (0..1000).map(|_| reserve(&in_use, 1 << 20)).sum::<usize>()
                })
            })
            .collect();
        let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, DECOMPRESSION_BUDGET);
        assert_eq!(in_use.load(Ordering::Relaxed), DECOMPRESSION_BUDGET);
    }
}
