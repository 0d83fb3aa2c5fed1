//! Writes the seed corpus of the proxy targets into `corpus/fetch_rewrite` and
//! `corpus/request_inspect` (files named `seed-*`, the only ones git keeps there):
//!
//! ```sh
//! cd fuzz && cargo +nightly run --example seeds
//! ```
//!
//! Without seeds the fuzzer would not get past a batch's CRC-32C or a sealed record's EDEK:
//! these are valid frames and batches holding records sealed to the fixture's channel key
//! (signed by its authorized producer, or unsigned on the `optional` topic), in every codec,
//! plus the shapes the rewriter treats apart (stray and smuggled cfrag headers, control
//! batches, legacy message sets, partial tails, unknown topic ids), and client exchanges
//! (PLAIN and SCRAM, framed and raw, Fetch by name and by id, Metadata).

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, FetchRequest, MetadataRequest, ProduceRequest, RequestHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_protocol::records::Compression;
use rewrap::{SigningMode, CFRAG_HEADER, CHANNEL_SIG_HEADER, EDEK_HEADER};
use rewrap_fuzz::*;
use rewrap_proxy::compression::{self, Codec, Framing};
use std::path::Path;
use uuid::Uuid;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

/// A batch whose records are re-compressed as Snappy in the xerial framing Java producers
/// write.
fn xerial(records: &[kafka_protocol::records::Record]) -> Vec<u8> {
    let plain = batch(records, Compression::None, 2);
    let mut out = plain[..61].to_vec();
    compression::compress(Codec::Snappy, Framing::Xerial, &plain[61..], &mut out).unwrap();
    out[22] = (out[22] & !0x07) | 0x02;
    seal_batch(&mut out);
    out
}

