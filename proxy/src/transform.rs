//! The `RewrapReencrypt` Shotover transform.
//!
//! Requests pass through unchanged. On the way back, each Fetch response's record batches are
//! rewritten so that every record carrying a `rewrap.edek` header also carries the
//! `rewrap.cfrag` header(s) for the fetching consumer, when that consumer holds a grant for the
//! topic. Everything else (Produce, metadata, group protocol, records without rewrap headers)
//! goes through as the broker or client sent it.

use crate::identity::{self, Resolver, Source};
use crate::records::{self, Annotation, Output, RewriteStats, Scratch};
use anyhow::{Context, Result};
use async_trait::async_trait;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, RequestHeader};
use metrics::{counter, gauge, Counter};
use rewrap::core::{CfragHeaders, Error as RewrapError, PublicKey, ReEncryptorConfig};
use rewrap::{DirGrantStore, GrantSync, ReEncryptor};
use serde::{Deserialize, Serialize};
use shotover::frame::kafka::{KafkaFrame, RequestBody, ResponseBody};
use shotover::frame::Frame;
use shotover::message::{Message, MessageId, MessageIdMap, Messages};
use shotover::transforms::{
    ChainState, DownChainProtocol, Transform, TransformBuilder, TransformConfig,
    TransformContextBuilder, TransformContextConfig, UpChainProtocol,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use uuid::Uuid;

/// Name in the topology file.
pub const NAME: &str = "RewrapReencrypt";

/// Topology settings of the transform.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RewrapReencryptConfig {
    /// Directory grant store (as written by `rewrap grant`).
    pub grant_store: String,
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
    /// Which identity names the consumer.
    #[serde(default)]
    pub identity: Source,
    /// Principal or client id → consumer name in the grants.
    #[serde(default)]
    pub consumers: BTreeMap<String, String>,
    /// Codec of batches the proxy re-encodes: `SameCodec` (default) or `Uncompressed`, which
    /// saves the recompression CPU at the cost of bytes from the proxy to the consumer.
    #[serde(default)]
    pub rewritten_batches: Output,
}

fn default_reload_ms() -> u64 {
    500
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
        let admins = self
            .trusted_admins
            .iter()
            .map(|t| admin_key(t))
            .collect::<Result<Vec<_>>>()?;
        let config = ReEncryptorConfig::or_default(self.cache_capacity, self.cache_ttl_secs);
        let reencryptor = Arc::new(
            ReEncryptor::with_config(&admins, config).context("building the re-encryptor")?,
        );
        let store = DirGrantStore::open(&self.grant_store)
            .with_context(|| format!("opening grant store {}", self.grant_store))?;
        let mut sync = GrantSync::new(store, reencryptor.clone());
        let first = sync.sync().context("loading the grant store")?;
        tracing::info!(
            installed = first.installed,
            rejected = first.rejected.len(),
            store = %self.grant_store,
            "rewrap grants loaded"
        );
        log_rejected(&first.rejected);
        spawn_reloader(sync, Duration::from_millis(self.reload_interval_ms.max(10)));
        Ok(Box::new(RewrapReencryptBuilder {
            shared: Arc::new(Shared::new(
                reencryptor,
                Resolver {
                    source: self.identity,
                    map: self.consumers.clone(),
                },
                self.rewritten_batches,
            )),
        }))
    }

    fn up_chain_protocol(&self) -> UpChainProtocol {
        UpChainProtocol::MustBeOneOf(vec![shotover::frame::MessageType::Kafka])
    }

    fn down_chain_protocol(&self) -> DownChainProtocol {
        DownChainProtocol::SameAsUpChain
    }
}

fn log_rejected(rejected: &[(std::path::PathBuf, String)]) {
    for (path, why) in rejected {
        tracing::warn!(file = %path.display(), reason = %why, "rewrap grant file not installed");
    }
}

