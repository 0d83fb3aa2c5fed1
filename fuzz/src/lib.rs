//! The harness of the proxy's fuzz targets (`fetch_rewrite`, `request_inspect`) and of their
//! seed generator (`examples/seeds.rs`).
//!
//! The transform under test is the real one: built from its topology settings
//! ([`RewrapReencryptConfig`], as `topology.yaml` gives them) over a grant store written here,
//! with one consumer grant per topic, a producer grant and a channel signing seed, so records
//! get cfrags and channel signatures. Each fuzz input is one client connection: a fresh
//! transform from the shared builder, in a Shotover chain that ends in [`Sink`], which answers
//! the requests the transform lets through (the injected Metadata request included) with
//! frames made from the input, as bytes the way Shotover's Kafka codec hands them over.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, MetadataResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateResponse, SaslHandshakeResponse, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, RecordSet,
    TimestampType,
};
use rewrap::{
    DirGrantStore, Encryptor, Grant, GrantTerms, ProducerGrant, SecretKey, Signer, SigningMode,
    CFRAG_HEADER, CHANNEL_SIG_HEADER, EDEK_HEADER, HEADER_PREFIX,
};
use rewrap_proxy::RewrapReencryptConfig;
use shotover::codec::kafka::{KafkaCodecState, RequestHeader as CodecRequestHeader};
use shotover::codec::CodecState;
use shotover::frame::kafka::{KafkaFrame, RequestBody, ResponseBody};
use shotover::frame::{Frame, MessageType};
use shotover::message::{Message, MessageId, Messages};
use shotover::transforms::chain::TransformAndMetrics;
use shotover::transforms::{
    ChainState, Transform, TransformBuilder, TransformConfig, TransformContextBuilder,
    TransformContextConfig,
};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::OnceLock;
use uuid::Uuid;

/// The allocator of the proxy targets: the system's, except that requests of 8 MiB or more get
/// address space only (`mmap` with `MAP_NORESERVE`), as on a host that overcommits (and without
/// ASan poisoning shadow memory for bytes never touched); those of 1 GiB or more are counted
/// ([`huge_allocations`]).
///
/// kafka-protocol 0.15 (and so Shotover's parsing of every frame) sizes a decoded array by
/// the count the frame claims (`Vec::with_capacity(n)`, `n` up to 2^31 or 2^32), so a frame of
/// a few dozen bytes asks for tens or hundreds of GiB: on a host without overcommit that
/// allocation fails and the process aborts (see the fuzzing notes in docs/). That is upstream
/// of the proxy's own code; this allocator lets the fuzzer go past it into the proxy.
pub struct Overcommit;

