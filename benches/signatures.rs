//! Producer signature candidates for format v2 (docs/FORMAT.md): a producer signs once per
//! session (opt-in: once per record), and the proxy and consumers verify. Compares ECDSA over
//! secp256k1 with SHA-256 (umbral-pre, as `core/src/keys.rs` signs grants today) with Ed25519
//! (ed25519-dalek) on a 200-byte message, beside SHA-256 and `ring` AES-256-GCM on 1 KiB as
//! baselines measured in the same run.
//!
//! `cargo bench --bench signatures`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::{Signer as _, Verifier as _};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use sha2::{Digest, Sha256};

const MESSAGE_LEN: usize = 200;
const BASELINE_LEN: usize = 1024;

fn sign_and_verify(c: &mut Criterion) {
    let message = [0xa5u8; MESSAGE_LEN];
    let mut rng = ChaCha20Rng::seed_from_u64(1);

    let k1_secret = umbral_pre::SecretKey::random_with_rng(&mut rng);
    let k1_public = k1_secret.public_key();
    let k1_signer = umbral_pre::Signer::new(k1_secret);
    let k1_signature = k1_signer.sign_with_rng(&mut rng, &message).to_be_bytes();

    let ed_signing = ed25519_dalek::SigningKey::generate(&mut rng);
    let ed_public = ed_signing.verifying_key();
    let ed_signature = ed_signing.sign(&message).to_bytes();

    println!(
        "sizes: ecdsa_secp256k1 signature {} B, public key {} B; \
         ed25519 signature {} B, public key {} B",
        k1_signature.len(),
        k1_public.to_compressed_bytes().len(),
        ed_signature.len(),
        ed_public.as_bytes().len()
    );

    let mut group = c.benchmark_group("sign/200B");
    group.bench_function("ecdsa_secp256k1", |b| {
        b.iter(|| k1_signer.sign_with_rng(&mut rng, black_box(&message)))
    });
    group.bench_function("ed25519", |b| {
        b.iter(|| ed_signing.sign(black_box(&message)))
    });
    group.finish();

    // Both parse the signature bytes each time, as `verify_signature` does with a header.
    let mut group = c.benchmark_group("verify/200B");
    group.bench_function("ecdsa_secp256k1", |b| {
        b.iter(|| {
            let sig = umbral_pre::Signature::try_from_be_bytes(black_box(&k1_signature)).unwrap();
            assert!(sig.verify(&k1_public, black_box(&message)));
        })
    });
    group.bench_function("ed25519", |b| {
        b.iter(|| {
            let sig = ed25519_dalek::Signature::from_bytes(black_box(&ed_signature));
            assert!(ed_public.verify(black_box(&message), &sig).is_ok());
        })
    });
    group.finish();
}

/// What a producer already pays per 1 KiB record: a hash and an AEAD seal (copy into a fresh
/// buffer, as in benches/engine.rs).
fn baselines(c: &mut Criterion) {
    let buffer = vec![0x5au8; BASELINE_LEN];
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    let mut counter = 0u64;

    let mut group = c.benchmark_group("baseline/1KiB");
    group.throughput(Throughput::Bytes(BASELINE_LEN as u64));
    group.bench_function("sha256", |b| b.iter(|| Sha256::digest(black_box(&buffer))));
    group.bench_function("ring_aes256gcm_seal", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&counter.to_be_bytes());
            counter += 1;
            let mut out = Vec::with_capacity(BASELINE_LEN + 16);
            out.extend_from_slice(black_box(&buffer));
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut out,
            )
            .unwrap();
            out
        })
    });
    group.finish();
}

criterion_group!(benches, sign_and_verify, baselines);
criterion_main!(benches);