/// Polls the grant store on its own thread (file I/O and grant verification stay off the
/// proxy's async workers) and publishes cache statistics as metrics.
fn spawn_reloader(mut sync: GrantSync, every: Duration) {
    let spawned = std::thread::Builder::new()
        .name("rewrap-grants".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            match sync.sync() {
                Ok(report) if !report.is_empty() => {
                    tracing::info!(
                        installed = report.installed,
                        revoked = ?report.revoked,
                        rejected = report.rejected.len(),
                        "rewrap grant store changed"
                    );
                    log_rejected(&report.rejected);
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "rewrap grant store unreadable; keeping the grants loaded"),
            }
            let stats = sync.target().stats();
            gauge!("rewrap_cache_hits").set(stats.cache.hits as f64);
            gauge!("rewrap_cache_misses").set(stats.cache.misses as f64);
            gauge!("rewrap_cache_entries").set(stats.cache.entries as f64);
            gauge!("rewrap_reencryptions").set(stats.reencryptions as f64);
            gauge!("rewrap_refused").set(stats.refused as f64);
            gauge!("rewrap_grants").set(stats.grants as f64);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the grant reloader; grants stay as loaded");
    }
}

struct Metrics {
    annotated: Counter,
    without_cfrag: Counter,
    batches_rewritten: Counter,
    batches_malformed: Counter,
    stray_cfrags: Counter,
    unresolved_topics: Counter,
}

/// State shared by every connection.
struct Shared {
    reencryptor: Arc<ReEncryptor>,
    resolver: Resolver,
    output: Output,
    /// Topic ids learnt from Metadata responses (Fetch v13+ names topics by id only).
    topics: RwLock<HashMap<Uuid, String>>,
    metrics: Metrics,
}

impl Shared {
    fn new(reencryptor: Arc<ReEncryptor>, resolver: Resolver, output: Output) -> Self {
        Shared {
            reencryptor,
            resolver,
            output,
            topics: RwLock::new(HashMap::new()),
            metrics: Metrics {
                annotated: counter!("rewrap_records_annotated"),
                without_cfrag: counter!("rewrap_records_without_cfrag"),
                batches_rewritten: counter!("rewrap_batches_rewritten"),
                batches_malformed: counter!("rewrap_batches_malformed"),
                stray_cfrags: counter!("rewrap_stray_cfrags_removed"),
                unresolved_topics: counter!("rewrap_unresolved_topic_ids"),
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

    fn knows(&self, id: &Uuid) -> bool {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
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
            mechanism: None,
            principal: None,
            pending_auth: MessageIdMap::default(),
            scratch: Scratch::default(),
            problems: Vec::new(),
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
    mechanism: Option<String>,
    principal: Option<String>,
    /// SaslAuthenticate requests in flight and the principal each claims.
    pending_auth: MessageIdMap<Option<String>>,
    scratch: Scratch,
    problems: Vec<records::BatchProblem>,
}

impl RewrapReencrypt {
    /// Reads what the transform needs from the requests; returns topic ids it cannot name yet.
    fn inspect_requests(&mut self, requests: &mut Messages) -> Vec<Uuid> {
        let mut unknown = Vec::new();
        for request in requests.iter_mut() {
            let id = request.id();
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
                    for topic in &fetch.topics {
                        if !topic.topic_id.is_nil()
                            && !self.shared.knows(&topic.topic_id)
                            && !unknown.contains(&topic.topic_id)
                        {
                            unknown.push(topic.topic_id);
                        }
                    }
                }
                RequestBody::SaslHandshake(handshake) => {
                    self.mechanism = Some(handshake.mechanism.to_string());
                }
                RequestBody::SaslAuthenticate(auth) => {
                    let claimed = self
                        .mechanism
                        .as_deref()
                        .and_then(|m| identity::claimed_principal(m, &auth.auth_bytes));
                    self.pending_auth.insert(id, claimed);
                }
                _ => {}
            }
        }
        unknown
    }

    fn consumer(&self) -> Option<String> {
        self.shared
            .resolver
            .consumer(self.principal.as_deref(), self.client_id.as_deref())
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
                if let Some(claimed) = request_id.and_then(|id| self.pending_auth.remove(&id)) {
                    if auth.error_code == 0 {
                        // Authenticated by a mechanism whose user name this proxy cannot read
                        // (GSSAPI, OAUTHBEARER): an empty principal, which names no consumer,
                        // so the connection gets no fragments rather than falling back to its
                        // self-declared client id.
                        if claimed.is_none() {
                            tracing::warn!(
                                mechanism = ?self.mechanism,
                                "SASL principal not readable; this connection gets no cfrags"
                            );
                        }
                        self.principal = Some(claimed.unwrap_or_default());
                    }
                }
            }
            ResponseBody::Fetch(fetch) => {
                let consumer = self.consumer();
                let mut changed = false;
                for topic in fetch.responses.iter_mut() {
                    let name = if version >= 13 {
                        match self.shared.topic_name(&topic.topic_id) {
                            Some(name) => name,
                            None => {
                                if topic.partitions.iter().any(|p| p.records.is_some()) {
                                    self.shared.metrics.unresolved_topics.increment(1);
                                    tracing::warn!(
                                        topic_id = %topic.topic_id,
                                        "fetch response for a topic id no metadata named; records pass without cfrags"
                                    );
                                }
                                continue;
                            }
                        }
                    } else {
                        topic.topic.0.to_string()
                    };
                    let mut annotator = Annotator {
                        shared: &self.shared,
                        topic: &name,
                        consumer: consumer.as_deref(),
                        last: None,
                    };
                    for partition in topic.partitions.iter_mut() {
                        let Some(bytes) = partition.records.as_ref() else {
                            continue;
                        };
                        if bytes.is_empty() {
                            continue;
                        }
                        let mut stats = RewriteStats::default();
                        self.problems.clear();
                        let rewritten = records::rewrite(
                            bytes,
                            self.shared.output,
                            &mut self.scratch,
                            &mut stats,
                            &mut self.problems,
                            &mut |edek| annotator.answer(edek),
                        );
                        for problem in &self.problems {
                            tracing::warn!(
                                topic = %name,
                                partition = partition.partition_index,
                                %problem,
                                "record batch passed on unchanged"
                            );
                        }
                        let m = &self.shared.metrics;
                        m.annotated.increment(stats.records_annotated);
                        m.without_cfrag.increment(stats.records_without_cfrag);
                        m.batches_rewritten.increment(stats.batches_rewritten);
                        m.batches_malformed.increment(stats.batches_malformed);
                        m.stray_cfrags.increment(stats.stray_cfrags_removed);
                        if let Some(new) = rewritten {
                            partition.records = Some(new.into());
                            changed = true;
                        }
                    }
                }
                if changed {
                    response.invalidate_cache();
                }
            }
            _ => {}
        }
    }
}

