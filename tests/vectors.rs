//! Shared test vectors (`tests/vectors/records.json`), made with a seeded ChaCha20 RNG so they
//! regenerate byte for byte. Every binding opens them; here we check they still regenerate
//! identically (the format did not drift) and that they open from their hex alone.
//! `REWRAP_BLESS=1 cargo test --test vectors` rewrites the file after an intended change.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rewrap::core::{
    edek::EdekRef, Decryptor, DecryptorConfig, Encryptor, Error, Grant, GrantTerms, Opened,
    PublicKey, ReEncryptor, ReEncryptorConfig, RotationPolicy, SecretKey, Signer,
};
use serde_json::{json, Value};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/records.json");
/// The same vectors as `CASE FIELD VALUE` lines, for bindings without a JSON parser (C).
const KV_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/records.kv");
const T0: u64 = 1_700_000_000;

struct Case {
    name: &'static str,
    topic: &'static str,
    consumer: &'static str,
    plaintext: &'static [u8],
    threshold: u8,
    shares: u8,
}

const CASES: &[Case] = &[
    Case {
        name: "one-of-one",
        topic: "orders",
        consumer: "consumer-1",
        plaintext: b"peace at dawn",
        threshold: 1,
        shares: 1,
    },
    Case {
        name: "empty-payload",
        topic: "orders",
        consumer: "consumer-1",
        plaintext: b"",
        threshold: 1,
        shares: 1,
    },
    Case {
        name: "two-of-three",
        topic: "payments.eu-west_1",
        consumer: "User:alice",
        plaintext: b"threshold re-encryption",
        threshold: 2,
        shares: 3,
    },
];

fn generate() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(0x7265_7772_6170);
    let mut cases = Vec::new();
    for case in CASES {
        let admin_sk = SecretKey::random(&mut rng);
        let admin_pk = admin_sk.public_key();
        let admin_hex = admin_sk.to_hex();
        let admin = Signer::new(admin_sk);
        let delegating = SecretKey::random(&mut rng);
        let consumer = SecretKey::random(&mut rng);

        let mut enc = Encryptor::new(delegating.public_key(), RotationPolicy::default()).unwrap();
        let record = enc.seal(&mut rng, T0, case.topic, case.plaintext).unwrap();
        let edek = EdekRef::parse(&record.edek).unwrap();
        let dek = edek.open_with_delegating_key(&delegating).unwrap();

        let terms = GrantTerms {
            channel: case.topic,
            consumer: case.consumer,
            consumer_key: consumer.public_key(),
            threshold: case.threshold,
            shares: case.shares,
            not_before: T0,
            expires: None,
        };
        let grant = Grant::issue(&mut rng, &admin, &delegating, &terms).unwrap();
        let mut re = ReEncryptor::new(&[admin_pk], ReEncryptorConfig::default()).unwrap();
        re.add_grant(&grant, T0).unwrap();
        let cfrags = re
            .reencrypt(&mut rng, T0, case.topic, &record.edek, case.consumer)
            .unwrap();

        let mut flipped_value = record.value.clone();
        let last = flipped_value.len() - 1;
        flipped_value[last] ^= 1;

        cases.push(json!({
            "name": case.name,
            "topic": case.topic,
            "consumer_id": case.consumer,
            "admin_secret_key": admin_hex.as_str(),
            "admin_public_key": admin_pk.to_hex(),
            "delegating_secret_key": delegating.to_hex().as_str(),
            "delegating_public_key": delegating.public_key().to_hex(),
            "delegating_key_id": delegating.public_key().key_id().to_string(),
            "consumer_secret_key": consumer.to_hex().as_str(),
            "consumer_public_key": consumer.public_key().to_hex(),
            "dek": hex::encode(dek.as_bytes()),
            "edek": hex::encode(&record.edek),
            "edek_digest": hex::encode(edek.digest()),
            "value": hex::encode(&record.value),
            "plaintext": hex::encode(case.plaintext),
            "grant": hex::encode(grant.to_bytes()),
            "threshold": case.threshold,
            "cfrags": cfrags.iter().map(hex::encode).collect::<Vec<_>>(),
            "rejects": [
                {"what": "last value bit flipped", "value": hex::encode(&flipped_value), "topic": case.topic,
                 "error": "AuthenticationFailed", "code": Error::AuthenticationFailed.code()},
                {"what": "read from another topic", "value": hex::encode(&record.value), "topic": "elsewhere",
                 "error": "WrongTopic", "code": Error::WrongTopic.code()},
            ],
        }));
    }
    json!({
        "about": "rewrap format v1 test vectors; layouts in docs/FORMAT.md. Hex strings; keys secp256k1.",
        "now": T0,
        "cases": cases,
    })
}

