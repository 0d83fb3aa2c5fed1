//! The proxy's fetch rewrite on real record batches, without a broker: one partition's fetch
//! (8 batches of 128 sealed-shaped records, each with a 211-byte EDEK header, the way
//! librdkafka batches a producer session) rewritten to carry one 369-byte cfrag per record,
//! per topic codec and record size.
//!
//! Baselines in the same run, per codec: `copy` (the fetch copied once, what any proxy that
//! forwards bytes pays) and `codec` (every batch decompressed and recompressed with its
//! codec, nothing parsed: the floor of any rewrite that keeps the topic's codec). The
//! rewrite's own cost is `rewrite − codec`. `rewrite_lz4` is `rewritten_batches: Lz4`: the
//! batch leaves as LZ4 written from the repeats the rewriter notes, so its floor is the topic
//! codec's decompression alone. Sizes in and out per record are printed.
//!
//! `cargo bench -p rewrap-proxy --bench rewrite` (about 2 minutes).

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rewrap::engine::{CFRAG_HEADER, EDEK_HEADER};
use rewrap_proxy::compression::{self, Codec, Framing};
use rewrap_proxy::records::{self, Annotation, Decompress, Output, Scratch};
use std::sync::Arc;
use std::time::Duration;

const BATCHES: usize = 8;
const PER_BATCH: usize = 128;
const RECORDS: usize = BATCHES * PER_BATCH;
const SIZES: [usize; 3] = [100, 1024, 10 * 1024];
const CODECS: [(&str, Compression, Codec); 4] = [
    ("none", Compression::None, Codec::None),
    ("lz4", Compression::Lz4, Codec::Lz4),
    ("zstd", Compression::Zstd, Codec::Zstd),
    ("gzip", Compression::Gzip, Codec::Gzip),
];

/// Deterministic incompressible bytes (sealed values are AES-GCM ciphertext).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One partition's fetch: `BATCHES` batches of `PER_BATCH` records of one session.
fn fetch(size: usize, compression: Compression) -> Vec<u8> {
    let edek = Bytes::from(noise(1, 211));
    let mut buf = BytesMut::new();
    for b in 0..BATCHES {
        let records: Vec<Record> = (0..PER_BATCH)
            .map(|i| {
                let offset = (b * PER_BATCH + i) as i64;
                let mut headers = IndexMap::new();
                headers.insert(StrBytes::from_static_str(EDEK_HEADER), Some(edek.clone()));
                Record {
                    transactional: false,
                    control: false,
                    partition_leader_epoch: 0,
                    producer_id: 7,
                    producer_epoch: 0,
                    timestamp_type: TimestampType::Creation,
                    offset,
                    sequence: offset as i32,
                    timestamp: 1_700_000_000_000 + offset,
                    key: None,
                    value: Some(Bytes::from(noise(offset as u64 + 2, size))),
                    headers,
                }
            })
            .collect();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    }
    buf.to_vec()
}

/// Each batch's records section, decompressed and recompressed with its codec.
fn codec_floor(input: &[u8], codec: Codec, plain: &mut Vec<u8>, out: &mut Vec<u8>) {
    let mut at = 0;
    out.clear();
    while at < input.len() {
        let len = i32::from_be_bytes(input[at + 8..at + 12].try_into().unwrap()) as usize;
        let batch = &input[at..at + 12 + len];
        compression::decompress(codec, &batch[61..], plain, usize::MAX).unwrap();
        out.extend_from_slice(&batch[..61]);
        compression::compress(codec, Framing::Standard, plain, out).unwrap();
        at += 12 + len;
    }
}

fn rewrite(c: &mut Criterion) {
    let cfrags: rewrap::engine::CfragHeaders = Arc::from(vec![noise(3, 369)]);
    for size in SIZES {
        let mut group = c.benchmark_group(format!("rewrite/{size}B"));
        group.throughput(Throughput::Elements(RECORDS as u64));
        for (name, compression, codec) in CODECS {
            let input = fetch(size, compression);
            group.bench_with_input(BenchmarkId::new("copy", name), &input, |b, input| {
                b.iter(|| input.to_vec())
            });
            let (mut plain, mut out) = (Vec::new(), Vec::new());
            group.bench_with_input(BenchmarkId::new("codec", name), &input, |b, input| {
                b.iter(|| codec_floor(input, codec, &mut plain, &mut out))
            });
            let mut scratch = Scratch::default();
            if codec == Codec::None {
                // The bench measures the real thing: every record leaves with a cfrag.
                let once = records::rewrite(
                    &input,
                    Output::SameCodec,
                    Decompress::UpTo(compression::MAX_DECOMPRESSED),
                    &mut scratch,
                    &mut |_, _| Annotation::Cfrags(cfrags.clone(), None),
                );
                let out = once.bytes.unwrap();
                let name = CFRAG_HEADER.as_bytes();
                let found = out.windows(name.len()).filter(|w| *w == name).count();
                assert_eq!(found, RECORDS);
            }
            // `rewrite` keeps the topic's codec (the default); `rewrite_lz4` sends LZ4 written
            // from the repeats the rewriter notes (`rewritten_batches: Lz4`).
            for (id, output) in [("rewrite", Output::SameCodec), ("rewrite_lz4", Output::Lz4)] {
                let mut run = |input: &[u8]| {
                    let done = records::rewrite(
                        input,
                        output,
                        Decompress::UpTo(compression::MAX_DECOMPRESSED),
                        &mut scratch,
                        &mut |edek, _| {
                            assert_eq!(edek.len(), 211);
                            Annotation::Cfrags(cfrags.clone(), None)
                        },
                    );
                    assert_eq!(done.stats.records_annotated, RECORDS as u64);
                    done.bytes.unwrap()
                };
                let size_out = run(&input).len();
                eprintln!(
                    "{size} B {name} {id}: {:.0} bytes per record in, {:.0} out",
                    input.len() as f64 / RECORDS as f64,
                    size_out as f64 / RECORDS as f64
                );
                group.bench_with_input(BenchmarkId::new(id, name), &input, |b, input| {
                    b.iter(|| run(input))
                });
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = rewrite
}
criterion_main!(benches);
