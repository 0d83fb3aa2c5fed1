//! Engine benchmarks. Each payload-size group runs rewrap beside raw `ring` AES-256-GCM on
//! the same payload, so the ratio (our overhead) is measured in the same run. The baseline
//! does what any producer must: copy the payload into a fresh buffer and seal it there
//! (open: copy the ciphertext out and open it in place). rewrap runs as deployed: sessions
//! signed by an authorized producer, read under policy `require`. The `signing` groups put
//! unsigned, session-signed and record-signed sealing and opening side by side, and
//! `notary` the re-encryptor's per-session signature check (verify, then channel-sign).
//! `compression` seals and opens ~1 KiB JSON events with no codec, lz4 and zstd beside raw
//! `ring` on the same events, and prints each codec's size ratio.
//!
//! `cargo bench --bench engine`; results and ratios are in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rewrap::engine::{
    Compression, Decryptor, DecryptorConfig, Encryptor, Grant, GrantTerms, Policy, ProducerGrant,
    ReEncryptor, ReEncryptorConfig, RotationPolicy, SealedRecord, SecretKey, Signer, SigningMode,
};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

#[path = "json_events.rs"]
mod json_events;
use json_events::json_events;

const T0: u64 = 1_700_000_000;
const TOPIC: &str = "bench";
const SIZES: &[(usize, &str)] = &[
    (100, "100B"),
    (1024, "1KiB"),
    (16 * 1024, "16KiB"),
    (1 << 20, "1MiB"),
];

struct Fixture {
    rng: ChaCha20Rng,
    admin: Signer,
    channel: SecretKey,
    consumer_bytes: [u8; 32],
    reencryptor: ReEncryptor,
    /// The producer's signing key and the administrator's grant for it.
    producer_bytes: [u8; 32],
    producer_grant: ProducerGrant,
}

impl Fixture {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(99);
        let admin = Signer::new(SecretKey::random(&mut rng));
        let channel = SecretKey::random(&mut rng);
        let consumer = SecretKey::random(&mut rng);
        let mut reencryptor =
            ReEncryptor::new(&[admin.verifying_key()], ReEncryptorConfig::default()).unwrap();
        let mut terms = GrantTerms::one_of_one(TOPIC, "c", consumer.public_key(), T0);
        // Issued on this bench's clock: by default a grant is issued now, which a re-encryptor
        // checking at T0 would see as issued in the future (GrantExpired).
        terms.issued_at = Some(T0 * 1000);
        let grant = Grant::issue(&mut rng, &admin, &channel, &terms).unwrap();
        reencryptor.add_grant(&grant, T0).unwrap();
        let producer = SecretKey::random(&mut rng);
        let producer_grant =
            ProducerGrant::issue(&mut rng, &admin, TOPIC, &producer.public_key(), T0, None)
                .unwrap();
        Fixture {
            rng,
            admin,
            channel,
            consumer_bytes: *consumer.to_bytes(),
            reencryptor,
            producer_bytes: *producer.to_bytes(),
            producer_grant,
        }
    }

    /// A consumer under policy `require` holding the producer's grant.
    fn decryptor(&self, capacity: usize) -> Decryptor {
        self.decryptor_under(capacity, Policy::Require)
    }

    fn decryptor_under(&self, capacity: usize, policy: Policy) -> Decryptor {
        let config = DecryptorConfig {
            cache_capacity: capacity,
            policy,
            ..Default::default()
        };
        let secret = SecretKey::from_bytes(&self.consumer_bytes).unwrap();
        let mut dec = Decryptor::new(secret, &[self.admin.verifying_key()], config).unwrap();
        dec.add_producer_grant(&self.producer_grant, T0).unwrap();
        dec
    }

    fn producer(&self) -> SecretKey {
        SecretKey::from_bytes(&self.producer_bytes).unwrap()
    }

    /// A producer signing its sessions in session mode.
    fn encryptor(&self) -> Encryptor {
        self.encryptor_signing(Some(SigningMode::Session))
    }

    /// A producer that never rotates, signing in `mode` (unsigned when `None`).
    fn encryptor_signing(&self, mode: Option<SigningMode>) -> Encryptor {
        let mut enc = Encryptor::new(
            self.channel.public_key(),
            RotationPolicy {
                max_messages: 1 << 32,
                max_age_secs: u64::MAX,
            },
        )
        .unwrap();
        enc.set_signer(mode.map(|m| (Signer::new(self.producer()), m)));
        enc
    }

    fn headers(&mut self, record: &SealedRecord) -> Vec<Vec<u8>> {
        self.reencryptor
            .reencrypt(&mut self.rng, T0, TOPIC, &record.edek, "c")
            .unwrap()
            .to_vec()
    }
}

