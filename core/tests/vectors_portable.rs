//! The shared vectors open through rewrap-core as built: without `std` this is the portable
//! RustCrypto AES-GCM backend, with it `ring`; both must read the same bytes.

use rewrap_core::{Decryptor, DecryptorConfig, Opened, PublicKey, SecretKey};

#[test]
fn shared_vectors_open_with_this_backend() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/records.json"
    ))
    .unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let now = all["now"].as_u64().unwrap();
    let bytes = |v: &serde_json::Value| hex::decode(v.as_str().unwrap()).unwrap();
    let cases = all["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let admin = PublicKey::from_hex(case["admin_public_key"].as_str().unwrap()).unwrap();
        let consumer = SecretKey::from_hex(case["consumer_secret_key"].as_str().unwrap()).unwrap();
        let mut dec = Decryptor::new(consumer, &[admin], DecryptorConfig::default()).unwrap();
        let edek = bytes(&case["edek"]);
        let cfrags: Vec<Vec<u8>> = case["cfrags"]
            .as_array()
            .unwrap()
            .iter()
            .map(bytes)
            .collect();
        let mut headers = vec![(rewrap_core::EDEK_HEADER, edek.as_slice())];
        headers.extend(
            cfrags
                .iter()
                .map(|c| (rewrap_core::CFRAG_HEADER, c.as_slice())),
        );
        let value = bytes(&case["value"]);
        let opened = dec.open(now, case["topic"].as_str().unwrap(), Some(&value), &headers);
        assert_eq!(opened, Ok(Opened::Plaintext(bytes(&case["plaintext"]))));
    }
}
