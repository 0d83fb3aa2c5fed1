//! rewrap-core: the engine of rewrap, delegated access control and encryption for Kafka
//! message streams built on Umbral proxy re-encryption. `no_std` + `alloc`; every binding
//! (C, Python, JVM, the proxy) calls this crate and adds no cryptography of its own.
//!
//! Flow: an [`Encryptor`] seals payloads under a per-session DEK and attaches the EDEK; an
//! administrator issues a [`Grant`] to a consumer's public key; a [`ReEncryptor`] holding the
//! grant turns each EDEK into capsule fragments for that consumer; the consumer's
//! [`Decryptor`] opens the DEK once per session and every payload after it.
//!
//! Randomness and time are parameters (`rng`, `now` in Unix seconds) so the engine runs
//! without an OS; the `rewrap` crate supplies both from the OS.
//!
//! Every table the bindings share lives here once: error kinds ([`ERROR_KINDS`]) and
//! constants ([`constants::CONSTANTS`]).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod cache;
pub mod cfrag;
mod codec;
mod compression;
pub mod constants;
mod decryptor;
mod dek;
pub mod edek;
mod encryptor;
pub mod envelope;
mod error;
mod grant;
mod ids;
mod keys;
mod notary;
mod reencrypt;
mod revocation;
pub mod signing;

pub use cache::CacheStats;
pub use cfrag::{CfragRef, CFRAG_HEADER};
pub use compression::{Compression, DEFAULT_MAX_DECOMPRESSED_LEN, DEFAULT_ZSTD_LEVEL};
pub use decryptor::{
    CachedRecord, ConsumerKeys, Decrypted, Decryptor, DecryptorConfig, DecryptorStats, Header,
    Opened, OpenedDek, OpenedKind, PendingDek, Prepared, RecordHeaders, RecordParts,
    DEFAULT_DECRYPTOR_CACHE_CAPACITY, HEADER_PREFIX, MAX_EXTRA_CFRAG_VERIFICATIONS,
};
pub use dek::{Dek, DEK_LEN};
pub use edek::{EdekRef, EDEK_HEADER};
pub use encryptor::{
    Encryptor, NewSession, Reservation, RotationPolicy, SealedRecord, SessionRequest,
    DEFAULT_ROTATION_MAX_AGE_SECS, DEFAULT_ROTATION_MAX_MESSAGES, MAX_MESSAGES_PER_DEK,
};
pub use envelope::EnvelopeRef;
pub use error::{
    DecompressFailure, Error, ErrorKind, ErrorKindInfo, Object, Origin, Result, ERROR_KINDS,
};
pub use grant::{Grant, GrantTerms, VerifiedGrant, MAX_ISSUE_SKEW_MS};
pub use ids::{ConsumerId, SessionId, Topic, MAX_CONSUMER_ID_LEN, MAX_TOPIC_LEN, SESSION_ID_LEN};
pub use keys::{KeyId, PublicKey, SecretKey, Signer, KEY_ID_LEN, PUBLIC_KEY_LEN, SECRET_KEY_LEN};
pub use notary::{Attestation, Notary, PendingAttestation, Verdict, DEFAULT_NOTARY_CACHE_CAPACITY};
pub use reencrypt::{
    CfragHeaders, Lookup, PendingCfrags, ReEncryptor, ReEncryptorConfig, ReEncryptorStats,
    DEFAULT_REENCRYPTOR_CACHE_CAPACITY,
};
pub use revocation::Revocation;
pub use signing::{
    Policies, Policy, ProducerGrant, Producers, SessionCheck, SessionSignature, SigningMode, Vouch,
    CHANNEL_SIG_HEADER, RECORD_SIG_HEADER, SIG_HEADER,
};