const BIG: usize = 8 << 20;
const HUGE: usize = 1 << 30;
static HUGE_ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Allocations of 1 GiB or more served so far (each a frame claiming a huge array).
pub fn huge_allocations() -> u64 {
    HUGE_ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

unsafe fn map(layout: std::alloc::Layout) -> *mut u8 {
    if layout.align() > 4096 {
        return std::ptr::null_mut();
    }
    if layout.size() >= HUGE {
        HUGE_ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let p = libc::mmap(
        std::ptr::null_mut(),
        layout.size(),
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
        -1,
        0,
    );
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

unsafe impl std::alloc::GlobalAlloc for Overcommit {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.size() >= BIG {
            return map(layout);
        }
        std::alloc::System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.size() >= BIG {
            return map(layout); // anonymous pages are zero
        }
        std::alloc::System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        if layout.size() >= BIG {
            libc::munmap(ptr.cast(), layout.size());
        } else {
            std::alloc::System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if layout.size() < BIG && new_size < BIG {
            return std::alloc::System.realloc(ptr, layout, new_size);
        }
        let new_layout = std::alloc::Layout::from_size_align_unchecked(new_size, layout.align());
        let new = self.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

/// Topic whose policy is the default, `require`: signed records of the granted producer.
pub const ORDERS: &str = "orders";
/// Topic with policy `optional`: unsigned records get cfrags too.
pub const EVENTS: &str = "events";
/// Their topic ids (Fetch v13+), taught to the proxy by a Metadata response at start.
pub const ORDERS_ID: Uuid = Uuid::from_u128(0x6f72_6465_7273_0000_0000_0000_0000_0001);
pub const EVENTS_ID: Uuid = Uuid::from_u128(0x6576_656e_7473_0000_0000_0000_0000_0002);
/// The consumer the grants name; fetches in `fetch_rewrite` send it as their client id.
pub const CONSUMER: &str = "alice";

fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes(&[byte; 32]).expect("fixed fuzz key")
}

/// The administrator who signs the fixture's grants.
pub fn admin() -> Signer {
    Signer::new(key(0x11))
}

/// The channel (delegating) key records are sealed to.
pub fn channel() -> SecretKey {
    key(0x22)
}

/// The consumer's key.
pub fn consumer() -> SecretKey {
    key(0x33)
}

/// The producer's signing key (authorized on both topics).
pub fn producer_signing() -> SecretKey {
    key(0x44)
}

/// A producer sealing to the channel key; signed (session mode) or not.
pub fn producer(signed: bool) -> Encryptor {
    let enc = Encryptor::new(channel().public_key()).expect("encryptor");
    if signed {
        enc.set_signer(Some((&producer_signing(), SigningMode::Session)));
    }
    enc
}

/// A Kafka record with the given headers.
pub fn record(offset: i64, key: &[u8], value: &[u8], headers: &[(&str, &[u8])]) -> Record {
    let mut map = IndexMap::new();
    for (k, v) in headers {
        map.insert(
            StrBytes::from_string(k.to_string()),
            Some(Bytes::copy_from_slice(v)),
        );
    }
    Record {
        transactional: false,
        control: false,
        partition_leader_epoch: 3,
        producer_id: 4242,
        producer_epoch: 1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: offset as i32,
        timestamp: 1_700_000_000_000 + offset,
        key: Some(Bytes::copy_from_slice(key)),
        value: Some(Bytes::copy_from_slice(value)),
        headers: map,
    }
}

/// `n` records sealed by `enc` for `topic`, from `offset`.
pub fn sealed(enc: &Encryptor, topic: &str, offset: i64, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let k = format!("key-{i}");
            let s = enc
                .seal(topic, Some(k.as_bytes()), format!("payload {i}").as_bytes())
                .expect("seal");
            let headers: Vec<(&str, &[u8])> = s.headers();
            record(offset + i as i64, k.as_bytes(), &s.value, &headers)
        })
        .collect()
}

/// Records encoded as one batch (magic 2, or 1 for a legacy message set).
pub fn batch(records: &[Record], compression: Compression, magic: i8) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: magic,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, records, &options).expect("encode batch");
    buf.to_vec()
}

/// Where a magic-2 batch's fields are.
const LENGTH_AT: usize = 8;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const RECORDS_AT: usize = 61;

/// Sets a batch's length field and (magic 2) CRC-32C to match its bytes.
pub fn seal_batch(batch: &mut [u8]) {
    if batch.len() >= 12 {
        let len = (batch.len() - 12) as i32;
        batch[LENGTH_AT..12].copy_from_slice(&len.to_be_bytes());
    }
    if batch.len() >= RECORDS_AT && batch[MAGIC_AT] == 2 {
        let crc = crc32c::crc32c(&batch[ATTRIBUTES_AT..]);
        batch[CRC_AT..ATTRIBUTES_AT].copy_from_slice(&crc.to_be_bytes());
    }
}

