//! Shared fixtures for the cross-crate tests: a deterministic world with an administrator,
//! a re-encryptor, consumers and signing producers, and a `deliver` step that does what the
//! broker-side proxy does on fetch (attach the consumer's fragments, or none if it is not
//! granted). Consumers read under the default policy (`require`): every producer the world
//! makes signs its sessions and holds a producer grant the consumers learn on delivery.
#![allow(dead_code)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rewrap::engine::{
    Decryptor, DecryptorConfig, Encryptor, Error, Grant, GrantTerms, Opened, ProducerGrant,
    PublicKey, ReEncryptor, ReEncryptorConfig, RotationPolicy, SealedRecord, SecretKey, Signer,
    SigningMode,
};

pub const T0: u64 = 1_700_000_000;

pub struct Consumer {
    pub id: String,
    pub public: PublicKey,
    pub decryptor: Decryptor,
    secret: [u8; 32],
    admin: PublicKey,
    /// The producer grants installed in `decryptor`, in the order the world issued them.
    producer_grants: Vec<ProducerGrant>,
}

impl Consumer {
    /// Replaces the decryptor by one with the same key and producer grants and an empty DEK
    /// cache.
    pub fn forget_deks(&mut self) {
        self.reconfigure(DecryptorConfig::default());
    }

    /// Replaces the decryptor by one with `config`, the same key and producer grants, and an
    /// empty DEK cache.
    pub fn reconfigure(&mut self, config: DecryptorConfig) {
        let secret = SecretKey::from_bytes(&self.secret).unwrap();
        self.decryptor = Decryptor::new(secret, &[self.admin], config).unwrap();
        for g in &self.producer_grants {
            self.decryptor.add_producer_grant(g, T0).unwrap();
        }
    }
}

pub struct World {
    pub rng: ChaCha20Rng,
    pub admin: Signer,
    pub reencryptor: ReEncryptor,
    /// Every producer grant issued so far; consumers learn them in `sync`.
    pub producer_grants: Vec<ProducerGrant>,
}

impl World {
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let admin = Signer::new(SecretKey::random(&mut rng));
        let reencryptor =
            ReEncryptor::new(&[admin.verifying_key()], ReEncryptorConfig::default()).unwrap();
        World {
            rng,
            admin,
            reencryptor,
            producer_grants: Vec::new(),
        }
    }

    pub fn key(&mut self) -> SecretKey {
        SecretKey::random(&mut self.rng)
    }

    pub fn consumer(&mut self, id: &str) -> Consumer {
        let secret = self.key();
        let public = secret.public_key();
        let bytes = *secret.to_bytes();
        let admin = self.admin.verifying_key();
        let decryptor = Decryptor::new(secret, &[admin], DecryptorConfig::default()).unwrap();
        let mut consumer = Consumer {
            id: id.to_string(),
            public,
            decryptor,
            secret: bytes,
            admin,
            producer_grants: Vec::new(),
        };
        self.sync(&mut consumer);
        consumer
    }

    pub fn grant(&mut self, delegating: &SecretKey, channel: &str, consumer: &Consumer) -> Grant {
        let mut terms = GrantTerms::one_of_one(channel, &consumer.id, consumer.public, T0);
        terms.issued_at = Some(T0 * 1000); // this world's clock, not the system's
        let grant = Grant::issue(&mut self.rng, &self.admin, delegating, &terms).unwrap();
        self.reencryptor.add_grant(&grant, T0).unwrap();
        grant
    }

    /// A producer encrypting to `delegating` that signs its sessions with a fresh key the
    /// administrator authorizes on `topic`.
    pub fn producer(
        &mut self,
        delegating: PublicKey,
        topic: &str,
        policy: RotationPolicy,
    ) -> Encryptor {
        let signing = self.key();
        let grant = ProducerGrant::issue(
            &mut self.rng,
            &self.admin,
            topic,
            &signing.public_key(),
            T0,
            None,
        )
        .unwrap();
        self.producer_grants.push(grant);
        let mut enc = Encryptor::new(delegating, policy).unwrap();
        enc.set_signer(Some((Signer::new(signing), SigningMode::Session)));
        enc
    }

    /// Installs the producer grants `consumer` has not seen yet.
    pub fn sync(&self, consumer: &mut Consumer) {
        for g in &self.producer_grants[consumer.producer_grants.len()..] {
            consumer.decryptor.add_producer_grant(g, T0).unwrap();
            consumer.producer_grants.push(g.clone());
        }
    }

    /// The proxy's fetch path: fragments for this consumer if it is granted, else none.
    pub fn cfrags_for(
        &mut self,
        topic: &str,
        record: &SealedRecord,
        consumer: &str,
    ) -> Vec<Vec<u8>> {
        match self
            .reencryptor
            .reencrypt(&mut self.rng, T0, topic, &record.edek, consumer)
        {
            Ok(headers) => headers.to_vec(),
            Err(Error::NotGranted | Error::Revoked) => Vec::new(),
            Err(e) => panic!("unexpected re-encryption error {e:?}"),
        }
    }

    pub fn deliver(
        &mut self,
        topic: &str,
        record: &SealedRecord,
        consumer: &mut Consumer,
    ) -> Result<Vec<u8>, Error> {
        self.sync(consumer);
        let cfrags = self.cfrags_for(topic, record, &consumer.id);
        open_with(&mut consumer.decryptor, topic, record, &cfrags)
    }
}

/// A sealed record's headers followed by the fragments the proxy attached.
pub fn headers<'a>(record: &'a SealedRecord, cfrags: &'a [Vec<u8>]) -> Vec<(&'a str, &'a [u8])> {
    let mut h = record.headers();
    h.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, c.as_slice())));
    h
}

/// Opens a record sealed under a null key and returns its payload; anything but a decrypted
/// record is a test failure.
pub fn open_with(
    decryptor: &mut Decryptor,
    topic: &str,
    record: &SealedRecord,
    cfrags: &[Vec<u8>],
) -> Result<Vec<u8>, Error> {
    decryptor
        .open(
            T0,
            topic,
            None,
            Some(&record.value),
            &headers(record, cfrags),
        )
        .map(payload)
}

/// The payload of a decrypted record (panics on a tombstone or plaintext).
pub fn payload(opened: Opened) -> Vec<u8> {
    match opened {
        Opened::Decrypted(d) => d.payload,
        other => panic!("expected a decrypted record, got {other:?}"),
    }
}

/// 1-of-1 terms valid from T0 and issued at T0 (this suite's clock, not the system's).
pub fn terms_t0<'a>(topic: &'a str, consumer: &'a str, key: PublicKey) -> GrantTerms<'a> {
    let mut terms = GrantTerms::one_of_one(topic, consumer, key, T0);
    terms.issued_at = Some(T0 * 1000);
    terms
}
