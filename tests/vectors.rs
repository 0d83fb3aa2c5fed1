//! Shared test vectors (`tests/vectors/records.json`, and the same as `records.kv` lines for
//! readers without JSON), made with one seeded ChaCha20 RNG so they regenerate byte for byte.
//! Here we check they still regenerate identically (the format did not drift), that they open
//! from their bytes alone (`core/tests/vectors_portable.rs`, included below, run here on
//! `ring` and by `cargo test -p rewrap-core` on the portable backend), and that the order of
//! checks table and the error codes in `docs/FORMAT.md` are the engine's.
//! `REWRAP_BLESS=1 cargo test -p rewrap --test vectors` rewrites both files after an intended
//! change.
//!
//! Accept cases (`cases`) are whole producer sessions: keys, grant (and its shares), the
//! first session's EDEK and DEK, and `records` to open in order with one decryptor. Reject
//! vectors (`rejects`) each fail with one error: `check` says which parser or step
//! (`open`, `grant`, `public_key`, `secret_key`), `rule` the row of the order of checks in
//! FORMAT.md §8 it pins.

#![recursion_limit = "256"]

#[path = "../core/tests/vectors_portable.rs"]
mod check;

use std::collections::BTreeSet;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rewrap_core::{
    edek::EdekRef, Compression, Decryptor, DecryptorConfig, Encryptor, Error, Grant, GrantTerms,
    Object, ProducerGrant, PublicKey, ReEncryptor, ReEncryptorConfig, RotationPolicy, SealedRecord,
    SecretKey, SessionSignature, Signer, SigningMode, Topic, CFRAG_HEADER, EDEK_HEADER,
    RECORD_SIG_HEADER, SIG_HEADER,
};
use serde_json::{json, Value};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/records.json");
/// The same vectors as `CASE FIELD VALUE` lines, for bindings without a JSON parser (C, Java).
const KV_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/records.kv");
const FORMAT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md");
const T0: u64 = 1_700_000_000;
/// "rewrap" in ASCII: the seed of the one RNG every vector is drawn from.
const SEED: u64 = 0x7265_7772_6170;

type Rng = ChaCha20Rng;

// ---- accept cases ------------------------------------------------------------------------

/// One step of a case's record stream, opened in order by one decryptor.
#[derive(Clone, Copy)]
enum Step {
    /// A record sealed by the producer, delivered with the consumer's fragments.
    Seal(&'static [u8]),
    /// A null value carrying `edeks` copies of the current session's EDEK header (0: none).
    Tombstone { edeks: usize },
    /// A record without rewrap headers (opens only with `allow_plaintext`).
    Plain(&'static [u8]),
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Producers encrypt to their own key.
    ProducerKey,
    /// Producers encrypt to a channel key derived from a master seed.
    ChannelKey,
}

struct Spec {
    name: &'static str,
    mode: Mode,
    topic: String,
    consumer: String,
    threshold: u8,
    shares: u8,
    not_before: u64,
    expires: Option<u64>,
    max_messages: u64,
    allow_plaintext: bool,
    /// Another consumer's fragment first, a truncated header, and the first own fragment
    /// corrupted.
    mixed: bool,
    /// What the producer signs.
    signing: SigningMode,
    /// How the producer compresses payloads before sealing (§2.1).
    compression: Compression,
    steps: Vec<Step>,
}

impl Spec {
    fn simple(name: &'static str, topic: &str, consumer: &str, plaintext: &'static [u8]) -> Self {
        Spec {
            name,
            mode: Mode::ProducerKey,
            topic: topic.to_string(),
            consumer: consumer.to_string(),
            threshold: 1,
            shares: 1,
            not_before: T0,
            expires: None,
            max_messages: RotationPolicy::default().max_messages,
            allow_plaintext: false,
            mixed: false,
            signing: SigningMode::Session,
            compression: Compression::None,
            steps: vec![Step::Seal(plaintext)],
        }
    }
}

/// A UTF-8 string of exactly `len` bytes: `prefix`, then `fill` repeated, then ASCII padding.
fn sized(prefix: &str, fill: &str, pad: char, len: usize) -> String {
    let mut s = prefix.to_string();
    while s.len() + fill.len() <= len {
        s += fill;
    }
    while s.len() < len {
        s.push(pad);
    }
    assert_eq!(s.len(), len);
    s
}

fn specs() -> Vec<Spec> {
    // The first three are the original vectors: keep them first and unchanged.
    let mut two_of_three = Spec::simple(
        "two-of-three",
        "payments.eu-west_1",
        "User:alice",
        b"threshold re-encryption",
    );
    two_of_three.threshold = 2;
    two_of_three.shares = 3;

    let mut channel = Spec::simple(
        "channel-key",
        "orders.eu",
        "User:bob",
        b"sealed to the channel key",
    );
    channel.mode = Mode::ChannelKey;

    let mut rotation = Spec::simple(
        "several-records-rotation",
        "orders",
        "consumer-1",
        b"record 0",
    );
    rotation.max_messages = 3;
    rotation.allow_plaintext = true;
    rotation.steps = vec![
        Step::Seal(b"record 0"),
        Step::Seal(b"record 1"),
        Step::Tombstone { edeks: 0 },
        Step::Seal(b""),
        Step::Tombstone { edeks: 2 },
        Step::Seal(b"record 3: first of the second session"),
        Step::Plain(b"plaintext let through for a migration"),
        Step::Seal(b"record 4"),
        Step::Tombstone { edeks: 1 },
    ];

    let mut expiring = Spec::simple("expiring-grant", "orders", "consumer-1", b"for an hour");
    expiring.not_before = T0 - 60;
    expiring.expires = Some(T0 + 3600);

    let max = Spec::simple(
        "max-lengths",
        &sized("", "logs.", 'x', 249),
        &sized("User:", "Zoë-東京-", '!', 255),
        b"longest names a v1 record or grant can hold",
    );

    let utf8 = Spec::simple(
        "utf8-names",
        "commandes.été",
        "Zoë·東京",
        "données".as_bytes(),
    );

    let mut mixed = Spec::simple("mixed-cfrags", "orders", "User:carol", b"mine among others");
    mixed.threshold = 2;
    mixed.shares = 3;
    mixed.mixed = true;

    let mut record_mode = Spec::simple(
        "record-signatures",
        "orders",
        "consumer-1",
        b"signed record 0",
    );
    record_mode.signing = SigningMode::Record;
    record_mode.steps = vec![
        Step::Seal(b"signed record 0"),
        Step::Seal(b"signed record 1"),
        Step::Seal(b"signed record 2"),
    ];

    vec![
        Spec::simple("one-of-one", "orders", "consumer-1", b"peace at dawn"),
        Spec::simple("empty-payload", "orders", "consumer-1", b""),
        two_of_three,
        channel,
        rotation,
        expiring,
        max,
        utf8,
        mixed,
        record_mode,
    ]
}

/// The Kafka key of the i-th sealed record of a case: a key, a null key, an empty key, ...
fn record_key(i: usize) -> Option<Vec<u8>> {
    match i % 3 {
        0 => Some(format!("key-{i}").into_bytes()),
        1 => None,
        _ => Some(Vec::new()),
    }
}

fn hex_or_null(key: Option<&[u8]>) -> Value {
    key.map_or(Value::Null, |k| json!(hex::encode(k)))
}

/// The headers a producer attaches (EDEK, session signature, record signature), then cfrags.
fn record_headers(record: &SealedRecord, cfrags: &[Vec<u8>]) -> Vec<Value> {
    record
        .headers()
        .into_iter()
        .map(|(n, v)| header(n, v))
        .chain(cfrags.iter().map(|c| header(CFRAG_HEADER, c)))
        .collect()
}

struct Admin {
    secret_hex: String,
    public: PublicKey,
    signer: Signer,
}

impl Admin {
    fn random(rng: &mut Rng) -> Self {
        let sk = SecretKey::random(rng);
        Admin {
            secret_hex: sk.to_hex().as_str().to_string(),
            public: sk.public_key(),
            signer: Signer::new(sk),
        }
    }
}

fn terms<'a>(
    topic: &'a str,
    consumer: &'a str,
    key: PublicKey,
    threshold: u8,
    shares: u8,
    not_before: u64,
    expires: Option<u64>,
) -> GrantTerms<'a> {
    let mut t = GrantTerms::one_of_one(topic, consumer, key, not_before);
    t.threshold = threshold;
    t.shares = shares;
    t.expires = expires;
    // Fixed, so the vectors are reproducible: issued when they become valid.
    t.issued_at = Some(not_before * 1000);
    t
}

