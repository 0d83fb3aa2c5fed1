//! Key pairs (producer, channel, consumer), administrator signing keys and key ids.
//! All are secp256k1 keys of Umbral; the role is in how a key is used, not in its type.
//! Secret material is zeroized on drop and never printed.

use alloc::string::String;
use core::fmt;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Object, Result};

/// Length of a serialized secret key (big-endian scalar).
pub const SECRET_KEY_LEN: usize = 32;
/// Length of a serialized public key (SEC1 compressed point).
pub const PUBLIC_KEY_LEN: usize = 33;
/// Length of a key id.
pub const KEY_ID_LEN: usize = 8;

/// A secret key: a producer's or channel's delegating key, or a consumer's decrypting key.
pub struct SecretKey(pub(crate) umbral_pre::SecretKey);

impl SecretKey {
    /// A fresh key from a cryptographic RNG.
    pub fn random(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        SecretKey(umbral_pre::SecretKey::random_with_rng(rng))
    }

    /// A fresh key from the OS RNG.
    #[cfg(feature = "std")]
    pub fn generate() -> Self {
        Self::random(&mut rand_core::OsRng)
    }

    /// Parses a 32-byte big-endian scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != SECRET_KEY_LEN {
            return Err(Error::Malformed(Object::Key));
        }
        // umbral-pre only parses secret keys from its own `SecretBox`, which it lets us
        // obtain but not construct: borrow one from a throwaway key and overwrite it.
        let mut scratch = umbral_pre::SecretKey::random_with_rng(&mut FillRng).to_be_bytes();
        scratch.as_mut_secret().copy_from_slice(bytes);
        umbral_pre::SecretKey::try_from_be_bytes(&scratch)
            .map(SecretKey)
            .map_err(|_| Error::Malformed(Object::Key))
    }

    /// The 32-byte big-endian scalar, zeroized when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; SECRET_KEY_LEN]> {
        let boxed = self.0.to_be_bytes();
        let mut out = Zeroizing::new([0u8; SECRET_KEY_LEN]);
        out.copy_from_slice(boxed.as_secret());
        out
    }

    /// Lower-case hex of `to_bytes`, zeroized when dropped.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.to_bytes().as_slice()))
    }

    /// Parses the output of `to_hex` (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes =
            Zeroizing::new(hex::decode(text.trim()).map_err(|_| Error::Malformed(Object::Key))?);
        Self::from_bytes(bytes.as_slice())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }

    /// Derives a channel key from a master seed, so an administrator can keep one secret for
    /// all channels (`SecretKeyFactory::make_key` with the channel name as label).
    pub fn derive_channel_key(master_seed: &[u8], channel: &str) -> Result<Self> {
        let factory = umbral_pre::SecretKeyFactory::from_secure_randomness(master_seed)
            .map_err(|_| Error::InvalidArgument("master seed must be 32 bytes"))?;
        let mut label = alloc::vec::Vec::with_capacity(channel.len() + 15);
        label.extend_from_slice(b"rewrap/channel/");
        label.extend_from_slice(channel.as_bytes());
        Ok(SecretKey(factory.make_key(&label)))
    }

    /// Derives a channel's signing key (the key a re-encryptor signs channel signatures with,
    /// `docs/FORMAT.md` §7) from a seed, with the label `rewrap/channel-signing/` ‖ topic:
    /// re-encryptors sharing the seed sign with the same key, and it is never a delegating key.
    pub fn derive_channel_signing_key(seed: &[u8], topic: &str) -> Result<Self> {
        let factory = umbral_pre::SecretKeyFactory::from_secure_randomness(seed)
            .map_err(|_| Error::InvalidArgument("signing seed must be 32 bytes"))?;
        let mut label = alloc::vec::Vec::with_capacity(topic.len() + 23);
        label.extend_from_slice(b"rewrap/channel-signing/");
        label.extend_from_slice(topic.as_bytes());
        Ok(SecretKey(factory.make_key(&label)))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey(<redacted>, id {})",
            self.public_key().key_id()
        )
    }
}

/// A public key: the delegating key producers encrypt to, or a consumer's key grants target.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub(crate) umbral_pre::PublicKey);

