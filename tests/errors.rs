//! Every way a record or grant can be bad gets its own named error, through the public API.

mod common;

use common::{headers, open_with, Consumer, World, T0};
use rewrap::engine::{
    Decryptor, DecryptorConfig, Encryptor, Error, Grant, GrantTerms, Object, Opened, ProducerGrant,
    RotationPolicy, SealedRecord, SecretKey, Signer, CFRAG_HEADER, EDEK_HEADER,
    MAX_EXTRA_CFRAG_VERIFICATIONS, SIG_HEADER,
};

const TOPIC: &str = "orders";

struct Setup {
    w: World,
    channel: SecretKey,
    granted: Consumer,
    other: Consumer,
    enc: Encryptor,
}

fn setup(seed: u64) -> Setup {
    let mut w = World::new(seed);
    let granted = w.consumer("granted");
    let other = w.consumer("other");
    let channel = w.key();
    w.grant(&channel, TOPIC, &granted);
    w.grant(&channel, TOPIC, &other);
    let enc = w.producer(channel.public_key(), TOPIC, RotationPolicy::default());
    let (mut granted, mut other) = (granted, other);
    w.sync(&mut granted);
    w.sync(&mut other);
    Setup {
        w,
        channel,
        granted,
        other,
        enc,
    }
}

impl Setup {
    fn seal(&mut self, payload: &[u8]) -> SealedRecord {
        self.enc
            .seal(&mut self.w.rng, T0, TOPIC, None, payload)
            .unwrap()
    }
    fn frags(&mut self, record: &SealedRecord) -> Vec<Vec<u8>> {
        self.w.cfrags_for(TOPIC, record, "granted")
    }
}

#[test]
fn truncated_value_is_named() {
    let mut s = setup(50);
    let mut r = s.seal(b"payload");
    let frags = s.frags(&r);
    r.value.truncate(20);
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &r, &frags),
        Err(Error::Truncated(Object::Envelope))
    );
}

#[test]
fn truncated_edek_and_cfrag_are_named() {
    let mut s = setup(51);
    let r = s.seal(b"payload");
    let frags = s.frags(&r);
    let short_edek = SealedRecord {
        edek: r.edek[..100].into(),
        ..r.clone()
    };
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &short_edek, &frags),
        Err(Error::Truncated(Object::Edek))
    );
    let short_frag = vec![frags[0][..200].to_vec()];
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &r, &short_frag),
        Err(Error::Truncated(Object::Cfrag))
    );
}

#[test]
fn unknown_versions_are_named() {
    let mut s = setup(52);
    let r = s.seal(b"payload");
    let frags = s.frags(&r);
    let mut v = r.clone();
    v.value[2] = 9;
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &v, &frags),
        Err(Error::UnsupportedVersion(Object::Envelope, 9))
    );
    let mut e = r.edek.to_vec();
    e[0] = 7;
    let v = SealedRecord {
        edek: e.into(),
        ..r.clone()
    };
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &v, &frags),
        Err(Error::UnsupportedVersion(Object::Edek, 7))
    );
    let mut f = frags.clone();
    f[0][0] = 5;
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &r, &f),
        Err(Error::UnsupportedVersion(Object::Cfrag, 5))
    );
}

#[test]
fn flipped_ciphertext_bit_fails_authentication_cold_and_warm() {
    let mut s = setup(53);
    let r = s.seal(b"payload");
    let frags = s.frags(&r);
    let mut bad = r.clone();
    let last = bad.value.len() - 1;
    bad.value[last] ^= 0x01;
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &bad, &frags),
        Err(Error::AuthenticationFailed)
    );
    // Warm cache: the DEK is known, the flip is still caught.
    assert!(open_with(&mut s.granted.decryptor, TOPIC, &r, &frags).is_ok());
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &bad, &frags),
        Err(Error::AuthenticationFailed)
    );
}

#[test]
fn record_moved_to_another_topic_is_wrong_topic() {
    let mut s = setup(54);
    let r = s.seal(b"payload");
    let frags = s.frags(&r);
    assert_eq!(
        open_with(&mut s.granted.decryptor, "payments", &r, &frags),
        Err(Error::WrongTopic)
    );
    // Also once the DEK is cached.
    assert!(open_with(&mut s.granted.decryptor, TOPIC, &r, &frags).is_ok());
    assert_eq!(
        open_with(&mut s.granted.decryptor, "payments", &r, &frags),
        Err(Error::WrongTopic)
    );
    // The re-encryptor refuses too.
    assert_eq!(
        s.w.reencryptor
            .reencrypt(&mut s.w.rng, T0, "payments", &r.edek, "granted"),
        Err(Error::WrongTopic)
    );
}