/// Flattens the JSON vectors: scalar fields as-is, `cfrags` as cfrag0.., `rejects` as
/// rejectN.value / rejectN.topic / rejectN.code.
fn to_kv(all: &Value) -> String {
    let mut out = String::from(
        "# rewrap v1 test vectors, generated from records.json: CASE FIELD VALUE (\"-\" = empty)\n",
    );
    out += &format!("- now {}\n", all["now"]);
    for case in all["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        for (field, v) in case.as_object().unwrap() {
            match (field.as_str(), v) {
                ("name", _) => {}
                ("cfrags", Value::Array(list)) => {
                    out += &format!("{name} cfrags {}\n", list.len());
                    for (i, c) in list.iter().enumerate() {
                        out += &format!("{name} cfrag{i} {}\n", c.as_str().unwrap());
                    }
                }
                ("rejects", Value::Array(list)) => {
                    out += &format!("{name} rejects {}\n", list.len());
                    for (i, r) in list.iter().enumerate() {
                        for f in ["value", "topic"] {
                            out += &format!("{name} reject{i}.{f} {}\n", r[f].as_str().unwrap());
                        }
                        out += &format!("{name} reject{i}.code {}\n", r["code"]);
                    }
                }
                // An empty value is written "-" so every line has three fields.
                (_, Value::String(text)) if text.is_empty() => {
                    out += &format!("{name} {field} -\n")
                }
                (_, Value::String(text)) => out += &format!("{name} {field} {text}\n"),
                (_, Value::Number(n)) => out += &format!("{name} {field} {n}\n"),
                (other, _) => panic!("unexpected vector field {other}"),
            }
        }
    }
    out
}

fn load() -> Value {
    serde_json::from_str(&std::fs::read_to_string(PATH).expect("tests/vectors/records.json"))
        .unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn vectors_regenerate_identically() {
    let fresh = generate();
    if std::env::var_os("REWRAP_BLESS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(PATH).parent().unwrap()).unwrap();
        std::fs::write(PATH, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
        std::fs::write(KV_PATH, to_kv(&fresh)).unwrap();
    }
    assert_eq!(
        fresh,
        load(),
        "format drifted; if intended, rerun with REWRAP_BLESS=1"
    );
    let kv = std::fs::read_to_string(KV_PATH).expect("tests/vectors/records.kv");
    assert_eq!(
        kv,
        to_kv(&fresh),
        "records.kv is stale; rerun with REWRAP_BLESS=1"
    );
}

#[test]
fn vectors_open_from_their_bytes_alone() {
    let all = load();
    let cases = all["cases"].as_array().unwrap();
    assert_eq!(cases.len(), CASES.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let topic = case["topic"].as_str().unwrap();
        let admin = PublicKey::from_hex(case["admin_public_key"].as_str().unwrap()).unwrap();
        let consumer = SecretKey::from_hex(case["consumer_secret_key"].as_str().unwrap()).unwrap();
        let delegating =
            SecretKey::from_hex(case["delegating_secret_key"].as_str().unwrap()).unwrap();
        let edek = bytes(&case["edek"]);
        let cfrags: Vec<Vec<u8>> = case["cfrags"]
            .as_array()
            .unwrap()
            .iter()
            .map(bytes)
            .collect();
        assert_eq!(
            cfrags.len() as u64,
            case["threshold"].as_u64().unwrap().max(cfrags.len() as u64)
        );

        // The administrator's path: the delegating key opens the EDEK to the recorded DEK.
        let parsed = EdekRef::parse(&edek).unwrap();
        assert_eq!(
            hex::encode(parsed.digest()),
            case["edek_digest"].as_str().unwrap(),
            "{name}"
        );
        let dek = parsed.open_with_delegating_key(&delegating).unwrap();
        assert_eq!(
            hex::encode(dek.as_bytes()),
            case["dek"].as_str().unwrap(),
            "{name}"
        );

        // The grant parses and verifies against the administrator key.
        let grant = Grant::from_bytes(&bytes(&case["grant"])).unwrap();
        assert!(grant.verify(&[admin], T0).is_ok(), "{name}");
        assert_eq!(grant.consumer(), case["consumer_id"].as_str().unwrap());

        // The consumer's path: value + EDEK + fragments → plaintext.
        let mut dec = Decryptor::new(consumer, &[admin], DecryptorConfig::default()).unwrap();
        let mut headers = vec![(rewrap::EDEK_HEADER, edek.as_slice())];
        headers.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, c.as_slice())));
        let value = bytes(&case["value"]);
        assert_eq!(
            dec.open(T0, topic, Some(&value), &headers),
            Ok(Opened::Plaintext(bytes(&case["plaintext"]))),
            "{name}"
        );
        for reject in case["rejects"].as_array().unwrap() {
            let v = bytes(&reject["value"]);
            let err = dec
                .open(T0, reject["topic"].as_str().unwrap(), Some(&v), &headers)
                .unwrap_err();
            assert_eq!(
                err.code() as u64,
                reject["code"].as_u64().unwrap(),
                "{name}: {}",
                reject["what"]
            );
        }
    }
}
