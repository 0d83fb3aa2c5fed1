//! Cost of the C ABI layer: seal and open of 1 KiB through the `extern "C"` functions (panic
//! boundary, NULL checks, C string and header conversion, buffer hand-off and free) beside the
//! same call on the Rust facade in the same run. Overhead per call = difference.
//!
//! `cargo bench -p rewrap-ffi --bench abi`; results in docs/BENCHMARKS.md.

use std::ffi::CString;
use std::hint::black_box;
use std::ptr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rewrap::{Grant, GrantTerms, ProducerGrant, SecretKey, Signer, SigningMode};
use rewrap_ffi::buf::{rewrap_buf, rewrap_buf_free};
use rewrap_ffi::decryptor::{
    rewrap_decryptor, rewrap_decryptor_add_producer_grant, rewrap_decryptor_new,
    rewrap_decryptor_open, rewrap_header, rewrap_opened_kind,
};
use rewrap_ffi::encryptor::{
    rewrap_encryptor, rewrap_encryptor_new, rewrap_encryptor_seal, rewrap_encryptor_set_signer,
};
use rewrap_ffi::error::rewrap_result;
use rewrap_ffi::keys::{
    rewrap_public_key, rewrap_public_key_from_bytes, rewrap_secret_key,
    rewrap_secret_key_from_bytes,
};
use rewrap_ffi::sealed::{rewrap_sealed, rewrap_sealed_free};
use rewrap_ffi::signing::rewrap_signing_mode;

fn empty() -> rewrap_buf {
    rewrap_buf {
        data: ptr::null_mut(),
        len: 0,
    }
}

