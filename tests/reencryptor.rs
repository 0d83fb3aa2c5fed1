//! The thread-safe re-encryptor under load an attacker controls: the fragment cache is keyed
//! on what a fragment depends on, concurrent misses for one capsule are computed once, misses
//! beyond a budget are refused (`Throttled`) while hits are still served, and a grant revoked
//! while its fragments were being computed issues nothing.

use std::sync::{Arc, Barrier};

use rewrap::engine::{self, edek::SEALED_DEK_LEN};
use rewrap::{
    Encryptor, Error, Grant, GrantTerms, MissBudget, PublicKey, ReEncryptor, Revocation, SecretKey,
    Signer,
};

const TOPIC: &str = "orders";

struct Setup {
    admin: Signer,
    delegating: SecretKey,
    consumer: PublicKey,
}

fn setup() -> Setup {
    Setup {
        admin: Signer::new(SecretKey::generate()),
        delegating: SecretKey::generate(),
        consumer: SecretKey::generate().public_key(),
    }
}

fn granted(s: &Setup, re: &ReEncryptor) {
    let terms = GrantTerms::one_of_one(TOPIC, "alice", s.consumer, rewrap::now() - 10);
    re.add_grant(&Grant::issue(&mut rewrap::rng(), &s.admin, &s.delegating, &terms).unwrap())
        .unwrap();
}

/// The sealed DEK sits after version (1), delegating key (33) and capsule (98).
const SEALED_DEK_AT: usize = 1 + 33 + 98;

#[test]
fn edeks_differing_only_in_their_sealed_dek_cost_one_reencryption() {
    let s = setup();
    let re = ReEncryptor::new(&[s.admin.verifying_key()]).unwrap();
    granted(&s, &re);
    let edek = Encryptor::new(s.delegating.public_key())
        .unwrap()
        .seal(TOPIC, None, b"x")
        .unwrap()
        .edek;
    for i in 0..200usize {
        let mut variant = edek.to_vec();
        variant[SEALED_DEK_AT + i % SEALED_DEK_LEN] ^= (i / SEALED_DEK_LEN + 1) as u8;
        re.reencrypt(TOPIC, &variant, "alice").unwrap();
    }
    assert_eq!(re.stats().reencryptions, 1);
    assert_eq!(re.stats().cache.hits, 199);
}

#[test]
fn concurrent_misses_for_one_capsule_are_computed_once() {
    let s = setup();
    let re = Arc::new(ReEncryptor::new(&[s.admin.verifying_key()]).unwrap());
    granted(&s, &re);
    let edek = Encryptor::new(s.delegating.public_key())
        .unwrap()
        .seal(TOPIC, None, b"x")
        .unwrap()
        .edek;
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (re, edek, start) = (re.clone(), edek.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                re.reencrypt(TOPIC, &edek, "alice").unwrap()
            })
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(re.stats().reencryptions, 1);
}

#[test]
fn misses_beyond_the_budget_are_throttled_and_hits_still_served() {
    let s = setup();
    let re = ReEncryptor::new(&[s.admin.verifying_key()])
        .unwrap()
        .with_miss_budget(5);
    granted(&s, &re);
    let sessions: Vec<_> = (0..12)
        .map(|_| {
            Encryptor::new(s.delegating.public_key())
                .unwrap()
                .seal(TOPIC, None, b"x")
                .unwrap()
                .edek
        })
        .collect();
    let outcomes: Vec<_> = sessions
        .iter()
        .map(|e| re.reencrypt(TOPIC, e, "alice"))
        .collect();
    let served = outcomes.iter().filter(|r| r.is_ok()).count();
    let throttled = outcomes
        .iter()
        .filter(|r| matches!(r, Err(Error::Throttled)))
        .count();
    // Five tokens, refilled at five per second while the loop runs: a few more may pass.
    assert!((5..=8).contains(&served), "served {served}");
    assert_eq!(served + throttled, 12);
    assert_eq!(re.throttled(), throttled as u64);
    // Sessions already computed are hits: never throttled.
    for (e, r) in sessions.iter().zip(&outcomes) {
        if r.is_ok() {
            assert!(re.reencrypt(TOPIC, e, "alice").is_ok());
        }
    }
}