fn header_list<'a>(record: &'a SealedRecord, cfrags: &'a [Vec<u8>]) -> Vec<(&'a str, &'a [u8])> {
    let mut h = record.headers();
    h.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, c.as_slice())));
    h
}

fn ring_key() -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap())
}

fn ring_seal(key: &LessSafeKey, counter: &mut u64, payload: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    *counter += 1;
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(payload);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(&[0u8; 64]),
        &mut out,
    )
    .unwrap();
    out
}

fn seal_and_open(c: &mut Criterion) {
    let mut f = Fixture::new();
    for &(size, label) in SIZES {
        let payload = vec![0x5au8; size];

        let mut group = c.benchmark_group(format!("seal/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        let key = ring_key();
        let mut counter = 0u64;
        group.bench_function("ring_aes256gcm", |b| {
            b.iter(|| ring_seal(&key, &mut counter, black_box(&payload)))
        });
        let mut enc = f.encryptor();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        enc.seal(&mut rng, T0, TOPIC, None, &payload).unwrap();
        group.bench_function("rewrap", |b| {
            b.iter(|| {
                enc.seal(&mut rng, T0, TOPIC, None, black_box(&payload))
                    .unwrap()
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("open/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        let sealed = ring_seal(&key, &mut 0, &payload);
        let nonce = [0u8; 12];
        group.bench_function("ring_aes256gcm", |b| {
            b.iter(|| {
                let mut buf = black_box(&sealed).clone();
                let n = key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(&[0u8; 64]),
                        &mut buf,
                    )
                    .unwrap()
                    .len();
                buf.truncate(n);
                buf
            })
        });
        let record = enc.seal(&mut rng, T0, TOPIC, None, &payload).unwrap();
        let cfrags = f.headers(&record);
        let headers = header_list(&record, &cfrags);
        let mut dec = f.decryptor(16);
        dec.open(T0, TOPIC, None, Some(&record.value), &headers)
            .unwrap();
        group.bench_function("rewrap", |b| {
            b.iter(|| {
                dec.open(T0, TOPIC, None, Some(black_box(&record.value)), &headers)
                    .unwrap()
            })
        });
        group.finish();
    }

    // The thread-safe facade adds a mutex and reads the clock.
    let payload = vec![0x5au8; 1024];
    let mut group = c.benchmark_group("seal/1KiB-facade");
    group.throughput(Throughput::Bytes(1024));
    let enc = rewrap::Encryptor::new(f.channel.public_key()).unwrap();
    enc.set_signer(Some((&f.producer(), SigningMode::Session)));
    group.bench_function("rewrap_shared", |b| {
        b.iter(|| enc.seal(TOPIC, None, black_box(&payload)).unwrap())
    });
    group.finish();
}

fn umbral_steps(c: &mut Criterion) {
    let mut f = Fixture::new();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut group = c.benchmark_group("session");

    // A new session: fresh DEK, Umbral encapsulation, first seal (100 B).
    // (Signed: the session signature is made here, once per session.)
    let mut rotating = Encryptor::new(
        f.channel.public_key(),
        RotationPolicy {
            max_messages: 1,
            max_age_secs: 3600,
        },
    )
    .unwrap();
    rotating.set_signer(Some((Signer::new(f.producer()), SigningMode::Session)));
    group.bench_function("edek_create", |b| {
        b.iter(|| {
            rotating
                .seal(&mut rng, T0, TOPIC, None, &[0u8; 100])
                .unwrap()
        })
    });

    // Two sessions' records, so a cache of one entry misses every time.
    let mut enc = f.encryptor();
    let r1 = enc.seal(&mut rng, T0, TOPIC, None, &[1u8; 100]).unwrap();
    enc.rotate();
    let r2 = enc.seal(&mut rng, T0, TOPIC, None, &[2u8; 100]).unwrap();

    let mut tiny = ReEncryptor::new(
        &[f.admin.verifying_key()],
        ReEncryptorConfig {
            cache_capacity: 1,
            cache_ttl_secs: None,
        },
    )
    .unwrap();
    let mut terms = GrantTerms::one_of_one(
        TOPIC,
        "c",
        SecretKey::from_bytes(&f.consumer_bytes)
            .unwrap()
            .public_key(),
        T0,
    );
    terms.issued_at = Some(T0 * 1000);
    tiny.add_grant(
        &Grant::issue(&mut rng, &f.admin, &f.channel, &terms).unwrap(),
        T0,
    )
    .unwrap();
    let mut flip = false;
    group.bench_function("reencrypt_miss", |b| {
        b.iter(|| {
            flip = !flip;
            let r = if flip { &r1 } else { &r2 };
            tiny.reencrypt(&mut rng, T0, TOPIC, &r.edek, "c").unwrap()
        })
    });
    f.headers(&r1);
    group.bench_function("reencrypt_hit", |b| {
        b.iter(|| {
            f.reencryptor
                .reencrypt(&mut rng, T0, TOPIC, black_box(&r1.edek), "c")
                .unwrap()
        })
    });

    let c1 = f.headers(&r1);
    let c2 = f.headers(&r2);
    let h1 = header_list(&r1, &c1);
    let h2 = header_list(&r2, &c2);
    let mut cold = f.decryptor(1);
    group.bench_function("dek_cache_miss_open_100B", |b| {
        b.iter(|| {
            flip = !flip;
            let (r, h) = if flip { (&r1, &h1) } else { (&r2, &h2) };
            cold.open(T0, TOPIC, None, Some(&r.value), h).unwrap()
        })
    });
    let mut warm = f.decryptor(16);
    warm.open(T0, TOPIC, None, Some(&r1.value), &h1).unwrap();
    group.bench_function("dek_cache_hit_open_100B", |b| {
        b.iter(|| {
            warm.open(T0, TOPIC, None, Some(black_box(&r1.value)), &h1)
                .unwrap()
        })
    });

    let consumer_pk = SecretKey::from_bytes(&f.consumer_bytes)
        .unwrap()
        .public_key();
    for (t, n) in [(1u8, 1u8), (2, 3)] {
        let terms = GrantTerms {
            threshold: t,
            shares: n,
            ..GrantTerms::one_of_one(TOPIC, "c", consumer_pk, T0)
        };
        group.bench_with_input(
            BenchmarkId::new("grant_issue", format!("{t}-of-{n}")),
            &terms,
            |b, terms| b.iter(|| Grant::issue(&mut rng, &f.admin, &f.channel, terms).unwrap()),
        );
    }
    group.finish();
}

/// Issue 12: what producer signatures cost per record at 1 KiB, unsigned beside session mode
/// (target: within 5%) and record mode, sealing and opening (warm DEK cache, record key set).
fn signing(c: &mut Criterion) {
    let mut f = Fixture::new();
    let payload = vec![0x5au8; 1024];
    let key: &[u8] = b"customer-42";
    let modes = [
        ("unsigned", None),
        ("session", Some(SigningMode::Session)),
        ("record", Some(SigningMode::Record)),
    ];
    let mut rng = ChaCha20Rng::seed_from_u64(3);

    let mut group = c.benchmark_group("signing/seal/1KiB");
    group.throughput(Throughput::Bytes(1024));
    for (name, mode) in modes {
        let mut enc = f.encryptor_signing(mode);
        enc.seal(&mut rng, T0, TOPIC, Some(key), &payload).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                enc.seal(&mut rng, T0, TOPIC, Some(key), black_box(&payload))
                    .unwrap()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("signing/open/1KiB");
    group.throughput(Throughput::Bytes(1024));
    for (name, mode) in modes {
        let mut enc = f.encryptor_signing(mode);
        let record = enc.seal(&mut rng, T0, TOPIC, Some(key), &payload).unwrap();
        let cfrags = f.headers(&record);
        let headers = header_list(&record, &cfrags);
        // Unsigned records open only under `optional` (or `off`); signed ones under `require`.
        let policy = if mode.is_some() {
            Policy::Require
        } else {
            Policy::Optional
        };
        let mut dec = f.decryptor_under(16, policy);
        dec.open(T0, TOPIC, Some(key), Some(&record.value), &headers)
            .unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                dec.open(
                    T0,
                    TOPIC,
                    Some(key),
                    Some(black_box(&record.value)),
                    &headers,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

/// The re-encryptor's conversion: a session it has not checked costs one signature
/// verification and (with a channel seed) one channel signature; later records of the session
/// are a verdict-cache hit. Misses cycle through more sessions than the verdict cache holds,
/// so every look-up is a fresh session.
fn notary(c: &mut Criterion) {
    let f = Fixture::new();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    const SESSIONS: usize = 64;
    let mut enc = f.encryptor();
    let sessions: Vec<SealedRecord> = (0..SESSIONS)
        .map(|_| {
            enc.rotate();
            enc.seal(&mut rng, T0, TOPIC, None, b"x").unwrap()
        })
        .collect();
    let proxy = |capacity: usize, seeded: bool| {
        let config = ReEncryptorConfig {
            cache_capacity: capacity,
            cache_ttl_secs: None,
        };
        let re = rewrap::ReEncryptor::with_config(&[f.admin.verifying_key()], config).unwrap();
        if seeded {
            re.set_channel_seed(Some(&[9u8; 32])).unwrap();
        }
        re.add_producer_grant(&f.producer_grant).unwrap();
        re
    };

    let mut group = c.benchmark_group("notary");
    for (name, seeded) in [
        ("attest_miss_verify_and_channel_sign", true),
        ("attest_miss_verify_only", false),
    ] {
        let small = proxy(SESSIONS / 4, seeded);
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % SESSIONS;
                let r = &sessions[i];
                small
                    .attest(TOPIC, &r.edek, r.sig.as_deref(), None)
                    .unwrap()
            })
        });
    }
    let warm = proxy(SESSIONS, true);
    let r = &sessions[0];
    warm.attest(TOPIC, &r.edek, r.sig.as_deref(), None).unwrap();
    group.bench_function("attest_hit", |b| {
        b.iter(|| {
            warm.attest(TOPIC, black_box(&r.edek), r.sig.as_deref(), None)
                .unwrap()
        })
    });
    group.finish();
}

fn compression(c: &mut Criterion) {
    let mut f = Fixture::new();
    let events = json_events(256);
    let bytes: usize = events.iter().map(Vec::len).sum();
    let mean = bytes / events.len();
    let settings = [
        ("rewrap_none", Compression::None),
        ("rewrap_lz4", Compression::Lz4),
        ("rewrap_zstd3", Compression::Zstd { level: 3 }),
    ];

    let mut group = c.benchmark_group("compression/seal-json");
    group.throughput(Throughput::Bytes(mean as u64));
    let key = ring_key();
    let mut counter = 0u64;
    let mut i = 0;
    group.bench_function("ring_aes256gcm", |b| {
        b.iter(|| {
            i = (i + 1) % events.len();
            ring_seal(&key, &mut counter, black_box(&events[i]))
        })
    });
    let mut sealed = Vec::new();
    for (name, setting) in settings {
        let mut enc = f.encryptor();
        enc.set_compression(setting).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let records: Vec<SealedRecord> = events
            .iter()
            .map(|e| enc.seal(&mut rng, T0, TOPIC, None, e).unwrap())
            .collect();
        let out: usize = records.iter().map(|r| r.value.len()).sum();
        eprintln!(
            "compression/{name}: {mean} B JSON events -> {} B sealed on average, {:.3} of the payload",
            out / records.len(),
            out as f64 / bytes as f64
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % events.len();
                enc.seal(&mut rng, T0, TOPIC, None, black_box(&events[i]))
                    .unwrap()
            })
        });
        sealed.push((name, records));
    }
    group.finish();

    let mut group = c.benchmark_group("compression/open-json");
    group.throughput(Throughput::Bytes(mean as u64));
    let ring_sealed: Vec<Vec<u8>> = events.iter().map(|e| ring_seal(&key, &mut 0, e)).collect();
    group.bench_function("ring_aes256gcm", |b| {
        b.iter(|| {
            i = (i + 1) % events.len();
            let mut buf = black_box(&ring_sealed[i]).clone();
            let n = key
                .open_in_place(
                    Nonce::assume_unique_for_key([0u8; 12]),
                    Aad::from(&[0u8; 64]),
                    &mut buf,
                )
                .unwrap()
                .len();
            buf.truncate(n);
            buf
        })
    });
    for (name, records) in &sealed {
        let cfrags = f.headers(&records[0]);
        let headers: Vec<_> = records.iter().map(|r| header_list(r, &cfrags)).collect();
        let mut dec = f.decryptor(16);
        dec.open(T0, TOPIC, None, Some(&records[0].value), &headers[0])
            .unwrap();
        group.bench_function(*name, |b| {
            b.iter(|| {
                i = (i + 1) % records.len();
                dec.open(
                    T0,
                    TOPIC,
                    None,
                    Some(black_box(&records[i].value)),
                    &headers[i],
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = seal_and_open, umbral_steps, signing, notary, compression }
criterion_main!(benches);
