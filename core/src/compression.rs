//! Optional compression inside the envelope: compress, then seal. A sealed payload is
//! incompressible, so the broker's topic codec cannot shrink it; a producer that wants smaller
//! records compresses before the AEAD, and the algorithm byte (authenticated in the AAD) says so.
//!
//! Crates: `lz4_flex` (pure Rust, `no_std` with its safe block encoder and decoder) rather than
//! `lz4` (C, needs std and a C toolchain), so lz4 works in every build; `zstd` (C libzstd, the
//! reference implementation and already in the workspace for the proxy's Kafka codecs) rather
//! than `ruzstd` (pure Rust, but its encoder is young and slower at equal ratio), so zstd needs
//! the `std` feature and a `no_std` reader refuses a zstd envelope as an unknown algorithm.
//!
//! Decompression is bounded: the declared size (lz4's size prefix, zstd's frame content size)
//! is checked against the reader's limit before anything is allocated, and the decoder writes
//! into a buffer of exactly that size, so a small stream cannot expand past the limit.

use alloc::vec;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::error::{DecompressFailure, Error, Result};

/// Algorithm id: AES-256-GCM over the payload as given.
pub const ALG_AES_256_GCM: u8 = 1;
/// Algorithm id: lz4 block (little-endian u32 size prefix, `lz4_flex`), then AES-256-GCM.
pub const ALG_LZ4_AES_256_GCM: u8 = 2;
/// Algorithm id: one zstd frame with its content size, then AES-256-GCM (`std` builds only).
pub const ALG_ZSTD_AES_256_GCM: u8 = 3;

/// Largest payload a reader decompresses by default: 8 MiB, eight times Kafka's default
/// `message.max.bytes` (1 MiB), so a record of the largest default size still opens at a
/// compression ratio of 8 (typical for JSON and logs), while one hostile record can make a
/// reader allocate no more than a client's fetch buffers already may.
pub const DEFAULT_MAX_DECOMPRESSED_LEN: usize = 8 << 20;

/// zstd's default compression level.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// How an encryptor compresses payloads before sealing them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// Seal payloads as given (algorithm 1). The default.
    #[default]
    None,
    /// lz4 block compression (algorithm 2): fast, modest ratio; in every build.
    Lz4,
    /// zstd at `level` (1..=22; 3 is zstd's default) (algorithm 3): better ratio, slower;
    /// needs the `std` feature.
    Zstd {
        /// zstd compression level, 1..=22.
        level: i32,
    },
}

impl Compression {
    /// The setting called `codec` ("none", "lz4" or "zstd"), with the zstd `level` (0: zstd's
    /// default, 3; ignored by the other codecs): how the bindings and the CLI name it.
    pub fn from_name(codec: &str, level: i32) -> Result<Self> {
        let setting = match codec {
            "none" => Compression::None,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd {
                level: if level == 0 {
                    DEFAULT_ZSTD_LEVEL
                } else {
                    level
                },
            },
            _ => return Err(Error::InvalidArgument("codec must be none, lz4 or zstd")),
        };
        setting.check()?;
        Ok(setting)
    }

    /// The codec's name, as `from_name` reads it.
    pub fn name(&self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Zstd { .. } => "zstd",
        }
    }

    /// Refuses what this build cannot do: a zstd level outside 1..=22, or zstd without `std`.
    pub(crate) fn check(&self) -> Result<()> {
        match self {
            Compression::None | Compression::Lz4 => Ok(()),
            Compression::Zstd { level } if !(1..=22).contains(level) => {
                Err(Error::InvalidArgument("zstd level must be 1..=22"))
            }
            #[cfg(feature = "std")]
            Compression::Zstd { .. } => Ok(()),
            #[cfg(not(feature = "std"))]
            Compression::Zstd { .. } => Err(Error::InvalidArgument(
                "zstd compression needs rewrap-core's std feature",
            )),
        }
    }
}

/// Whether this build can open envelopes with algorithm `alg`.
pub(crate) fn known_algorithm(alg: u8) -> bool {
    matches!(alg, ALG_AES_256_GCM | ALG_LZ4_AES_256_GCM)
        || (alg == ALG_ZSTD_AES_256_GCM && cfg!(feature = "std"))
}