fn request(api_key: ApiKey, version: i16, client_id: &str, body: &impl Encodable) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())))
        .encode(&mut buf, api_key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

/// A `request_inspect` input: control byte, then `[u16 length][frame]` each.
fn frames(control: u8, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![control];
    for f in frames {
        out.extend_from_slice(&(f.len() as u16).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn handshake(version: i16, mechanism: &'static str) -> Vec<u8> {
    request(
        ApiKey::SaslHandshake,
        version,
        "c",
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
    )
}

fn authenticate(bytes: &'static [u8]) -> Vec<u8> {
    request(
        ApiKey::SaslAuthenticate,
        2,
        "c",
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(bytes)),
    )
}

fn fetch(version: i16, client_id: &str, ids: &[Uuid]) -> Vec<u8> {
    let topics = if version >= 13 {
        ids.iter()
            .map(|id| {
                FetchTopic::default()
                    .with_topic_id(*id)
                    .with_partitions(vec![FetchPartition::default().with_partition(0)])
            })
            .collect()
    } else {
        [ORDERS, EVENTS]
            .iter()
            .map(|t| {
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_static_str(t)))
                    .with_partitions(vec![FetchPartition::default().with_partition(0)])
            })
            .collect()
    };
    request(
        ApiKey::Fetch,
        version,
        client_id,
        &FetchRequest::default()
            .with_max_bytes(1 << 20)
            .with_topics(topics),
    )
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let fetch_dir = root.join("fetch_rewrite");
    let inspect_dir = root.join("request_inspect");
    std::fs::create_dir_all(&fetch_dir).unwrap();
    std::fs::create_dir_all(&inspect_dir).unwrap();

    let signed = producer(true);
    let unsigned = producer(false);
    let per_record = producer(false);
    per_record.set_signer(Some((&producer_signing(), SigningMode::Record)));

    // Frame mode: whole Fetch responses, one per codec and a spread of versions.
    let versions = [12i16, 16, 7, 13, 17];
    for (codec, version) in CODECS.iter().zip(versions) {
        let records = batch(&sealed(&signed, ORDERS, 0, 3), *codec, 2);
        let mut input = vec![fetch_mode_byte(version, false, version == 17)];
        input.extend(fetch_response(version, ORDERS, &records));
        write(&fetch_dir, &format!("frame-v{version}-{codec:?}"), &input);
    }
    // Unsigned records on the `optional` topic, by name and by id.
    for version in [4i16, 14] {
        let records = batch(&sealed(&unsigned, EVENTS, 10, 2), Compression::Gzip, 2);
        let mut input = vec![fetch_mode_byte(version, false, false)];
        input.extend(fetch_response(version, EVENTS, &records));
        write(&fetch_dir, &format!("frame-v{version}-events"), &input);
    }
    // Stray and smuggled proxy headers beside a sealed record.
    let sealed_one = sealed(&signed, ORDERS, 0, 1).remove(0);
    let mut forged = sealed_one.clone();
    for (name, value) in [
        (CFRAG_HEADER.to_string(), &b"forged"[..]),
        (CHANNEL_SIG_HEADER.to_string(), b"forged"),
        (format!("{CFRAG_HEADER}\0x"), b"smuggled"),
        (format!("{EDEK_HEADER}\0"), b"smuggled"),
    ] {
        forged
            .headers
            .insert(StrBytes::from_string(name), Some(Bytes::from_static(value)));
    }
    let stray = batch(&[forged.clone()], Compression::None, 2);
    let mut input = vec![fetch_mode_byte(15, false, false)];
    input.extend(fetch_response(15, ORDERS, &stray));
    write(&fetch_dir, "frame-v15-stray", &input);
    // A topic id the proxy never learnt (no name: cleaned, no cfrags).
    let mut input = vec![fetch_mode_byte(13, false, false)];
    let mut unknown = fetch_response(13, ORDERS, &stray);
    let at = unknown
        .windows(16)
        .position(|w| w == ORDERS_ID.as_bytes())
        .unwrap();
    unknown[at..at + 16].copy_from_slice(Uuid::from_u128(7).as_bytes());
    input.extend(unknown);
    write(&fetch_dir, "frame-v13-unknown-id", &input);
    // Control batch, legacy message set, sealed batch, partial tail.
    let mut control = sealed(&signed, ORDERS, 20, 1);
    control[0].control = true;
    let mut legacy = sealed(&signed, ORDERS, 21, 1);
    legacy[0].headers.clear();
    let good = batch(&sealed(&signed, ORDERS, 22, 2), Compression::None, 2);
    let mut records = batch(&control, Compression::None, 2);
    records.extend(batch(&legacy, Compression::None, 1));
    records.extend(&good);
    records.extend(&good[..good.len() / 2]);
    let mut input = vec![fetch_mode_byte(11, false, false)];
    input.extend(fetch_response(11, ORDERS, &records));
    write(&fetch_dir, "frame-v11-mixed", &input);

    // Records mode: batches whose CRCs the harness fixes.
    let by_codec: Vec<Vec<u8>> = CODECS
        .iter()
        .map(|c| batch(&sealed(&signed, ORDERS, 0, 2), *c, 2))
        .collect();
    for (i, b) in by_codec.iter().enumerate() {
        let mut input = vec![fetch_mode_byte(12 + i as i16, true, i == 4), 0];
        input.extend(chunks(&[b]));
        write(&fetch_dir, &format!("records-{:?}", CODECS[i]), &input);
    }
    let mut input = vec![fetch_mode_byte(16, true, false), 0];
    input.extend(chunks(&[
        &xerial(&sealed(&signed, ORDERS, 0, 3)),
        &by_codec[0],
    ]));
    write(&fetch_dir, "records-xerial", &input);
    let mut input = vec![fetch_mode_byte(12, true, false), 1];
    let events = batch(&sealed(&unsigned, EVENTS, 0, 2), Compression::Lz4, 2);
    let rsig = batch(&sealed(&per_record, EVENTS, 2, 2), Compression::Zstd, 2);
    input.extend(chunks(&[&events, &rsig]));
    write(&fetch_dir, "records-events", &input);
    let mut input = vec![fetch_mode_byte(12, true, false), 0];
    let stray_zstd = batch(&[forged], Compression::Zstd, 2);
    input.extend(chunks(&[&by_codec[1], &stray_zstd]));
    write(&fetch_dir, "records-stray", &input);

    // request_inspect: client exchanges.
    let known = [ORDERS_ID, EVENTS_ID];
    write(
        &inspect_dir,
        "plain",
        &frames(
            0,
            &[
                request(ApiKey::ApiVersions, 3, "c", &ApiVersionsRequest::default()),
                handshake(1, "PLAIN"),
                authenticate(b"\0alice\0secret"),
                fetch(12, "c", &known),
            ],
        ),
    );
    write(
        &inspect_dir,
        "scram",
        &frames(
            0,
            &[
                handshake(1, "SCRAM-SHA-256"),
                authenticate(b"n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"),
                authenticate(b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
                fetch(16, "c", &known),
            ],
        ),
    );
    write(
        &inspect_dir,
        "raw-plain",
        &frames(
            0,
            &[
                handshake(0, "PLAIN"),
                b"\0alice\0secret".to_vec(),
                fetch(11, "c", &known),
            ],
        ),
    );
    write(
        &inspect_dir,
        "raw-scram",
        &frames(
            1,
            &[
                handshake(0, "SCRAM-SHA-512"),
                b"n,,n=alice,r=abc".to_vec(),
                b"c=biws,r=abcdef,p=AAAA".to_vec(),
                request(
                    ApiKey::Metadata,
                    12,
                    "c",
                    &MetadataRequest::default().with_topics(Some(vec![
                        MetadataRequestTopic::default().with_topic_id(Uuid::from_u128(9)),
                    ])),
                ),
                fetch(13, "c", &known),
            ],
        ),
    );
    let unknown: Vec<Uuid> = (1..=5).map(|i| Uuid::from_u128(0xabc0 + i)).collect();
    write(
        &inspect_dir,
        "fetch-unknown-ids",
        &frames(
            0,
            &[fetch(13, CONSUMER, &[&known[..], &unknown[..]].concat())],
        ),
    );
    let many: Vec<Uuid> = (1..=101).map(|i| Uuid::from_u128(0x1000 + i)).collect();
    write(
        &inspect_dir,
        "fetch-too-many-ids",
        &frames(
            1,
            &[
                request(
                    ApiKey::ApiVersions,
                    3,
                    CONSUMER,
                    &ApiVersionsRequest::default(),
                ),
                fetch(15, CONSUMER, &many),
                fetch(15, CONSUMER, &known),
            ],
        ),
    );
    write(
        &inspect_dir,
        "failed-then-again",
        &frames(
            0b0000_0010,
            &[
                handshake(1, "PLAIN"),
                authenticate(b"\0alice\0wrong"),
                handshake(1, "PLAIN"),
                authenticate(b"alice\0alice\0secret"),
                fetch(12, CONSUMER, &known),
            ],
        ),
    );
    write(
        &inspect_dir,
        "opaque-mechanism",
        &frames(
            0,
            &[
                handshake(1, "OAUTHBEARER"),
                authenticate(b"n,,\x01auth=Bearer token\x01\x01"),
                fetch(12, CONSUMER, &known),
            ],
        ),
    );
    let produce =
        ProduceRequest::default()
            .with_acks(1)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(ORDERS)))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from(by_codec[0].clone())))])]);
    write(
        &inspect_dir,
        "produce-metadata",
        &frames(
            0,
            &[
                request(ApiKey::Produce, 9, CONSUMER, &produce),
                request(
                    ApiKey::Metadata,
                    4,
                    CONSUMER,
                    &MetadataRequest::default()
                        .with_topics(Some(vec![MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_static_str(ORDERS))))])),
                ),
                fetch(12, CONSUMER, &known),
            ],
        ),
    );
    // Every seed runs through the harness; say what the proxy attached.
    init();
    let mut seeds: Vec<_> = std::fs::read_dir(&fetch_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("seed-"))
        .collect();
    seeds.sort_by_key(|e| e.file_name());
    for seed in seeds {
        let records = fetch_rewrite(&std::fs::read(seed.path()).unwrap()).unwrap_or_default();
        let (cfrags, chsigs) = proxy_headers(&records);
        println!(
            "{:<32} cfrags {cfrags:>2} chsigs {chsigs:>2}",
            seed.file_name().to_string_lossy()
        );
    }
    for seed in std::fs::read_dir(&inspect_dir)
        .unwrap()
        .filter_map(|e| e.ok())
    {
        request_inspect(&std::fs::read(seed.path()).unwrap());
    }
    let total: u64 = [&fetch_dir, &inspect_dir]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("seed-"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    println!("seeds written under {} ({total} bytes)", root.display());
}
