//! The sealed record value: a versioned AES-256-GCM envelope whose AAD binds the envelope
//! header and the EDEK digest (which itself covers the topic), so a value moved to another
//! topic or paired with another EDEK does not open. The algorithm byte says whether the
//! payload was compressed before sealing (`compression`); it is in the AAD like the rest of
//! the header.

use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::compression::{self, Compressor};
pub use crate::compression::{ALG_AES_256_GCM, ALG_LZ4_AES_256_GCM, ALG_ZSTD_AES_256_GCM};
use crate::dek::{PayloadKey, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Object, Result};
use crate::ids::{SessionId, SESSION_ID_LEN};

/// First two bytes of every sealed value ("RW").
pub const MAGIC: [u8; 2] = *b"RW";
/// Current envelope version.
pub const ENVELOPE_VERSION: u8 = 2;
/// Version 1 (no record key or signature in the AAD): read only under policy `off`.
pub const ENVELOPE_VERSION_1: u8 = 1;
/// Bytes before the ciphertext: magic, version, algorithm, session id, nonce.
pub const HEADER_LEN: usize = 2 + 1 + 1 + SESSION_ID_LEN + NONCE_LEN;
/// Total bytes an envelope adds to a payload.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

const AAD_V1_LEN: usize = HEADER_LEN + 32;
const AAD_LEN: usize = HEADER_LEN + 3 * 32;

/// What a v2 envelope's AAD binds besides its header and the EDEK digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// `signing::record_key_digest` of the Kafka record key.
    pub key_digest: [u8; 32],
    /// SHA-256 of the `rewrap.sig` header value, or 32 zero bytes for an unsigned record.
    pub sig_digest: [u8; 32],
}

/// A framing-checked view of a sealed value.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeRef<'a> {
    header: &'a [u8; HEADER_LEN],
    ciphertext: &'a [u8],
    tag: &'a [u8; TAG_LEN],
}

impl<'a> EnvelopeRef<'a> {
    /// Checks magic, version, algorithm (one this build can open) and minimum length.
    pub fn parse(value: &'a [u8]) -> Result<Self> {
        if value.len() < MAGIC.len() || value[..2] != MAGIC {
            return Err(Error::ForeignRecord);
        }
        if value.len() < 4 {
            return Err(Error::Truncated(Object::Envelope));
        }
        if value[2] != ENVELOPE_VERSION && value[2] != ENVELOPE_VERSION_1 {
            return Err(Error::UnsupportedVersion(Object::Envelope, value[2]));
        }
        if !compression::known_algorithm(value[3]) {
            return Err(Error::UnsupportedVersion(Object::Envelope, value[3]));
        }
        if value.len() < OVERHEAD {
            return Err(Error::Truncated(Object::Envelope));
        }
        let (header, rest) = value.split_at(HEADER_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        Ok(EnvelopeRef {
            header: header.try_into().expect("split at HEADER_LEN"),
            ciphertext,
            tag: tag.try_into().expect("split at TAG_LEN"),
        })
    }

    /// The producer session this value belongs to (prefix of its EDEK's digest).
    pub fn session_id(&self) -> SessionId {
        SessionId(
            self.header[4..4 + SESSION_ID_LEN]
                .try_into()
                .expect("fixed header layout"),
        )
    }

    /// The envelope version (1 or 2).
    pub fn version(&self) -> u8 {
        self.header[2]
    }

    /// The algorithm id: 1 (AES-256-GCM), 2 (lz4 then AES-256-GCM), 3 (zstd then AES-256-GCM).
    pub fn algorithm(&self) -> u8 {
        self.header[3]
    }

    /// The algorithm, for people: "AES-256-GCM", "lz4, AES-256-GCM" or "zstd, AES-256-GCM".
    pub fn algorithm_name(&self) -> &'static str {
        match self.algorithm() {
            ALG_LZ4_AES_256_GCM => "lz4, AES-256-GCM",
            ALG_ZSTD_AES_256_GCM => "zstd, AES-256-GCM",
            _ => "AES-256-GCM",
        }
    }

    /// The record's counter in its session (0 for the first record).
    pub fn counter(&self) -> u64 {
        u64::from_be_bytes(self.header[HEADER_LEN - 8..].try_into().expect("8 bytes"))
    }