#[test]
fn value_paired_with_another_sessions_edek_is_a_mismatch() {
    let mut s = setup(55);
    let a = s.seal(b"a");
    s.enc.rotate();
    let b = s.seal(b"b");
    let frags_b = s.frags(&b);
    let mixed = SealedRecord {
        value: a.value.clone(),
        ..b.clone()
    };
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &mixed, &frags_b),
        Err(Error::EdekMismatch)
    );
    // With b's DEK cached under b's session id, a's value still does not open with b's EDEK.
    assert!(open_with(&mut s.granted.decryptor, TOPIC, &b, &frags_b).is_ok());
    let mixed = SealedRecord {
        value: b.value.clone(),
        ..a.clone()
    };
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &mixed, &frags_b),
        Err(Error::EdekMismatch)
    );
}

#[test]
fn fragments_of_another_consumer_are_wrong_consumer() {
    let mut s = setup(56);
    let r = s.seal(b"payload");
    let for_other = s.w.cfrags_for(TOPIC, &r, "other");
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &r, &for_other),
        Err(Error::WrongConsumer)
    );
    assert!(open_with(&mut s.other.decryptor, TOPIC, &r, &for_other).is_ok());
}

#[test]
fn no_fragment_is_missing_cfrag() {
    let mut s = setup(57);
    let r = s.seal(b"payload");
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &r, &[]),
        Err(Error::MissingCfrag)
    );
}

#[test]
fn fragment_from_untrusted_administrator_is_invalid() {
    let mut s = setup(58);
    let r = s.seal(b"payload");
    // A rogue administrator who also holds the channel key grants "granted" elsewhere.
    let rogue = Signer::new(s.w.key());
    let mut rogue_re =
        rewrap::engine::ReEncryptor::new(&[rogue.verifying_key()], Default::default()).unwrap();
    let terms = common::terms_t0(TOPIC, "granted", s.granted.public);
    let g = Grant::issue(&mut s.w.rng, &rogue, &s.channel, &terms).unwrap();
    rogue_re.add_grant(&g, T0).unwrap();
    let frags = rogue_re
        .reencrypt(&mut s.w.rng, T0, TOPIC, &r.edek, "granted")
        .unwrap()
        .to_vec();
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &r, &frags),
        Err(Error::InvalidCfrag)
    );
    // And the real re-encryptor refuses the rogue grant.
    assert_eq!(
        s.w.reencryptor.add_grant(&g, T0),
        Err(Error::UntrustedGrant)
    );
}

#[test]
fn corrupted_fragment_is_invalid() {
    let mut s = setup(59);
    let r = s.seal(b"payload");
    let mut frags = s.frags(&r);
    let n = frags[0].len();
    frags[0][n - 70] ^= 0x80; // inside the proof's scalar
    let err = open_with(&mut s.granted.decryptor, TOPIC, &r, &frags).unwrap_err();
    assert!(
        matches!(err, Error::InvalidCfrag | Error::Malformed(Object::Cfrag)),
        "{err:?}"
    );
}

#[test]
fn reencryptor_names_not_granted_revoked_and_expired() {
    let mut s = setup(60);
    let r = s.seal(b"payload");
    assert_eq!(
        s.w.reencryptor
            .reencrypt(&mut s.w.rng, T0, TOPIC, &r.edek, "stranger"),
        Err(Error::NotGranted)
    );
    s.w.reencryptor.revoke(TOPIC, "other");
    assert_eq!(
        s.w.reencryptor
            .reencrypt(&mut s.w.rng, T0, TOPIC, &r.edek, "other"),
        Err(Error::Revoked)
    );

    let mut timed = s.w.consumer("timed");
    let terms = GrantTerms {
        expires: Some(T0 + 10),
        ..common::terms_t0(TOPIC, "timed", timed.public)
    };
    let g = Grant::issue(&mut s.w.rng, &s.w.admin, &s.channel, &terms).unwrap();
    s.w.reencryptor.add_grant(&g, T0).unwrap();
    let frags =
        s.w.reencryptor
            .reencrypt(&mut s.w.rng, T0 + 9, TOPIC, &r.edek, "timed")
            .unwrap()
            .to_vec();
    assert!(open_with(&mut timed.decryptor, TOPIC, &r, &frags).is_ok());
    // Expiry holds even for fragments already cached.
    assert_eq!(
        s.w.reencryptor
            .reencrypt(&mut s.w.rng, T0 + 10, TOPIC, &r.edek, "timed"),
        Err(Error::GrantExpired)
    );
    assert_eq!(
        s.w.reencryptor.add_grant(&g, T0 + 10),
        Err(Error::GrantExpired)
    );
}

