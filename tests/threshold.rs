//! Threshold grants: 2-of-3 split over three re-encryptors; any two fragments open, one does not.

mod common;

use common::{open_with, World, T0};
use rewrap::engine::{Error, Grant, GrantTerms, ReEncryptor, ReEncryptorConfig, RotationPolicy};

#[test]
fn two_of_three_any_two_fragments_open_one_does_not() {
    let mut w = World::new(40);
    let mut consumer = w.consumer("c");
    let channel = w.key();
    let terms = GrantTerms {
        topic: "t",
        consumer: "c",
        consumer_key: consumer.public,
        threshold: 2,
        shares: 3,
        not_before: T0,
        expires: None,
        issued_at: Some(T0 * 1000),
    };
    let grant = Grant::issue(&mut w.rng, &w.admin, &channel, &terms).unwrap();
    let mut proxies: Vec<ReEncryptor> = (0..3)
        .map(|i| {
            let mut re =
                ReEncryptor::new(&[w.admin.verifying_key()], ReEncryptorConfig::default()).unwrap();
            // Each re-encryptor receives only its own share, over the wire.
            let share = Grant::from_bytes(&grant.share(i).unwrap().to_bytes()).unwrap();
            re.add_grant(&share, T0).unwrap();
            re
        })
        .collect();

    let mut enc = w.producer(channel.public_key(), "t", RotationPolicy::default());
    w.sync(&mut consumer);
    let record = enc
        .seal(&mut w.rng, T0, "t", None, b"two of three")
        .unwrap();
    let frags: Vec<Vec<u8>> = proxies
        .iter_mut()
        .map(|p| {
            let h = p.reencrypt(&mut w.rng, T0, "t", &record.edek, "c").unwrap();
            assert_eq!(h.len(), 1);
            h[0].clone()
        })
        .collect();

    for pair in [[0, 1], [0, 2], [1, 2], [2, 0]] {
        consumer.forget_deks();
        let chosen: Vec<Vec<u8>> = pair.iter().map(|&i| frags[i].clone()).collect();
        assert_eq!(
            open_with(&mut consumer.decryptor, "t", &record, &chosen),
            Ok(b"two of three".to_vec()),
            "pair {pair:?}"
        );
    }
    for single in &frags {
        consumer.forget_deks();
        assert_eq!(
            open_with(
                &mut consumer.decryptor,
                "t",
                &record,
                std::slice::from_ref(single)
            ),
            Err(Error::InsufficientCfrags { have: 1, need: 2 })
        );
    }
    // The same fragment twice is not two fragments.
    consumer.forget_deks();
    let twice = vec![frags[0].clone(), frags[0].clone()];
    assert!(open_with(&mut consumer.decryptor, "t", &record, &twice).is_err());
}

/// One re-encryptor holding t shares of a t-of-n grant could open its consumer's records'
/// fragments alone, which is what the threshold exists to prevent: it accepts exactly one
/// share, refusing a second share and the whole grant (issue 14: shares arriving one by one
/// used to merge into one grant here, and this proxy then answered with 3 fragments).
#[test]
fn one_reencryptor_holds_one_share_of_a_threshold_grant() {
    let mut w = World::new(41);
    let mut consumer = w.consumer("c");
    let channel = w.key();
    let terms = GrantTerms {
        topic: "t",
        consumer: "c",
        consumer_key: consumer.public,
        threshold: 2,
        shares: 3,
        not_before: T0,
        expires: None,
        issued_at: Some(T0 * 1000),
    };
    let grant = Grant::issue(&mut w.rng, &w.admin, &channel, &terms).unwrap();
    assert!(matches!(
        w.reencryptor.add_grant(&grant, T0),
        Err(Error::InvalidArgument(_))
    ));
    w.reencryptor
        .add_grant(&grant.share(0).unwrap(), T0)
        .unwrap();
    for i in 1..3 {
        assert!(matches!(
            w.reencryptor.add_grant(&grant.share(i).unwrap(), T0),
            Err(Error::InvalidArgument(_))
        ));
    }
    // The same share again (a reload) is fine.
    w.reencryptor
        .add_grant(&grant.share(0).unwrap(), T0)
        .unwrap();
    assert_eq!(w.reencryptor.stats().grants, 1);
    let mut enc = w.producer(channel.public_key(), "t", RotationPolicy::default());
    w.sync(&mut consumer);
    let record = enc.seal(&mut w.rng, T0, "t", None, b"x").unwrap();
    let frags = w.cfrags_for("t", &record, "c");
    assert_eq!(frags.len(), 1, "one share, one fragment");
    assert!(open_with(&mut consumer.decryptor, "t", &record, &frags).is_err());
}