    fn nonce(&self) -> &'a [u8; NONCE_LEN] {
        self.header[4 + SESSION_ID_LEN..]
            .try_into()
            .expect("fixed header layout")
    }

    /// Opens the payload with the session's key; `edek_digest` is the full digest of its EDEK,
    /// `binding` what a v2 envelope's AAD covers (ignored for v1). A compressed payload is
    /// decompressed after authentication, to at most `max_decompressed` bytes.
    pub(crate) fn open(
        &self,
        key: &PayloadKey,
        edek_digest: &[u8; 32],
        binding: &Binding,
        max_decompressed: usize,
    ) -> Result<Vec<u8>> {
        let buf = self.decrypt(key, edek_digest, binding)?;
        if self.algorithm() == ALG_AES_256_GCM {
            return Ok(buf);
        }
        // The compressed form is plaintext too: wiped once expanded.
        let compressed = Zeroizing::new(buf);
        compression::decompress(self.algorithm(), &compressed, max_decompressed)
    }

    fn decrypt(
        &self,
        key: &PayloadKey,
        edek_digest: &[u8; 32],
        binding: &Binding,
    ) -> Result<Vec<u8>> {
        let mut buf = self.ciphertext.to_vec();
        if self.version() == ENVELOPE_VERSION_1 {
            let mut aad = [0u8; AAD_V1_LEN];
            aad[..HEADER_LEN].copy_from_slice(self.header);
            aad[HEADER_LEN..].copy_from_slice(edek_digest);
            key.open_in_place(self.nonce(), &aad, &mut buf, self.tag)?;
        } else {
            let aad = aad(self.header, edek_digest, binding);
            key.open_in_place(self.nonce(), &aad, &mut buf, self.tag)?;
        }
        Ok(buf)
    }
}

impl<'a> TryFrom<&'a [u8]> for EnvelopeRef<'a> {
    type Error = Error;
    fn try_from(value: &'a [u8]) -> Result<Self> {
        EnvelopeRef::parse(value)
    }
}

fn aad(header: &[u8; HEADER_LEN], edek_digest: &[u8; 32], binding: &Binding) -> [u8; AAD_LEN] {
    let mut aad = [0u8; AAD_LEN];
    aad[..HEADER_LEN].copy_from_slice(header);
    aad[HEADER_LEN..HEADER_LEN + 32].copy_from_slice(edek_digest);
    aad[HEADER_LEN + 32..HEADER_LEN + 64].copy_from_slice(&binding.key_digest);
    aad[HEADER_LEN + 64..].copy_from_slice(&binding.sig_digest);
    aad
}

/// Seals `payload` into a new value, compressed first when `compressor` makes it smaller.
pub(crate) fn seal(
    key: &PayloadKey,
    edek_digest: &[u8; 32],
    binding: &Binding,
    nonce: &[u8; NONCE_LEN],
    compressor: &Compressor,
    payload: &[u8],
) -> Vec<u8> {
    match compressor.compress(payload) {
        Some((alg, body)) => seal_body(key, edek_digest, binding, nonce, alg, &body),
        None => seal_body(key, edek_digest, binding, nonce, ALG_AES_256_GCM, payload),
    }
}

