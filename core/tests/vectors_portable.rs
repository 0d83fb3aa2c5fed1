//! The shared vectors (`tests/vectors/records.json`, layouts in `docs/FORMAT.md`) checked
//! through rewrap-core as built. `cargo test -p rewrap-core` builds the core without `std`, so
//! this runs on the portable RustCrypto AES-GCM backend; `tests/vectors.rs` includes this file
//! and runs the same checks on `ring`. Both must accept every accept case and reject every
//! reject vector with its recorded code (and, in Rust, its exact error).

#![allow(dead_code)] // each including crate uses a different part

use rewrap_core::{
    edek::EdekRef, Decryptor, DecryptorConfig, Error, Grant, Opened, Policy, ProducerGrant,
    PublicKey, SecretKey,
};
use serde_json::Value;

/// `records.json`, found from either crate's manifest directory.
pub fn load(manifest_dir: &str) -> Value {
    let candidates = [
        format!("{manifest_dir}/tests/vectors/records.json"),
        format!("{manifest_dir}/../tests/vectors/records.json"),
    ];
    let path = candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("tests/vectors/records.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("string field {field}"))
}

/// Owned (name, value) header pairs.
pub type Headers = Vec<(String, Vec<u8>)>;

/// A record's value (`null` = tombstone) and its headers as owned bytes.
pub fn record_parts(record: &Value) -> (Option<Vec<u8>>, Headers) {
    let value = (!record["value"].is_null()).then(|| bytes(&record["value"]));
    let headers = record["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| (text(h, "name").to_string(), bytes(&h["value"])))
        .collect();
    (value, headers)
}

/// A vector's record key: hex, or null / absent for a null Kafka key.
pub fn record_key(v: &Value) -> Option<Vec<u8>> {
    v.get("key").filter(|k| !k.is_null()).map(bytes)
}

fn open(
    dec: &mut Decryptor,
    now: u64,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &Headers,
) -> Result<Opened, Error> {
    let refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    dec.open(now, topic, key, value, &refs)
}

/// The name a vector gives each kind of successful open.
pub fn opened_name(opened: &Opened) -> (&'static str, Option<&[u8]>) {
    match opened {
        Opened::Decrypted(d) => ("decrypted", Some(d.payload.as_slice())),
        Opened::Tombstone => ("tombstone", None),
        Opened::UnencryptedAllowed(p) => ("unencrypted_allowed", Some(p.as_slice())),
    }
}

/// A decryptor as a vector describes it: consumer key, trusted administrator, plaintext
/// setting, `policy` (absent: `off`) and `producer_grants` (hex, added at `now`).
fn decryptor(v: &Value, now: u64) -> Decryptor {
    let secret = SecretKey::from_hex(text(v, "consumer_secret_key")).unwrap();
    let admin = PublicKey::from_hex(text(v, "admin_public_key")).unwrap();
    let policy = v["policy"]
        .as_str()
        .map_or(Policy::Off, |p| Policy::parse(p).unwrap());
    let config = DecryptorConfig {
        allow_plaintext: v["allow_plaintext"].as_bool().unwrap(),
        policy,
        ..DecryptorConfig::default()
    };
    let mut dec = Decryptor::new(secret, &[admin], config).unwrap();
    for g in v["producer_grants"].as_array().into_iter().flatten() {
        let grant = ProducerGrant::from_bytes(&bytes(g)).unwrap();
        dec.add_producer_grant(&grant, now).unwrap();
    }
    dec
}

/// Every accept case opens as recorded.
pub fn check_cases(all: &Value) {
    let now = all["now"].as_u64().unwrap();
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        check_case(now, case);
    }
}

fn check_case(now: u64, case: &Value) {
    let name = text(case, "name");
    let topic = text(case, "topic");
    let admin = PublicKey::from_hex(text(case, "admin_public_key")).unwrap();
    let consumer = SecretKey::from_hex(text(case, "consumer_secret_key")).unwrap();
    let delegating = SecretKey::from_hex(text(case, "delegating_secret_key")).unwrap();

    // Keys and key ids are what the case records.
    let consumer_pk = consumer.public_key();
    assert_eq!(
        consumer_pk.to_hex(),
        text(case, "consumer_public_key"),
        "{name}"
    );
    assert_eq!(
        consumer_pk.key_id().to_string(),
        text(case, "consumer_key_id"),
        "{name}"
    );
    let delegating_pk = delegating.public_key();
    assert_eq!(delegating_pk.to_hex(), text(case, "delegating_public_key"));
    assert_eq!(
        delegating_pk.key_id().to_string(),
        text(case, "delegating_key_id")
    );
    match text(case, "mode") {
        "producer-key" => assert!(case.get("master_seed").is_none(), "{name}"),
        "channel-key" => {
            let derived =
                SecretKey::derive_channel_key(&bytes(&case["master_seed"]), topic).unwrap();
            assert_eq!(derived.public_key(), delegating_pk, "{name}: channel key");
        }
        other => panic!("{name}: unknown mode {other}"),
    }

    // The administrator's path: the delegating key opens the first session's EDEK.
    let edek = bytes(&case["edek"]);
    let parsed = EdekRef::parse(&edek).unwrap();
    assert_eq!(
        hex::encode(parsed.digest()),
        text(case, "edek_digest"),
        "{name}"
    );
    assert_eq!(parsed.topic().to_string(), topic, "{name}");
    let dek = parsed.open_with_delegating_key(&delegating).unwrap();
    assert_eq!(hex::encode(dek.as_bytes()), text(case, "dek"), "{name}");

    // The grant and each share parse, re-serialize identically and verify.
    let grant_bytes = bytes(&case["grant"]);
    let grant = Grant::from_bytes(&grant_bytes).unwrap();
    assert_eq!(grant.to_bytes(), grant_bytes, "{name}");
    grant.verify(&[admin], now).unwrap();
    assert_eq!(grant.topic(), topic, "{name}");
    assert_eq!(grant.consumer(), text(case, "consumer_id"), "{name}");
    assert_eq!(grant.consumer_key(), consumer_pk);
    assert_eq!(grant.delegating_key(), delegating_pk);
    assert_eq!(
        grant.threshold() as u64,
        case["threshold"].as_u64().unwrap()
    );
    assert_eq!(grant.shares() as u64, case["shares"].as_u64().unwrap());
    assert_eq!(grant.not_before(), case["not_before"].as_u64().unwrap());
    assert_eq!(
        grant.expires().unwrap_or(0),
        case["expires"].as_u64().unwrap()
    );
    let shares = case["grant_shares"].as_array().unwrap();
    assert!(shares.is_empty() || shares.len() == grant.shares() as usize);
    for (i, share) in shares.iter().enumerate() {
        let share_bytes = bytes(share);
        let parsed = Grant::from_bytes(&share_bytes).unwrap();
        assert_eq!(parsed.share_indices(), [i as u8], "{name} share {i}");
        assert_eq!(share_bytes, grant.share(i as u8).unwrap().to_bytes());
        parsed.verify(&[admin], now).unwrap();
    }

    // The consumer's path: every record of the case, in order, through one decryptor.
    let mut dec = decryptor(case, now);
    for (i, record) in case["records"].as_array().unwrap().iter().enumerate() {
        let (value, headers) = record_parts(record);
        let key = record_key(record);
        let opened = open(
            &mut dec,
            now,
            topic,
            key.as_deref(),
            value.as_deref(),
            &headers,
        )
        .unwrap_or_else(|e| panic!("{name} record {i}: {e:?}"));
        if let Opened::Decrypted(d) = &opened {
            assert_eq!(d.vouch.name(), text(record, "vouch"), "{name} {i}");
            assert_eq!(d.counter, record["counter"].as_u64().unwrap(), "{name} {i}");
        }
        let (kind, payload) = opened_name(&opened);
        assert_eq!(kind, text(record, "opened"), "{name} record {i}");
        match payload {
            Some(p) => assert_eq!(hex::encode(p), text(record, "plaintext"), "{name} {i}"),
            None => assert!(record.get("plaintext").is_none(), "{name} {i}"),
        }
        if let Some(counter) = record.get("counter") {
            // Nonce = 4-byte session prefix ‖ 64-bit big-endian counter from 0.
            let v = value.as_ref().unwrap();
            let got = u64::from_be_bytes(v[24..32].try_into().unwrap());
            assert_eq!(got, counter.as_u64().unwrap(), "{name} {i}");
        }
    }

    // Per-case rejects: variants of the first record (its headers, key and value).
    for reject in case["rejects"].as_array().unwrap() {
        let (value, headers) = record_parts(reject);
        let key = record_key(reject);
        let topic = text(reject, "topic");
        let err = open(
            &mut dec,
            now,
            topic,
            key.as_deref(),
            value.as_deref(),
            &headers,
        )
        .unwrap_err();
        assert_eq!(
            err.code() as u64,
            reject["code"].as_u64().unwrap(),
            "{name}: {}",
            text(reject, "what")
        );
    }
}

/// Every reject vector fails with its recorded code and exact error.
pub fn check_rejects(all: &Value) {
    let rejects = all["rejects"].as_array().unwrap();
    assert!(!rejects.is_empty());
    for reject in rejects {
        let err = reject_error(reject);
        let name = text(reject, "name");
        assert_eq!(
            err.code() as u64,
            reject["code"].as_u64().unwrap(),
            "{name}: {err:?}"
        );
        assert_eq!(format!("{err:?}"), text(reject, "detail"), "{name}");
    }
}

/// What the engine says about one reject vector (it must fail).
pub fn reject_error(reject: &Value) -> Error {
    let name = text(reject, "name");
    let outcome: Result<(), Error> = match text(reject, "check") {
        "open" => {
            let now = reject["now"].as_u64().unwrap();
            let mut dec = decryptor(reject, now);
            let (value, headers) = record_parts(reject);
            let key = record_key(reject);
            open(
                &mut dec,
                now,
                text(reject, "topic"),
                key.as_deref(),
                value.as_deref(),
                &headers,
            )
            .map(|_| ())
        }
        "grant" => {
            let admin = PublicKey::from_hex(text(reject, "admin_public_key")).unwrap();
            Grant::from_bytes(&bytes(&reject["grant"])).and_then(|g| {
                g.verify(&[admin], reject["now"].as_u64().unwrap())
                    .map(|_| ())
            })
        }
        "public_key" => PublicKey::from_bytes(&bytes(&reject["bytes"])).map(|_| ()),
        "secret_key" => SecretKey::from_bytes(&bytes(&reject["bytes"])).map(|_| ()),
        other => panic!("{name}: unknown check {other}"),
    };
    match outcome {
        Ok(()) => panic!("{name}: accepted, expected {}", text(reject, "error")),
        Err(e) => e,
    }
}

#[test]
fn shared_vectors_open_with_this_backend() {
    if std::env::var_os("REWRAP_BLESS").is_some() {
        return; // tests/vectors.rs is rewriting the file; it checks the result itself
    }
    let all = load(env!("CARGO_MANIFEST_DIR"));
    check_cases(&all);
    check_rejects(&all);
}
