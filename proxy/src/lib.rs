//! rewrap's broker-side re-encryptor: a transform on the Shotover Kafka proxy.
//!
//! Consumers fetch through the proxy; for each record carrying a `rewrap.edek` header it adds
//! the `rewrap.cfrag` header(s) computed for the fetching consumer from that consumer's grant
//! (one Umbral re-encryption per producer session and consumer, then cached). The proxy never
//! holds a DEK or any private key: grants are re-encryption keys, useless without the
//! consumer's own secret key.
//!
//! Modules: [`records`] rewrites record batches, [`compression`] the batch codecs,
//! [`identity`] names the consumer, [`transform`] ties it into Shotover. The grant store is
//! followed by the facade's `rewrap::GrantSync`.

#![deny(unsafe_code)]

pub mod compression;
pub mod identity;
pub mod records;
pub mod registry;
pub mod transform;

pub use transform::RewrapReencryptConfig;