fn seal_body(
    key: &PayloadKey,
    edek_digest: &[u8; 32],
    binding: &Binding,
    nonce: &[u8; NONCE_LEN],
    alg: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    header[..2].copy_from_slice(&MAGIC);
    header[2] = ENVELOPE_VERSION;
    header[3] = alg;
    header[4..4 + SESSION_ID_LEN]
        .copy_from_slice(SessionId::of_edek_digest(edek_digest).as_bytes());
    header[4 + SESSION_ID_LEN..].copy_from_slice(nonce);

    let mut out = Vec::with_capacity(OVERHEAD + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    let tag = key.seal_in_place(
        nonce,
        &aad(&header, edek_digest, binding),
        &mut out[HEADER_LEN..],
    );
    out.extend_from_slice(&tag);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::Compression;
    use crate::dek::Dek;

    fn key() -> PayloadKey {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        PayloadKey::new(&Dek::random(&mut rng))
    }

    const MAX: usize = crate::compression::DEFAULT_MAX_DECOMPRESSED_LEN;

    fn plain() -> Compressor {
        Compressor::new(Compression::None).unwrap()
    }

    const B: Binding = Binding {
        key_digest: [4; 32],
        sig_digest: [5; 32],
    };

    #[test]
    fn seal_then_open() {
        let k = key();
        let value = seal(&k, &[9; 32], &B, &[1; 12], &plain(), b"payload");
        assert_eq!(value.len(), OVERHEAD + 7);
        let parsed = EnvelopeRef::parse(&value).unwrap();
        assert_eq!(parsed.session_id(), SessionId([9; 16]));
        assert_eq!(parsed.counter(), 0x0101_0101_0101_0101);
        assert_eq!(parsed.open(&k, &[9; 32], &B, MAX).unwrap(), b"payload");
    }

    #[test]
    fn other_edek_digest_key_or_signature_fails() {
        let k = key();
        let value = seal(&k, &[9; 32], &B, &[1; 12], &plain(), b"payload");
        let mut other = [9; 32];
        other[31] = 0;
        let parsed = EnvelopeRef::parse(&value).unwrap();
        assert_eq!(
            parsed.open(&k, &other, &B, MAX),
            Err(Error::AuthenticationFailed)
        );
        let moved = Binding {
            key_digest: [6; 32],
            ..B
        };
        assert_eq!(
            parsed.open(&k, &[9; 32], &moved, MAX),
            Err(Error::AuthenticationFailed)
        );
        let resigned = Binding {
            sig_digest: [0; 32],
            ..B
        };
        assert_eq!(
            parsed.open(&k, &[9; 32], &resigned, MAX),
            Err(Error::AuthenticationFailed)
        );
    }

    const LOG: &[u8] = b"2026-11-26T02:47:00Z INFO request served path=/orders status=200 \
        2026-11-26T02:47:01Z INFO request served path=/orders status=200 \
        2026-11-26T02:47:02Z INFO request served path=/orders status=404";

    #[test]
    fn compressible_payloads_are_sealed_compressed_under_their_algorithm_byte() {
        let k = key();
        let lz4 = Compressor::new(Compression::Lz4).unwrap();
        let value = seal(&k, &[9; 32], &B, &[1; 12], &lz4, LOG);
        assert!(value.len() < OVERHEAD + LOG.len());
        let parsed = EnvelopeRef::parse(&value).unwrap();
        assert_eq!(parsed.algorithm(), ALG_LZ4_AES_256_GCM);
        assert_eq!(parsed.algorithm_name(), "lz4, AES-256-GCM");
        assert_eq!(parsed.open(&k, &[9; 32], &B, MAX).unwrap(), LOG);
        // Bounded below the payload's size: refused, after authentication.
        assert!(matches!(
            parsed.open(&k, &[9; 32], &B, LOG.len() - 1),
            Err(Error::DecompressionFailed(_))
        ));
        // A payload compression does not shrink is sealed as it is.
        let value = seal(&k, &[9; 32], &B, &[1; 12], &lz4, b"payload");
        assert_eq!(value[3], ALG_AES_256_GCM);
        assert_eq!(value.len(), OVERHEAD + 7);
    }

    #[test]
    fn the_algorithm_byte_is_authenticated() {
        let k = key();
        let lz4 = Compressor::new(Compression::Lz4).unwrap();
        for original in [
            seal(&k, &[9; 32], &B, &[1; 12], &lz4, LOG),
            seal(&k, &[9; 32], &B, &[1; 12], &plain(), LOG),
        ] {
            for alg in [ALG_AES_256_GCM, ALG_LZ4_AES_256_GCM, ALG_ZSTD_AES_256_GCM] {
                if alg == original[3] || !compression::known_algorithm(alg) {
                    continue;
                }
                let mut moved = original.clone();
                moved[3] = alg;
                let parsed = EnvelopeRef::parse(&moved).unwrap();
                assert_eq!(
                    parsed.open(&k, &[9; 32], &B, MAX),
                    Err(Error::AuthenticationFailed)
                );
            }
        }
    }

    /// A build without zstd (no `std`) does not know algorithm 3: refused when parsed, before
    /// any decryption, like any unknown id.
    #[test]
    fn zstd_envelopes_parse_only_where_zstd_is_built() {
        let mut value = [0u8; OVERHEAD];
        value[..4].copy_from_slice(b"RW\x02\x03");
        let parsed = EnvelopeRef::parse(&value);
        if cfg!(feature = "std") {
            assert_eq!(parsed.unwrap().algorithm(), ALG_ZSTD_AES_256_GCM);
        } else {
            assert_eq!(
                parsed.unwrap_err(),
                Error::UnsupportedVersion(Object::Envelope, ALG_ZSTD_AES_256_GCM)
            );
        }
    }

    #[test]
    fn framing_errors_are_named() {
        assert_eq!(EnvelopeRef::parse(b"").unwrap_err(), Error::ForeignRecord);
        assert_eq!(
            EnvelopeRef::parse(b"{\"json\":1}").unwrap_err(),
            Error::ForeignRecord
        );
        assert_eq!(
            EnvelopeRef::parse(b"RW").unwrap_err(),
            Error::Truncated(Object::Envelope)
        );
        assert_eq!(
            EnvelopeRef::parse(b"RW\x07\x01").unwrap_err(),
            Error::UnsupportedVersion(Object::Envelope, 7)
        );
        assert_eq!(
            EnvelopeRef::parse(b"RW\x02\x04").unwrap_err(),
            Error::UnsupportedVersion(Object::Envelope, 4)
        );
        assert_eq!(
            EnvelopeRef::parse(b"RW\x02\x01short").unwrap_err(),
            Error::Truncated(Object::Envelope)
        );
    }
}
