//! The seed's scenario: producers a, b, c on one channel; consumers 1 and 2 granted, 3 not;
//! revoke 2 and start new sessions. Run in producer-key mode and in channel-key mode.

mod common;

use common::{Consumer, World, T0};
use rewrap::engine::{Encryptor, Error, Opened, RotationPolicy, SecretKey};

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
            let key = &delegating[i % delegating.len()];
            Encryptor::new(key.public_key(), RotationPolicy::default()).unwrap()
        })
        .collect();

    // Phase 1: every producer sends; 1 and 2 read everything, 3 nothing.
    let mut sent = Vec::new();
    for round in 0..PER_PRODUCER {
        for (p, enc) in producers.iter_mut().enumerate() {
            let payload = format!("producer {p} message {round}").into_bytes();
            let record = enc.seal(&mut w.rng, T0, CHANNEL, &payload).unwrap();
            sent.push((payload, record));
        }
    }
    for (payload, record) in &sent {
        for c in consumers.iter_mut() {
            let result = w.deliver(CHANNEL, record, c);
            match c.id.as_str() {
                "3" => assert_eq!(result, Err(Error::MissingCfrag)),
                _ => assert_eq!(result, Ok(Opened::Decrypted(payload.clone()))),
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
        let record = enc.seal(&mut w.rng, T0 + 1, CHANNEL, &payload).unwrap();
        assert_eq!(
            w.deliver(CHANNEL, &record, &mut consumers[0]),
            Ok(Opened::Decrypted(payload))
        );
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
        Ok(Opened::Decrypted(payload.clone()))
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
    let mut enc = Encryptor::new(channel.public_key(), RotationPolicy::default()).unwrap();
    let first = enc.seal(&mut w.rng, T0, CHANNEL, b"one").unwrap();
    assert_eq!(
        w.deliver(CHANNEL, &first, &mut c),
        Ok(Opened::Decrypted(b"one".to_vec()))
    );

    w.reencryptor.revoke(CHANNEL, "2");
    enc.rotate();
    let second = enc.seal(&mut w.rng, T0, CHANNEL, b"two").unwrap();
    assert_eq!(
        w.deliver(CHANNEL, &second, &mut c),
        Err(Error::MissingCfrag)
    );

    w.grant(&channel, CHANNEL, &c);
    assert_eq!(
        w.deliver(CHANNEL, &second, &mut c),
        Ok(Opened::Decrypted(b"two".to_vec()))
    );
}

#[test]
fn granted_consumer_reads_history_without_producer_online() {
    let mut w = World::new(4);
    let channel = w.key();
    let mut enc = Encryptor::new(channel.public_key(), RotationPolicy::default()).unwrap();
    let old: Vec<_> = (0..5)
        .map(|i| {
            enc.seal(&mut w.rng, T0, CHANNEL, format!("old {i}").as_bytes())
                .unwrap()
        })
        .collect();
    drop(enc);
    let mut late = w.consumer("late");
    w.grant(&channel, CHANNEL, &late);
    for (i, r) in old.iter().enumerate() {
        assert_eq!(
            w.deliver(CHANNEL, r, &mut late),
            Ok(Opened::Decrypted(format!("old {i}").into_bytes()))
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
    let mut enc = Encryptor::new(channel.public_key(), policy).unwrap();
    for i in 0..95 {
        let r = enc.seal(&mut w.rng, T0, CHANNEL, &[i]).unwrap();
        assert_eq!(
            w.deliver(CHANNEL, &r, &mut c),
            Ok(Opened::Decrypted(vec![i]))
        );
    }
    assert_eq!(enc.rotations(), 9);
    assert_eq!(w.reencryptor.stats().reencryptions, 10);
    assert_eq!(c.decryptor.stats().dek_opens, 10);
}
