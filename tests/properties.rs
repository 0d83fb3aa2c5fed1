//! Property tests: sealing round-trips for any payload (0..64 KiB) and topic, and any single
//! bit flip in the value, the EDEK header, the session signature header or a cfrag header is
//! rejected.

mod common;

use common::{open_with, World, T0};
use proptest::prelude::*;
use rewrap::engine::{RotationPolicy, SealedRecord};

fn topic() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,249}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_payload_and_topic_round_trips(
        topic in topic(),
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..65536), 1..4),
        seed in any::<u64>(),
    ) {
        let mut w = World::new(seed);
        let mut c = w.consumer("c");
        let key = w.key();
        w.grant(&key, &topic, &c);
        let mut enc = w.producer(key.public_key(), &topic, RotationPolicy::default());
        for p in &payloads {
            let r = enc.seal(&mut w.rng, T0, &topic, None, p).unwrap();
            prop_assert_eq!(r.value.len(), p.len() + rewrap::engine::envelope::OVERHEAD);
            prop_assert_eq!(w.deliver(&topic, &r, &mut c), Ok(p.clone()));
        }
    }
}

/// Which part of the record a flip lands in.
#[derive(Debug, Clone, Copy)]
enum Part {
    Value,
    Edek,
    Sig,
    Cfrag,
}

fn flipped(
    record: &SealedRecord,
    frags: &[Vec<u8>],
    part: Part,
    bit: usize,
) -> (SealedRecord, Vec<Vec<u8>>) {
    let mut r = record.clone();
    let mut f = frags.to_vec();
    let flip = |bytes: &mut [u8]| {
        let i = bit % (bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
    };
    match part {
        Part::Value => flip(&mut r.value),
        Part::Edek => {
            let mut e = r.edek.to_vec();
            flip(&mut e);
            r.edek = e.into();
        }
        Part::Sig => {
            let mut sig = r.sig.as_deref().expect("a signed session").to_vec();
            flip(&mut sig);
            r.sig = Some(sig.into());
        }
        Part::Cfrag => flip(&mut f[0]),
    }
    (r, f)
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        Just(Part::Value),
        Just(Part::Edek),
        Just(Part::Sig),
        Just(Part::Cfrag)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// With an empty DEK cache every byte of the record is checked.
    #[test]
    fn any_single_bit_flip_is_rejected(
        part in part(),
        bit in any::<usize>(),
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut w = World::new(7);
        let mut c = w.consumer("c");
        let key = w.key();
        w.grant(&key, "t", &c);
        let mut enc = w.producer(key.public_key(), "t", RotationPolicy::default());
        w.sync(&mut c);
        let r = enc.seal(&mut w.rng, T0, "t", None, &payload).unwrap();
        let frags = w.cfrags_for("t", &r, "c");
        let (bad, bad_frags) = flipped(&r, &frags, part, bit);
        let result = open_with(&mut c.decryptor, "t", &bad, &bad_frags);
        prop_assert!(result.is_err(), "{:?} flip {} accepted: {:?}", part, bit, result);
        // The untouched record still opens afterwards: nothing was poisoned.
        prop_assert_eq!(open_with(&mut c.decryptor, "t", &r, &frags), Ok(payload));
    }

    /// With the session's DEK cached, flips in the value, the EDEK and the session signature
    /// are still rejected.
    /// (Fragments are not consulted on a cache hit, so a flip there changes nothing.)
    #[test]
    fn any_single_bit_flip_is_rejected_with_warm_cache(
        part in prop_oneof![Just(Part::Value), Just(Part::Edek), Just(Part::Sig)],
        bit in any::<usize>(),
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut w = World::new(8);
        let mut c = w.consumer("c");
        let key = w.key();
        w.grant(&key, "t", &c);
        let mut enc = w.producer(key.public_key(), "t", RotationPolicy::default());
        w.sync(&mut c);
        let r = enc.seal(&mut w.rng, T0, "t", None, &payload).unwrap();
        let frags = w.cfrags_for("t", &r, "c");
        prop_assert!(open_with(&mut c.decryptor, "t", &r, &frags).is_ok());
        let (bad, bad_frags) = flipped(&r, &frags, part, bit);
        let result = open_with(&mut c.decryptor, "t", &bad, &bad_frags);
        prop_assert!(result.is_err(), "{:?} flip {} accepted: {:?}", part, bit, result);
    }
}

/// Payloads from a few repeated words (compressible) or random bytes (not).
fn maybe_compressible() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![
                Just(&b"{\"id\":"[..]),
                Just(&b"\"ts\":\"2026-11-26T02:47:00Z\","[..]),
                Just(&b"orders"[..]),
                Just(&b"}\n"[..])
            ],
            0..400
        )
        .prop_map(|words| words.concat()),
        proptest::collection::vec(any::<u8>(), 0..4096),
    ]
}

fn compression() -> impl Strategy<Value = rewrap::Compression> {
    prop_oneof![
        Just(rewrap::Compression::None),
        Just(rewrap::Compression::Lz4),
        (1..=19i32).prop_map(|level| rewrap::Compression::Zstd { level }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Every compression setting round-trips any payload, never makes a value longer than an
    /// uncompressed one, marks a shorter value with its algorithm byte, and a flipped bit in a
    /// compressed value is rejected before anything is decompressed.
    #[test]
    fn compressed_payloads_round_trip_and_flips_are_rejected(
        setting in compression(),
        payload in maybe_compressible(),
        bit in any::<usize>(),
    ) {
        let mut w = World::new(9);
        let mut c = w.consumer("c");
        let key = w.key();
        w.grant(&key, "t", &c);
        let mut enc = w.producer(key.public_key(), "t", RotationPolicy::default());
        enc.set_compression(setting).unwrap();
        w.sync(&mut c);
        let r = enc.seal(&mut w.rng, T0, "t", None, &payload).unwrap();
        let plain_len = payload.len() + rewrap::engine::envelope::OVERHEAD;
        prop_assert!(r.value.len() <= plain_len);
        let expected_alg = match setting {
            _ if r.value.len() == plain_len => rewrap::engine::envelope::ALG_AES_256_GCM,
            rewrap::Compression::Lz4 => rewrap::engine::envelope::ALG_LZ4_AES_256_GCM,
            rewrap::Compression::Zstd { .. } => rewrap::engine::envelope::ALG_ZSTD_AES_256_GCM,
            rewrap::Compression::None => unreachable!("only compression shortens a value"),
        };
        prop_assert_eq!(r.value[3], expected_alg);
        let frags = w.cfrags_for("t", &r, "c");
        let (bad, bad_frags) = flipped(&r, &frags, Part::Value, bit);
        prop_assert!(open_with(&mut c.decryptor, "t", &bad, &bad_frags).is_err());
        prop_assert_eq!(open_with(&mut c.decryptor, "t", &r, &frags), Ok(payload));
    }
}