fn header(name: &str, value: &[u8]) -> Value {
    json!({"name": name, "value": hex::encode(value)})
}

/// Flips one bit of a copy.
fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 1;
    out
}

/// Offset of the last byte of `r` in a cfrag header's kfrag signature (r ‖ s, 64 bytes last).
const CFRAG_SIG_R_LAST: usize = 369 - 64 + 31;

/// The fragments a re-encryptor attaches for `consumer` (and, for a mixed case, the other
/// consumer's first, then a truncated header, then the own ones with the first corrupted so
/// it fails verification).
/// The fragments of every re-encryptor (one per share), in share order.
fn deliver(
    rng: &mut Rng,
    res: &mut [ReEncryptor],
    spec: &Spec,
    other: Option<&str>,
    edek: &[u8],
) -> Vec<Vec<u8>> {
    let mut mine = Vec::new();
    for re in res.iter_mut() {
        mine.extend(
            re.reencrypt(rng, T0, &spec.topic, edek, &spec.consumer)
                .unwrap()
                .to_vec(),
        );
    }
    match other {
        None => mine,
        Some(other) => {
            let mut all = res[0]
                .reencrypt(rng, T0, &spec.topic, edek, other)
                .unwrap()
                .to_vec();
            mine[0] = flip(&mine[0], CFRAG_SIG_R_LAST);
            all.push(mine[1][..200].to_vec());
            all.extend(mine);
            all
        }
    }
}

fn accept_case(rng: &mut Rng, spec: &Spec) -> Value {
    let topic = spec.topic.as_str();
    let admin = Admin::random(rng);
    let (delegating, seed) = match spec.mode {
        Mode::ProducerKey => (SecretKey::random(rng), None),
        Mode::ChannelKey => {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            (
                SecretKey::derive_channel_key(&seed, topic).unwrap(),
                Some(seed),
            )
        }
    };
    let consumer = SecretKey::random(rng);
    let other = spec.mixed.then(|| SecretKey::random(rng));
    const OTHER_ID: &str = "User:someone-else";

    let policy = RotationPolicy {
        max_messages: spec.max_messages,
        ..RotationPolicy::default()
    };
    let producer = SecretKey::random(rng);
    let mut enc = Encryptor::new(delegating.public_key(), policy).unwrap();
    enc.set_signer(Some((Signer::from_secret(&producer), spec.signing)));
    enc.set_compression(spec.compression).unwrap();
    let Step::Seal(first_plaintext) = spec.steps[0] else {
        panic!("{}: a case starts with a sealed record", spec.name)
    };
    let first_key = record_key(0);
    let first = enc
        .seal(rng, T0, topic, first_key.as_deref(), first_plaintext)
        .unwrap();
    let producer_grant = ProducerGrant::issue(
        rng,
        &admin.signer,
        topic,
        &producer.public_key(),
        spec.not_before,
        None,
    )
    .unwrap();

    let grant_terms = terms(
        topic,
        &spec.consumer,
        consumer.public_key(),
        spec.threshold,
        spec.shares,
        spec.not_before,
        spec.expires,
    );
    let grant = Grant::issue(rng, &admin.signer, &delegating, &grant_terms).unwrap();
    // One re-encryptor per share, as deployed (none holds two shares of a threshold grant).
    let mut re: Vec<ReEncryptor> = (0..spec.shares)
        .map(|i| {
            let mut re = ReEncryptor::new(&[admin.public], ReEncryptorConfig::default()).unwrap();
            re.add_grant(&grant.share(i).unwrap(), T0).unwrap();
            re
        })
        .collect();
    if let Some(other) = &other {
        let t = terms(topic, OTHER_ID, other.public_key(), 1, 1, T0, None);
        let g = Grant::issue(rng, &admin.signer, &delegating, &t).unwrap();
        re[0].add_grant(&g, T0).unwrap();
    }
    let other_id = other.as_ref().map(|_| OTHER_ID);

    let mut records = Vec::new();
    let mut first_cfrags = Vec::new();
    let mut sessions: Vec<Vec<u8>> = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        records.push(match *step {
            Step::Seal(plaintext) => {
                let key = record_key(i);
                let record = if i == 0 {
                    first.clone()
                } else {
                    enc.seal(rng, T0, topic, key.as_deref(), plaintext).unwrap()
                };
                let cfrags = deliver(rng, &mut re, spec, other_id, &record.edek);
                if i == 0 {
                    first_cfrags = cfrags.clone();
                }
                if !sessions.iter().any(|s| **s == *record.edek) {
                    sessions.push(record.edek.to_vec());
                }
                let counter = u64::from_be_bytes(record.value[24..32].try_into().unwrap());
                json!({
                    "key": hex_or_null(key.as_deref()),
                    "value": hex::encode(&record.value),
                    "headers": record_headers(&record, &cfrags),
                    "opened": "decrypted",
                    "plaintext": hex::encode(plaintext),
                    "session": sessions.len() - 1,
                    "counter": counter,
                    "vouch": "producer",
                })
            }
            Step::Tombstone { edeks } => {
                let edek = enc.edek(topic).unwrap();
                let headers: Vec<Value> = (0..edeks).map(|_| header(EDEK_HEADER, edek)).collect();
                json!({"key": hex_or_null(record_key(i).as_deref()), "value": null, "headers": headers, "opened": "tombstone"})
            }
            Step::Plain(plaintext) => json!({
                "key": hex_or_null(record_key(i).as_deref()),
                "value": hex::encode(plaintext),
                "headers": [],
                "opened": "unencrypted_allowed",
                "plaintext": hex::encode(plaintext),
            }),
        });
    }

    let edek = EdekRef::parse(&first.edek).unwrap();
    let dek = edek.open_with_delegating_key(&delegating).unwrap();
    let flipped_value = flip(&first.value, first.value.len() - 1);
    let other_key = Some(b"another key".to_vec());
    let first_headers = record_headers(&first, &first_cfrags);
    // In record mode the record signature (over the whole value and the key) fails first.
    let altered = match spec.signing {
        SigningMode::Record => Error::BadSignature,
        SigningMode::Session => Error::AuthenticationFailed,
    };
    let shares: Vec<String> = if spec.shares > 1 {
        (0..spec.shares)
            .map(|i| hex::encode(grant.share(i).unwrap().to_bytes()))
            .collect()
    } else {
        Vec::new()
    };
    let mut case = json!({
        "name": spec.name,
        "mode": match spec.mode { Mode::ProducerKey => "producer-key", Mode::ChannelKey => "channel-key" },
        "topic": topic,
        "consumer_id": spec.consumer,
        "admin_secret_key": admin.secret_hex,
        "admin_public_key": admin.public.to_hex(),
        "delegating_secret_key": delegating.to_hex().as_str(),
        "delegating_public_key": delegating.public_key().to_hex(),
        "delegating_key_id": delegating.public_key().key_id().to_string(),
        "consumer_secret_key": consumer.to_hex().as_str(),
        "consumer_public_key": consumer.public_key().to_hex(),
        "consumer_key_id": consumer.public_key().key_id().to_string(),
        "dek": hex::encode(dek.as_bytes()),
        "edek": hex::encode(&first.edek),
        "edek_digest": hex::encode(edek.digest()),
        "value": hex::encode(&first.value),
        "plaintext": hex::encode(first_plaintext),
        "grant": hex::encode(grant.to_bytes()),
        "grant_shares": shares,
        "threshold": spec.threshold,
        "shares": spec.shares,
        "not_before": spec.not_before,
        "expires": spec.expires.unwrap_or(0),
        "allow_plaintext": spec.allow_plaintext,
        "policy": "require",
        "signing_mode": spec.signing.name(),
        "producer_secret_key": producer.to_hex().as_str(),
        "producer_public_key": producer.public_key().to_hex(),
        "producer_grants": [hex::encode(producer_grant.to_bytes())],
        "key": hex_or_null(first_key.as_deref()),
        "sig": hex::encode(first.sig.as_deref().unwrap()),
        "cfrags": first_cfrags.iter().map(hex::encode).collect::<Vec<_>>(),
        "records": records,
        "rejects": [
            {"what": "last value bit flipped", "headers": first_headers.clone(), "key": hex_or_null(first_key.as_deref()),
             "value": hex::encode(&flipped_value), "topic": topic,
             "error": kind_name(&altered), "code": altered.code()},
            {"what": "read from another topic", "headers": first_headers.clone(), "key": hex_or_null(first_key.as_deref()),
             "value": hex::encode(&first.value), "topic": "elsewhere",
             "error": "WrongTopic", "code": Error::WrongTopic.code()},
            {"what": "value moved to another record key", "headers": first_headers.clone(), "key": hex_or_null(other_key.as_deref()),
             "value": hex::encode(&first.value), "topic": topic,
             "error": kind_name(&altered), "code": altered.code()},
        ],
    });
    if let Some(seed) = seed {
        case["master_seed"] = json!(hex::encode(seed));
    }
    // Only compressed cases name it, so the older cases stay byte for byte as they were.
    match spec.compression {
        Compression::None => {}
        Compression::Lz4 => case["compression"] = json!("lz4"),
        Compression::Zstd { level } => case["compression"] = json!(format!("zstd-{level}")),
    }
    case
}