/// A producer's compressor setting. Sealing happens outside the encryptor's lock (each
/// reservation carries a copy), so zstd's context, reused across records because creating one
/// per record would cost more than compressing a small record, is one per thread.
#[derive(Clone, Copy)]
pub(crate) struct Compressor {
    setting: Compression,
}

impl Compressor {
    pub(crate) fn new(setting: Compression) -> Result<Self> {
        setting.check()?;
        Ok(Compressor { setting })
    }

    pub(crate) fn setting(&self) -> Compression {
        self.setting
    }

    /// The algorithm id and body to seal for `payload`: compressed only when that is smaller
    /// than the payload, and never above the default decompression bound (so a reader with the
    /// default bound opens whatever a writer seals). `None`: seal the payload as it is.
    pub(crate) fn compress(&self, payload: &[u8]) -> Option<(u8, Zeroizing<Vec<u8>>)> {
        if payload.is_empty() || payload.len() > DEFAULT_MAX_DECOMPRESSED_LEN {
            return None;
        }
        let (alg, body) = match self.setting {
            Compression::None => return None,
            Compression::Lz4 => (ALG_LZ4_AES_256_GCM, lz4_compress(payload)?),
            #[cfg(feature = "std")]
            Compression::Zstd { level } => (ALG_ZSTD_AES_256_GCM, self.zstd(level, payload)?),
            #[cfg(not(feature = "std"))]
            Compression::Zstd { .. } => return None, // refused by `check`
        };
        (body.len() < payload.len()).then_some((alg, body))
    }

    #[cfg(feature = "std")]
    fn zstd(&self, level: i32, payload: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        CCTX.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.as_ref().is_none_or(|(l, _)| *l != level) {
                *cell = Some((level, zstd::bulk::Compressor::new(level).ok()?));
            }
            let (_, ctx) = cell.as_mut()?;
            Self::zstd_with(ctx, payload)
        })
    }

    #[cfg(feature = "std")]
    fn zstd_with(
        ctx: &mut zstd::bulk::Compressor<'static>,
        payload: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        // Room for zstd's worst case, so it writes straight into `out`: with less it compresses
        // into its own buffer and copies out (and would fail only then, saving nothing).
        // `compress` keeps the result only if it is smaller than the payload.
        let bound = zstd::zstd_safe::compress_bound(payload.len());
        let mut out = Zeroizing::new(Vec::with_capacity(bound));
        ctx.compress_to_buffer(payload, &mut *out).ok()?;
        Some(out)
    }
}

fn lz4_compress(payload: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let size = u32::try_from(payload.len()).ok()?;
    let bound = lz4_flex::block::get_maximum_output_size(payload.len());
    let mut out = Zeroizing::new(vec![0u8; 4 + bound]);
    out[..4].copy_from_slice(&size.to_le_bytes());
    let n = lz4_flex::block::compress_into(payload, &mut out[4..]).ok()?;
    out.truncate(4 + n);
    Some(out)
}

/// Decompresses an opened body of algorithm `alg` (2 or 3), allocating at most `max` bytes.
pub(crate) fn decompress(alg: u8, body: &[u8], max: usize) -> Result<Vec<u8>> {
    let mut out = match alg {
        ALG_LZ4_AES_256_GCM => lz4_decompress(body, max)?,
        #[cfg(feature = "std")]
        ALG_ZSTD_AES_256_GCM => zstd_decompress(body, max)?,
        // `EnvelopeRef::parse` admits only known algorithms.
        _ => {
            return Err(Error::UnsupportedVersion(
                crate::error::Object::Envelope,
                alg,
            ))
        }
    };
    Ok(core::mem::take(&mut *out))
}

fn declared(len: u64, max: usize) -> Result<usize> {
    match usize::try_from(len) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(Error::DecompressionFailed(DecompressFailure::TooLarge {
            declared: len,
            limit: max as u64,
        })),
    }
}

const CORRUPT: Error = Error::DecompressionFailed(DecompressFailure::Corrupt);

fn lz4_decompress(body: &[u8], max: usize) -> Result<Zeroizing<Vec<u8>>> {
    let (size, stream) = lz4_flex::block::uncompressed_size(body).map_err(|_| CORRUPT)?;
    let size = declared(size as u64, max)?;
    let mut out = Zeroizing::new(vec![0u8; size]);
    match lz4_flex::block::decompress_into(stream, &mut out) {
        Ok(n) if n == size => Ok(out),
        _ => Err(CORRUPT),
    }
}

