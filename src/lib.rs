//! rewrap: delegated access control and encryption for Kafka message streams, built on
//! Umbral proxy re-encryption. This crate is the std facade over `rewrap-core`: the same
//! engine with the OS RNG, the system clock, thread-safe handles, key files and the directory
//! grant store. Bindings (C, Python, JVM, proxy) use these handles.
//!
//! ```
//! use rewrap::{
//!     Decryptor, Encryptor, Grant, GrantTerms, ProducerGrant, ReEncryptor, SecretKey, Signer,
//!     SigningMode, Vouch,
//! };
//!
//! let admin = Signer::new(SecretKey::generate());
//! let channel = SecretKey::generate(); // channel-key mode: producers know only its public key
//! let consumer = SecretKey::generate();
//! let consumer_pk = consumer.public_key();
//! let signing = SecretKey::generate(); // the producer's own signing key
//!
//! let producer = Encryptor::new(channel.public_key()).unwrap();
//! producer.set_signer(Some((&signing, SigningMode::Session)));
//! let record = producer.seal("orders", Some(b"order-1"), b"order #1").unwrap();
//!
//! let terms = GrantTerms::one_of_one("orders", "alice", consumer_pk, rewrap::now());
//! let grant = Grant::issue(&mut rewrap::rng(), &admin, &channel, &terms).unwrap();
//! let may_produce = ProducerGrant::issue(
//!     &mut rewrap::rng(), &admin, "orders", &signing.public_key(), 0, None,
//! ).unwrap();
//! let proxy = ReEncryptor::new(&[admin.verifying_key()]).unwrap();
//! proxy.add_grant(&grant).unwrap();
//! proxy.add_producer_grant(&may_produce).unwrap();
//! let sig = record.sig.as_deref();
//! proxy.attest("orders", &record.edek, sig, None).unwrap(); // refused if not authorized
//! let cfrags = proxy.reencrypt("orders", &record.edek, "alice").unwrap();
//!
//! let reader = Decryptor::new(consumer, &[admin.verifying_key()]).unwrap();
//! reader.add_producer_grant(&may_produce).unwrap();
//! let mut headers = record.headers();
//! headers.extend(cfrags.iter().map(|c| (rewrap::CFRAG_HEADER, &c[..])));
//! let opened = reader
//!     .open("orders", Some(b"order-1"), Some(&record.value), &headers)
//!     .unwrap();
//! let rewrap::Opened::Decrypted(d) = opened else { panic!() };
//! assert_eq!(d.payload, b"order #1");
//! assert_eq!((d.vouch, d.counter), (Vouch::Producer, 0));
//! //! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod handles;
pub mod keyfile;
pub mod registry;
pub mod store;

pub use handles::{half_the_cores, Decryptor, Encryptor, MissBudget, ReEncryptor};
/// The no_std engine itself, for callers that supply their own RNG and clock (its
/// `Encryptor`, `Decryptor` and `ReEncryptor` take `rng` and `now` parameters).
pub use rewrap_core as engine;
pub use rewrap_core::{
    constants, CacheStats, CfragHeaders, CfragRef, Compression, ConsumerId, DecompressFailure,
    Decrypted, DecryptorConfig, DecryptorStats, EdekRef, EnvelopeRef, Error, ErrorKind,
    ErrorKindInfo, GrantTerms, Header, KeyId, Object, Opened, OpenedKind, Origin, Policy,
    ProducerGrant, PublicKey, ReEncryptorConfig, ReEncryptorStats, RecordHeaders, Result,
    Revocation, RotationPolicy, SealedRecord, SecretKey, SessionId, Signer, SigningMode, Topic,
    Vouch, CFRAG_HEADER, CHANNEL_SIG_HEADER, DEFAULT_DECRYPTOR_CACHE_CAPACITY,
    DEFAULT_MAX_DECOMPRESSED_LEN, DEFAULT_REENCRYPTOR_CACHE_CAPACITY, DEFAULT_ZSTD_LEVEL,
    EDEK_HEADER, ERROR_KINDS, HEADER_PREFIX, KEY_ID_LEN, PUBLIC_KEY_LEN, RECORD_SIG_HEADER,
    SECRET_KEY_LEN, SIG_HEADER,
};
pub use store::{
    DirGrantStore, GrantStore, GrantSync, LoadReport, Snapshot, StoreError, StoredGrant,
    StoredProducerGrant, StoredRevocation, SyncReport, DEFAULT_UNREADABLE_GRACE,
};

/// Grants, with `issue` taking the OS RNG through [`rng`].
pub use rewrap_core::Grant;

/// The OS cryptographic RNG.
pub fn rng() -> rand_core::OsRng {
    rand_core::OsRng
}

/// Seconds since the Unix epoch from the system clock (0 if the clock is before 1970).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix milliseconds, the unit of grant issue times and revocations.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
