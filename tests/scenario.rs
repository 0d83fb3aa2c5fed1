//! The seed's scenario: producers a, b, c on one channel; consumers 1 and 2 granted, 3 not;
//! revoke 2 and start new sessions. Run in producer-key mode and in channel-key mode.

mod common;

use common::{Consumer, World, T0};
use rewrap::engine::{Encryptor, Error, RotationPolicy, SecretKey};

const CHANNEL: &str = "orders";
const PER_PRODUCER: usize = 200;

enum Mode {
    /// EDEK under each producer's own key; grants a→1, b→1, ...
    ProducerKey,
    /// EDEK under the channel key m; grants m→1, m→2.
    ChannelKey,
}

fn run(mode: Mode, seed: u64) {
    let mut w = World::new(seed);
    let mut consumers: Vec<Consumer> = ["1", "2", "3"].iter().map(|id| w.consumer(id)).collect();

    // Delegating keys: one per producer, or one channel key shared by all producers.
    let delegating: Vec<SecretKey> = match mode {
        Mode::ProducerKey => (0..3).map(|_| w.key()).collect(),
        Mode::ChannelKey => vec![w.key()],
    };
    for key in &delegating {
        for c in &consumers[..2] {
            w.grant(key, CHANNEL, c);
        }
    }
    let expected_grants = delegating.len() * 2;
    assert_eq!(w.reencryptor.stats().grants, expected_grants);

    let mut producers: Vec<Encryptor> = (0..3)
        .map(|i| {
            let key = delegating[i % delegating.len()].public_key();
            w.producer(key, CHANNEL, RotationPolicy::default())
        })
        .collect();

    // Phase 1: every producer sends; 1 and 2 read everything, 3 nothing.
    let mut sent = Vec::new();
    for round in 0..PER_PRODUCER {
        for (p, enc) in producers.iter_mut().enumerate() {
            let payload = format!("producer {p} message {round}").into_bytes();
            let record = enc.seal(&mut w.rng, T0, CHANNEL, None, &payload).unwrap();
            sent.push((payload, record));
        }
    }
    for (payload, record) in &sent {
        for c in consumers.iter_mut() {
            let result = w.deliver(CHANNEL, record, c);
            match c.id.as_str() {
                "3" => assert_eq!(result, Err(Error::MissingCfrag)),
                _ => assert_eq!(result, Ok(payload.clone())),
            }
        }
    }
    // One Umbral re-encryption per (session, granted consumer), however many messages.
    let stats = w.reencryptor.stats();
    assert_eq!(stats.reencryptions, 3 * 2, "{stats:?}");
    // Consumer 3 is refused before the cache is consulted: its requests are neither.
    assert_eq!(stats.cache.misses as usize, 3 * 2);
    assert_eq!(stats.cache.hits as usize, 2 * sent.len() - 3 * 2);
    for c in &consumers[..2] {
        let s = c.decryptor.stats();
        assert_eq!(s.dek_opens, 3);
        assert_eq!(s.cache.hits as usize, sent.len() - 3);
    }
    assert_eq!(consumers[2].decryptor.stats().dek_opens, 0);

    // Phase 2: revoke 2, producers start new sessions.
    assert_eq!(w.reencryptor.revoke(CHANNEL, "2"), delegating.len());
    for enc in producers.iter_mut() {
        enc.rotate();
    }
    for (p, enc) in producers.iter_mut().enumerate() {
        let payload = format!("after revoke from {p}").into_bytes();
        let record = enc
            .seal(&mut w.rng, T0 + 1, CHANNEL, None, &payload)
            .unwrap();
        assert_eq!(w.deliver(CHANNEL, &record, &mut consumers[0]), Ok(payload));
        assert_eq!(
            w.deliver(CHANNEL, &record, &mut consumers[1]),
            Err(Error::MissingCfrag)
        );
        assert_eq!(
            w.reencryptor
                .reencrypt(&mut w.rng, T0, CHANNEL, &record.edek, "2"),
            Err(Error::Revoked)
        );
    }
    // What 2 opened before the revoke stays known to it: DEKs cannot be taken back.
    let (payload, old) = &sent[0];
    assert_eq!(
        common::open_with(&mut consumers[1].decryptor, CHANNEL, old, &[]),
        Ok(payload.clone())
    );
}

#[test]
fn seed_scenario_in_producer_key_mode() {
    run(Mode::ProducerKey, 1);
}

