//! Thread scaling of the shared facade handles: aggregate records per second of
//! `rewrap::Encryptor::seal` and `rewrap::Decryptor::open` (1 KiB, one session, DEK cached)
//! from 1, 2, 4 (and `available_parallelism`) threads sharing one handle. Every thread does
//! `PER_THREAD` records per iteration, started together by a barrier; spawning is not timed.
//! Ideal scaling is linear up to the number of free cores, flat beyond; `ring_seal_1KiB`
//! (raw AES-256-GCM, nothing shared) is the control for how many cores the run really got.
//!
//! `cargo bench --bench threads -- --warm-up-time 1 --measurement-time 3`; results in
//! docs/BENCHMARKS.md.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rewrap::engine::{GrantTerms, ProducerGrant, SealedRecord, SigningMode};
use rewrap::{Decryptor, Encryptor, Grant, ReEncryptor, RotationPolicy, SecretKey, Signer};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

const TOPIC: &str = "bench";
const PAYLOAD_LEN: usize = 1024;

/// Thread counts to measure: 1, 2, 4 and the machine's parallelism.
fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1, 2, 4, cores];
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// Runs `work(records)` on `threads` threads at once and returns the wall time from the
/// moment all are released to the moment the last one ends.
fn run_parallel(threads: usize, records: u64, work: &(dyn Fn(u64) + Sync)) -> Duration {
    let start = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    work(records);
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        for h in handles {
            h.join().unwrap();
        }
        began.elapsed()
    })
}

/// One shared-handle operation measured from every thread count.
fn scaling(c: &mut Criterion, name: &str, per_thread: u64, op: &(dyn Fn() + Sync)) {
    let mut group = c.benchmark_group(format!("threads/{name}"));
    for threads in thread_counts() {
        group.throughput(Throughput::Elements(threads as u64 * per_thread));
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                run_parallel(n, iters * per_thread, &|records| {
                    for _ in 0..records {
                        op();
                    }
                })
            })
        });
    }
    group.finish();
}

struct Fixture {
    admin: Signer,
    channel: SecretKey,
    consumer: [u8; 32],
    producer: [u8; 32],
    producer_grant: ProducerGrant,
    reencryptor: ReEncryptor,
}

impl Fixture {
    fn new() -> Self {
        let mut rng = rewrap::rng();
        let t0 = rewrap::now() - 60;
        let admin = Signer::new(SecretKey::generate());
        let channel = SecretKey::generate();
        let consumer = SecretKey::generate();
        let producer = SecretKey::generate();
        let reencryptor = ReEncryptor::new(&[admin.verifying_key()]).unwrap();
        let terms = GrantTerms::one_of_one(TOPIC, "c", consumer.public_key(), t0);
        reencryptor
            .add_grant(&Grant::issue(&mut rng, &admin, &channel, &terms).unwrap())
            .unwrap();
        let producer_grant =
            ProducerGrant::issue(&mut rng, &admin, TOPIC, &producer.public_key(), t0, None)
                .unwrap();
        Fixture {
            admin,
            channel,
            consumer: *consumer.to_bytes(),
            producer: *producer.to_bytes(),
            producer_grant,
            reencryptor,
        }
    }

    /// A shared producer that never rotates during the run, signing in `mode`.
    fn encryptor(&self, mode: SigningMode) -> Encryptor {
        let enc = Encryptor::with_policy(
            self.channel.public_key(),
            RotationPolicy {
                max_messages: 1 << 32,
                max_age_secs: u64::MAX,
            },
        )
        .unwrap();
        let producer = SecretKey::from_bytes(&self.producer).unwrap();
        enc.set_signer(Some((&producer, mode)));
        enc
    }

    fn decryptor(&self) -> Decryptor {
        let secret = SecretKey::from_bytes(&self.consumer).unwrap();
        let dec = Decryptor::new(secret, &[self.admin.verifying_key()]).unwrap();
        dec.add_producer_grant(&self.producer_grant).unwrap();
        dec
    }

    fn cfrags(&self, record: &SealedRecord) -> Vec<Vec<u8>> {
        self.reencryptor
            .reencrypt(TOPIC, &record.edek, "c")
            .unwrap()
            .to_vec()
    }
}

fn threads(c: &mut Criterion) {
    let f = Fixture::new();
    let payload = vec![0x5au8; PAYLOAD_LEN];

    // The control: what each thread does at least when sealing, with nothing shared but a
    // read-only key (a per-thread nonce counter).
    thread_local!(static COUNTER: Cell<u64> = const { Cell::new(0) });
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    scaling(c, "ring_seal_1KiB", 2000, &|| {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&COUNTER.replace(COUNTER.get() + 1).to_be_bytes());
        let mut out = Vec::with_capacity(PAYLOAD_LEN + 16);
        out.extend_from_slice(black_box(&payload));
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&[0u8; 64]),
            &mut out,
        )
        .unwrap();
        black_box(out);
    });

    let enc = f.encryptor(SigningMode::Session);
    enc.seal(TOPIC, None, &payload).unwrap();
    scaling(c, "seal_1KiB", 2000, &|| {
        black_box(enc.seal(TOPIC, None, black_box(&payload)).unwrap());
    });

    // Record mode signs every record (ECDSA): the per-record cost is mostly the signature.
    let rsig = f.encryptor(SigningMode::Record);
    rsig.seal(TOPIC, None, &payload).unwrap();
    scaling(c, "seal_1KiB_record_signed", 50, &|| {
        black_box(rsig.seal(TOPIC, None, black_box(&payload)).unwrap());
    });

    let record = enc.seal(TOPIC, None, &payload).unwrap();
    let cfrags = f.cfrags(&record);
    let mut headers = record.headers();
    headers.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, c.as_slice())));
    let dec = f.decryptor();
    dec.open(TOPIC, None, Some(&record.value), &headers)
        .unwrap();
    scaling(c, "open_1KiB", 2000, &|| {
        black_box(
            dec.open(TOPIC, None, Some(black_box(&record.value)), &headers)
                .unwrap(),
        );
    });
}

criterion_group!(benches, threads);
criterion_main!(benches);
