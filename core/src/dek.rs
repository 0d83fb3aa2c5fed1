//! Data encryption keys and the one AEAD seam: AES-256-GCM through `ring` when `std` is on
//! (about 4x faster here), RustCrypto `aes-gcm` otherwise. Both give identical bytes; a test
//! holds them to it.

use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// Length of a DEK.
pub const DEK_LEN: usize = 32;
/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub const TAG_LEN: usize = 16;

/// A 256-bit data encryption key, one per producer session. Zeroized on drop; never printed.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Dek([u8; DEK_LEN]);

impl Dek {
    /// A fresh DEK from a cryptographic RNG.
    pub fn random(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        let mut key = [0u8; DEK_LEN];
        rng.fill_bytes(&mut key);
        Dek(key)
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self> {
        let key: [u8; DEK_LEN] = bytes.try_into().map_err(|_| Error::DekUnavailable)?;
        Ok(Dek(key))
    }

    /// The raw key bytes: for the administrator's re-key job and test vectors only.
    pub fn as_bytes(&self) -> &[u8; DEK_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for Dek {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Dek(<redacted>)")
    }
}

/// A DEK prepared for AES-256-GCM (key schedule computed once per session, not per message).
pub(crate) struct PayloadKey {
    #[cfg(feature = "std")]
    key: ring::aead::LessSafeKey,
    #[cfg(not(feature = "std"))]
    key: portable::Key,
}

impl PayloadKey {
    pub(crate) fn new(dek: &Dek) -> Self {
        #[cfg(feature = "std")]
        {
            // AES_256_GCM accepts any 32-byte key, so this cannot fail.
            let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, dek.as_bytes())
                .expect("32-byte key for AES-256-GCM");
            PayloadKey {
                key: ring::aead::LessSafeKey::new(unbound),
            }
        }
        #[cfg(not(feature = "std"))]
        {
            PayloadKey {
                key: portable::Key::new(dek.as_bytes()),
            }
        }
    }

    /// Encrypts `buf` in place and returns the detached tag.
    pub(crate) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        #[cfg(feature = "std")]
        {
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(*nonce),
                    ring::aead::Aad::from(aad),
                    buf,
                )
                // ring fails only past the per-message length limit (64 GiB), which a Kafka
                // record cannot reach.
                .expect("payload within AES-GCM length limit");
            let mut out = [0u8; TAG_LEN];
            out.copy_from_slice(tag.as_ref());
            out
        }
        #[cfg(not(feature = "std"))]
        {
            self.key.seal_in_place(nonce, aad, buf)
        }
    }

    /// Decrypts `buf` (ciphertext without tag) in place after checking `tag`.
    pub(crate) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        #[cfg(feature = "std")]
        {
            self.key
                .open_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(*nonce),
                    ring::aead::Aad::from(aad),
                    ring::aead::Tag::from(*tag),
                    buf,
                    0..,
                )
                .map(|_| ())
                .map_err(|_| Error::AuthenticationFailed)
        }
        #[cfg(not(feature = "std"))]
        {
            self.key.open_in_place(nonce, aad, buf, tag)
        }
    }
}

/// RustCrypto AES-256-GCM: the backend of no_std builds, and the reference `ring` is checked
/// against.
#[cfg_attr(feature = "std", allow(dead_code))]
pub(crate) mod portable {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use aes_gcm::{Aes256Gcm, Nonce, Tag};

    use super::{NONCE_LEN, TAG_LEN};
    use crate::error::{Error, Result};

    pub(crate) struct Key(Aes256Gcm);

    impl Key {
        pub(crate) fn new(key: &[u8; 32]) -> Self {
            Key(Aes256Gcm::new(key.into()))
        }

        pub(crate) fn seal_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            buf: &mut [u8],
        ) -> [u8; TAG_LEN] {
            let tag = self
                .0
                .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf)
                .expect("payload within AES-GCM length limit");
            tag.into()
        }

        pub(crate) fn open_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> Result<()> {
            self.0
                .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf, Tag::from_slice(tag))
                .map_err(|_| Error::AuthenticationFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    proptest! {
        /// Whatever backend this build uses, it must produce and open the same bytes as the
        /// portable reference (with `std` this compares `ring` against RustCrypto).
        #[test]
        fn backend_matches_portable_reference(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 12]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
            payload in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let dek = Dek(key);
            let fast = PayloadKey::new(&dek);
            let reference = portable::Key::new(&key);

            let mut a: Vec<u8> = payload.clone();
            let tag_a = fast.seal_in_place(&nonce, &aad, &mut a);
            let mut b: Vec<u8> = payload.clone();
            let tag_b = reference.seal_in_place(&nonce, &aad, &mut b);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(tag_a, tag_b);

            // Each opens what the other sealed.
            let mut c = a.clone();
            reference.open_in_place(&nonce, &aad, &mut c, &tag_a).unwrap();
            prop_assert_eq!(&c, &payload);
            fast.open_in_place(&nonce, &aad, &mut b, &tag_b).unwrap();
            prop_assert_eq!(&b, &payload);
        }
    }

    #[test]
    fn wrong_tag_fails_to_open() {
        let dek = Dek([3; 32]);
        let key = PayloadKey::new(&dek);
        let mut buf = *b"hello";
        let mut tag = key.seal_in_place(&[0; 12], b"aad", &mut buf);
        tag[0] ^= 1;
        assert_eq!(
            key.open_in_place(&[0; 12], b"aad", &mut buf, &tag),
            Err(Error::AuthenticationFailed)
        );
    }
}