/// Answers EDEKs for one topic and consumer, remembering the last answer: records of one
/// producer session share their EDEK, so a batch costs one cache lookup, not one per record.
struct Annotator<'a> {
    shared: &'a Shared,
    topic: &'a str,
    consumer: Option<&'a str>,
    last: Option<(Vec<u8>, Option<CfragHeaders>)>,
}

impl Annotator<'_> {
    fn answer(&mut self, edek: &[u8]) -> Annotation {
        let Some(consumer) = self.consumer else {
            return Annotation::Nothing;
        };
        if let Some((last, answer)) = &self.last {
            if last.as_slice() == edek {
                return answer
                    .clone()
                    .map_or(Annotation::Nothing, Annotation::Cfrags);
            }
        }
        let answer = match self
            .shared
            .reencryptor
            .reencrypt(self.topic, edek, consumer)
        {
            Ok(headers) => Some(headers),
            Err(
                e @ (RewrapError::NotGranted | RewrapError::Revoked | RewrapError::GrantExpired),
            ) => {
                tracing::debug!(topic = self.topic, consumer, error = %e, "no cfrag");
                None
            }
            Err(e) => {
                tracing::warn!(
                    topic = self.topic,
                    consumer,
                    error = %e,
                    code = e.code(),
                    "rewrap header rejected; record passed without a cfrag"
                );
                None
            }
        };
        self.last = Some((edek.to_vec(), answer.clone()));
        answer.map_or(Annotation::Nothing, Annotation::Cfrags)
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
        if let Some(id) = injected {
            responses.retain(|r| r.request_id() != Some(id));
        }
        Ok(responses)
    }
}