#[test]
fn a_callers_own_budget_bounds_its_misses() {
    let s = setup();
    let re = ReEncryptor::new(&[s.admin.verifying_key()]).unwrap();
    granted(&s, &re);
    let connection = MissBudget::per_second(2);
    let results: Vec<_> = (0..6)
        .map(|_| {
            let edek = Encryptor::new(s.delegating.public_key())
                .unwrap()
                .seal(TOPIC, None, b"x")
                .unwrap()
                .edek;
            re.reencrypt_within(TOPIC, &edek, "alice", Some(&connection))
        })
        .collect();
    let served = results.iter().filter(|r| r.is_ok()).count();
    assert!((2..=3).contains(&served), "served {served}");
}

#[test]
fn a_grant_revoked_during_the_umbral_step_issues_nothing() {
    let s = setup();
    let mut re = engine::ReEncryptor::new(&[s.admin.verifying_key()], Default::default()).unwrap();
    let now = rewrap::now();
    let terms = GrantTerms::one_of_one(TOPIC, "alice", s.consumer, now - 10);
    re.add_grant(
        &Grant::issue(&mut rewrap::rng(), &s.admin, &s.delegating, &terms).unwrap(),
        now,
    )
    .unwrap();
    let edek = Encryptor::new(s.delegating.public_key())
        .unwrap()
        .seal(TOPIC, None, b"x")
        .unwrap()
        .edek;
    let engine::Lookup::Miss(pending) = re.lookup(now, TOPIC, &edek, "alice").unwrap() else {
        panic!("a fresh capsule is a miss");
    };
    let headers = pending.compute(&mut rewrap::rng()).unwrap();
    re.revoke(TOPIC, "alice");
    assert_eq!(re.complete(&pending, headers, now), Err(Error::Revoked));
    assert_eq!(
        re.reencrypt(&mut rewrap::rng(), now, TOPIC, &edek, "alice"),
        Err(Error::Revoked)
    );
}

/// A miss a budget refuses costs only the look-up: the capsule is not even decoded (a capsule
/// of garbage points is `Throttled`, not `Malformed`, once the budget is spent).
#[test]
fn a_refused_miss_does_not_decode_the_capsule() {
    let s = setup();
    let re = ReEncryptor::new(&[s.admin.verifying_key()])
        .unwrap()
        .with_miss_budget(1);
    granted(&s, &re);
    let enc = Encryptor::new(s.delegating.public_key()).unwrap();
    re.reencrypt(TOPIC, &enc.seal(TOPIC, None, b"x").unwrap().edek, "alice")
        .unwrap();
    enc.rotate();
    let mut garbage = enc.seal(TOPIC, None, b"y").unwrap().edek.to_vec();
    garbage[1 + 33..1 + 33 + 98].fill(0xee);
    assert_eq!(
        re.reencrypt(TOPIC, &garbage, "alice"),
        Err(Error::Throttled)
    );
    // With budget, the same capsule is decoded and refused by name.
    let fresh = ReEncryptor::new(&[s.admin.verifying_key()]).unwrap();
    granted(&s, &fresh);
    assert!(matches!(
        fresh.reencrypt(TOPIC, &garbage, "alice"),
        Err(Error::Malformed(_))
    ));
}

/// A re-encryptor holds one share of a threshold grant: another share of it is refused (one
/// proxy holding t shares could answer alone), and the fragments computed from the share it
/// holds stay valid; fragments of a grant that expired meanwhile are not issued.
#[test]
fn completion_follows_the_grant_not_the_moment() {
    let s = setup();
    let now = rewrap::now();
    let terms = GrantTerms {
        topic: TOPIC,
        consumer: "alice",
        consumer_key: s.consumer,
        threshold: 2,
        shares: 3,
        not_before: now - 10,
        expires: Some(now + 100),
        issued_at: None,
    };
    let grant = Grant::issue(&mut rewrap::rng(), &s.admin, &s.delegating, &terms).unwrap();
    let mut re = engine::ReEncryptor::new(&[s.admin.verifying_key()], Default::default()).unwrap();
    re.add_grant(&grant.share(0).unwrap(), now).unwrap();
    let edek = Encryptor::new(s.delegating.public_key())
        .unwrap()
        .seal(TOPIC, None, b"x")
        .unwrap()
        .edek;
    let engine::Lookup::Miss(pending) = re.lookup(now, TOPIC, &edek, "alice").unwrap() else {
        panic!("a fresh capsule is a miss");
    };
    let headers = pending.compute(&mut rewrap::rng()).unwrap();
    assert!(matches!(
        re.add_grant(&grant.share(1).unwrap(), now),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        re.add_grant(&grant, now),
        Err(Error::InvalidArgument(_))
    ));
    assert!(re.complete(&pending, headers.clone(), now).is_ok());
    assert_eq!(
        re.complete(&pending, headers, now + 200),
        Err(Error::Revoked)
    );
}