/// The fixture: a grant store, channel seed and a transform builder over them (the first with
/// the default output, the topic's codec, LZ4 written from the rewriter's repeats; the second
/// rewrites batches uncompressed), and the runtime the chain runs on.
struct Fixture {
    default_output: Box<dyn TransformBuilder>,
    uncompressed: Box<dyn TransformBuilder>,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rewrap-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("store")).expect("fixture dir");
        let store = DirGrantStore::open(dir.join("store")).expect("grant store");
        let admin = admin();
        let mut rng = rewrap::rng();
        for topic in [ORDERS, EVENTS] {
            let terms = GrantTerms::one_of_one(topic, CONSUMER, consumer().public_key(), 0);
            let grant = Grant::issue(&mut rng, &admin, &channel(), &terms).expect("grant");
            store.put(&grant).expect("put grant");
            let may_produce = ProducerGrant::issue(
                &mut rng,
                &admin,
                topic,
                &producer_signing().public_key(),
                0,
                None,
            )
            .expect("producer grant");
            store
                .put_producer(&may_produce)
                .expect("put producer grant");
        }
        let seed = dir.join("channel.seed");
        std::fs::write(&seed, "55".repeat(32)).expect("seed");
        std::fs::set_permissions(&seed, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("seed mode");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let builder = |output: &str| -> Box<dyn TransformBuilder> {
            // As a topology file would give them, so new settings keep their defaults.
            let config: RewrapReencryptConfig = serde_json::from_value(serde_json::json!({
                "grant_store": dir.join("store").to_str().unwrap(),
                "trusted_admins": [admin.verifying_key().to_hex()],
                "reload_interval_ms": 3_600_000u64,
                "rewritten_batches": output,
                "producer_policies": { EVENTS: "optional" },
                "channel_signing_seed": seed.to_str().unwrap(),
            }))
            .expect("config");
            let context = TransformContextConfig {
                chain_name: "fuzz".into(),
                up_chain_protocol: MessageType::Kafka,
            };
            runtime
                .block_on(config.get_builder(context))
                .expect("transform builder")
        };
        let fixture = Fixture {
            default_output: builder("SameCodec"),
            uncompressed: builder("Uncompressed"),
            runtime,
        };
        // Teach the proxy the topic ids, as a client's Metadata request would.
        let mut conn = Connection::new(&fixture, false, Box::new(metadata_answer));
        let metadata = KafkaFrame::Request {
            header: RequestHeader::default()
                .with_request_api_key(ApiKey::Metadata as i16)
                .with_request_api_version(12)
                .with_client_id(Some(StrBytes::from_static_str(CONSUMER))),
            body: RequestBody::Metadata(Default::default()),
        };
        let answered = conn.call(&fixture, vec![Message::from_frame(Frame::Kafka(metadata))]);
        assert_eq!(answered.len(), 1, "metadata answered");
        fixture
    })
}

/// Builds the fixture now (so its cost is not charged to the first input); at exit, says how
/// many huge allocations [`Overcommit`] served.
pub fn init() {
    fixture();
    extern "C" fn report() {
        eprintln!(
            "rewrap-fuzz: huge allocations served: {}",
            huge_allocations()
        );
    }
    unsafe {
        libc::atexit(report);
    }
}

/// Answers a request, or not (`None`: the sink sends nothing back for it).
pub type Answer = Box<dyn FnMut(&mut Message) -> Option<Message> + Send>;

/// The terminating transform: answers what reaches it.
pub struct Sink {
    answer: Answer,
}

#[async_trait::async_trait]
impl Transform for Sink {
    async fn transform<'shorter, 'longer: 'shorter>(
        &mut self,
        chain_state: &'shorter mut ChainState<'longer>,
    ) -> anyhow::Result<Messages> {
        let mut responses = Vec::new();
        for mut request in std::mem::take(&mut chain_state.requests) {
            if let Some(mut response) = (self.answer)(&mut request) {
                response.set_request_id(request.id());
                responses.push(response);
            }
        }
        Ok(responses)
    }

    fn get_name(&self) -> &'static str {
        "FuzzSink"
    }
}

fn with_metrics(transform: Box<dyn Transform>) -> TransformAndMetrics {
    TransformAndMetrics {
        transform,
        transform_total: metrics::Counter::noop(),
        transform_failures: metrics::Counter::noop(),
        transform_latency: metrics::Histogram::noop(),
    }
}