#[test]
fn tampered_kfrag_in_grant_is_invalid() {
    let mut s = setup(61);
    let c = s.w.consumer("x");
    let terms = common::terms_t0(TOPIC, "x", c.public);
    let mut bytes = Grant::issue(&mut s.w.rng, &s.w.admin, &s.channel, &terms)
        .unwrap()
        .to_bytes();
    // The kfrag sits right before the 64-byte signature.
    let at = bytes.len() - 64 - 10;
    bytes[at] ^= 1;
    let g = Grant::from_bytes(&bytes).unwrap();
    assert_eq!(
        s.w.reencryptor.add_grant(&g, T0),
        Err(Error::InvalidKeyFrag)
    );
}

#[test]
fn foreign_value_with_rewrap_header_is_foreign_record() {
    let mut s = setup(62);
    let r = s.seal(b"payload");
    let frags = s.frags(&r);
    let foreign = SealedRecord {
        value: b"{\"plain\": \"json\"}".to_vec(),
        ..r.clone()
    };
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &foreign, &frags),
        Err(Error::ForeignRecord)
    );
}

#[test]
fn plaintext_is_refused_unless_allowed_for_migration() {
    let mut s = setup(63);
    assert_eq!(
        s.granted
            .decryptor
            .open(T0, TOPIC, None, Some(b"injected"), &[]),
        Err(Error::Unencrypted)
    );
    let secret = s.w.key();
    let mut migrating = Decryptor::new(
        secret,
        &[s.w.admin.verifying_key()],
        DecryptorConfig {
            allow_plaintext: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        migrating.open(T0, TOPIC, None, Some(b"legacy"), &[]),
        Ok(Opened::UnencryptedAllowed(b"legacy".to_vec()))
    );
    // A sealed value stripped of its EDEK is never taken for plaintext.
    let r = s.seal(b"secret");
    assert_eq!(
        migrating.open(T0, TOPIC, None, Some(&r.value), &[]),
        Err(Error::Truncated(Object::Edek))
    );
}

#[test]
fn tombstones_stay_tombstones() {
    let mut s = setup(64);
    assert_eq!(
        s.granted.decryptor.open(T0, TOPIC, None, None, &[]),
        Ok(Opened::Tombstone)
    );
    let r = s.seal(b"x");
    let frags = s.frags(&r);
    assert_eq!(
        s.granted
            .decryptor
            .open(T0, TOPIC, None, None, &headers(&r, &frags)),
        Ok(Opened::Tombstone)
    );
}

#[test]
fn duplicate_edek_headers_are_malformed() {
    let mut s = setup(65);
    let r = s.seal(b"x");
    let frags = s.frags(&r);
    let mut h = headers(&r, &frags);
    h.push((rewrap::EDEK_HEADER, &r.edek[..]));
    assert_eq!(
        s.granted
            .decryptor
            .open(T0, TOPIC, None, Some(&r.value), &h),
        Err(Error::Malformed(Object::Edek))
    );
}

#[test]
fn empty_and_64_mib_payloads_round_trip() {
    let mut s = setup(66);
    for size in [0usize, 64 << 20] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let r = s.seal(&payload);
        let frags = s.frags(&r);
        assert_eq!(
            open_with(&mut s.granted.decryptor, TOPIC, &r, &frags),
            Ok(payload)
        );
    }
}

