//! The record-batch compression codecs a broker may hand back in a Fetch response.
//!
//! Batches are recompressed with the codec (and, for Snappy, the framing) they arrived in, so a
//! consumer sees the same codec the producer or topic chose.

use std::io::{Read, Write};

/// Codec ids from the batch attributes' low three bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// No compression.
    None,
    /// gzip (RFC 1952).
    Gzip,
    /// Snappy, raw or in the xerial framing Java producers write.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Codec {
    /// The codec named by batch attributes; `None` for an id Kafka does not define.
    pub fn from_attributes(attributes: i16) -> Option<Codec> {
        Some(match attributes & 0x07 {
            0 => Codec::None,
            1 => Codec::Gzip,
            2 => Codec::Snappy,
            3 => Codec::Lz4,
            4 => Codec::Zstd,
            _ => return None,
        })
    }
}

/// Why a batch's records could not be (de)compressed.
#[derive(Debug)]
pub struct CodecError {
    /// The codec in use.
    pub codec: Codec,
    /// What failed.
    pub detail: String,
    /// The data decompresses to more than the limit asked for (not malformed, just too big).
    pub over_limit: bool,
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.codec, self.detail)
    }
}

impl std::error::Error for CodecError {}

fn err(codec: Codec, e: impl std::fmt::Display) -> CodecError {
    CodecError {
        codec,
        detail: e.to_string(),
        over_limit: false,
    }
}

fn too_big(codec: Codec, limit: usize) -> CodecError {
    CodecError {
        codec,
        detail: format!("decompressed batch exceeds {limit} bytes"),
        over_limit: true,
    }
}

/// xerial snappy-java stream header: magic, version 1, minimum compatible version 1.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;
/// Block size snappy-java uses when writing.
const XERIAL_BLOCK: usize = 32 * 1024;

/// How the input was framed, so the output can use the same framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The codec's standard framing.
    Standard,
    /// Snappy in xerial snappy-java framing.
    Xerial,
}

/// Upper bound on a decompressed batch, so a hostile ratio cannot exhaust memory. Kafka's own
/// fetch limit (`fetch.max.bytes`, `message.max.bytes`) is far below this.
pub const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

/// Decompresses `input` into `out` (cleared first), refusing more than `max` bytes (and never
/// more than [`MAX_DECOMPRESSED`]); returns the framing seen.
pub fn decompress(
    codec: Codec,
    input: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<Framing, CodecError> {
    out.clear();
    let max = max.min(MAX_DECOMPRESSED);
    let limit = max as u64 + 1;
    match codec {
        Codec::None => out.extend_from_slice(input),
        Codec::Gzip => {
            flate2::read::GzDecoder::new(input)
                .take(limit)
                .read_to_end(out)
                .map_err(|e| err(codec, e))?;
        }
        Codec::Snappy => {
            if input.len() >= XERIAL_HEADER_LEN && input.starts_with(XERIAL_MAGIC) {
                let mut rest = &input[XERIAL_HEADER_LEN..];
                while !rest.is_empty() {
                    if rest.len() < 4 {
                        return Err(err(codec, "truncated xerial block length"));
                    }
                    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                    let block = rest
                        .get(4..4 + len)
                        .ok_or_else(|| err(codec, "truncated xerial block"))?;
                    snappy_raw_append(block, out, max)?;
                    rest = &rest[4 + len..];
                }
                check_limit(codec, out, max)?;
                return Ok(Framing::Xerial);
            }
            snappy_raw_append(input, out, max)?;
        }
        Codec::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(input)
                .take(limit)
                .read_to_end(out)
                .map_err(|e| err(codec, e))?;
        }
        Codec::Zstd => {
            zstd::stream::read::Decoder::new(input)
                .map_err(|e| err(codec, e))?
                .take(limit)
                .read_to_end(out)
                .map_err(|e| err(codec, e))?;
        }
    }
    check_limit(codec, out, max)?;
    Ok(Framing::Standard)
}

fn check_limit(codec: Codec, out: &[u8], max: usize) -> Result<(), CodecError> {
    if out.len() > max {
        return Err(too_big(codec, max));
    }
    Ok(())
}