impl PublicKey {
    /// Parses a 33-byte SEC1 compressed point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        // Only the SEC1 compressed prefixes: umbral-pre would also take other encodings of
        // the same point, and a key must have exactly one byte form (grants sign re-encoded
        // keys, key ids hash the bytes).
        if bytes.len() != PUBLIC_KEY_LEN || !matches!(bytes[0], 0x02 | 0x03) {
            return Err(Error::Malformed(Object::Key));
        }
        umbral_pre::PublicKey::try_from_compressed_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| Error::Malformed(Object::Key))
    }

    /// The 33-byte SEC1 compressed point.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(&self.0.to_compressed_bytes());
        out
    }

    /// Lower-case hex of `to_bytes`.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Parses the output of `to_hex` (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = hex::decode(text.trim()).map_err(|_| Error::Malformed(Object::Key))?;
        Self::from_bytes(bytes.as_slice())
    }

    /// Short fingerprint used to name keys in grants, stores and logs.
    pub fn key_id(&self) -> KeyId {
        KeyId::of_bytes(&self.to_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

/// First 8 bytes of SHA-256("rewrap/key-id" ‖ compressed public key).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    pub(crate) fn of_bytes(public_key: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"rewrap/key-id")
            .chain_update(public_key)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The administrator's signing key: signs grants and the kfrags inside them.
pub struct Signer {
    inner: umbral_pre::Signer,
    verifying_key: PublicKey,
}

impl Signer {
    /// Wraps a secret key for signing.
    pub fn new(secret: SecretKey) -> Self {
        Self::from_secret(&secret)
    }

    /// A signer using a copy of `secret` (the copy is zeroized when the signer drops).
    pub fn from_secret(secret: &SecretKey) -> Self {
        Signer {
            inner: umbral_pre::Signer::new(umbral_pre::SecretKey::clone(&secret.0)),
            verifying_key: secret.public_key(),
        }
    }

    /// The public key that verifies this signer's signatures.
    pub fn verifying_key(&self) -> PublicKey {
        self.verifying_key
    }

    pub(crate) fn umbral(&self) -> &umbral_pre::Signer {
        &self.inner
    }

    pub(crate) fn sign(&self, rng: &mut (impl CryptoRng + RngCore), message: &[u8]) -> [u8; 64] {
        let sig = self.inner.sign_with_rng(rng, message).to_be_bytes();
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig);
        out
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer(<redacted>, id {})", self.verifying_key.key_id())
    }
}

/// Verifies a 64-byte signature made by `Signer::sign`.
pub(crate) fn verify_signature(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match umbral_pre::Signature::try_from_be_bytes(signature) {
        Ok(sig) => sig.verify(&key.0, message),
        Err(_) => false,
    }
}

/// Deterministic filler used only to obtain a `SecretBox` from umbral-pre (see
/// `SecretKey::from_bytes`); its output is overwritten before use and never a key.
struct FillRng;

impl RngCore for FillRng {
    fn next_u32(&mut self) -> u32 {
        0x0101_0101
    }
    fn next_u64(&mut self) -> u64 {
        0x0101_0101_0101_0101
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(1);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> core::result::Result<(), rand_core::Error> {
        dest.fill(1);
        Ok(())
    }
}

// Not a source of randomness: only satisfies umbral-pre's bound for a scratch buffer.
impl CryptoRng for FillRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn secret_key_bytes_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let sk = SecretKey::random(&mut rng);
        let again = SecretKey::from_bytes(sk.to_bytes().as_slice()).unwrap();
        assert_eq!(sk.public_key(), again.public_key());
        let from_hex = SecretKey::from_hex(&sk.to_hex()).unwrap();
        assert_eq!(sk.public_key(), from_hex.public_key());
    }

    #[test]
    fn public_key_bytes_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let pk = SecretKey::random(&mut rng).public_key();
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
        assert_eq!(PublicKey::from_hex(&pk.to_hex()).unwrap(), pk);
    }

    #[test]
    fn bad_key_bytes_are_rejected() {
        assert_eq!(
            SecretKey::from_bytes(&[0u8; 32]).unwrap_err(),
            Error::Malformed(Object::Key)
        );
        assert_eq!(
            SecretKey::from_bytes(&[1u8; 31]).unwrap_err(),
            Error::Malformed(Object::Key)
        );
        assert_eq!(
            SecretKey::from_bytes(&[0xffu8; 32]).unwrap_err(),
            Error::Malformed(Object::Key)
        );
        assert_eq!(
            PublicKey::from_bytes(&[9u8; 33]).unwrap_err(),
            Error::Malformed(Object::Key)
        );
        assert_eq!(
            PublicKey::from_hex("zz").unwrap_err(),
            Error::Malformed(Object::Key)
        );
    }

    #[test]
    fn debug_never_prints_secret_bytes() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let sk = SecretKey::random(&mut rng);
        let printed = alloc::format!("{sk:?}");
        assert!(!printed.contains(sk.to_hex().as_str()));
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn channel_keys_are_deterministic_per_channel() {
        let seed = [7u8; 32];
        let a1 = SecretKey::derive_channel_key(&seed, "orders")
            .unwrap()
            .public_key();
        let a2 = SecretKey::derive_channel_key(&seed, "orders")
            .unwrap()
            .public_key();
        let b = SecretKey::derive_channel_key(&seed, "payments")
            .unwrap()
            .public_key();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert!(SecretKey::derive_channel_key(&seed[..5], "x").is_err());
    }
}