// ---- reject vectors ----------------------------------------------------------------------

/// The kind's name: the variant without its fields (`Truncated(Edek)` -> `Truncated`).
fn kind_name(err: &Error) -> String {
    format!("{err:?}")
        .split(['(', ' '])
        .next()
        .unwrap()
        .to_string()
}

fn reject(name: &str, rule: &str, what: &str, err: &Error, check: &str) -> Value {
    json!({
        "name": name,
        "rule": rule,
        "what": what,
        "check": check,
        "error": kind_name(err),
        "detail": format!("{err:?}"),
        "code": err.code(),
    })
}

/// Secp256k1's group order n, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

/// n - s for a 32-byte big-endian s < n: the high-s twin of a low-s ECDSA signature.
fn negate_scalar(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = ORDER[i] as i16 - s[i] as i16 - borrow;
        borrow = (d < 0) as i16;
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

/// Byte offsets inside a grant's wire form (FORMAT.md §5).
struct GrantLayout {
    delegating_key: usize,
    threshold: usize,
    count: usize,
    signature: usize,
}

fn grant_layout(bytes: &[u8]) -> GrantLayout {
    let channel = bytes[1] as usize;
    let consumer = bytes[2 + channel] as usize;
    let delegating_key = 3 + channel + consumer;
    let threshold = delegating_key + 3 * 33;
    let shares = bytes[threshold + 1] as usize;
    let count = threshold + 2 + 16 + 8 + 32 * shares;
    GrantLayout {
        delegating_key,
        threshold,
        count,
        signature: bytes.len() - 64,
    }
}

/// One row per vector, kept as a table.
#[rustfmt::skip]
fn reject_vectors(rng: &mut Rng) -> Vec<Value> {
    let topic = "orders";
    let admin = Admin::random(rng);
    let stranger = SecretKey::random(rng).public_key();
    let delegating = SecretKey::random(rng);
    let alice = SecretKey::random(rng);
    let bob = SecretKey::random(rng);

    let producer = SecretKey::random(rng);
    let signing = |mode| Some((Signer::from_secret(&producer), mode));
    let mut enc = Encryptor::new(delegating.public_key(), RotationPolicy::default()).unwrap();
    enc.set_signer(signing(SigningMode::Session));
    const K1: &[u8] = b"k1";
    let r1 = enc.seal(rng, T0, topic, Some(K1), b"reject me").unwrap();
    enc.rotate();
    let r2 = enc.seal(rng, T0, topic, Some(K1), b"another session").unwrap();
    let mut enc_record =
        Encryptor::new(delegating.public_key(), RotationPolicy::default()).unwrap();
    enc_record.set_signer(signing(SigningMode::Record));
    let r4 = enc_record.seal(rng, T0, topic, Some(K1), b"record mode").unwrap();
    // An attacker who can write to the topic: the public delegating key is in every EDEK.
    let mut forger = Encryptor::new(delegating.public_key(), RotationPolicy::default()).unwrap();
    let forged_unsigned = forger.seal(rng, T0, topic, Some(K1), b"forged").unwrap();
    forger.set_signer(Some((Signer::new(SecretKey::random(rng)), SigningMode::Session)));
    let forged_signed = forger.seal(rng, T0, topic, Some(K1), b"forged").unwrap();
    let producer_grant =
        ProducerGrant::issue(rng, &admin.signer, topic, &producer.public_key(), T0, None).unwrap();

    let issue = |rng: &mut Rng, id: &str, key: &SecretKey, t: u8, n: u8, nb: u64, exp| {
        let terms = terms(topic, id, key.public_key(), t, n, nb, exp);
        Grant::issue(rng, &admin.signer, &delegating, &terms).unwrap()
    };
    let g_alice = issue(rng, "alice", &alice, 1, 1, T0, None);
    let g_bob = issue(rng, "bob", &bob, 1, 1, T0, None);
    let g_alice23 = issue(rng, "alice", &alice, 2, 3, T0, None);
    let g_alice23b = issue(rng, "alice", &alice, 2, 3, T0, None);
    let g_exp = issue(rng, "alice", &alice, 1, 1, T0 - 60, Some(T0 + 3600));

    let reencryptor = |grants: &[&Grant]| {
        let mut re = ReEncryptor::new(&[admin.public], ReEncryptorConfig::default()).unwrap();
        for g in grants {
            re.add_grant(g, T0).unwrap();
        }
        re
    };
    let mut re1 = reencryptor(&[&g_alice, &g_bob]);
    // A threshold grant's fragments come from one re-encryptor per share.
    let all_shares = |rng: &mut Rng, g: &Grant, edek: &[u8]| {
        let mut out = Vec::new();
        for i in g.share_indices() {
            let mut re = reencryptor(&[&g.share(i).unwrap()]);
            out.extend(re.reencrypt(rng, T0, topic, edek, "alice").unwrap().to_vec());
        }
        out
    };
    let a1 = re1.reencrypt(rng, T0, topic, &r1.edek, "alice").unwrap()[0].clone();
    let a4 = re1.reencrypt(rng, T0, topic, &r4.edek, "alice").unwrap()[0].clone();
    let af = re1.reencrypt(rng, T0, topic, &forged_unsigned.edek, "alice").unwrap()[0].clone();
    let afs = re1.reencrypt(rng, T0, topic, &forged_signed.edek, "alice").unwrap()[0].clone();
    let b1 = re1.reencrypt(rng, T0, topic, &r1.edek, "bob").unwrap()[0].clone();
    let t3 = all_shares(rng, &g_alice23, &r1.edek);
    let u3 = all_shares(rng, &g_alice23b, &r1.edek);

    let mut c_version_early = a1.clone();
    c_version_early[0] = 2;
    let e1: &[u8] = &r1.edek;
    let v1: &[u8] = &r1.value;
    let mut out = Vec::new();

    // --- record opens (alice's decryptor, trusting `admin`) ---
    let mut open = |name: &str,
                    rule: &str,
                    what: &str,
                    err: Error,
                    topic_read: &str,
                    value: Option<&[u8]>,
                    headers: Vec<Value>,
                    allow_plaintext: bool,
                    trusted: &PublicKey| {
        let mut v = reject(name, rule, what, &err, "open");
        v["consumer_secret_key"] = json!(alice.to_hex().as_str());
        v["admin_public_key"] = json!(trusted.to_hex());
        v["allow_plaintext"] = json!(allow_plaintext);
        v["now"] = json!(T0);
        v["topic"] = json!(topic_read);
        v["value"] = value.map_or(Value::Null, |b| json!(hex::encode(b)));
        v["headers"] = json!(headers);
        v["key"] = json!(hex::encode(K1));
        v["policy"] = json!("require");
        v["producer_grants"] = json!([hex::encode(producer_grant.to_bytes())]);
        out.push(v);
    };
    let a = &admin.public;
    // EDEK, its session signature (the producer's own for r1 and r2; for an altered EDEK a
    // valid signature over it, so the check after the signature is the one pinned), cfrags.
    let sig_for = |edek: &[u8]| -> Option<Vec<u8>> {
        for r in [&r1, &r2] {
            if *r.edek == *edek {
                return r.sig.as_deref().map(<[u8]>::to_vec);
            }
        }
        let parsed = EdekRef::parse(edek).ok()?;
        let mut seeded = ChaCha20Rng::from_seed(parsed.digest());
        let signer = Signer::from_secret(&producer);
        let topic = Topic::new(topic).unwrap();
        Some(SessionSignature::sign(
            &mut seeded,
            &signer,
            SigningMode::Session,
            T0,
            topic,
            &parsed.digest(),
        ))
    };
    let h = |edek: &[u8], cfrags: &[&[u8]]| {
        let mut list = vec![header(EDEK_HEADER, edek)];
        if let Some(sig) = sig_for(edek) {
            list.push(header(SIG_HEADER, &sig));
        }
        list.extend(cfrags.iter().map(|c| header(CFRAG_HEADER, c)));
        list
    };
    let ok = h(e1, &[&a1]);

    open("no-rewrap-headers", "R3", "plain value without rewrap headers, plaintext not allowed",
         Error::Unencrypted, topic, Some(b"plain text"), vec![], false, a);
    open("edek-stripped-cfrag-left", "R3", "sealed record whose EDEK header was removed, its cfrag kept; even with plaintext allowed",
         Error::Truncated(Object::Edek), topic, Some(v1), vec![header(CFRAG_HEADER, &a1)], true, a);
    open("edek-stripped-sealed-value", "R3", "sealed value without any header; even with plaintext allowed",
         Error::Truncated(Object::Edek), topic, Some(v1), vec![], true, a);
    open("edek-twice", "R2", "two rewrap.edek headers",
         Error::Malformed(Object::Edek), topic, Some(v1),
         vec![header(EDEK_HEADER, e1), header(EDEK_HEADER, e1), header(CFRAG_HEADER, &a1)], false, a);
    open("edek-twice-foreign-value", "R2", "two rewrap.edek headers win over a foreign value",
         Error::Malformed(Object::Edek), topic, Some(b"{\"json\":1}"),
         vec![header(EDEK_HEADER, e1), header(EDEK_HEADER, &r2.edek)], false, a);
    open("header-name-nul-cfrag", "R2", "a header named rewrap.cfrag NUL x (what C sees as rewrap.cfrag) beside a valid one",
         Error::Malformed(Object::Cfrag), topic, Some(v1),
         vec![header(EDEK_HEADER, e1), header("rewrap.cfrag\0x", &a1), header(CFRAG_HEADER, &a1)], false, a);
    open("header-name-nul-edek", "R2", "the EDEK under the name rewrap.edek NUL",
         Error::Malformed(Object::Edek), topic, Some(v1),
         vec![header("rewrap.edek\0", e1), header(CFRAG_HEADER, &a1)], false, a);
    open("value-foreign", "R4", "value that is not an envelope (JSON)",
         Error::ForeignRecord, topic, Some(b"{\"json\":1}"), ok.clone(), false, a);
    open("value-one-byte", "R4", "value under 2 bytes",
         Error::ForeignRecord, topic, Some(b"R"), ok.clone(), false, a);
    open("value-empty", "R4", "empty value (not null) with an EDEK",
         Error::ForeignRecord, topic, Some(b""), ok.clone(), false, a);
    open("value-magic-only", "R5", "value is only the magic",
         Error::Truncated(Object::Envelope), topic, Some(b"RW"), ok.clone(), false, a);
    open("value-short-bad-version", "R5", "3 bytes with an unknown version: shortness wins",
         Error::Truncated(Object::Envelope), topic, Some(b"RW\x03"), ok.clone(), false, a);
    let mut bad_version = v1.to_vec();
    bad_version[2] = 3;
    open("value-bad-version", "R6", "envelope version 3",
         Error::UnsupportedVersion(Object::Envelope, 3), topic, Some(&bad_version), ok.clone(), false, a);
    let mut bad_alg = v1.to_vec();
    bad_alg[3] = 4;
    open("value-bad-algorithm", "R6", "algorithm id 4",
         Error::UnsupportedVersion(Object::Envelope, 4), topic, Some(&bad_alg), ok.clone(), false, a);
    open("value-bad-version-short", "R6", "unknown version in a value too short to hold a tag: version wins",
         Error::UnsupportedVersion(Object::Envelope, 3), topic, Some(&bad_version[..20]), ok.clone(), false, a);
    open("value-short", "R7", "47 bytes: one short of an empty payload's envelope",
         Error::Truncated(Object::Envelope), topic, Some(&v1[..47]), ok.clone(), false, a);
    open("value-short-wrong-topic", "R7", "short value read from another topic: the envelope error wins",
         Error::Truncated(Object::Envelope), "elsewhere", Some(&v1[..47]), ok.clone(), false, a);
    open("edek-empty", "R8", "empty EDEK header",
         Error::Truncated(Object::Edek), topic, Some(v1), h(b"", &[&a1]), false, a);
    open("edek-version-only", "R8", "a lone unknown version byte: version wins over length",
         Error::UnsupportedVersion(Object::Edek, 2), topic, Some(v1), h(&[2], &[&a1]), false, a);
    let mut e_version = e1.to_vec();
    e_version[0] = 2;
    open("edek-bad-version", "R8", "EDEK version 2",
         Error::UnsupportedVersion(Object::Edek, 2), topic, Some(v1), h(&e_version, &[&a1]), false, a);
    open("edek-truncated", "R8", "EDEK without its last topic byte",
         Error::Truncated(Object::Edek), topic, Some(v1), h(&e1[..e1.len() - 1], &[&a1]), false, a);
    let mut trailing = e1.to_vec();
    trailing.push(0);
    open("edek-trailing-byte", "R8", "EDEK with one byte after the topic",
         Error::Malformed(Object::Edek), topic, Some(v1), h(&trailing, &[&a1]), false, a);
    let mut no_topic = e1[..204].to_vec();
    no_topic.push(0);
    open("edek-topic-empty", "R8", "topic length 0",
         Error::Malformed(Object::Edek), topic, Some(v1), h(&no_topic, &[&a1]), false, a);
    let mut bad_utf8 = e1[..204].to_vec();
    bad_utf8.extend_from_slice(&[2, 0xc3, 0x28]);
    open("edek-topic-invalid-utf8", "R8", "topic bytes that are not UTF-8",
         Error::Malformed(Object::Edek), topic, Some(v1), h(&bad_utf8, &[&a1]), false, a);
    let mut long_topic = e1[..204].to_vec();
    long_topic.push(250);
    long_topic.extend_from_slice(&[b't'; 250]);
    open("edek-topic-too-long", "R8", "topic of 250 bytes",
         Error::Malformed(Object::Edek), &"t".repeat(250), Some(v1), h(&long_topic, &[&a1]), false, a);
    open("value-short-edek-bad-version", "R8", "bad value and bad EDEK: the value is parsed first",
         Error::Truncated(Object::Envelope), topic, Some(&v1[..47]), h(&e_version, &[&a1]), false, a);
    open("wrong-topic", "R9", "read from another topic than the EDEK names",
         Error::WrongTopic, "elsewhere", Some(v1), ok.clone(), false, a);
    open("wrong-topic-and-other-session", "R9", "another topic and another session's value: the topic wins",
         Error::WrongTopic, "elsewhere", Some(&r2.value), ok.clone(), false, a);
    open("edek-mismatch", "R11", "value of one session with the EDEK of another",
         Error::EdekMismatch, topic, Some(&r2.value), ok.clone(), false, a);
    open("cfrag-malformed-only", "R12", "two malformed cfrag headers and nothing usable: the first one's error",
         Error::Truncated(Object::Cfrag), topic, Some(v1), h(e1, &[&a1[..100], &c_version_early]), false, a);
    open("cfrag-malformed-beside-foreign", "R14", "a truncated own cfrag header (skipped) beside another consumer's fragment",
         Error::WrongConsumer, topic, Some(v1), h(e1, &[&a1[..100], &b1]), false, a);
    open("cfrag-empty", "R12", "empty cfrag header",
         Error::Truncated(Object::Cfrag), topic, Some(v1), h(e1, &[b""]), false, a);
    let mut c_version = a1.clone();
    c_version[0] = 2;
    open("cfrag-bad-version", "R12", "cfrag version 2",
         Error::UnsupportedVersion(Object::Cfrag, 2), topic, Some(v1), h(e1, &[&c_version]), false, a);
    let mut c_zero = a1.clone();
    c_zero[1] = 0;
    open("cfrag-zero-threshold", "R12", "threshold 0",
         Error::Malformed(Object::Cfrag), topic, Some(v1), h(e1, &[&c_zero]), false, a);
    let mut c_trailing = a1.clone();
    c_trailing.push(0);
    open("cfrag-trailing-byte", "R12", "370-byte cfrag header",
         Error::Malformed(Object::Cfrag), topic, Some(v1), h(e1, &[&c_trailing]), false, a);
    open("missing-cfrag", "R13", "EDEK without any cfrag header",
         Error::MissingCfrag, topic, Some(v1), h(e1, &[]), false, a);
    open("wrong-consumer", "R14", "only another consumer's fragment",
         Error::WrongConsumer, topic, Some(v1), h(e1, &[&b1]), false, a);
    let mut t_other = t3[1].clone();
    t_other[1] = 3;
    open("cfrag-thresholds-disagree", "R15", "own fragments claiming thresholds 2 and 3",
         Error::Malformed(Object::Cfrag), topic, Some(v1), h(e1, &[&t3[0], &t_other]), false, a);
    open("insufficient-cfrags", "R16", "one fragment of a 2-of-3 grant, beside another consumer's",
         Error::InsufficientCfrags { have: 1, need: 2 }, topic, Some(v1), h(e1, &[&b1, &t3[0]]), false, a);
    // An EDEK whose capsule fails its self-check, paired with a value naming its session.
    let bad_capsule = flip(e1, 131);
    let mut v_bad_capsule = v1.to_vec();
    v_bad_capsule[4..20].copy_from_slice(&EdekRef::parse(&bad_capsule).unwrap().digest()[..16]);
    open("edek-bad-capsule", "R17", "capsule scalar altered (value's session id adjusted)",
         Error::Malformed(Object::Edek), topic, Some(&v_bad_capsule), h(&bad_capsule, &[&a1]), false, a);
    open("edek-bad-capsule-no-cfrag", "R13", "same EDEK without fragments: the capsule is only decoded after the cfrag checks",
         Error::MissingCfrag, topic, Some(&v_bad_capsule), h(&bad_capsule, &[]), false, a);
    open("invalid-cfrag", "R18", "fragment with its kfrag signature altered",
         Error::InvalidCfrag, topic, Some(v1), h(e1, &[&flip(&a1, CFRAG_SIG_R_LAST)]), false, a);
    let mut garbage = a1.clone();
    garbage[10..].fill(0);
    let bad = flip(&a1, CFRAG_SIG_R_LAST);
    open("invalid-cfrag-beyond-budget", "R18", "1-of-1: three altered own fragments before a valid one; only t + 2 are tried",
         Error::InvalidCfrag, topic, Some(v1), h(e1, &[&bad, &bad, &bad, &a1]), false, a);
    open("invalid-cfrag-undecodable", "R18", "fragment whose points do not decode (zero bytes)",
         Error::InvalidCfrag, topic, Some(v1), h(e1, &[&garbage]), false, a);
    open("invalid-cfrag-untrusted-admin", "R18", "valid fragment, but the consumer trusts another administrator",
         Error::InvalidCfrag, topic, Some(v1), ok.clone(), false, &stranger);
    open("invalid-cfrag-one-of-two-bad", "R18", "2-of-3: one good and one altered fragment",
         Error::InvalidCfrag, topic, Some(v1), h(e1, &[&t3[0], &flip(&t3[1], CFRAG_SIG_R_LAST)]), false, a);
    open("dek-unavailable-mixed-grants", "R19", "two valid fragments from two different 2-of-3 grants",
         Error::DekUnavailable, topic, Some(v1), h(e1, &[&t3[0], &u3[1]]), false, a);
    let bad_dem = flip(e1, 132 + 30);
    let mut v_bad_dem = v1.to_vec();
    v_bad_dem[4..20].copy_from_slice(&EdekRef::parse(&bad_dem).unwrap().digest()[..16]);
    open("dek-unavailable-sealed-dek", "R19", "sealed DEK altered (value's session id adjusted)",
         Error::DekUnavailable, topic, Some(&v_bad_dem), h(&bad_dem, &[&a1]), false, a);
    open("authentication-failed", "R20", "last byte of the tag flipped",
         Error::AuthenticationFailed, topic, Some(&flip(v1, v1.len() - 1)), ok.clone(), false, a);
    open("authentication-failed-nonce", "R20", "a nonce byte flipped",
         Error::AuthenticationFailed, topic, Some(&flip(v1, 31)), ok.clone(), false, a);

    // --- producer authenticity (policy require, the producer's grant held) ---
    let s1 = r1.sig.as_deref().unwrap();
    let hs = |sigs: &[(&str, &[u8])], edek: &[u8], cfrag: &[u8]| {
        let mut list = vec![header(EDEK_HEADER, edek)];
        list.extend(sigs.iter().map(|(n, v)| header(n, v)));
        list.push(header(CFRAG_HEADER, cfrag));
        list
    };
    open("sig-twice", "R2", "two rewrap.sig headers",
         Error::Malformed(Object::Signature), topic, Some(v1), hs(&[(SIG_HEADER, s1), (SIG_HEADER, s1)], e1, &a1), false, a);
    open("sig-name-nul", "R2", "the session signature under the name rewrap.sig NUL x",
         Error::Malformed(Object::Signature), topic, Some(v1), hs(&[("rewrap.sig\0x", s1)], e1, &a1), false, a);
    open("forged-unsigned", "S1", "an attacker's record: its own DEK encrypted to the public delegating key, no signature",
         Error::Unsigned, topic, Some(&forged_unsigned.value), hs(&[], &forged_unsigned.edek, &af), false, a);
    let fs = forged_signed.sig.as_deref().unwrap();
    open("forged-unauthorized-producer", "S1", "the same forgery signed with the attacker's own key",
         Error::UnauthorizedProducer, topic, Some(&forged_signed.value), hs(&[(SIG_HEADER, fs)], &forged_signed.edek, &afs), false, a);
    let mut v1_envelope = v1.to_vec();
    v1_envelope[2] = 1;
    open("envelope-v1-under-require", "S1", "a version-1 envelope (no key or signature bound)",
         Error::Unsigned, topic, Some(&v1_envelope), ok.clone(), false, a);
    open("sig-stripped", "S1", "the producer's record without its rewrap.sig",
         Error::Unsigned, topic, Some(v1), hs(&[], e1, &a1), false, a);
    open("sig-bad-signature", "S1", "a bit of the signature's r flipped",
         Error::BadSignature, topic, Some(v1), hs(&[(SIG_HEADER, &flip(s1, 43 + 5))], e1, &a1), false, a);
    open("sig-other-session", "S1", "the signature of the producer's other session",
         Error::BadSignature, topic, Some(v1), hs(&[(SIG_HEADER, r2.sig.as_deref().unwrap())], e1, &a1), false, a);
    open("sig-truncated", "S1", "session signature without its last byte",
         Error::Truncated(Object::Signature), topic, Some(v1), hs(&[(SIG_HEADER, &s1[..s1.len() - 1])], e1, &a1), false, a);
    let mut s1_version = s1.to_vec();
    s1_version[0] = 2;
    open("sig-bad-version", "S1", "session signature version 2",
         Error::UnsupportedVersion(Object::Signature, 2), topic, Some(v1), hs(&[(SIG_HEADER, &s1_version)], e1, &a1), false, a);
    let mut s1_mode = s1.to_vec();
    s1_mode[1] = 3;
    open("sig-bad-mode", "S1", "signing mode 3",
         Error::Malformed(Object::Signature), topic, Some(v1), hs(&[(SIG_HEADER, &s1_mode)], e1, &a1), false, a);
    let r4_sig = r4.sig.as_deref().unwrap();
    let r4_rsig = r4.rsig.as_deref().unwrap();
    open("record-sig-missing", "S2", "record signing mode, rewrap.rsig removed",
         Error::Unsigned, topic, Some(&r4.value), hs(&[(SIG_HEADER, r4_sig)], &r4.edek, &a4), false, a);
    open("record-sig-bad", "S2", "record signing mode, a bit of the record signature flipped",
         Error::BadSignature, topic, Some(&r4.value), hs(&[(SIG_HEADER, r4_sig), (RECORD_SIG_HEADER, &flip(r4_rsig, 10))], &r4.edek, &a4), false, a);
    open("record-key-moved", "R20", "the value read under another record key",
         Error::AuthenticationFailed, topic, Some(v1), ok.clone(), false, a);
    open("record-key-null", "R20", "the value read under a null key (it was sealed under k1)",
         Error::AuthenticationFailed, topic, Some(v1), ok.clone(), false, a);
    let tweaks: Vec<(&str, &str, Value)> = vec![
        ("record-key-moved", "key", json!(hex::encode(b"k2"))),
        ("record-key-null", "key", Value::Null),
        // This consumer trusts another administrator only, so it holds no producer grant:
        // read under `off`, the fragment check is what fails.
        ("invalid-cfrag-untrusted-admin", "policy", json!("off")),
        ("invalid-cfrag-untrusted-admin", "producer_grants", json!([])),
    ];

    // --- grants (verified against `admin` unless said otherwise) ---
    let mut grant = |name: &str, rule: &str, what: &str, err: Error, bytes: &[u8], now: u64, trusted: &PublicKey| {
        let mut v = reject(name, rule, what, &err, "grant");
        v["grant"] = json!(hex::encode(bytes));
        v["admin_public_key"] = json!(trusted.to_hex());
        v["now"] = json!(now);
        out.push(v);
    };
    let g = g_alice.to_bytes();
    let gl = grant_layout(&g);
    let ge = g_exp.to_bytes();
    let set = |bytes: &[u8], at: usize, value: u8| {
        let mut b = bytes.to_vec();
        b[at] = value;
        b
    };
    grant("grant-empty", "G1", "no bytes", Error::Truncated(Object::Grant), b"", T0, a);
    grant("grant-version-only", "G1", "a lone unknown version byte",
          Error::UnsupportedVersion(Object::Grant, 3), &[3], T0, a);
    grant("grant-bad-version", "G1", "grant version 3",
          Error::UnsupportedVersion(Object::Grant, 3), &set(&g, 0, 3), T0, a);
    grant("grant-truncated", "G2", "last signature byte missing",
          Error::Truncated(Object::Grant), &g[..g.len() - 1], T0, a);
    let mut g_trailing = g.clone();
    g_trailing.push(0);
    grant("grant-trailing-byte", "G2", "one byte after the signature",
          Error::Malformed(Object::Grant), &g_trailing, T0, a);
    let mut g_no_channel = vec![1, 0];
    g_no_channel.extend_from_slice(&g[2 + g[1] as usize..]);
    grant("grant-channel-empty", "G2", "channel length 0",
          Error::Malformed(Object::Grant), &g_no_channel, T0, a);
    grant("grant-channel-invalid-utf8", "G2", "channel bytes that are not UTF-8",
          Error::Malformed(Object::Grant), &set(&g, 2, 0xff), T0, a);
    grant("grant-bad-delegating-key", "G2", "delegating key with point prefix 04 (uncompressed, in 33 bytes)",
          Error::Malformed(Object::Grant), &set(&g, gl.delegating_key, 4), T0, a);
    grant("grant-bad-key-then-truncated", "G2", "invalid key in a grant cut short after it: keys are decoded as read",
          Error::Malformed(Object::Grant), &set(&g, gl.delegating_key, 4)[..gl.delegating_key + 34], T0, a);
    grant("grant-zero-threshold", "G2", "threshold 0",
          Error::Malformed(Object::Grant), &set(&g, gl.threshold, 0), T0, a);
    grant("grant-threshold-over-shares", "G2", "threshold 2 of 1 share",
          Error::Malformed(Object::Grant), &set(&g, gl.threshold, 2), T0, a);
    grant("grant-count-zero", "G2", "no kfrag carried",
          Error::Malformed(Object::Grant), &set(&g, gl.count, 0), T0, a);
    grant("grant-share-index-out-of-range", "G2", "share index 1 of 1 share",
          Error::Malformed(Object::Grant), &set(&g, gl.count + 1, 1), T0, a);
    let g23 = g_alice23.to_bytes();
    let l23 = grant_layout(&g23);
    let entry = 1 + 2 + 300;
    let mut swapped = g23[..l23.count + 1].to_vec();
    swapped.extend_from_slice(&g23[l23.count + 1 + entry..l23.count + 1 + 2 * entry]);
    swapped.extend_from_slice(&g23[l23.count + 1..l23.count + 1 + entry]);
    swapped.extend_from_slice(&g23[l23.count + 1 + 2 * entry..]);
    grant("grant-share-indices-out-of-order", "G2", "2-of-3 grant with kfrags 1, 0, 2",
          Error::Malformed(Object::Grant), &swapped, T0, a);
    grant("grant-untrusted-admin", "G3", "valid grant, verifier trusts another administrator",
          Error::UntrustedGrant, &g, T0, &stranger);
    grant("grant-bad-signature", "G3", "a bit of r flipped",
          Error::UntrustedGrant, &flip(&g, gl.signature + 5), T0, a);
    let mut high_s = g.clone();
    let s = negate_scalar(&g[gl.signature + 32..]);
    high_s[gl.signature + 32..].copy_from_slice(&s);
    grant("grant-high-s", "G3", "the same signature with s replaced by n - s",
          Error::UntrustedGrant, &high_s, T0, a);
    grant("grant-tampered-consumer", "G3", "consumer id alice -> alicd",
          Error::UntrustedGrant, &flip(&g, 2 + g[1] as usize + 5), T0, a);
    grant("grant-untrusted-and-expired", "G3", "expired and signed by an untrusted key: the signature is checked first",
          Error::UntrustedGrant, &ge, T0 + 3600, &stranger);
    grant("grant-expired", "G4", "verified at its expiry second",
          Error::GrantExpired, &ge, T0 + 3600, a);
    grant("grant-not-yet-valid", "G4", "verified one second before not_before",
          Error::GrantExpired, &ge, T0 - 61, a);
    // Issued (by the administrator's clock) more than 5 minutes after the verifier's now.
    let mut future = terms(topic, "alice", alice.public_key(), 1, 1, T0 - 60, None);
    future.issued_at = Some(T0 * 1000 + 300_001);
    let g_future = Grant::issue(rng, &admin.signer, &delegating, &future).unwrap().to_bytes();
    grant("grant-issued-in-the-future", "G4", "issued 5 min 1 ms after the verifier's now",
          Error::GrantExpired, &g_future, T0, a);
    let gel = grant_layout(&ge);
    let mut foreign_kfrag = g.clone();
    foreign_kfrag[gl.count + 4..gl.signature].copy_from_slice(&ge[gel.count + 4..gel.signature]);
    grant("grant-foreign-kfrag", "G5", "kfrag of another grant (its digest does not match)",
          Error::InvalidKeyFrag, &foreign_kfrag, T0, a);
    let mut expired_foreign = ge.clone();
    expired_foreign[gel.count + 4..gel.signature].copy_from_slice(&g[gl.count + 4..gl.signature]);
    grant("grant-expired-and-foreign-kfrag", "G4", "expired with a foreign kfrag: validity is checked before kfrags",
          Error::GrantExpired, &expired_foreign, T0 + 3600, a);

    // --- keys ---
    let mut key = |name: &str, what: &str, check: &str, bytes: Vec<u8>| {
        let err = Error::Malformed(Object::Key);
        let mut v = reject(name, "K1", what, &err, check);
        v["bytes"] = json!(hex::encode(bytes));
        out.push(v);
    };
    let pk = alice.public_key().to_bytes();
    key("public-key-not-on-curve", "x = 2^256 - 1 (not a field element)", "public_key",
        [&[2u8][..], &[0xff; 32]].concat());
    key("public-key-bad-prefix", "prefix 04 (uncompressed) on a 33-byte key", "public_key", [&[4u8][..], &pk[1..]].concat());
    key("public-key-uncompressed-length", "32 bytes", "public_key", pk[..32].to_vec());
    key("secret-key-zero", "scalar 0", "secret_key", vec![0; 32]);
    key("secret-key-order", "scalar n (the group order)", "secret_key", ORDER.to_vec());
    for (name, field, value) in tweaks {
        let v = out.iter_mut().find(|v| v["name"] == name).unwrap();
        v[field] = value;
    }
    out
}

/// JSON event lines: what a producer would compress (§2.1).
const EVENTS: &[u8] =
    b"{\"id\":\"evt-0001\",\"ts\":\"2026-11-26T02:47:00Z\",\"user\":\"u-17\",\"action\":\"view\"}
{\"id\":\"evt-0002\",\"ts\":\"2026-11-26T02:47:01Z\",\"user\":\"u-17\",\"action\":\"add_to_cart\"}
{\"id\":\"evt-0003\",\"ts\":\"2026-11-26T02:47:03Z\",\"user\":\"u-17\",\"action\":\"checkout\"}
";

/// Cases of compressed records (§2.1), drawn from their own RNG so that adding them left every
/// older vector unchanged.
fn compressed_specs() -> Vec<Spec> {
    let mut lz4 = Spec::simple("lz4-compressed", "events", "consumer-1", EVENTS);
    lz4.compression = Compression::Lz4;
    lz4.steps = vec![
        Step::Seal(EVENTS),
        Step::Seal(b"too short to shrink: sealed as algorithm 1"),
        Step::Seal(EVENTS),
    ];
    vec![lz4]
}

/// Re-seals `record` (sealed under `key`, a session of `delegating`) with another algorithm byte
/// and body: what only a holder of the session's DEK can make.
fn reseal(
    record: &SealedRecord,
    delegating: &SecretKey,
    key: Option<&[u8]>,
    alg: u8,
    body: &[u8],
) -> Vec<u8> {
    use rewrap_core::signing::{header_digest, record_key_digest};
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let edek = EdekRef::parse(&record.edek).unwrap();
    let dek = edek.open_with_delegating_key(delegating).unwrap();
    let mut value = record.value[..32].to_vec();
    value[3] = alg;
    let mut aad = value.clone();
    aad.extend_from_slice(&edek.digest());
    aad.extend_from_slice(&record_key_digest(key));
    aad.extend_from_slice(&header_digest(record.sig.as_deref().unwrap()));
    let sealer = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, dek.as_bytes()).unwrap());
    let nonce = Nonce::try_assume_unique_for_key(&value[20..32]).unwrap();
    let mut sealed = body.to_vec();
    sealer
        .seal_in_place_append_tag(nonce, Aad::from(&aad), &mut sealed)
        .unwrap();
    value.extend_from_slice(&sealed);
    value
}

/// Reject vectors of R21: compressed bodies under a valid tag that must not decompress.
fn compression_rejects(rng: &mut Rng) -> Vec<Value> {
    let topic = "events";
    const K1: &[u8] = b"k1";
    let admin = Admin::random(rng);
    let delegating = SecretKey::random(rng);
    let alice = SecretKey::random(rng);
    let producer = SecretKey::random(rng);
    let mut enc = Encryptor::new(delegating.public_key(), RotationPolicy::default()).unwrap();
    enc.set_signer(Some((Signer::from_secret(&producer), SigningMode::Session)));
    enc.set_compression(Compression::Lz4).unwrap();
    let record = enc.seal(rng, T0, topic, Some(K1), EVENTS).unwrap();
    let producer_grant =
        ProducerGrant::issue(rng, &admin.signer, topic, &producer.public_key(), T0, None).unwrap();
    let terms = terms(topic, "alice", alice.public_key(), 1, 1, T0, None);
    let grant = Grant::issue(rng, &admin.signer, &delegating, &terms).unwrap();
    let mut re = ReEncryptor::new(&[admin.public], ReEncryptorConfig::default()).unwrap();
    re.add_grant(&grant, T0).unwrap();
    let cfrags = re.reencrypt(rng, T0, topic, &record.edek, "alice").unwrap();
    let headers = record_headers(&record, &cfrags);

    // A tiny lz4 stream (16 literal bytes) behind a size prefix.
    let stream = [&[0xf0, 0x01][..], &[b'z'; 16][..]].concat();
    let body = |declared: u32| [&declared.to_le_bytes()[..], &stream[..]].concat();
    let bound = rewrap_core::DEFAULT_MAX_DECOMPRESSED_LEN as u64;
    let cases = [
        (
            "lz4-declares-past-the-bound",
            "lz4 body declaring 8 MiB + 1 under a valid tag: refused before decompressing",
            body(bound as u32 + 1),
            rewrap_core::DecompressFailure::TooLarge {
                declared: bound + 1,
                limit: bound,
            },
        ),
        (
            "lz4-shorter-than-declared",
            "lz4 body declaring 17 bytes that decodes to 16, under a valid tag",
            body(17),
            rewrap_core::DecompressFailure::Corrupt,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, what, body, failure)| {
            let value = reseal(&record, &delegating, Some(K1), 2, &body);
            let mut v = reject(
                name,
                "R21",
                what,
                &Error::DecompressionFailed(failure),
                "open",
            );
            v["consumer_secret_key"] = json!(alice.to_hex().as_str());
            v["admin_public_key"] = json!(admin.public.to_hex());
            v["allow_plaintext"] = json!(false);
            v["now"] = json!(T0);
            v["topic"] = json!(topic);
            v["value"] = json!(hex::encode(value));
            v["headers"] = json!(headers);
            v["key"] = json!(hex::encode(K1));
            v["policy"] = json!("require");
            v["producer_grants"] = json!([hex::encode(producer_grant.to_bytes())]);
            v
        })
        .collect()
}

fn generate() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let mut cases: Vec<Value> = specs().iter().map(|s| accept_case(&mut rng, s)).collect();
    let mut rejects = reject_vectors(&mut rng);
    let mut later = ChaCha20Rng::seed_from_u64(SEED + 1);
    cases.extend(
        compressed_specs()
            .iter()
            .map(|s| accept_case(&mut later, s)),
    );
    rejects.extend(compression_rejects(&mut later));
    let mut names = BTreeSet::new();
    for v in cases.iter().chain(&rejects) {
        assert!(
            names.insert(v["name"].as_str().unwrap().to_string()),
            "duplicate name"
        );
    }
    json!({
        "about": "rewrap format v2 test vectors; layouts and the order of checks in docs/FORMAT.md. Hex strings; keys secp256k1.",
        "now": T0,
        "cases": cases,
        "rejects": rejects,
    })
}