/// One client connection: the proxy's transform, then the sink.
struct Connection {
    chain: Vec<TransformAndMetrics>,
}

impl Connection {
    fn new(fixture: &Fixture, uncompressed: bool, answer: Answer) -> Self {
        let builder = if uncompressed {
            &fixture.uncompressed
        } else {
            &fixture.default_output
        };
        let proxy = builder.build(TransformContextBuilder::new_test());
        Connection {
            chain: vec![with_metrics(proxy), with_metrics(Box::new(Sink { answer }))],
        }
    }

    /// One batch of requests through the chain; the responses the client gets.
    fn call(&mut self, fixture: &Fixture, requests: Messages) -> Messages {
        let addr: SocketAddr = "127.0.0.1:9092".parse().unwrap();
        let mut state = ChainState::new_with_addr(requests, addr);
        state.reset(&mut self.chain);
        fixture
            .runtime
            .block_on(state.call_next_transform())
            .unwrap_or_default()
    }
}

/// A response as the sink's Kafka codec hands it over: bytes (with their length prefix), parsed
/// when a transform first asks for its frame.
pub fn response_bytes(api_key: ApiKey, version: i16, body: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(body.len() + 4);
    bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
    bytes.extend_from_slice(body);
    Message::from_bytes(
        bytes.into(),
        CodecState::Kafka(KafkaCodecState {
            request_header: Some(CodecRequestHeader { api_key, version }),
            raw_sasl: false,
        }),
    )
}

fn response_frame(version: i16, body: ResponseBody) -> Message {
    Message::from_frame(Frame::Kafka(KafkaFrame::Response {
        version,
        header: ResponseHeader::default(),
        body,
    }))
}

/// Encodes a response as a broker would send it (header and body, no length prefix).
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    body: &impl Encodable,
) -> anyhow::Result<Vec<u8>> {
    let mut buf = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(7)
        .encode(&mut buf, api_key.response_header_version(version))?;
    body.encode(&mut buf, version)?;
    Ok(buf.to_vec())
}

/// A Metadata request's answer: names for the fixture's topic ids (and topic names asked
/// for), unknown for anything else.
fn metadata_answer(request: &mut Message) -> Option<Message> {
    let Some(Frame::Kafka(KafkaFrame::Request {
        header,
        body: RequestBody::Metadata(metadata),
    })) = request.frame()
    else {
        return None;
    };
    let version = header.request_api_version;
    let asked: Vec<(Uuid, Option<String>)> = match &metadata.topics {
        None => vec![(ORDERS_ID, None), (EVENTS_ID, None)],
        Some(topics) => topics
            .iter()
            .map(|t| (t.topic_id, t.name.as_ref().map(|n| n.0.to_string())))
            .collect(),
    };
    let topics = asked
        .into_iter()
        .map(|(id, name)| {
            let known = match (id, name.as_deref()) {
                (id, _) if id == ORDERS_ID => Some((ORDERS, ORDERS_ID)),
                (id, _) if id == EVENTS_ID => Some((EVENTS, EVENTS_ID)),
                (_, Some(ORDERS)) => Some((ORDERS, ORDERS_ID)),
                (_, Some(EVENTS)) => Some((EVENTS, EVENTS_ID)),
                _ => None,
            };
            match known {
                Some((name, id)) => MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str(name))))
                    .with_topic_id(id),
                None => MetadataResponseTopic::default()
                    .with_error_code(100)
                    .with_topic_id(id),
            }
        })
        .collect();
    Some(response_frame(
        version,
        ResponseBody::Metadata(MetadataResponse::default().with_topics(topics)),
    ))
}