/// A malformed fragment header beside a valid one is skipped (and counted), not fatal; own-key
/// fragments that fail verification are tried at most threshold + 2 times per record.
#[test]
fn malformed_cfrag_beside_a_valid_one_is_skipped_and_bad_own_cfrags_are_capped() {
    let mut s = setup(77);
    let r = s.seal(b"payload");
    let good = s.frags(&r).remove(0);
    let garbage = good[..10].to_vec();
    let sig = r.sig.as_deref().unwrap();
    let headers = [
        (EDEK_HEADER, &r.edek[..]),
        (SIG_HEADER, sig),
        (CFRAG_HEADER, &garbage[..]),
        (CFRAG_HEADER, &good[..]),
    ];
    assert_eq!(
        s.granted
            .decryptor
            .open(T0, TOPIC, None, Some(&r.value), &headers)
            .map(common::payload),
        Ok(b"payload".to_vec())
    );
    assert_eq!(s.granted.decryptor.stats().skipped_cfrags, 1);

    // Fifty own-key fragments whose proofs fail: refused (the loop verifies at most
    // threshold + MAX_EXTRA_CFRAG_VERIFICATIONS of them).
    let mut forged = good.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    s.granted.forget_deks();
    let mut many: Vec<(&str, &[u8])> = vec![(EDEK_HEADER, &r.edek[..]), (SIG_HEADER, sig)];
    many.extend(std::iter::repeat_n((CFRAG_HEADER, &forged[..]), 50));
    assert_eq!(
        s.granted
            .decryptor
            .open(T0, TOPIC, None, Some(&r.value), &many),
        Err(Error::InvalidCfrag)
    );
    // One good fragment after the forged ones still opens: skipping is per header.
    many.push((CFRAG_HEADER, &good[..]));
    many.swap(2, 52);
    assert!(s
        .granted
        .decryptor
        .open(T0, TOPIC, None, Some(&r.value), &many)
        .is_ok());
    assert_eq!(MAX_EXTRA_CFRAG_VERIFICATIONS, 2);
}

#[test]
fn signature_header_faults_are_named() {
    let mut s = setup(78);
    let r = s.seal(b"payload");
    let frags = s.frags(&r);
    let sig = r.sig.clone().unwrap();
    let with_sig = |bytes: &[u8]| SealedRecord {
        sig: Some(bytes.into()),
        ..r.clone()
    };
    assert_eq!(
        open_with(
            &mut s.granted.decryptor,
            TOPIC,
            &with_sig(&sig[..60]),
            &frags
        ),
        Err(Error::Truncated(Object::Signature))
    );
    let mut v = sig.to_vec();
    v[0] = 9;
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &with_sig(&v), &frags),
        Err(Error::UnsupportedVersion(Object::Signature, 9))
    );
    let mut longer = sig.to_vec();
    longer.push(0);
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &with_sig(&longer), &frags),
        Err(Error::Malformed(Object::Signature))
    );
    let mut h = headers(&r, &frags);
    h.push((SIG_HEADER, &sig[..]));
    assert_eq!(
        s.granted
            .decryptor
            .open(T0, TOPIC, None, Some(&r.value), &h),
        Err(Error::Malformed(Object::Signature))
    );
    let unsigned = SealedRecord {
        sig: None,
        ..r.clone()
    };
    assert_eq!(
        open_with(&mut s.granted.decryptor, TOPIC, &unsigned, &frags),
        Err(Error::Unsigned)
    );
}

#[test]
fn producer_grant_faults_are_named() {
    let mut s = setup(79);
    let producer = s.w.key().public_key();
    let rogue = Signer::new(s.w.key());
    let g = ProducerGrant::issue(&mut s.w.rng, &rogue, TOPIC, &producer, T0, None).unwrap();
    assert_eq!(
        s.granted.decryptor.add_producer_grant(&g, T0),
        Err(Error::UntrustedGrant)
    );
    let g =
        ProducerGrant::issue(&mut s.w.rng, &s.w.admin, TOPIC, &producer, T0, Some(T0 + 5)).unwrap();
    assert_eq!(
        s.granted.decryptor.add_producer_grant(&g, T0 + 5),
        Err(Error::GrantExpired)
    );
    let bytes = g.to_bytes();
    assert_eq!(
        ProducerGrant::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
        Error::Truncated(Object::ProducerGrant)
    );
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let tampered = ProducerGrant::from_bytes(&tampered).unwrap();
    assert_eq!(
        s.granted.decryptor.add_producer_grant(&tampered, T0),
        Err(Error::UntrustedGrant)
    );
}