// ---- records.kv ----------------------------------------------------------------------------

/// A list field's items are named by its singular: `cfrags` -> `cfrag0`, `cfrag1`, ...
fn singular(path: &str) -> String {
    path.strip_suffix('s').unwrap_or(path).to_string()
}

fn flatten(name: &str, path: &str, v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            for (field, x) in map {
                if path.is_empty() && field == "name" {
                    continue;
                }
                let sub = if path.is_empty() {
                    field.clone()
                } else {
                    format!("{path}.{field}")
                };
                flatten(name, &sub, x, out);
            }
        }
        Value::Array(list) => {
            *out += &format!("{name} {path} {}\n", list.len());
            let item = singular(path);
            for (i, x) in list.iter().enumerate() {
                flatten(name, &format!("{item}{i}"), x, out);
            }
        }
        Value::String(text) if text.is_empty() => *out += &format!("{name} {path} -\n"),
        // A NUL byte (only in a header name) is written as the two characters \0.
        Value::String(text) => *out += &format!("{name} {path} {}\n", text.replace('\0', "\\0")),
        Value::Null => *out += &format!("{name} {path} null\n"),
        Value::Bool(b) => *out += &format!("{name} {path} {b}\n"),
        Value::Number(n) => *out += &format!("{name} {path} {n}\n"),
    }
}