fn snappy_raw_append(block: &[u8], out: &mut Vec<u8>, max: usize) -> Result<(), CodecError> {
    let len = snap::raw::decompress_len(block).map_err(|e| err(Codec::Snappy, e))?;
    if out.len() + len > max {
        return Err(too_big(Codec::Snappy, max));
    }
    let start = out.len();
    out.resize(start + len, 0);
    snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| err(Codec::Snappy, e))?;
    Ok(())
}

/// Compresses `input`, appending to `out`.
pub fn compress(
    codec: Codec,
    framing: Framing,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match codec {
        Codec::None => out.extend_from_slice(input),
        Codec::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            encoder.write_all(input).map_err(|e| err(codec, e))?;
            encoder.finish().map_err(|e| err(codec, e))?;
        }
        Codec::Snappy => match framing {
            Framing::Xerial => {
                out.extend_from_slice(XERIAL_MAGIC);
                out.extend_from_slice(&1u32.to_be_bytes());
                out.extend_from_slice(&1u32.to_be_bytes());
                let mut encoder = snap::raw::Encoder::new();
                for chunk in input.chunks(XERIAL_BLOCK) {
                    let block = encoder.compress_vec(chunk).map_err(|e| err(codec, e))?;
                    out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                    out.extend_from_slice(&block);
                }
            }
            Framing::Standard => {
                let block = snap::raw::Encoder::new()
                    .compress_vec(input)
                    .map_err(|e| err(codec, e))?;
                out.extend_from_slice(&block);
            }
        },
        Codec::Lz4 => {
            // Kafka's Java reader wants independent blocks and no content size.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_mode(lz4_flex::frame::BlockMode::Independent)
                .block_size(lz4_flex::frame::BlockSize::Max64KB);
            let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
            encoder.write_all(input).map_err(|e| err(codec, e))?;
            encoder.finish().map_err(|e| err(codec, e))?;
        }
        Codec::Zstd => {
            let mut encoder =
                zstd::stream::write::Encoder::new(out, 3).map_err(|e| err(codec, e))?;
            encoder.write_all(input).map_err(|e| err(codec, e))?;
            encoder.finish().map_err(|e| err(codec, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Codec; 5] = [
        Codec::None,
        Codec::Gzip,
        Codec::Snappy,
        Codec::Lz4,
        Codec::Zstd,
    ];

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn round_trip_every_codec_and_framing() {
        let input = sample();
        for codec in ALL {
            for framing in [Framing::Standard, Framing::Xerial] {
                let mut packed = Vec::new();
                compress(codec, framing, &input, &mut packed).unwrap();
                let mut back = Vec::new();
                let seen = decompress(codec, &packed, &mut back, MAX_DECOMPRESSED).unwrap();
                assert_eq!(back, input, "{codec:?} {framing:?}");
                let expect = if codec == Codec::Snappy {
                    framing
                } else {
                    Framing::Standard
                };
                assert_eq!(seen, expect, "{codec:?}");
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in ALL.into_iter().skip(1) {
            let mut out = Vec::new();
            assert!(decompress(
                codec,
                b"\x82SNAPPY\x00\0\0\0\x01\0\0\0\x01\xff",
                &mut out,
                1 << 20
            )
            .is_err());
            assert!(
                decompress(codec, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3], &mut out, 1 << 20).is_err()
            );
        }
    }

    #[test]
    fn the_limit_is_a_named_refusal_for_every_codec() {
        let input = sample();
        for codec in ALL.into_iter().skip(1) {
            let mut packed = Vec::new();
            compress(codec, Framing::Standard, &input, &mut packed).unwrap();
            let mut out = Vec::new();
            let e = decompress(codec, &packed, &mut out, input.len() - 1).unwrap_err();
            assert!(e.over_limit, "{codec:?}");
            assert!(decompress(codec, &packed, &mut out, input.len()).is_ok());
        }
    }

    #[test]
    fn unknown_codec_ids() {
        assert_eq!(Codec::from_attributes(0x13), Some(Codec::Lz4));
        assert_eq!(Codec::from_attributes(5), None);
        assert_eq!(Codec::from_attributes(7), None);
    }
}