/// A Fetch request for both fixture topics (by name before v13, by id from v13).
pub fn fetch_request(version: i16, client_id: &str) -> Message {
    let topics = [(ORDERS, ORDERS_ID), (EVENTS, EVENTS_ID)]
        .into_iter()
        .map(|(name, id)| {
            let topic = FetchTopic::default()
                .with_partitions(vec![FetchPartition::default().with_partition(0)]);
            if version >= 13 {
                topic.with_topic_id(id)
            } else {
                topic.with_topic(TopicName(StrBytes::from_static_str(name)))
            }
        })
        .collect();
    Message::from_frame(Frame::Kafka(KafkaFrame::Request {
        header: RequestHeader::default()
            .with_request_api_key(ApiKey::Fetch as i16)
            .with_request_api_version(version)
            .with_client_id(Some(StrBytes::from_string(client_id.to_string()))),
        body: RequestBody::Fetch(FetchRequest::default().with_topics(topics)),
    }))
}

/// A Fetch response (header and body) for one topic partition holding `records`.
pub fn fetch_response(version: i16, topic: &str, records: &[u8]) -> Vec<u8> {
    let id = if topic == ORDERS {
        ORDERS_ID
    } else {
        EVENTS_ID
    };
    let mut t = FetchableTopicResponse::default().with_partitions(vec![PartitionData::default()
        .with_partition_index(0)
        .with_high_watermark(100)
        .with_records(Some(Bytes::copy_from_slice(records)))]);
    if version >= 13 {
        t = t.with_topic_id(id);
    } else {
        t = t.with_topic(TopicName(StrBytes::from_string(topic.to_string())));
    }
    let body = FetchResponse::default().with_responses(vec![t]);
    encode_response(ApiKey::Fetch, version, &body).expect("encode fetch response")
}

/// Fetch versions the `fetch_rewrite` target picks from (v4, the first with record batches,
/// to v17).
pub fn fetch_version(byte: u8) -> i16 {
    4 + i16::from(byte % 14)
}

/// The first byte of a `fetch_rewrite` input that picks `version`, `records` mode and the
/// `uncompressed` output.
pub fn fetch_mode_byte(version: i16, records: bool, uncompressed: bool) -> u8 {
    (version - 4) as u8 | (u8::from(uncompressed) << 6) | (u8::from(records) << 7)
}

/// In records mode: `[u16 length][batch]...`, each batch's length field and CRC set to match
/// (so mutations inside a batch get past the CRC check); a trailing piece shorter than its
/// length goes on as it is (a partial batch, as a broker cuts at its byte limit).
pub fn records_from_chunks(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        if n > rest.len() {
            out.extend_from_slice(rest);
            break;
        }
        let start = out.len();
        out.extend_from_slice(&rest[..n]);
        seal_batch(&mut out[start..]);
        rest = &rest[n..];
    }
    out
}

/// The records-mode encoding of whole batches, for seeds.
pub fn chunks(batches: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for b in batches {
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        out.extend_from_slice(b);
    }
    out
}