/// The JSON vectors as `NAME FIELD VALUE` lines: nested fields joined by `.`, a list as its
/// length then items named by the singular (`cfrags 2`, `cfrag0 ..`, `record0.header1.value ..`),
/// `-` for an empty string, `null` for null. `- cases` and `- rejects` list the names.
fn to_kv(all: &Value) -> String {
    let mut out = String::from(
        "# rewrap v2 test vectors, generated from records.json by tests/vectors.rs.\n\
         # NAME FIELD VALUE; \"-\" = empty, \"null\" = absent (a tombstone's value); lists as\n\
         # FIELD N then FIELD-without-s0..N-1 (cfrags 2, cfrag0, cfrag1; record0.header0.name);\n\
         # \\0 in a header name is a NUL byte.\n",
    );
    out += &format!("- now {}\n", all["now"]);
    for list in ["cases", "rejects"] {
        let names: Vec<&str> = all[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        out += &format!("- {list} {}\n", names.join(","));
    }
    for list in ["cases", "rejects"] {
        for item in all[list].as_array().unwrap() {
            flatten(item["name"].as_str().unwrap(), "", item, &mut out);
        }
    }
    out
}

/// With `REWRAP_BLESS` set, rewrites records.json, records.kv and FORMAT.md's error table,
/// once, before any test here reads them.
fn bless_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("REWRAP_BLESS").is_none() {
            return;
        }
        let fresh = generate();
        std::fs::create_dir_all(std::path::Path::new(PATH).parent().unwrap()).unwrap();
        std::fs::write(PATH, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
        std::fs::write(KV_PATH, to_kv(&fresh)).unwrap();
        // Read directly: `format_md` would re-enter this `Once` and wait for itself.
        let format = std::fs::read_to_string(FORMAT_PATH).unwrap();
        let (start, end) = error_table_span(&format);
        let table = error_table();
        if format[start..end] != table {
            let updated = format!("{}{table}{}", &format[..start], &format[end..]);
            std::fs::write(FORMAT_PATH, updated).unwrap();
        }
    });
}