// SAFETY (every `unsafe` call below): pointers are to live locals, CStrings and handles
// created in this function, with matching lengths, as the header requires of C callers.
fn abi(c: &mut Criterion) {
    let admin = Signer::new(SecretKey::generate());
    let channel = SecretKey::generate();
    let consumer = SecretKey::generate();
    // Signed sessions (the default policy requires them), one producer grant on each side.
    let producer = SecretKey::generate();
    let producer_grant = ProducerGrant::issue(
        &mut rewrap::rng(),
        &admin,
        "bench",
        &producer.public_key(),
        0,
        None,
    )
    .unwrap()
    .to_bytes();
    let record_key = b"key-1".as_slice();
    let payload = vec![0x5au8; 1024];
    let topic = CString::new("bench").unwrap();

    // Rust facade objects.
    let enc = rewrap::Encryptor::new(channel.public_key()).unwrap();
    enc.set_signer(Some((&producer, SigningMode::Session)));
    let re = rewrap::ReEncryptor::new(&[admin.verifying_key()]).unwrap();
    let terms = GrantTerms::one_of_one("bench", "c", consumer.public_key(), 0);
    re.add_grant(&Grant::issue(&mut rewrap::rng(), &admin, &channel, &terms).unwrap())
        .unwrap();
    let dec = rewrap::Decryptor::new(
        SecretKey::from_bytes(consumer.to_bytes().as_slice()).unwrap(),
        &[admin.verifying_key()],
    )
    .unwrap();
    dec.add_producer_grant(&ProducerGrant::from_bytes(&producer_grant).unwrap())
        .unwrap();

    // The same through the C ABI.
    let mut c_pub: *const rewrap_public_key = ptr::null();
    let pk = channel.public_key().to_bytes();
    assert_eq!(
        unsafe { rewrap_public_key_from_bytes(pk.as_ptr(), pk.len(), &mut c_pub) },
        rewrap_result::REWRAP_OK
    );
    let mut c_enc: *const rewrap_encryptor = ptr::null();
    assert_eq!(
        unsafe { rewrap_encryptor_new(c_pub, 0, 0, &mut c_enc) },
        rewrap_result::REWRAP_OK
    );
    let mut c_producer: *const rewrap_secret_key = ptr::null();
    let psk = producer.to_bytes();
    assert_eq!(
        unsafe { rewrap_secret_key_from_bytes(psk.as_ptr(), psk.len(), &mut c_producer) },
        rewrap_result::REWRAP_OK
    );
    let session = rewrap_signing_mode::REWRAP_SIGNING_SESSION as u32;
    assert_eq!(
        unsafe { rewrap_encryptor_set_signer(c_enc, c_producer, session) },
        rewrap_result::REWRAP_OK
    );
    let mut c_admin: *const rewrap_public_key = ptr::null();
    let apk = admin.verifying_key().to_bytes();
    assert_eq!(
        unsafe { rewrap_public_key_from_bytes(apk.as_ptr(), apk.len(), &mut c_admin) },
        rewrap_result::REWRAP_OK
    );
    let mut c_sk: *const rewrap_secret_key = ptr::null();
    let sk = consumer.to_bytes();
    assert_eq!(
        unsafe { rewrap_secret_key_from_bytes(sk.as_ptr(), sk.len(), &mut c_sk) },
        rewrap_result::REWRAP_OK
    );
    let mut c_dec: *const rewrap_decryptor = ptr::null();
    assert_eq!(
        unsafe { rewrap_decryptor_new(c_sk, &c_admin, 1, 0, 0, false, &mut c_dec) },
        rewrap_result::REWRAP_OK
    );
    assert_eq!(
        unsafe {
            rewrap_decryptor_add_producer_grant(
                c_dec,
                producer_grant.as_ptr(),
                producer_grant.len(),
            )
        },
        rewrap_result::REWRAP_OK
    );

    let mut group = c.benchmark_group("abi/seal_1KiB");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("rust_facade", |b| {
        b.iter(|| {
            enc.seal("bench", Some(record_key), black_box(&payload))
                .unwrap()
        })
    });
    group.bench_function("c_abi", |b| {
        b.iter(|| {
            let mut sealed: *const rewrap_sealed = ptr::null();
            let rc = unsafe {
                rewrap_encryptor_seal(
                    c_enc,
                    topic.as_ptr(),
                    record_key.as_ptr(),
                    record_key.len(),
                    payload.as_ptr(),
                    payload.len(),
                    &mut sealed,
                )
            };
            assert_eq!(rc, rewrap_result::REWRAP_OK);
            unsafe { rewrap_sealed_free(sealed) };
        })
    });
    group.finish();

    let record = enc.seal("bench", Some(record_key), &payload).unwrap();
    let cfrags = re.reencrypt("bench", &record.edek, "c").unwrap();
    let mut rust_headers = record.headers();
    rust_headers.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, c.as_slice())));
    let names: Vec<CString> = rust_headers
        .iter()
        .map(|(name, _)| CString::new(*name).unwrap())
        .collect();
    let c_headers: Vec<rewrap_header> = rust_headers
        .iter()
        .zip(&names)
        .map(|((_, value), name)| rewrap_header {
            name: name.as_ptr(),
            value: value.as_ptr(),
            value_len: value.len(),
        })
        .collect();
    dec.open(
        "bench",
        Some(record_key),
        Some(&record.value),
        &rust_headers,
    )
    .unwrap();

    let mut group = c.benchmark_group("abi/open_1KiB");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("rust_facade", |b| {
        b.iter(|| {
            dec.open(
                "bench",
                Some(record_key),
                Some(black_box(&record.value)),
                &rust_headers,
            )
            .unwrap()
        })
    });
    group.bench_function("c_abi", |b| {
        b.iter(|| {
            let mut out = empty();
            let mut kind = rewrap_opened_kind::REWRAP_OPENED_TOMBSTONE;
            let rc = unsafe {
                rewrap_decryptor_open(
                    c_dec,
                    topic.as_ptr(),
                    record_key.as_ptr(),
                    record_key.len(),
                    black_box(record.value.as_ptr()),
                    record.value.len(),
                    c_headers.as_ptr(),
                    c_headers.len(),
                    &mut kind,
                    &mut out,
                    ptr::null_mut(),
                )
            };
            assert_eq!(rc, rewrap_result::REWRAP_OK);
            unsafe { rewrap_buf_free(&mut out) };
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
}

criterion_group! { name = benches; config = config(); targets = abi }
criterion_main!(benches);