/// The `fetch_rewrite` target: a Fetch response from the broker through the proxy.
///
/// Input: one mode byte ([`fetch_mode_byte`]: version, records mode, uncompressed output),
/// then either the response frame (header and body, without the length prefix the sink's codec
/// adds) or, in records mode, one partition's record batches as [`records_from_chunks`]
/// reads them, which the harness wraps in a Fetch response for topic `orders` or (when the
/// second byte is odd) `events`.
///
/// Checks: no panic; the one response comes back to the one request and encodes; in records
/// mode, when the input's batches decode (kafka-protocol's decoder) and the proxy changed
/// them, the output decodes to the same records with the same headers but for rewrap's own.
/// Returns the records of the response's first partition, as the client gets them.
pub fn fetch_rewrite(data: &[u8]) -> Option<Bytes> {
    let (&mode, rest) = data.split_first()?;
    let fixture = fixture();
    let version = fetch_version(mode & 0x3f);
    let uncompressed = mode & 0x40 != 0;
    let records_mode = mode & 0x80 != 0;
    let (frame, input_records) = if records_mode {
        let (&which, rest) = rest.split_first()?;
        let topic = if which & 1 == 1 { EVENTS } else { ORDERS };
        let records = records_from_chunks(rest);
        (fetch_response(version, topic, &records), Some(records))
    } else {
        (rest.to_vec(), None)
    };
    let mut conn = Connection::new(
        fixture,
        uncompressed,
        Box::new(move |request: &mut Message| {
            match request.frame() {
                Some(Frame::Kafka(KafkaFrame::Request {
                    body: RequestBody::Fetch(_),
                    ..
                })) => Some(response_bytes(ApiKey::Fetch, version, &frame)),
                // The transform's own Metadata request (an id it did not know).
                Some(Frame::Kafka(KafkaFrame::Request {
                    body: RequestBody::Metadata(_),
                    ..
                })) => metadata_answer(request),
                _ => None,
            }
        }),
    );
    let request = fetch_request(version, CONSUMER);
    let id = request.id();
    let mut responses = conn.call(fixture, vec![request]);
    assert_eq!(responses.len(), 1, "one response to one fetch");
    let mut response = responses.pop().unwrap();
    assert_eq!(response.request_id(), Some(id), "the fetch's own response");
    let output_records = match response.frame() {
        Some(Frame::Kafka(KafkaFrame::Response {
            body: ResponseBody::Fetch(fetch),
            ..
        })) => fetch
            .responses
            .first()
            .and_then(|t| t.partitions.first())
            .and_then(|p| p.records.clone()),
        _ => None,
    };
    // What Shotover writes back to the client.
    if let shotover::message::Encodable::Frame(frame) = response.into_encodable() {
        if let Frame::Kafka(frame) = *frame {
            frame
                .encode(&mut BytesMut::new())
                .expect("a rewritten response encodes");
        }
    }
    if let (Some(input), Some(output)) = (&input_records, &output_records) {
        if output[..] != input[..] {
            same_records(input, output);
        }
    }
    output_records
}

/// Counts of `rewrap.cfrag` and `rewrap.chsig` headers in decodable record batches.
pub fn proxy_headers(records: &[u8]) -> (usize, usize) {
    let count = |name: &str| {
        decode_all(records)
            .unwrap_or_default()
            .iter()
            .flat_map(|s| s.records.iter())
            .flat_map(|r| r.headers.keys())
            .filter(|k| k.as_str() == name)
            .count()
    };
    (count(CFRAG_HEADER), count(CHANNEL_SIG_HEADER))
}

/// Whether a header name is one the proxy removes from stored records (a cfrag, a channel
/// signature, or a name C clients read as a rewrap name), written apart from the proxy's own.
fn proxy_only(name: &[u8]) -> bool {
    let read_as = name.split(|&b| b == 0).next().unwrap_or_default();
    read_as == CFRAG_HEADER.as_bytes()
        || name == CHANNEL_SIG_HEADER.as_bytes()
        || (read_as.len() < name.len() && read_as.starts_with(HEADER_PREFIX.as_bytes()))
}

/// Whether kafka-protocol's record decoder can be trusted with these batches: it sizes a
/// Snappy batch's buffer by the length the data claims (and zeroes it), so a claim of GiBs
/// would be this harness's own out-of-memory, not the proxy's.
fn decodable(mut bytes: &[u8]) -> bool {
    while bytes.len() >= RECORDS_AT {
        let len = i32::from_be_bytes(bytes[LENGTH_AT..12].try_into().unwrap());
        let Some(end) = usize::try_from(len).ok().and_then(|l| l.checked_add(12)) else {
            return false;
        };
        let Some(batch) = bytes.get(..end) else {
            break;
        };
        if end == 12 {
            return false; // a zero length: kafka-protocol's decoder would stop there
        }
        let snappy = batch.len() > RECORDS_AT
            && batch[MAGIC_AT] == 2
            && batch[ATTRIBUTES_AT + 1] & 0x07 == 2;
        if snappy {
            match snap::raw::decompress_len(&batch[RECORDS_AT..]) {
                Ok(n) if n <= 32 << 20 => {}
                _ => return false,
            }
        }
        bytes = &bytes[end..];
    }
    true
}