fn load() -> Value {
    bless_once();
    serde_json::from_str(&std::fs::read_to_string(PATH).expect("tests/vectors/records.json"))
        .unwrap()
}

fn format_md() -> String {
    bless_once();
    std::fs::read_to_string(FORMAT_PATH).unwrap()
}

#[test]
fn vectors_regenerate_identically() {
    let fresh = generate();
    assert!(
        fresh == load(),
        "format drifted; if intended, rerun with REWRAP_BLESS=1"
    );
    let kv = std::fs::read_to_string(KV_PATH).expect("tests/vectors/records.kv");
    assert!(
        kv == to_kv(&fresh),
        "records.kv is stale; rerun with REWRAP_BLESS=1"
    );
}

#[test]
fn vectors_open_from_their_bytes_alone() {
    let all = load();
    check::check_cases(&all);
    check::check_rejects(&all);
}

/// Every engine error kind has a reject vector, or FORMAT.md §9 says why it has none
/// ("`Kind` has no vector"); every kind a consumer or grant verifier can meet has one.
#[test]
fn every_reachable_error_kind_has_a_reject_vector() {
    let all = load();
    let kinds: BTreeSet<&str> = all["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    let format = format_md();
    for row in rewrap_core::ERROR_KINDS {
        if row.origin != rewrap_core::Origin::Engine {
            continue;
        }
        let explained = format.contains(&format!("`{}` has no vector", row.name));
        assert!(
            kinds.contains(row.name) != explained,
            "{}: needs a reject vector or (exclusively) FORMAT.md's reason for none",
            row.name
        );
    }
    for kind in [
        "Truncated",
        "UnsupportedVersion",
        "Malformed",
        "ForeignRecord",
        "Unencrypted",
        "WrongTopic",
        "EdekMismatch",
        "AuthenticationFailed",
        "MissingCfrag",
        "WrongConsumer",
        "InsufficientCfrags",
        "InvalidCfrag",
        "DekUnavailable",
        "GrantExpired",
        "UntrustedGrant",
        "InvalidKeyFrag",
    ] {
        assert!(kinds.contains(kind), "no reject vector for {kind}");
    }
}

// ---- FORMAT.md holds the engine's tables ---------------------------------------------------

/// Rows of a FORMAT.md table whose first cell matches `id`: (first cell, other cells).
fn table_rows(format: &str, id: impl Fn(&str) -> bool) -> Vec<(String, Vec<String>)> {
    format
        .lines()
        .filter_map(|line| {
            let cells: Vec<String> = line
                .strip_prefix('|')?
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            id(&cells[0]).then(|| (cells[0].clone(), cells[1..].to_vec()))
        })
        .collect()
}

/// Every row of the order-of-checks tables (R1.., G1.., K1) is pinned: by a reject vector
/// naming it, by an accept record, or (the stateful rows) by `stateful_rows_of_the_order`.
#[test]
fn order_of_checks_rows_are_pinned() {
    let format = format_md();
    let is_row = |c: &str| {
        c.len() >= 2
            && matches!(&c[..1], "R" | "G" | "K" | "S")
            && c[1..].chars().all(|d| d.is_ascii_digit())
    };
    let rows: BTreeSet<String> = table_rows(&format, is_row)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(
        rows.len() >= 25,
        "order of checks tables not found: {rows:?}"
    );
    let all = load();
    let mut pinned: BTreeSet<String> = all["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_string())
        .collect();
    // R1 (tombstones) and the allowed-plaintext branch of R3 are accept records of
    // `several-records-rotation`; R10 (a cached session) is pinned below.
    pinned.extend(["R1", "R10"].map(String::from));
    assert_eq!(rows, pinned, "FORMAT.md rows vs rows the vectors pin");
}

/// The stateful row R10: with the session's DEK cached, the cfrag headers are not read at
/// all, and an EDEK that differs from the cached session's is `EdekMismatch`.
#[test]
fn stateful_rows_of_the_order() {
    let all = load();
    let case = &all["cases"].as_array().unwrap()[0];
    let text = |f: &str| case[f].as_str().unwrap();
    let bytes = |f: &str| hex::decode(text(f)).unwrap();
    let admin = PublicKey::from_hex(text("admin_public_key")).unwrap();
    let secret = SecretKey::from_hex(text("consumer_secret_key")).unwrap();
    let mut dec = Decryptor::new(secret, &[admin], DecryptorConfig::default()).unwrap();
    let grant = hex::decode(case["producer_grants"][0].as_str().unwrap()).unwrap();
    dec.add_producer_grant(&ProducerGrant::from_bytes(&grant).unwrap(), T0)
        .unwrap();
    let (edek, sig, value, cfrag) = (
        bytes("edek"),
        bytes("sig"),
        bytes("value"),
        hex::decode(case["cfrags"][0].as_str().unwrap()).unwrap(),
    );
    let key = Some(bytes("key"));
    let key = key.as_deref();
    let topic = text("topic");
    let ok = [
        (EDEK_HEADER, &edek[..]),
        (SIG_HEADER, &sig[..]),
        (CFRAG_HEADER, &cfrag[..]),
    ];
    assert!(dec.open(T0, topic, key, Some(&value), &ok).is_ok());
    // Cached: no fragment, or a malformed one, is no longer an error.
    let garbage = [
        (EDEK_HEADER, &edek[..]),
        (SIG_HEADER, &sig[..]),
        (CFRAG_HEADER, &b"x"[..]),
    ];
    assert!(dec.open(T0, topic, key, Some(&value), &garbage).is_ok());
    let no_cfrag = [(EDEK_HEADER, &edek[..]), (SIG_HEADER, &sig[..])];
    assert!(dec.open(T0, topic, key, Some(&value), &no_cfrag).is_ok());
    // Cached, but the signature is checked again when a record claims another one.
    assert_eq!(
        dec.open(T0, topic, key, Some(&value), &[(EDEK_HEADER, &edek[..])]),
        Err(Error::Unsigned)
    );
    // Cached session, different EDEK bytes naming the same topic: EdekMismatch, before the
    // session id is compared with the new EDEK's digest.
    let other_edek = hex::decode(all["cases"][1]["edek"].as_str().unwrap()).unwrap();
    assert_eq!(
        dec.open(
            T0,
            topic,
            key,
            Some(&value),
            &[(EDEK_HEADER, &other_edek[..])]
        ),
        Err(Error::EdekMismatch)
    );
    // Still the envelope and topic rows first.
    assert_eq!(
        dec.open(T0, "elsewhere", key, Some(&value), &ok),
        Err(Error::WrongTopic)
    );
    assert_eq!(
        dec.open(T0, topic, key, Some(&value[..40]), &ok),
        Err(Error::Truncated(Object::Envelope))
    );
}

const TABLE_BEGIN: &str = "<!-- error codes: generated from ERROR_KINDS by REWRAP_BLESS=1 cargo test -p rewrap --test vectors -->\n";
const TABLE_END: &str = "<!-- end of error codes -->";

/// FORMAT.md §9's table, from the engine's one table of error kinds.
fn error_table() -> String {
    let mut out =
        String::from("| kind | code | raised by | meaning |\n| --- | --- | --- | --- |\n");
    for row in rewrap_core::ERROR_KINDS {
        let origin = format!("{:?}", row.origin).to_lowercase();
        out += &format!(
            "| `{}` | {} | {} | {} |\n",
            row.name, row.code, origin, row.summary
        );
    }
    out
}

/// Where FORMAT.md §9's generated table sits.
fn error_table_span(format: &str) -> (usize, usize) {
    let start = format
        .find(TABLE_BEGIN)
        .expect("error table markers in FORMAT.md")
        + TABLE_BEGIN.len();
    let end = format[start..].find(TABLE_END).expect("end of error table") + start;
    (start, end)
}

/// FORMAT.md §9 holds `ERROR_KINDS` as it is (`REWRAP_BLESS=1` rewrites it).
#[test]
fn format_error_table_is_the_engines() {
    let format = format_md();
    let (start, end) = error_table_span(&format);
    assert!(
        format[start..end] == error_table(),
        "FORMAT.md's error table is stale; rerun with REWRAP_BLESS=1"
    );
}

/// FORMAT.md's table of error codes is `Error::code()`.
#[test]
fn format_error_codes_are_the_engines() {
    let format = format_md();
    let table: std::collections::BTreeMap<String, u32> = table_rows(&format, |c| {
        !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric()) && c != "kind"
    })
    .into_iter()
    .filter_map(|(name, cells)| Some((name, cells.first()?.parse().ok()?)))
    .collect();
    for row in rewrap::ERROR_KINDS {
        assert_eq!(
            table.get(row.name),
            Some(&row.code),
            "FORMAT.md code of {}",
            row.name
        );
    }
}
