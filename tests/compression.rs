//! Compression inside the envelope, through the public API: each codec round-trips, the
//! algorithm byte is chosen by what shrinks, incompressible payloads stay algorithm 1, and a
//! reader bounds what it decompresses (a bomb allocates nothing past the bound). A stream that
//! is corrupt under a valid tag can only come from a holder of the session's DEK; the tests
//! make one with the delegating key (the administrator's re-key path) and `ring`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{headers, open_with, World, T0};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rewrap::engine::envelope::{
    ALG_AES_256_GCM, ALG_LZ4_AES_256_GCM, ALG_ZSTD_AES_256_GCM, HEADER_LEN, OVERHEAD,
};
use rewrap::engine::signing::{header_digest, record_key_digest};
use rewrap::engine::{
    Compression, DecompressFailure, DecryptorConfig, EdekRef, Error, RotationPolicy, SealedRecord,
    SecretKey,
};

/// Records the largest single allocation made by a thread that asked (`tracking`), so a test
/// can show a bomb allocated nothing big while other tests run beside it.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize) {
    if TRACKING.try_with(Cell::get).unwrap_or(false) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

/// The largest allocation `f` made on this thread, and its result.
fn tracking<T>(f: impl FnOnce() -> T) -> (usize, T) {
    LARGEST.store(0, Ordering::Relaxed);
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (LARGEST.load(Ordering::Relaxed), out)
}

// SAFETY: forwards every call to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's layout contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

const TOPIC: &str = "events";

/// JSON event lines with varied ids, users and timestamps: compressible like real logs.
fn events(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(
            format!(
                "{{\"id\":\"evt-{:08x}\",\"ts\":\"2026-11-26T02:{:02}:{:02}Z\",\"user\":\"user-{}\",\"action\":\"{}\",\"amount\":{}}}\n",
                i * 7919,
                i % 60,
                (i * 13) % 60,
                i % 37,
                ["view", "add_to_cart", "checkout"][i % 3],
                (i * 31) % 1000
            )
            .as_bytes(),
        );
    }
    out
}

fn noise(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rand_chacha::ChaCha20Rng::seed_from_u64(3).fill_bytes(&mut out);
    out
}

struct Setup {
    w: World,
    channel: SecretKey,
    enc: rewrap::engine::Encryptor,
}

fn setup(seed: u64, compression: Compression) -> Setup {
    let mut w = World::new(seed);
    let channel = w.key();
    let mut enc = w.producer(channel.public_key(), TOPIC, RotationPolicy::default());
    enc.set_compression(compression).unwrap();
    Setup { w, channel, enc }
}

/// A consumer `id` granted on TOPIC with the given decompression bound.
fn reader(s: &mut Setup, id: &str, max_decompressed_len: usize) -> common::Consumer {
    let mut c = s.w.consumer(id);
    s.w.grant(&s.channel, TOPIC, &c);
    c.reconfigure(DecryptorConfig {
        max_decompressed_len,
        ..DecryptorConfig::default()
    });
    c
}

fn seal(s: &mut Setup, payload: &[u8]) -> SealedRecord {
    s.enc.seal(&mut s.w.rng, T0, TOPIC, None, payload).unwrap()
}

#[test]
fn each_codec_round_trips_and_is_chosen_only_when_it_shrinks() {
    for (setting, alg) in [
        (Compression::Lz4, ALG_LZ4_AES_256_GCM),
        (Compression::Zstd { level: 3 }, ALG_ZSTD_AES_256_GCM),
        (Compression::Zstd { level: 19 }, ALG_ZSTD_AES_256_GCM),
    ] {
        let mut s = setup(1, setting);
        let mut c = reader(&mut s, "reader", rewrap::DEFAULT_MAX_DECOMPRESSED_LEN);
        // One 93-byte event: whichever the codec makes of it, the byte says what was done.
        let one = seal(&mut s, &events(1));
        let shrunk = one.value.len() < events(1).len() + OVERHEAD;
        assert_eq!(one.value[3], if shrunk { alg } else { ALG_AES_256_GCM });
        assert_eq!(s.w.deliver(TOPIC, &one, &mut c), Ok(events(1)));
        for payload in [events(8), events(2000)] {
            let r = seal(&mut s, &payload);
            assert_eq!(r.value[3], alg, "{setting:?}, {} bytes", payload.len());
            assert!(r.value.len() < payload.len() / 2 + OVERHEAD, "{setting:?}");
            assert_eq!(s.w.deliver(TOPIC, &r, &mut c), Ok(payload));
        }
        for payload in [noise(1024), noise(3), Vec::new()] {
            let r = seal(&mut s, &payload);
            assert_eq!(
                r.value[3], ALG_AES_256_GCM,
                "{setting:?} kept noise as it is"
            );
            assert_eq!(r.value.len(), payload.len() + OVERHEAD);
            assert_eq!(s.w.deliver(TOPIC, &r, &mut c), Ok(payload));
        }
    }
}