#[test]
fn seed_scenario_in_channel_key_mode() {
    run(Mode::ChannelKey, 2);
}

#[test]
fn revoked_consumer_cannot_open_new_session_but_regrant_restores_access() {
    let mut w = World::new(3);
    let mut c = w.consumer("2");
    let channel = w.key();
    w.grant(&channel, CHANNEL, &c);
    let mut enc = w.producer(channel.public_key(), CHANNEL, RotationPolicy::default());
    let first = enc.seal(&mut w.rng, T0, CHANNEL, None, b"one").unwrap();
    assert_eq!(w.deliver(CHANNEL, &first, &mut c), Ok(b"one".to_vec()));

    w.reencryptor.revoke(CHANNEL, "2");
    enc.rotate();
    let second = enc.seal(&mut w.rng, T0, CHANNEL, None, b"two").unwrap();
    assert_eq!(
        w.deliver(CHANNEL, &second, &mut c),
        Err(Error::MissingCfrag)
    );

    w.grant(&channel, CHANNEL, &c);
    assert_eq!(w.deliver(CHANNEL, &second, &mut c), Ok(b"two".to_vec()));
}

#[test]
fn granted_consumer_reads_history_without_producer_online() {
    let mut w = World::new(4);
    let channel = w.key();
    let mut enc = w.producer(channel.public_key(), CHANNEL, RotationPolicy::default());
    let old: Vec<_> = (0..5)
        .map(|i| {
            enc.seal(&mut w.rng, T0, CHANNEL, None, format!("old {i}").as_bytes())
                .unwrap()
        })
        .collect();
    drop(enc);
    let mut late = w.consumer("late");
    w.grant(&channel, CHANNEL, &late);
    for (i, r) in old.iter().enumerate() {
        assert_eq!(
            w.deliver(CHANNEL, r, &mut late),
            Ok(format!("old {i}").into_bytes())
        );
    }
}

#[test]
fn rotation_by_count_costs_one_reencryption_per_session() {
    let mut w = World::new(5);
    let mut c = w.consumer("1");
    let channel = w.key();
    w.grant(&channel, CHANNEL, &c);
    let policy = RotationPolicy {
        max_messages: 10,
        max_age_secs: 3600,
    };
    let mut enc = w.producer(channel.public_key(), CHANNEL, policy);
    for i in 0..95 {
        let r = enc.seal(&mut w.rng, T0, CHANNEL, None, &[i]).unwrap();
        assert_eq!(w.deliver(CHANNEL, &r, &mut c), Ok(vec![i]));
    }
    assert_eq!(enc.rotations(), 9);
    assert_eq!(w.reencryptor.stats().reencryptions, 10);
    assert_eq!(c.decryptor.stats().dek_opens, 10);
}

/// Issue 12's attacks on producer authenticity, through the thread-safe facade the bindings
/// wrap: whoever holds only the public delegating key can encrypt, but readers under the
/// default policy (`require`) open only sessions an authorized producer signed.
mod authenticity {
    use rewrap::{
        Decrypted, Decryptor, Encryptor, Error, Opened, Policy, ProducerGrant, ReEncryptor,
        SealedRecord, SecretKey, Signer, SigningMode, Vouch, CHANNEL_SIG_HEADER,
    };

    const TOPIC: &str = "orders";

    /// A channel with one consumer ("reader", granted at the proxy) and one authorized
    /// producer; the reader holds the producer's grant.
    struct Net {
        admin: Signer,
        channel: SecretKey,
        proxy: ReEncryptor,
        reader: Decryptor,
        producer_key: SecretKey,
        producer: Encryptor,
    }

    fn net() -> Net {
        let admin = Signer::new(SecretKey::generate());
        let channel = SecretKey::generate();
        let reader_key = SecretKey::generate();
        let terms = rewrap::GrantTerms::one_of_one(TOPIC, "reader", reader_key.public_key(), 0);
        let grant = rewrap::Grant::issue(&mut rewrap::rng(), &admin, &channel, &terms).unwrap();
        let proxy = ReEncryptor::new(&[admin.verifying_key()]).unwrap();
        proxy.add_grant(&grant).unwrap();
        let reader = Decryptor::new(reader_key, &[admin.verifying_key()]).unwrap();
        let producer_key = SecretKey::generate();
        let producer = Encryptor::new(channel.public_key()).unwrap();
        producer.set_signer(Some((&producer_key, SigningMode::Session)));
        let net = Net {
            admin,
            channel,
            proxy,
            reader,
            producer_key,
            producer,
        };
        net.reader
            .add_producer_grant(&net.producer_grant(&net.producer_key))
            .unwrap();
        net
    }