/// Signed revocations void every grant issued at or before them, in whatever order the two
/// arrive: a replayed grant stays refused, a later grant is accepted, a revocation under one
/// delegating key leaves the others, an older copy never replaces a newer grant, and a
/// revocation not signed by a trusted administrator changes nothing.
#[test]
fn revocations_outlive_replayed_grants_in_any_order() {
    let s = setup();
    let now = rewrap::now();
    let other = SecretKey::generate();
    let grant_at = |delegating: &SecretKey, at: u64| {
        let mut terms = GrantTerms::one_of_one(TOPIC, "alice", s.consumer, now - 10);
        terms.issued_at = Some(at);
        Grant::issue(&mut rewrap::rng(), &s.admin, delegating, &terms).unwrap()
    };
    let revoke = |signer: &Signer, key: Option<PublicKey>, at: u64| {
        Revocation::issue(&mut rewrap::rng(), signer, TOPIC, "alice", key, at).unwrap()
    };
    let edek = |delegating: &SecretKey| {
        Encryptor::new(delegating.public_key())
            .unwrap()
            .seal(TOPIC, None, b"x")
            .unwrap()
            .edek
    };
    let t = rewrap::now_millis() - 3_600_000;
    let old = grant_at(&s.delegating, t);
    let old_other = grant_at(&other, t);

    // Grant first, then the revocation: dropped at once.
    let re = ReEncryptor::new(&[s.admin.verifying_key()]).unwrap();
    re.add_grant(&old).unwrap();
    re.add_grant(&old_other).unwrap();
    assert!(re.reencrypt(TOPIC, &edek(&s.delegating), "alice").is_ok());
    assert!(re
        .add_revocation(&revoke(&s.admin, Some(s.delegating.public_key()), t + 5))
        .unwrap());
    assert_eq!(
        re.reencrypt(TOPIC, &edek(&s.delegating), "alice"),
        Err(Error::Revoked)
    );
    assert!(
        re.reencrypt(TOPIC, &edek(&other), "alice").is_ok(),
        "a revocation under one key leaves the other"
    );
    // The replay: the same grant again, refused; an equal or older revocation is no news.
    assert_eq!(re.add_grant(&old), Err(Error::Revoked));
    assert!(!re
        .add_revocation(&revoke(&s.admin, Some(s.delegating.public_key()), t))
        .unwrap());
    // A later decision of the administrator is accepted...
    let renewed = grant_at(&s.delegating, t + 6);
    re.add_grant(&renewed).unwrap();
    assert!(re.reencrypt(TOPIC, &edek(&s.delegating), "alice").is_ok());
    // ...and an older copy does not replace it.
    assert_eq!(
        re.add_grant(&grant_at(&s.delegating, t + 1)),
        Err(Error::Revoked)
    );

    // Revocation first (a re-encryptor started later, reading the store in any order).
    let fresh = ReEncryptor::new(&[s.admin.verifying_key()]).unwrap();
    assert!(fresh
        .add_revocation(&revoke(&s.admin, None, t + 5))
        .unwrap());
    assert_eq!(fresh.add_grant(&old), Err(Error::Revoked));
    assert_eq!(fresh.add_grant(&old_other), Err(Error::Revoked));
    fresh.add_grant(&renewed).unwrap();

    // A stranger's revocation is refused and changes nothing.
    let stranger = Signer::new(SecretKey::generate());
    assert_eq!(
        fresh.add_revocation(&revoke(&stranger, None, t + 100)),
        Err(Error::UntrustedGrant)
    );
    assert!(fresh
        .reencrypt(TOPIC, &edek(&s.delegating), "alice")
        .is_ok());
}