#[test]
fn without_compression_values_are_exactly_as_before() {
    let mut s = setup(2, Compression::None);
    assert_eq!(s.enc.compression(), Compression::None);
    let r = seal(&mut s, &events(50));
    assert_eq!(r.value[3], ALG_AES_256_GCM);
    assert_eq!(r.value.len(), events(50).len() + OVERHEAD);
}

#[test]
fn the_std_facade_sets_compression_per_encryptor() {
    let channel = SecretKey::generate();
    let enc = rewrap::Encryptor::new(channel.public_key()).unwrap();
    let plain = rewrap::Encryptor::new(channel.public_key()).unwrap();
    enc.set_compression(Compression::Zstd { level: 3 }).unwrap();
    assert_eq!(
        enc.set_compression(Compression::Zstd { level: 40 }),
        Err(Error::InvalidArgument("zstd level must be 1..=22"))
    );
    assert_eq!(enc.compression(), Compression::Zstd { level: 3 });
    let payload = events(20);
    assert_eq!(
        enc.seal(TOPIC, None, &payload).unwrap().value[3],
        ALG_ZSTD_AES_256_GCM
    );
    assert_eq!(
        plain.seal(TOPIC, None, &payload).unwrap().value[3],
        ALG_AES_256_GCM
    );
}

/// A bomb: a few hundred bytes expanding to 8 MiB, read with a 64 KiB bound. Refused from the
/// declared size, with no allocation anywhere near the expanded size.
#[test]
fn a_bomb_past_the_readers_bound_is_refused_without_allocating_it() {
    for setting in [Compression::Lz4, Compression::Zstd { level: 3 }] {
        let mut s = setup(3, setting);
        let mut c = reader(&mut s, "reader", 64 << 10);
        let bomb = vec![b'a'; 8 << 20];
        let r = seal(&mut s, &bomb);
        drop(bomb);
        assert!(r.value.len() < 64 << 10, "{}", r.value.len());
        s.w.sync(&mut c);
        let cfrags = s.w.cfrags_for(TOPIC, &r, "reader");
        let (largest, result) = tracking(|| open_with(&mut c.decryptor, TOPIC, &r, &cfrags));
        assert_eq!(
            result,
            Err(Error::DecompressionFailed(DecompressFailure::TooLarge {
                declared: 8 << 20,
                limit: 64 << 10,
            }))
        );
        assert_eq!(result.unwrap_err().code(), 108);
        assert!(largest < 1 << 20, "{setting:?}: allocated {largest} bytes");
        // The same record opens for a reader with the default bound (8 MiB).
        let mut roomy = reader(&mut s, "roomy", rewrap::DEFAULT_MAX_DECOMPRESSED_LEN);
        assert_eq!(
            s.w.deliver(TOPIC, &r, &mut roomy).map(|p| p.len()),
            Ok(8 << 20)
        );
    }
}

#[test]
fn payloads_over_the_default_bound_are_sealed_uncompressed() {
    let mut s = setup(4, Compression::Lz4);
    let big = vec![b'a'; rewrap::DEFAULT_MAX_DECOMPRESSED_LEN + 1];
    assert_eq!(seal(&mut s, &big).value[3], ALG_AES_256_GCM);
}