    impl Net {
        fn producer_grant(&self, producer: &SecretKey) -> ProducerGrant {
            let key = producer.public_key();
            ProducerGrant::issue(&mut rewrap::rng(), &self.admin, TOPIC, &key, 0, None).unwrap()
        }

        /// An encryptor any outsider can build: the delegating key is public.
        fn outsider(&self) -> Encryptor {
            Encryptor::new(self.channel.public_key()).unwrap()
        }

        /// The fetch path: the reader's fragments.
        fn fetch(&self, record: &SealedRecord) -> Vec<Vec<u8>> {
            self.proxy
                .reencrypt(TOPIC, &record.edek, "reader")
                .unwrap()
                .to_vec()
        }

        fn read_as(
            &self,
            reader: &Decryptor,
            key: Option<&[u8]>,
            record: &SealedRecord,
            extra: &[(&str, &[u8])],
        ) -> Result<Decrypted, Error> {
            let cfrags = self.fetch(record);
            let mut headers = record.headers();
            headers.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, &c[..])));
            headers.extend_from_slice(extra);
            match reader.open(TOPIC, key, Some(&record.value), &headers)? {
                Opened::Decrypted(d) => Ok(d),
                other => panic!("expected a decrypted record, got {other:?}"),
            }
        }

        fn read(&self, key: Option<&[u8]>, record: &SealedRecord) -> Result<Decrypted, Error> {
            self.read_as(&self.reader, key, record, &[])
        }
    }

    #[test]
    fn signed_session_of_an_authorized_producer_opens_with_producer_vouch() {
        let n = net();
        let r = n.producer.seal(TOPIC, Some(b"k"), b"hello").unwrap();
        assert_eq!(r.sig.as_ref().map(|s| s.len()), Some(107));
        assert!(r.rsig.is_none());
        let d = n.read(Some(b"k"), &r).unwrap();
        assert_eq!(d.payload, b"hello");
        assert_eq!(d.vouch, Vouch::Producer);
        assert_eq!(d.producer, Some(n.producer_key.public_key()));
        assert_eq!(d.mode, Some(SigningMode::Session));
        assert_eq!(d.counter, 0);
        assert_eq!(
            n.read(Some(b"k"), &r).unwrap().vouch,
            Vouch::Producer,
            "warm"
        );
    }

    #[test]
    fn forged_record_without_a_signature_is_unsigned() {
        let n = net();
        let forged = n.outsider().seal(TOPIC, None, b"pay mallory").unwrap();
        assert!(forged.sig.is_none());
        assert_eq!(n.read(None, &forged), Err(Error::Unsigned));
    }

    #[test]
    fn forged_record_signed_by_an_ungranted_key_is_unauthorized_producer() {
        let n = net();
        let attacker = n.outsider();
        attacker.set_signer(Some((&SecretKey::generate(), SigningMode::Session)));
        let forged = attacker.seal(TOPIC, None, b"pay mallory").unwrap();
        assert_eq!(n.read(None, &forged), Err(Error::UnauthorizedProducer));
        // Not even a grant for another topic helps.
        let key = SecretKey::generate();
        let elsewhere = ProducerGrant::issue(
            &mut rewrap::rng(),
            &n.admin,
            "payments",
            &key.public_key(),
            0,
            None,
        )
        .unwrap();
        n.reader.add_producer_grant(&elsewhere).unwrap();
        attacker.set_signer(Some((&key, SigningMode::Session)));
        let forged = attacker.seal(TOPIC, None, b"pay mallory").unwrap();
        assert_eq!(n.read(None, &forged), Err(Error::UnauthorizedProducer));
    }

    #[test]
    fn value_moved_to_another_record_key_fails_authentication() {
        let n = net();
        let r = n
            .producer
            .seal(TOPIC, Some(b"alice"), b"balance 10")
            .unwrap();
        assert_eq!(
            n.read(Some(b"mallory"), &r),
            Err(Error::AuthenticationFailed)
        );
        assert_eq!(n.read(Some(b"alice"), &r).unwrap().payload, b"balance 10");
        // Warm cache: the key is still bound.
        assert_eq!(
            n.read(Some(b"mallory"), &r),
            Err(Error::AuthenticationFailed)
        );
        // A null key and an empty key are different keys.
        let null = n.producer.seal(TOPIC, None, b"x").unwrap();
        assert_eq!(n.read(Some(b""), &null), Err(Error::AuthenticationFailed));
        let empty = n.producer.seal(TOPIC, Some(b""), b"x").unwrap();
        assert_eq!(n.read(None, &empty), Err(Error::AuthenticationFailed));
        assert_eq!(n.read(Some(b""), &empty).unwrap().payload, b"x");
    }

    fn with_sig(r: &SealedRecord, sig: Vec<u8>) -> SealedRecord {
        SealedRecord {
            sig: Some(sig.into()),
            ..r.clone()
        }
    }

    #[test]
    fn altered_session_signature_is_bad_signature_cold_and_warm() {
        let n = net();
        let r = n.producer.seal(TOPIC, None, b"x").unwrap();
        let sig = r.sig.clone().unwrap();
        // The last byte is in the ECDSA signature; bytes 35..43 are the creation time.
        for at in [sig.len() - 1, 36] {
            let mut bad = sig.to_vec();
            bad[at] ^= 1;
            assert_eq!(
                n.read(None, &with_sig(&r, bad.clone())),
                Err(Error::BadSignature),
                "cold, byte {at}"
            );
            n.read(None, &r).unwrap();
            assert_eq!(
                n.read(None, &with_sig(&r, bad)),
                Err(Error::BadSignature),
                "warm, byte {at}"
            );
        }
        // Another producer key in the header: that key has no grant.
        let mut other = sig.to_vec();
        other[2..35].copy_from_slice(&SecretKey::generate().public_key().to_bytes());
        assert_eq!(
            n.read(None, &with_sig(&r, other)),
            Err(Error::UnauthorizedProducer)
        );
        // Framing faults are named.
        assert_eq!(
            n.read(None, &with_sig(&r, sig[..50].to_vec())),
            Err(Error::Truncated(rewrap::Object::Signature))
        );
        // Stripping the signature makes the record unsigned.
        let stripped = SealedRecord {
            sig: None,
            ..r.clone()
        };
        assert_eq!(n.read(None, &stripped), Err(Error::Unsigned));
    }

    #[test]
    fn session_signature_of_another_session_does_not_open_the_record() {
        let n = net();
        let a = n.producer.seal(TOPIC, None, b"a").unwrap();
        n.producer.rotate();
        let b = n.producer.seal(TOPIC, None, b"b").unwrap();
        // b's valid signature does not cover a's EDEK.
        let swapped = with_sig(&a, b.sig.clone().unwrap().to_vec());
        assert_eq!(n.read(None, &swapped), Err(Error::BadSignature));
    }

    /// A revoked producer's new sessions are refused. Its old sessions are refused too once
    /// the revoke reaches the reader: revoking forgets every cached session, so a reader never
    /// opens anything on the word of a key it no longer trusts (records it already returned
    /// are the application's to keep or discard).
    #[test]
    fn revoked_producer_is_refused_for_new_and_cached_sessions() {
        let n = net();
        let old = n.producer.seal(TOPIC, None, b"before").unwrap();
        assert_eq!(n.read(None, &old).unwrap().payload, b"before");
        let id = n.producer_key.public_key().key_id();
        assert!(n.reader.revoke_producer(TOPIC, &id));
        assert!(!n.reader.revoke_producer(TOPIC, &id), "already revoked");
        n.producer.rotate();
        let new = n.producer.seal(TOPIC, None, b"after").unwrap();
        assert_eq!(n.read(None, &new), Err(Error::UnauthorizedProducer));
        assert_eq!(n.read(None, &old), Err(Error::UnauthorizedProducer));
        // Same session, next record: refused as well.
        let same = n.producer.seal(TOPIC, None, b"after 2").unwrap();
        assert_eq!(n.read(None, &same), Err(Error::UnauthorizedProducer));
        // A fresh grant restores it.
        n.reader
            .add_producer_grant(&n.producer_grant(&n.producer_key))
            .unwrap();
        assert_eq!(n.read(None, &new).unwrap().payload, b"after");
    }

    #[test]
    fn v1_envelope_is_unsigned_unless_the_policy_is_off() {
        let n = net();
        let r = n.producer.seal(TOPIC, None, b"x").unwrap();
        assert_eq!(&r.value[..3], b"RW\x02");
        let mut v1 = r.clone();
        v1.value[2] = 1;
        assert_eq!(n.read(None, &v1), Err(Error::Unsigned));
        n.reader.set_policy(Some(TOPIC), Policy::Optional).unwrap();
        assert_eq!(n.read(None, &v1), Err(Error::Unsigned));
        // Under `off` the version is accepted, but a v2 value relabelled v1 fails its AAD.
        n.reader.set_policy(Some(TOPIC), Policy::Off).unwrap();
        assert_eq!(n.read(None, &v1), Err(Error::AuthenticationFailed));
    }

    #[test]
    fn policy_optional_accepts_unsigned_and_still_checks_signed() {
        let n = net();
        assert_eq!(n.reader.policy(TOPIC), Policy::Require);
        n.reader.set_policy(Some(TOPIC), Policy::Optional).unwrap();
        assert_eq!(n.reader.policy(TOPIC), Policy::Optional);
        assert_eq!(n.reader.policy("payments"), Policy::Require);
        let unsigned = n.outsider().seal(TOPIC, None, b"u").unwrap();
        let d = n.read(None, &unsigned).unwrap();
        assert_eq!((d.vouch, d.producer, d.mode), (Vouch::Unsigned, None, None));
        let signed = n.producer.seal(TOPIC, None, b"s").unwrap();
        assert_eq!(n.read(None, &signed).unwrap().vouch, Vouch::Producer);
        let attacker = n.outsider();
        attacker.set_signer(Some((&SecretKey::generate(), SigningMode::Session)));
        let forged = attacker.seal(TOPIC, None, b"f").unwrap();
        assert_eq!(n.read(None, &forged), Err(Error::UnauthorizedProducer));
    }

    #[test]
    fn policy_off_checks_nothing() {
        let n = net();
        n.reader.set_policy(None, Policy::Off).unwrap();
        assert_eq!(n.reader.policy(TOPIC), Policy::Off);
        let attacker = n.outsider();
        attacker.set_signer(Some((&SecretKey::generate(), SigningMode::Session)));
        let forged = attacker.seal(TOPIC, None, b"f").unwrap();
        let d = n.read(None, &forged).unwrap();
        assert_eq!(
            (d.payload.as_slice(), d.vouch),
            (&b"f"[..], Vouch::Unsigned)
        );
        let unsigned = n.outsider().seal(TOPIC, None, b"u").unwrap();
        assert_eq!(n.read(None, &unsigned).unwrap().vouch, Vouch::Unsigned);
    }

    #[test]
    fn record_mode_checks_every_record_signature() {
        let n = net();
        n.producer
            .set_signer(Some((&n.producer_key, SigningMode::Record)));
        assert_eq!(
            n.producer.signer(),
            Some((n.producer_key.public_key(), SigningMode::Record))
        );
        let r = n.producer.seal(TOPIC, Some(b"k"), b"one").unwrap();
        let s = n.producer.seal(TOPIC, Some(b"k"), b"two").unwrap();
        assert_eq!(r.rsig.as_ref().map(Vec::len), Some(65));
        assert_eq!(r.headers().len(), 3);
        let d = n.read(Some(b"k"), &r).unwrap();
        assert_eq!(
            (d.vouch, d.mode),
            (Vouch::Producer, Some(SigningMode::Record))
        );

        let mut altered = s.clone();
        let rsig = altered.rsig.as_mut().unwrap();
        let last = rsig.len() - 1;
        rsig[last] ^= 1;
        assert_eq!(n.read(Some(b"k"), &altered), Err(Error::BadSignature));
        // Another record's signature (same session) does not fit.
        let swapped = SealedRecord {
            rsig: r.rsig.clone(),
            ..s.clone()
        };
        assert_eq!(n.read(Some(b"k"), &swapped), Err(Error::BadSignature));
        let missing = SealedRecord {
            rsig: None,
            ..s.clone()
        };
        assert_eq!(n.read(Some(b"k"), &missing), Err(Error::Unsigned));
        assert_eq!(n.read(Some(b"k"), &s).unwrap().payload, b"two");
    }

    #[test]
    fn reencryptor_refuses_cfrags_to_records_failing_its_policy() {
        let n = net();
        let signed = n.producer.seal(TOPIC, None, b"s").unwrap();
        let sig = signed.sig.as_deref();
        assert_eq!(
            n.proxy.attest(TOPIC, &signed.edek, sig, None),
            Err(Error::UnauthorizedProducer)
        );
        n.proxy
            .add_producer_grant(&n.producer_grant(&n.producer_key))
            .unwrap();
        assert_eq!(n.proxy.attest(TOPIC, &signed.edek, sig, None), Ok(None));
        let unsigned = n.outsider().seal(TOPIC, None, b"u").unwrap();
        assert_eq!(
            n.proxy.attest(TOPIC, &unsigned.edek, None, None),
            Err(Error::Unsigned)
        );
        n.proxy
            .revoke_producer(TOPIC, &n.producer_key.public_key().key_id());
        assert_eq!(
            n.proxy.attest(TOPIC, &signed.edek, sig, None),
            Err(Error::UnauthorizedProducer)
        );
    }

    /// A channel signature names the EDEK it vouches for: another session's (sig, chsig)
    /// pair spliced beside a record-mode session's EDEK (what a consumer holding that
    /// session's DEK would do to forge records without record signatures) is refused by a
    /// reader trusting the channel key, on the cached and the uncached path.
    #[test]
    fn another_sessions_vouched_signature_does_not_vouch_for_this_session() {
        let n = net();
        n.proxy.set_channel_seed(Some(&[7u8; 32])).unwrap();
        let channel_key = n.proxy.channel_key(TOPIC).unwrap().unwrap();
        n.proxy
            .add_producer_grant(&n.producer_grant(&n.producer_key))
            .unwrap();
        let recorder = n.outsider();
        recorder.set_signer(Some((&n.producer_key, SigningMode::Record)));
        let s1 = recorder.seal(TOPIC, None, b"record mode").unwrap();
        let s2 = n.producer.seal(TOPIC, None, b"session mode").unwrap();
        let vouch = |r: &SealedRecord| {
            n.proxy
                .attest(TOPIC, &r.edek, r.sig.as_deref(), None)
                .unwrap()
                .unwrap()
        };
        let (chsig1, chsig2) = (vouch(&s1), vouch(&s2));
        let lone = SecretKey::generate();
        let terms = rewrap::GrantTerms::one_of_one(TOPIC, "lone", lone.public_key(), 0);
        let g = rewrap::Grant::issue(&mut rewrap::rng(), &n.admin, &n.channel, &terms).unwrap();
        n.proxy.add_grant(&g).unwrap();
        let cfrags = n.proxy.reencrypt(TOPIC, &s1.edek, "lone").unwrap().to_vec();
        let headers = |sig: &[u8], chsig: &[u8], rsig: bool| {
            let mut h: Vec<(&'static str, Vec<u8>)> = vec![
                (rewrap::EDEK_HEADER, s1.edek.to_vec()),
                (rewrap::SIG_HEADER, sig.to_vec()),
                (CHANNEL_SIG_HEADER, chsig.to_vec()),
            ];
            if rsig {
                h.push((rewrap::RECORD_SIG_HEADER, s1.rsig.clone().unwrap()));
            }
            h.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, c.clone())));
            h
        };
        let spliced = headers(s2.sig.as_deref().unwrap(), &chsig2, false);
        let reader = |cached: bool| {
            let key = SecretKey::from_bytes(lone.to_bytes().as_slice()).unwrap();
            let d = Decryptor::new(key, &[n.admin.verifying_key()]).unwrap();
            d.trust_channel_key(TOPIC, channel_key).unwrap();
            if cached {
                let genuine = headers(s1.sig.as_deref().unwrap(), &chsig1, true);
                let genuine: Vec<(&str, &[u8])> =
                    genuine.iter().map(|(n, v)| (*n, v.as_slice())).collect();
                let opened = d.open(TOPIC, None, Some(&s1.value), &genuine).unwrap();
                assert!(matches!(
                    opened,
                    Opened::Decrypted(Decrypted {
                        vouch: Vouch::Channel,
                        ..
                    })
                ));
            }
            d
        };
        let spliced: Vec<(&str, &[u8])> = spliced.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        for cached in [false, true] {
            assert_eq!(
                reader(cached).open(TOPIC, None, Some(&s1.value), &spliced),
                Err(Error::BadSignature),
                "cached: {cached}"
            );
        }
    }

    #[test]
    fn consumer_trusting_the_channel_key_opens_with_the_proxys_channel_signature() {
        let n = net();
        let seed = [7u8; 32];
        assert_eq!(n.proxy.channel_key(TOPIC), Ok(None));
        n.proxy.set_channel_seed(Some(&seed)).unwrap();
        let channel_key = n.proxy.channel_key(TOPIC).unwrap().unwrap();
        assert_eq!(
            channel_key,
            SecretKey::derive_channel_signing_key(&seed, TOPIC)
                .unwrap()
                .public_key()
        );
        assert_ne!(n.proxy.channel_key("payments").unwrap(), Some(channel_key));
        n.proxy
            .add_producer_grant(&n.producer_grant(&n.producer_key))
            .unwrap();

        let r = n.producer.seal(TOPIC, None, b"vouched").unwrap();
        let chsig = n
            .proxy
            .attest(TOPIC, &r.edek, r.sig.as_deref(), None)
            .unwrap()
            .expect("a channel signature");
        assert_eq!(chsig.len(), 98);

        // A reader that knows no producer, only the channel's key.
        let lone = Decryptor::new(SecretKey::generate(), &[n.admin.verifying_key()]).unwrap();
        lone.trust_channel_key(TOPIC, channel_key).unwrap();
        let terms = rewrap::GrantTerms::one_of_one(TOPIC, "lone", lone.public_key(), 0);
        let g = rewrap::Grant::issue(&mut rewrap::rng(), &n.admin, &n.channel, &terms).unwrap();
        n.proxy.add_grant(&g).unwrap();
        let cfrags = n.proxy.reencrypt(TOPIC, &r.edek, "lone").unwrap().to_vec();
        let open = |extra: &[(&str, &[u8])]| {
            let mut headers = r.headers();
            headers.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, &c[..])));
            headers.extend_from_slice(extra);
            lone.open(TOPIC, None, Some(&r.value), &headers)
        };
        assert_eq!(open(&[]), Err(Error::UnauthorizedProducer));
        let Opened::Decrypted(d) = open(&[(CHANNEL_SIG_HEADER, &chsig)]).unwrap() else {
            panic!("decrypted");
        };
        assert_eq!(d.payload, b"vouched");
        assert_eq!(d.vouch, Vouch::Channel);
        assert_eq!(d.producer, Some(n.producer_key.public_key()));

        // An altered channel signature, or one for another session, is refused.
        let mut bad = chsig.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        lone.trust_channel_key(TOPIC, channel_key).unwrap(); // forgets cached sessions
        assert_eq!(
            open(&[(CHANNEL_SIG_HEADER, &bad)]),
            Err(Error::BadSignature)
        );
        // A channel signature made with another seed is another key's.
        let other = ReEncryptor::new(&[n.admin.verifying_key()]).unwrap();
        other.set_channel_seed(Some(&[8u8; 32])).unwrap();
        other
            .add_producer_grant(&n.producer_grant(&n.producer_key))
            .unwrap();
        let foreign = other
            .attest(TOPIC, &r.edek, r.sig.as_deref(), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            open(&[(CHANNEL_SIG_HEADER, &foreign)]),
            Err(Error::BadSignature)
        );
        // A forger's record: the proxy refuses to vouch (and to serve cfrags).
        let attacker = n.outsider();
        attacker.set_signer(Some((&SecretKey::generate(), SigningMode::Session)));
        let forged = attacker.seal(TOPIC, None, b"f").unwrap();
        assert_eq!(
            n.proxy
                .attest(TOPIC, &forged.edek, forged.sig.as_deref(), None),
            Err(Error::UnauthorizedProducer)
        );
        // A chsig lifted from a genuine session does not vouch for the forger's (even with
        // fragments, which a re-encryptor that skipped the check would have added).
        let forged_cfrags = n.proxy.reencrypt(TOPIC, &forged.edek, "lone").unwrap();
        let mut headers = forged.headers();
        headers.push((CHANNEL_SIG_HEADER, &chsig[..]));
        headers.extend(forged_cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, &c[..])));
        assert_eq!(
            lone.open(TOPIC, None, Some(&forged.value), &headers),
            Err(Error::BadSignature)
        );
        // Without fragments the record names no session this consumer was served.
        assert_eq!(
            lone.open(
                TOPIC,
                None,
                Some(&forged.value),
                &[forged.headers(), vec![(CHANNEL_SIG_HEADER, &chsig[..])]].concat()
            ),
            Err(Error::MissingCfrag)
        );
    }
}
