//! Shared fixtures for the cross-crate tests: a deterministic world with an administrator,
//! a re-encryptor and consumers, and a `deliver` step that does what the broker-side proxy
//! does on fetch (attach the consumer's fragments, or none if it is not granted).
#![allow(dead_code)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rewrap::engine::{
    Decryptor, DecryptorConfig, Error, Grant, GrantTerms, Opened, PublicKey, ReEncryptor,
    ReEncryptorConfig, SealedRecord, SecretKey, Signer,
};

pub const T0: u64 = 1_700_000_000;

pub struct Consumer {
    pub id: String,
    pub public: PublicKey,
    pub decryptor: Decryptor,
    secret: [u8; 32],
    admin: PublicKey,
}

impl Consumer {
    /// Replaces the decryptor by one with the same key and an empty DEK cache.
    pub fn forget_deks(&mut self) {
        let secret = SecretKey::from_bytes(&self.secret).unwrap();
        self.decryptor = Decryptor::new(secret, &[self.admin], DecryptorConfig::default()).unwrap();
    }
}

pub struct World {
    pub rng: ChaCha20Rng,
    pub admin: Signer,
    pub reencryptor: ReEncryptor,
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
        Consumer {
            id: id.to_string(),
            public,
            decryptor,
            secret: bytes,
            admin,
        }
    }

    pub fn grant(&mut self, delegating: &SecretKey, channel: &str, consumer: &Consumer) -> Grant {
        let terms = GrantTerms::one_of_one(channel, &consumer.id, consumer.public, T0);
        let grant = Grant::issue(&mut self.rng, &self.admin, delegating, &terms).unwrap();
        self.reencryptor.add_grant(&grant, T0).unwrap();
        grant
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
    ) -> Result<Opened, Error> {
        let cfrags = self.cfrags_for(topic, record, &consumer.id);
        open_with(&mut consumer.decryptor, topic, record, &cfrags)
    }
}

pub fn headers<'a>(record: &'a SealedRecord, cfrags: &'a [Vec<u8>]) -> Vec<(&'a str, &'a [u8])> {
    let mut h = vec![(rewrap::EDEK_HEADER, &record.edek[..])];
    h.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, c.as_slice())));
    h
}

pub fn open_with(
    decryptor: &mut Decryptor,
    topic: &str,
    record: &SealedRecord,
    cfrags: &[Vec<u8>],
) -> Result<Opened, Error> {
    decryptor.open(T0, topic, Some(&record.value), &headers(record, cfrags))
}