/// Re-seals `record` with a new algorithm byte and body under its session's DEK, as only a
/// holder of that DEK could.
fn reseal(s: &Setup, record: &SealedRecord, alg: u8, body: &[u8]) -> SealedRecord {
    let edek = EdekRef::parse(&record.edek).unwrap();
    let dek = edek.open_with_delegating_key(&s.channel).unwrap();
    let mut header = record.value[..HEADER_LEN].to_vec();
    header[3] = alg;
    let mut aad = header.clone();
    aad.extend_from_slice(&edek.digest());
    aad.extend_from_slice(&record_key_digest(None));
    aad.extend_from_slice(&header_digest(record.sig.as_deref().unwrap()));
    let key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, dek.as_bytes()).unwrap(),
    );
    let nonce = ring::aead::Nonce::try_assume_unique_for_key(&header[20..32]).unwrap();
    let mut value = body.to_vec();
    key.seal_in_place_append_tag(nonce, ring::aead::Aad::from(&aad), &mut value)
        .unwrap();
    header.extend_from_slice(&value);
    SealedRecord {
        value: header,
        ..record.clone()
    }
}

#[test]
fn a_corrupt_stream_under_a_valid_tag_is_a_typed_error() {
    let mut s = setup(5, Compression::None);
    let mut c = reader(&mut s, "reader", 1 << 20);
    let r = seal(&mut s, b"anything");
    let cfrags = s.w.cfrags_for(TOPIC, &r, "reader");
    // The resealed records below share the session: open the genuine one first.
    assert_eq!(
        open_with(&mut c.decryptor, TOPIC, &r, &cfrags),
        Ok(b"anything".to_vec())
    );
    let payload = events(10);
    let lz4 = {
        let mut body = (payload.len() as u32).to_le_bytes().to_vec();
        body.extend_from_slice(&lz4_flex::block::compress(&payload));
        body
    };
    let zstd = zstd::bulk::compress(&payload, 3).unwrap();
    // Sanity: the hand-made bodies open.
    for (alg, body) in [(ALG_LZ4_AES_256_GCM, &lz4), (ALG_ZSTD_AES_256_GCM, &zstd)] {
        let good = reseal(&s, &r, alg, body);
        assert_eq!(
            open_with(&mut c.decryptor, TOPIC, &good, &cfrags),
            Ok(payload.clone())
        );
    }
    let corrupt = Err(Error::DecompressionFailed(DecompressFailure::Corrupt));
    let mut lying = lz4.clone();
    lying[..4].copy_from_slice(&(payload.len() as u32 - 1).to_le_bytes());
    let cases: Vec<(u8, Vec<u8>)> = vec![
        (ALG_LZ4_AES_256_GCM, lz4[..lz4.len() / 2].to_vec()),
        (ALG_LZ4_AES_256_GCM, lz4[..3].to_vec()),
        (ALG_LZ4_AES_256_GCM, lying),
        (ALG_ZSTD_AES_256_GCM, zstd[..zstd.len() - 1].to_vec()),
        (ALG_ZSTD_AES_256_GCM, payload.clone()),
        (ALG_ZSTD_AES_256_GCM, [zstd.clone(), zstd.clone()].concat()),
    ];
    for (alg, body) in cases {
        let bad = reseal(&s, &r, alg, &body);
        assert_eq!(
            open_with(&mut c.decryptor, TOPIC, &bad, &cfrags),
            corrupt,
            "alg {alg}, {} bytes",
            body.len()
        );
    }
    // An unknown algorithm byte, even under a valid tag, is refused at parse time.
    let unknown = reseal(&s, &r, 4, &lz4);
    assert_eq!(
        c.decryptor.open(
            T0,
            TOPIC,
            None,
            Some(&unknown.value),
            &headers(&unknown, &cfrags)
        ),
        Err(Error::UnsupportedVersion(rewrap::Object::Envelope, 4))
    );
}

#[test]
fn changing_the_algorithm_byte_fails_authentication() {
    let mut s = setup(6, Compression::Lz4);
    let mut c = reader(&mut s, "reader", 1 << 20);
    let r = seal(&mut s, &events(10));
    assert_eq!(r.value[3], ALG_LZ4_AES_256_GCM);
    for alg in [ALG_AES_256_GCM, ALG_ZSTD_AES_256_GCM] {
        let mut moved = r.clone();
        moved.value[3] = alg;
        assert_eq!(
            s.w.deliver(TOPIC, &moved, &mut c),
            Err(Error::AuthenticationFailed)
        );
    }
    assert_eq!(s.w.deliver(TOPIC, &r, &mut c), Ok(events(10)));
}
