#![no_main]
//! A whole fetched record (value, EDEK header, cfrag headers) built from fuzz input goes
//! through the consumer's open and the re-encryptor: errors only, never a panic.
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use rewrap_core::{Decryptor, DecryptorConfig, ReEncryptor, ReEncryptorConfig, SecretKey};

fn split(data: &[u8]) -> Vec<&[u8]> {
    // Parts separated by a length byte each: [len][bytes][len][bytes]...
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = (n as usize * 4).min(tail.len());
        parts.push(&tail[..n]);
        rest = &tail[n..];
    }
    parts
}

fuzz_target!(|data: &[u8]| {
    let parts = split(data);
    let (value, edek, cfrags) = match parts.as_slice() {
        [v, e, rest @ ..] => (*v, *e, rest),
        _ => return,
    };
    let admin = SecretKey::from_bytes(&[3u8; 32]).unwrap().public_key();
    let me = SecretKey::from_bytes(&[5u8; 32]).unwrap();
    let mut dec = Decryptor::new(me, &[admin], DecryptorConfig::default()).unwrap();
    let mut headers = vec![(rewrap_core::EDEK_HEADER, edek)];
    headers.extend(cfrags.iter().map(|c| (rewrap_core::CFRAG_HEADER, *c)));
    let _ = dec.open(0, "t", None, Some(value), &headers);
    let mut re = ReEncryptor::new(&[admin], ReEncryptorConfig::default()).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0);
    let _ = re.reencrypt(&mut rng, 0, "t", edek, "c");
});