fn decode_all(bytes: &[u8]) -> Option<Vec<RecordSet>> {
    if !decodable(bytes) {
        return None;
    }
    let mut buf = Bytes::copy_from_slice(bytes);
    let sets = RecordBatchDecoder::decode_all(&mut buf).ok()?;
    Some(sets)
}

/// Records the proxy rewrote are the records it was given: same offsets, timestamps, keys,
/// values and headers, but for the proxy's own headers.
fn same_records(input: &[u8], output: &[u8]) {
    let Some(before) = decode_all(input) else {
        return;
    };
    let after = decode_all(output).expect("the proxy's rewritten batches decode");
    let records = |sets: &[RecordSet]| -> Vec<Record> {
        sets.iter()
            .flat_map(|s| s.records.iter().cloned())
            .collect()
    };
    let (before, after) = (records(&before), records(&after));
    // The proxy may cut the response before an unparsable batch holding a cfrag name.
    assert!(after.len() <= before.len(), "no records added");
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(
            (b.offset, b.timestamp, &b.key, &b.value, b.control),
            (a.offset, a.timestamp, &a.key, &a.value, a.control),
            "record kept"
        );
        let kept = |r: &Record| -> Vec<(StrBytes, Option<Bytes>)> {
            r.headers
                .iter()
                .filter(|(k, _)| !proxy_only(k.as_bytes()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        assert_eq!(kept(b), kept(a), "headers kept");
        let named = |r: &Record, name: &str| r.headers.keys().any(|k| k.as_str() == name);
        let (edek, cfrags) = (named(b, EDEK_HEADER), named(a, CFRAG_HEADER));
        assert!(!cfrags || edek, "cfrags only on records with an EDEK");
    }
}

/// Codec state of the client's next frame, as Shotover's Kafka decoder tracks it: after a
/// SaslHandshake v0, SASL messages come raw (no Kafka framing).
#[derive(Clone, Copy, PartialEq)]
enum RawSasl {
    Plain,
    ScramFirst,
    ScramFinal,
}

/// A client frame as Shotover's source codec makes it: `None` where the codec itself refuses
/// (or, for an unknown api key or a frame shorter than its header, panics: Shotover's own
/// code, before any transform; not this target's business).
fn request_message(frame: &[u8], raw: &mut Option<RawSasl>) -> Option<Result<Message, ()>> {
    let mut bytes = Vec::with_capacity(frame.len() + 4);
    bytes.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    bytes.extend_from_slice(frame);
    let raw_sasl = raw.is_some();
    if !raw_sasl
        && (frame.len() < 4 || ApiKey::try_from(i16::from_be_bytes([frame[0], frame[1]])).is_err())
    {
        return None;
    }
    let mut message = Message::from_bytes(
        bytes.into(),
        CodecState::Kafka(KafkaCodecState {
            request_header: None,
            raw_sasl,
        }),
    );
    *raw = match *raw {
        Some(RawSasl::ScramFirst) => Some(RawSasl::ScramFinal),
        _ => None,
    };
    let v0_handshake = !raw_sasl
        && i16::from_be_bytes([frame[0], frame[1]]) == ApiKey::SaslHandshake as i16
        && i16::from_be_bytes([frame[2], frame[3]]) == 0;
    if v0_handshake {
        if let Some(Frame::Kafka(KafkaFrame::Request {
            body: RequestBody::SaslHandshake(handshake),
            ..
        })) = message.frame()
        {
            *raw = Some(match handshake.mechanism.as_str() {
                "PLAIN" => RawSasl::Plain,
                "SCRAM-SHA-256" | "SCRAM-SHA-512" => RawSasl::ScramFirst,
                // The codec refuses the mechanism: the connection closes.
                _ => return Some(Err(())),
            });
            message.invalidate_cache();
        }
    }
    Some(Ok(message))
}

/// Sealed records for the fetches of `request_inspect` (built once).
fn inspect_records() -> &'static [u8] {
    static RECORDS: OnceLock<Vec<u8>> = OnceLock::new();
    RECORDS.get_or_init(|| batch(&sealed(&producer(true), ORDERS, 0, 2), Compression::None, 2))
}

/// The broker, for `request_inspect`: SASL steps succeed unless the input's control bits say
/// otherwise, Metadata names the fixture's topics, Fetch answers every partition asked with
/// sealed records.
fn broker(control: u8) -> Answer {
    let mut sasl_steps = 0u32;
    Box::new(move |request: &mut Message| {
        let Some(Frame::Kafka(KafkaFrame::Request { header, body })) = request.frame() else {
            return None;
        };
        let version = header.request_api_version;
        match body {
            RequestBody::SaslHandshake(_) => Some(response_frame(
                version,
                ResponseBody::SaslHandshake(SaslHandshakeResponse::default()),
            )),
            RequestBody::SaslAuthenticate(_) => {
                let fail = control & (1 << (1 + sasl_steps % 7)) != 0;
                sasl_steps += 1;
                Some(response_frame(
                    version,
                    ResponseBody::SaslAuthenticate(
                        SaslAuthenticateResponse::default().with_error_code(if fail {
                            58
                        } else {
                            0
                        }),
                    ),
                ))
            }
            RequestBody::Metadata(_) => metadata_answer(request),
            RequestBody::Fetch(fetch) => {
                let responses = fetch
                    .topics
                    .iter()
                    .map(|t| {
                        FetchableTopicResponse::default()
                            .with_topic(t.topic.clone())
                            .with_topic_id(t.topic_id)
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .take(4)
                                    .map(|p| {
                                        PartitionData::default()
                                            .with_partition_index(p.partition)
                                            .with_records(Some(Bytes::from_static(
                                                inspect_records(),
                                            )))
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                Some(response_frame(
                    version,
                    ResponseBody::Fetch(FetchResponse::default().with_responses(responses)),
                ))
            }
            _ => None,
        }
    })
}

/// The `request_inspect` target: a client's frames through the proxy.
///
/// Input: a control byte (bit 0: all frames in one batch, as Shotover passes requests that
/// arrived together; bits 1-7: which SaslAuthenticate answers fail), then frames as
/// `[u16 length][frame]` (request header and body, or a raw SASL message after a v0
/// handshake; the harness adds Kafka's length prefix).
///
/// Checks: no panic; every response goes to a request the client sent (the proxy's own
/// Metadata request never reaches the client), each answered once.
pub fn request_inspect(data: &[u8]) {
    let Some((&control, mut rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let mut frames = Vec::new();
    while rest.len() >= 2 && frames.len() < 64 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        frames.push(&rest[2..2 + n]);
        rest = &rest[2 + n..];
    }
    let mut conn = Connection::new(fixture, false, broker(control));
    let mut raw = None;
    let mut batch: Messages = Vec::new();
    let send = |conn: &mut Connection, batch: &mut Messages| {
        if batch.is_empty() {
            return;
        }
        let sent: HashSet<MessageId> = batch.iter().map(Message::id).collect();
        let responses = conn.call(fixture, std::mem::take(batch));
        let mut answered = HashSet::new();
        for r in &responses {
            let id = r.request_id().expect("a response names its request");
            assert!(
                sent.contains(&id),
                "a response to a request the client sent"
            );
            assert!(answered.insert(id), "one response per request");
        }
    };
    for frame in frames {
        match request_message(frame, &mut raw) {
            None => continue,
            Some(Err(())) => break,
            Some(Ok(message)) => batch.push(message),
        }
        if control & 1 == 0 {
            send(&mut conn, &mut batch);
        }
    }
    send(&mut conn, &mut batch);
}