/// zstd's frame magic number, little-endian on the wire.
#[cfg(feature = "std")]
const ZSTD_MAGIC: [u8; 4] = 0xFD2F_B528u32.to_le_bytes();

#[cfg(feature = "std")]
fn zstd_decompress(body: &[u8], max: usize) -> Result<Zeroizing<Vec<u8>>> {
    use zstd::zstd_safe;
    // Exactly one standard frame that records its content size: what our writers make. This
    // refuses skippable and legacy frames and concatenations before any decoding.
    if !body.starts_with(&ZSTD_MAGIC) {
        return Err(CORRUPT);
    }
    let size = match zstd_safe::get_frame_content_size(body) {
        Ok(Some(n)) => declared(n, max)?,
        _ => return Err(CORRUPT),
    };
    if zstd_safe::find_frame_compressed_size(body) != Ok(body.len()) {
        return Err(CORRUPT);
    }
    let mut out = Zeroizing::new(vec![0u8; size]);
    // Single-shot decoding into `out` needs no window buffer: nothing is allocated past it.
    let written = DCTX.with(|ctx| ctx.borrow_mut().decompress(&mut out[..], body));
    match written {
        Ok(n) if n == size => Ok(out),
        _ => Err(CORRUPT),
    }
}

#[cfg(feature = "std")]
std::thread_local! {
    /// One compression context per thread and its level, reused (see `Compressor`).
    static CCTX: core::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { core::cell::RefCell::new(None) };
    /// One decompression context per thread, reused: creating one costs more than opening a
    /// small record.
    static DCTX: core::cell::RefCell<zstd::zstd_safe::DCtx<'static>> =
        core::cell::RefCell::new(zstd::zstd_safe::DCtx::create());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            out.extend_from_slice(
                alloc::format!("{{\"id\":{i},\"user\":\"user-{}\",\"ok\":true}}\n", i % 7)
                    .as_bytes(),
            );
        }
        out
    }

    fn settings() -> Vec<Compression> {
        let mut all = vec![Compression::Lz4];
        if cfg!(feature = "std") {
            all.push(Compression::Zstd { level: 3 });
        }
        all
    }

    #[test]
    fn compressible_payloads_shrink_and_come_back() {
        for setting in settings() {
            let payload = json(40);
            let c = Compressor::new(setting).unwrap();
            let (alg, body) = c.compress(&payload).unwrap();
            assert!(body.len() < payload.len() / 2, "{setting:?}");
            assert_eq!(decompress(alg, &body, payload.len()).unwrap(), payload);
        }
    }

    #[test]
    fn incompressible_and_empty_payloads_are_not_compressed() {
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        let mut noise = vec![0u8; 1024];
        rand_chacha::ChaCha20Rng::seed_from_u64(8).fill_bytes(&mut noise);
        for setting in settings() {
            let c = Compressor::new(setting).unwrap();
            assert!(c.compress(&noise).is_none(), "{setting:?}");
            assert!(c.compress(b"").is_none());
            assert!(c.compress(b"ab").is_none());
        }
        assert!(Compressor::new(Compression::None)
            .unwrap()
            .compress(&json(40))
            .is_none());
    }

    #[test]
    fn a_declared_size_past_the_bound_is_refused_before_allocating() {
        for setting in settings() {
            let payload = json(400);
            let (alg, body) = Compressor::new(setting)
                .unwrap()
                .compress(&payload)
                .unwrap();
            assert_eq!(
                decompress(alg, &body, payload.len() - 1),
                Err(Error::DecompressionFailed(DecompressFailure::TooLarge {
                    declared: payload.len() as u64,
                    limit: payload.len() as u64 - 1,
                }))
            );
        }
        // An lz4 body claiming 4 GiB: refused from its 4-byte prefix.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x10, b'a'];
        assert!(matches!(
            decompress(ALG_LZ4_AES_256_GCM, &bomb, DEFAULT_MAX_DECOMPRESSED_LEN),
            Err(Error::DecompressionFailed(
                DecompressFailure::TooLarge { .. }
            ))
        ));
    }

    #[test]
    fn a_stream_expanding_past_its_declared_size_is_corrupt_not_a_larger_buffer() {
        // lz4: a prefix of 16 bytes over a stream that expands to 1,000.
        let mut lying = 16u32.to_le_bytes().to_vec();
        lying.extend_from_slice(&lz4_flex::block::compress(&[7u8; 1000]));
        assert_eq!(
            decompress(ALG_LZ4_AES_256_GCM, &lying, 1 << 20),
            Err(CORRUPT)
        );
        // And one that expands to less than it declares.
        let mut short = 2000u32.to_le_bytes().to_vec();
        short.extend_from_slice(&lz4_flex::block::compress(&[7u8; 1000]));
        assert_eq!(
            decompress(ALG_LZ4_AES_256_GCM, &short, 1 << 20),
            Err(CORRUPT)
        );
    }

    #[test]
    fn truncated_or_corrupt_streams_are_typed_errors() {
        for setting in settings() {
            let payload = json(40);
            let (alg, body) = Compressor::new(setting)
                .unwrap()
                .compress(&payload)
                .unwrap();
            for cut in [0, 1, 3, 4, 5, body.len() / 2, body.len() - 1] {
                assert!(
                    matches!(
                        decompress(alg, &body[..cut], 1 << 20),
                        Err(Error::DecompressionFailed(_))
                    ),
                    "{setting:?} cut at {cut}"
                );
            }
            for at in 0..body.len() {
                let mut bad = body.to_vec();
                bad[at] ^= 0x5a;
                // Never a panic; either an error or (a flipped literal) other bytes.
                if let Ok(out) = decompress(alg, &bad, 1 << 20) {
                    assert!(out.len() <= 1 << 20);
                }
            }
            let mut trailing = body.to_vec();
            trailing.push(0);
            if alg == ALG_ZSTD_AES_256_GCM {
                assert_eq!(decompress(alg, &trailing, 1 << 20), Err(CORRUPT));
            }
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn zstd_frames_without_content_size_or_of_another_kind_are_refused() {
        // A streaming frame records no content size.
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        std::io::Write::write_all(&mut enc, &json(40)).unwrap();
        let streamed = enc.finish().unwrap();
        assert!(matches!(
            zstd::zstd_safe::get_frame_content_size(&streamed),
            Ok(None)
        ));
        assert_eq!(
            decompress(ALG_ZSTD_AES_256_GCM, &streamed, 1 << 20),
            Err(CORRUPT)
        );
        // A skippable frame.
        let skippable = [0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0];
        assert_eq!(
            decompress(ALG_ZSTD_AES_256_GCM, &skippable, 1 << 20),
            Err(CORRUPT)
        );
        // A frame declaring far more than the bound.
        let big = zstd::bulk::compress(&vec![0u8; 9 << 20], 3).unwrap();
        assert!(big.len() < 2048);
        assert!(matches!(
            decompress(ALG_ZSTD_AES_256_GCM, &big, DEFAULT_MAX_DECOMPRESSED_LEN),
            Err(Error::DecompressionFailed(
                DecompressFailure::TooLarge { .. }
            ))
        ));
    }

    #[test]
    fn names_round_trip() {
        for setting in settings().into_iter().chain([Compression::None]) {
            let level = match setting {
                Compression::Zstd { level } => level,
                _ => 0,
            };
            assert_eq!(Compression::from_name(setting.name(), level), Ok(setting));
        }
        assert!(Compression::from_name("gzip", 0).is_err());
        if cfg!(feature = "std") {
            assert_eq!(
                Compression::from_name("zstd", 0),
                Ok(Compression::Zstd { level: 3 })
            );
        }
    }

    #[test]
    fn levels_and_builds_are_checked() {
        assert!(Compressor::new(Compression::Zstd { level: 0 }).is_err());
        assert!(Compressor::new(Compression::Zstd { level: 23 }).is_err());
        assert_eq!(
            Compressor::new(Compression::Zstd { level: 3 }).is_ok(),
            cfg!(feature = "std")
        );
        assert_eq!(known_algorithm(ALG_ZSTD_AES_256_GCM), cfg!(feature = "std"));
        assert!(!known_algorithm(4) && !known_algorithm(0));
    }
}
