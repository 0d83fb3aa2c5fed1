//! The record-batch compression codecs a broker may hand back in a Fetch response.
//!
//! Batches are recompressed with the codec (and, for Snappy, the framing) they arrived in, so a
//! consumer sees the same codec the producer or topic chose.

use std::cell::RefCell;
use std::io::{Read, Write};

/// zstd level of re-encoded batches. Their values are AES-GCM ciphertext, which no level
/// compresses; what compresses is the repeated EDEK and cfrag headers, which zstd's fast mode
/// still finds while skipping through the ciphertext. Against level 1 (`benches/rewrite.rs`,
/// one run): the 1 KiB rewrite 2.1x faster, batches 0.2 % smaller at 1 KiB and 10 KiB and
/// 5 % larger at 100 B.
const ZSTD_LEVEL: i32 = -7;

thread_local! {
    // zstd contexts are reused by the thread that made them: creating one per batch (a fresh
    // context sizes and clears its match tables) was most of the zstd rewrite's cost.
    static ZSTD_COMPRESS: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
    static ZSTD_DECOMPRESS: RefCell<Option<zstd::zstd_safe::DCtx<'static>>> =
        const { RefCell::new(None) };
}

/// Codec ids from the batch attributes' low three bits (the discriminants are the ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// No compression.
    None = 0,
    /// gzip (RFC 1952).
    Gzip = 1,
    /// Snappy, raw or in the xerial framing Java producers write.
    Snappy = 2,
    /// LZ4 frame format.
    Lz4 = 3,
    /// Zstandard.
    Zstd = 4,
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
            // Every member, as the broker and the Java client read them: a later member the
            // proxy skipped could carry headers it never saw.
            flate2::read::MultiGzDecoder::new(input)
                .take(limit)
                .read_to_end(out)
                .map_err(|e| err(codec, e))?;
        }
        Codec::Snappy => {
            if input.len() >= XERIAL_HEADER_LEN && input.starts_with(XERIAL_MAGIC) {
                let mut rest = &input[XERIAL_HEADER_LEN..];
                while !rest.is_empty() {
                    // snappy-java reads concatenated streams: a header where a block length
                    // would be (no block is 2 GiB long) starts the next one.
                    if rest.starts_with(XERIAL_MAGIC) && rest.len() >= XERIAL_HEADER_LEN {
                        rest = &rest[XERIAL_HEADER_LEN..];
                        continue;
                    }
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
        Codec::Lz4 => lz4_frames_decompress(input, out, max)?,
        Codec::Zstd => ZSTD_DECOMPRESS.with(|cell| {
            let mut cell = cell.borrow_mut();
            let context = match cell.as_mut() {
                Some(context) => context,
                None => cell.insert(
                    zstd::zstd_safe::DCtx::try_create()
                        .ok_or_else(|| err(codec, "cannot create a zstd context"))?,
                ),
            };
            // A slice is already buffered: no BufReader (and its 128 KiB) per batch.
            let read = zstd::stream::read::Decoder::with_context(input, context)
                .take(limit)
                .read_to_end(out);
            read.map_err(|e| err(codec, e)).map(drop)
        })?,
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
            // Level 1: the values are ciphertext (see ZSTD_LEVEL); miniz's default 6 spent
            // 4x the CPU searching them for matches.
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
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
        Codec::Lz4 => lz4_frame_compress(input, out)?,
        Codec::Zstd => ZSTD_COMPRESS.with(|cell| {
            let mut cell = cell.borrow_mut();
            let compressor = match cell.as_mut() {
                Some(compressor) => compressor,
                None => {
                    cell.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(|e| err(codec, e))?)
                }
            };
            // One frame, written straight after what `out` holds; it records its content
            // size, which every Kafka reader accepts.
            out.reserve(zstd::zstd_safe::compress_bound(input.len()));
            let start = out.len();
            let mut at = std::io::Cursor::new(&mut *out);
            at.set_position(start as u64);
            compressor
                .compress_to_buffer(input, &mut at)
                .map_err(|e| err(codec, e))
                .map(drop)
        })?,
    }
    Ok(())
}

/// LZ4 frame magic number (little endian on the wire).
const LZ4_MAGIC: u32 = 0x184D_2204;
/// The frame header rewritten batches carry: magic; FLG 0x60 (version 1, independent blocks,
/// no checksums, no content size: what Kafka's Java reader wants); BD 0x40 (64 KiB blocks);
/// the header checksum of those two bytes.
const LZ4_HEADER: [u8; 7] = [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82];
const LZ4_BLOCK: usize = 64 * 1024;
/// A block size with this bit set is a block stored uncompressed.
const LZ4_RAW_BLOCK: u32 = 0x8000_0000;

/// One LZ4 frame of `input`, appended to `out`, compressed straight into it block by block
/// (lz4_flex's frame encoder copied every block twice, through its own buffers). A block that
/// does not shrink (ciphertext) is stored as it is.
fn lz4_frame_compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.extend_from_slice(&LZ4_HEADER);
    for block in input.chunks(LZ4_BLOCK) {
        let start = out.len();
        let bound = lz4_flex::block::get_maximum_output_size(block.len());
        out.resize(start + 4 + bound, 0);
        let n = lz4_flex::block::compress_into(block, &mut out[start + 4..])
            .map_err(|e| err(Codec::Lz4, e))?;
        if n < block.len() {
            out[start..start + 4].copy_from_slice(&(n as u32).to_le_bytes());
            out.truncate(start + 4 + n);
        } else {
            out.truncate(start);
            out.extend_from_slice(&(block.len() as u32 | LZ4_RAW_BLOCK).to_le_bytes());
            out.extend_from_slice(block);
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // end mark
    Ok(())
}

/// Bytes of an input that equal earlier bytes of it: `input[at..at + len]` is
/// `input[from..from + len]`, `from < at`. Only a hint: [`lz4_frame_from_repeats`] checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    /// Where the repeated bytes are.
    pub at: usize,
    /// How many.
    pub len: usize,
    /// Where they appeared before.
    pub from: usize,
}

/// Adds `repeat` to `repeats` (kept sorted and apart by the caller), joined to the last one
/// when it carries straight on from it at the same distance.
pub fn push_repeat(repeats: &mut Vec<Repeat>, repeat: Repeat) {
    if let Some(last) = repeats.last_mut() {
        if last.at + last.len == repeat.at
            && last.at.checked_sub(last.from) == repeat.at.checked_sub(repeat.from)
        {
            last.len += repeat.len;
            return;
        }
    }
    repeats.push(repeat);
}

/// LZ4's shortest match; the last 5 bytes of a block are literals and its last match starts
/// 12 bytes or more before its end (what the reference decoders rely on); a match reaches back
/// at most 65,535 bytes.
const LZ4_MIN_MATCH: usize = 4;
const LZ4_LAST_LITERALS: usize = 5;
const LZ4_MATCH_START_LIMIT: usize = 12;
const LZ4_MAX_OFFSET: usize = 65_535;

/// One LZ4 frame of `input` (the same header and 64 KiB independent blocks as [`compress`]
/// writes), appended to `out`, encoded from the `repeats` the caller knows of instead of
/// searched for: every byte is a literal except the repeats that lie within one block's
/// reach, which become matches. That costs a copy of the literals and a compare of each repeat
/// (only the stretches of it that hold, 4 bytes or more, become matches; the rest stays
/// literal) — against lz4_flex's hash search over every byte,
/// which found nothing more in a rewritten batch (ciphertext values, repeated headers) and was a
/// quarter of the proxy's CPU on LZ4 topics. `repeats` must be sorted by `at`.
pub fn lz4_frame_from_repeats(input: &[u8], repeats: &[Repeat], out: &mut Vec<u8>) {
    out.extend_from_slice(&LZ4_HEADER);
    let mut next = 0;
    for (index, block) in input.chunks(LZ4_BLOCK).enumerate() {
        let (block_start, block_end) = (index * LZ4_BLOCK, index * LZ4_BLOCK + block.len());
        let size_at = out.len();
        out.reserve(4 + block.len() + block.len() / 255 + 16);
        out.extend_from_slice(&[0; 4]);
        let mut literal = block_start; // first byte not written yet
        let match_end_limit = block_end.saturating_sub(LZ4_LAST_LITERALS);
        while let Some(r) = repeats.get(next) {
            if r.at >= block_end {
                break;
            }
            let r_end = r.at.saturating_add(r.len);
            // 0 (refused below) when `from` is not before `at`.
            let offset = r.at.saturating_sub(r.from);
            // Clipped to what is not written yet and to the block's end rules.
            let start = r.at.max(literal);
            let end = r_end.min(match_end_limit);
            if (1..=LZ4_MAX_OFFSET).contains(&offset) && start - offset >= block_start {
                // The stretches of it that hold become matches: a repeat is often several
                // headers joined (`push_repeat`), of which one may differ (a per-record
                // signature, a trace id) without the others ceasing to repeat. Most hold
                // whole: one compare. Else eight bytes at a time, skipping to just past the
                // last byte that differs in each eight (a run of equal bytes inside such
                // eight is lost: not worth a byte-by-byte scan an attacker could make of every
                // header).
                let mut at = start;
                let mut whole = end >= start + LZ4_MIN_MATCH
                    && input[start..end] == input[start - offset..end - offset];
                while at + LZ4_MIN_MATCH <= end && at + LZ4_MATCH_START_LIMIT <= block_end {
                    let (now, was) = (&input[at..end], &input[at - offset..end - offset]);
                    let same = if whole {
                        now.len()
                    } else {
                        common_prefix(now, was)
                    };
                    whole = false;
                    if same >= LZ4_MIN_MATCH {
                        lz4_sequence(out, &input[literal..at], Some((offset, same)));
                        literal = at + same;
                    }
                    at += same;
                    loop {
                        let skip = differing(&input[at..end], &input[at - offset..end - offset]);
                        at += skip;
                        if skip < 8 {
                            break; // the bytes after the last that differs are equal
                        }
                    }
                }
            }
            if r_end > block_end {
                break; // it goes on in the next block (which cannot reach back into this one)
            }
            next += 1;
        }
        lz4_sequence(out, &input[literal..block_end], None);
        let n = out.len() - size_at - 4;
        if n < block.len() {
            out[size_at..size_at + 4].copy_from_slice(&(n as u32).to_le_bytes());
        } else {
            out.truncate(size_at);
            out.extend_from_slice(&(block.len() as u32 | LZ4_RAW_BLOCK).to_le_bytes());
            out.extend_from_slice(block);
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // end mark
}

/// How many bytes `a` and `b` (of equal length) share from their start, compared eight at a
/// time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut at = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff =
            u64::from_le_bytes(x.try_into().unwrap()) ^ u64::from_le_bytes(y.try_into().unwrap());
        if diff != 0 {
            return at + diff.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    at + a[at..]
        .iter()
        .zip(&b[at..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How far past the last byte that differs among the first eight of `a` and `b` (of equal
/// length; 0 when none does).
fn differing(a: &[u8], b: &[u8]) -> usize {
    if let (Some(x), Some(y)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        let diff = u64::from_le_bytes(*x) ^ u64::from_le_bytes(*y);
        return 8 - diff.leading_zeros() as usize / 8;
    }
    a.iter()
        .zip(b)
        .rposition(|(x, y)| x != y)
        .map_or(0, |i| i + 1)
}

/// One LZ4 sequence: a token, the literals, and the match (distance back, length) unless it is
/// a block's last sequence.
fn lz4_sequence(out: &mut Vec<u8>, literals: &[u8], matched: Option<(usize, usize)>) {
    let extra = matched.map_or(0, |(_, len)| len - LZ4_MIN_MATCH);
    out.push(((literals.len().min(15) as u8) << 4) | extra.min(15) as u8);
    lz4_length(out, literals.len());
    out.extend_from_slice(literals);
    if let Some((offset, _)) = matched {
        out.extend_from_slice(&(offset as u16).to_le_bytes());
        lz4_length(out, extra);
    }
}

/// The bytes that carry on a token's length nibble of 15.
fn lz4_length(out: &mut Vec<u8>, len: usize) {
    if len >= 15 {
        let mut rest = len - 15;
        while rest >= 255 {
            out.push(255);
            rest -= 255;
        }
        out.push(rest as u8);
    }
}

/// Decompresses concatenated LZ4 frames (linked or independent blocks, with or without block
/// and content checksums, as librdkafka and the Java client write them) straight into `out`,
/// refusing more than `max` bytes. Checksums are skipped, not verified: the batch's CRC-32C
/// already covers these bytes, and xxHash32 over every block was a seventh of the lz4 rewrite's
/// CPU.
fn lz4_frames_decompress(input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<(), CodecError> {
    let mut input = Lz4Input(input);
    while !input.0.is_empty() {
        let magic = input.u32_le()?;
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            // A skippable frame: its length, then that many bytes.
            let len = input.u32_le()? as usize;
            input.take(len)?;
            continue;
        }
        if magic != LZ4_MAGIC {
            return Err(err(Codec::Lz4, "not an LZ4 frame"));
        }
        // A frame's linked blocks reach back only into this frame: its first block has no
        // dictionary (lz4_flex and the reference decoder start each frame afresh).
        let frame_start = out.len();
        let descriptor = input.take(2)?;
        let (flg, bd) = (descriptor[0], descriptor[1]);
        if flg >> 6 != 1 {
            return Err(err(Codec::Lz4, "unknown LZ4 frame version"));
        }
        if flg & 0x01 != 0 {
            return Err(err(Codec::Lz4, "LZ4 dictionary ids are not used by Kafka"));
        }
        let linked = flg & 0x20 == 0;
        let block_checksums = flg & 0x10 != 0;
        let content_checksum = flg & 0x04 != 0;
        if flg & 0x08 != 0 {
            input.take(8)?; // content size
        }
        input.take(1)?; // header checksum
        let block_max = match (bd >> 4) & 0x07 {
            4 => 64 << 10,
            5 => 256 << 10,
            6 => 1 << 20,
            7 => 4 << 20,
            _ => return Err(err(Codec::Lz4, "unknown LZ4 block size")),
        };
        loop {
            let size = input.u32_le()?;
            if size == 0 {
                break; // end mark
            }
            let len = (size & !LZ4_RAW_BLOCK) as usize;
            if len > block_max {
                return Err(err(Codec::Lz4, "LZ4 block larger than its frame allows"));
            }
            let data = input.take(len)?;
            if block_checksums {
                input.take(4)?;
            }
            let start = out.len();
            if size & LZ4_RAW_BLOCK != 0 {
                if start + len > max {
                    return Err(too_big(Codec::Lz4, max));
                }
                out.extend_from_slice(data);
                continue;
            }
            // Room for what the block can hold (LZ4 expands at most 255-fold: a frame of
            // many tiny blocks must not clear a 4 MiB block's room for each), or one byte past
            // the limit, so that a block crossing it is told apart below.
            let full = block_max.min(len.saturating_mul(255).saturating_add(64));
            let room = full.min(max + 1 - start);
            match lz4_block_into(out, frame_start, start, room, data, linked) {
                Ok(n) if start + n <= max => out.truncate(start + n),
                Ok(_) => return Err(too_big(Codec::Lz4, max)),
                Err(d) if room == full => return Err(err(Codec::Lz4, d)),
                // Cut short by the limit: too big if the block decodes in its full room,
                // malformed otherwise (what an unlimited read would have said).
                Err(d) => {
                    return Err(
                        match lz4_block_into(out, frame_start, start, full, data, linked) {
                            Ok(_) => too_big(Codec::Lz4, max),
                            Err(_) => err(Codec::Lz4, d),
                        },
                    )
                }
            }
        }
        if content_checksum {
            input.take(4)?;
        }
    }
    Ok(())
}

/// Decodes one LZ4 block into `out` at `start`, with `room` bytes for it; in a frame of linked
/// blocks the 64 KiB decoded before it (since `frame_start`) are its dictionary.
fn lz4_block_into(
    out: &mut Vec<u8>,
    frame_start: usize,
    start: usize,
    room: usize,
    data: &[u8],
    linked: bool,
) -> Result<usize, lz4_flex::block::DecompressError> {
    out.resize(start + room, 0);
    let (before, dst) = out.split_at_mut(start);
    if linked {
        let window = &before[frame_start.max(before.len().saturating_sub(64 << 10))..];
        lz4_flex::block::decompress_into_with_dict(data, dst, window)
    } else {
        lz4_flex::block::decompress_into(data, dst)
    }
}

/// The bytes of LZ4 frames not read yet.
struct Lz4Input<'a>(&'a [u8]);

impl<'a> Lz4Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.0.len() < n {
            return Err(err(Codec::Lz4, "LZ4 frame cut short"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u32_le(&mut self) -> Result<u32, CodecError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Deterministic incompressible bytes (xorshift64), standing in for ciphertext in tests.
#[cfg(test)]
pub(crate) struct Noise(pub u64);

#[cfg(test)]
impl Noise {
    pub fn byte(&mut self) -> u8 {
        let x = &mut self.0;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x as u8
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
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

    /// Concatenated gzip members, xerial streams and zstd frames decode whole, as the broker
    /// and the Java client read them (a later part the proxy skipped could hide headers).
    #[test]
    fn concatenated_streams_decode_whole() {
        let (first, second) = (b"first part ".repeat(50), b"second part".repeat(70));
        for (codec, framing) in [
            (Codec::Gzip, Framing::Standard),
            (Codec::Snappy, Framing::Xerial),
            (Codec::Zstd, Framing::Standard),
        ] {
            let mut packed = Vec::new();
            compress(codec, framing, &first, &mut packed).unwrap();
            compress(codec, framing, &second, &mut packed).unwrap();
            let mut back = Vec::new();
            decompress(codec, &packed, &mut back, MAX_DECOMPRESSED).unwrap();
            assert_eq!(back, [&first[..], &second[..]].concat(), "{codec:?}");
            // And the limit still counts both.
            let over = decompress(codec, &packed, &mut back, first.len() + 10).unwrap_err();
            assert!(over.over_limit, "{codec:?}: {over}");
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

    fn lz4_flex_frame(input: &[u8], info: lz4_flex::frame::FrameInfo) -> Vec<u8> {
        let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(input).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn lz4_reads_linked_checksummed_and_concatenated_frames() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameInfo};
        let input = sample();
        // librdkafka's defaults: linked blocks, content checksum; plus block checksums and a
        // content size, which other writers add.
        let info = FrameInfo::new()
            .block_mode(BlockMode::Linked)
            .block_size(BlockSize::Max256KB)
            .content_checksum(true)
            .block_checksums(true)
            .content_size(Some(input.len() as u64));
        let mut two = lz4_flex_frame(&input, info);
        two.extend(lz4_flex_frame(&input[..1000], FrameInfo::new()));
        let mut out = Vec::new();
        decompress(Codec::Lz4, &two, &mut out, MAX_DECOMPRESSED).unwrap();
        assert_eq!(out.len(), input.len() + 1000);
        assert_eq!(&out[..input.len()], &input[..]);
        assert_eq!(&out[input.len()..], &input[..1000]);
    }

    #[test]
    fn lz4_output_is_the_frame_lz4_flex_and_kafka_read() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameInfo};
        let info = FrameInfo::new()
            .block_mode(BlockMode::Independent)
            .block_size(BlockSize::Max64KB);
        // The same header lz4_flex writes for Kafka's settings (its checksum byte included).
        assert_eq!(&lz4_flex_frame(b"x", info)[..7], &LZ4_HEADER);
        let noise = Noise(0x2545_F491_4F6C_DD1D).bytes(150_000);
        for input in [sample(), noise.clone(), Vec::new()] {
            let mut packed = Vec::new();
            compress(Codec::Lz4, Framing::Standard, &input, &mut packed).unwrap();
            let mut back = Vec::new();
            lz4_flex::frame::FrameDecoder::new(&packed[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, input);
        }
        // Ciphertext-like blocks are stored, not expanded.
        let mut packed = Vec::new();
        compress(Codec::Lz4, Framing::Standard, &noise, &mut packed).unwrap();
        assert_eq!(packed.len(), 7 + 3 * 4 + noise.len() + 4);
    }

    #[test]
    fn lz4_tiny_blocks_in_a_large_block_frame_get_a_small_room() {
        // BD 0x70 (4 MiB blocks), 10,000 blocks of one literal byte each.
        let mut frame = vec![0x04, 0x22, 0x4D, 0x18, 0x60, 0x70, 0x00];
        for i in 0..10_000u32 {
            frame.extend_from_slice(&2u32.to_le_bytes());
            frame.extend_from_slice(&[0x10, i as u8]); // token: 1 literal, no match
        }
        frame.extend_from_slice(&0u32.to_le_bytes());
        let mut out = Vec::new();
        decompress(Codec::Lz4, &frame, &mut out, MAX_DECOMPRESSED).unwrap();
        assert_eq!(out.len(), 10_000);
        assert_eq!(out[257], 1);
        // Each block was given room for what two bytes can decode to, not 4 MiB.
        assert!(out.capacity() < 64 << 10, "capacity {}", out.capacity());
    }

    #[test]
    fn lz4_malformed_blocks_near_the_limit_are_malformed_not_too_big() {
        let input = sample();
        let mut packed = Vec::new();
        compress(Codec::Lz4, Framing::Standard, &input, &mut packed).unwrap();
        // The first block's data, damaged: an offset pointing before the output.
        let mut bad = packed.clone();
        for b in &mut bad[11..40] {
            *b = 0xff;
        }
        let mut out = Vec::new();
        for max in [10, LZ4_BLOCK - 1, MAX_DECOMPRESSED] {
            let e = decompress(Codec::Lz4, &bad, &mut out, max).unwrap_err();
            assert!(!e.over_limit, "max {max}: {e}");
        }
        // And a cut good frame is an error, never a panic: every cut through the frame header
        // and the last block, and every 7th in between (each cut re-decodes the blocks before
        // it; all of them took 70 s of the debug test run).
        let n = packed.len();
        for cut in (0..n).filter(|&c| c < 64 || c + 64 > n || c % 7 == 0) {
            let _ = decompress(Codec::Lz4, &packed[..cut], &mut out, MAX_DECOMPRESSED);
        }
    }

    #[test]
    fn unknown_codec_ids() {
        assert_eq!(Codec::from_attributes(0x13), Some(Codec::Lz4));
        assert_eq!(Codec::from_attributes(5), None);
        assert_eq!(Codec::from_attributes(7), None);
    }
}

/// Adversarial checks of the hand-written LZ4 frame reader and the reused zstd context,
/// against lz4_flex's own frame decoder as the reference.
#[cfg(test)]
mod attack_tests {
    use super::*;
    use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
    use proptest::prelude::*;

    fn flex_encode(input: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(input).unwrap();
        encoder.finish().unwrap()
    }

    fn flex_decode(frames: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        FrameDecoder::new(frames).read_to_end(&mut out).map(|_| out)
    }

    /// Whether lz4_flex refused only for a check this reader skips on purpose (checksums,
    /// a content size, reserved bits), not because the data does not decode.
    fn skipped_check(e: &std::io::Error) -> bool {
        use lz4_flex::frame::Error;
        matches!(
            e.get_ref().and_then(|e| e.downcast_ref::<Error>()),
            Some(
                Error::HeaderChecksumError
                    | Error::BlockChecksumError
                    | Error::ContentChecksumError
                    | Error::ContentLengthError { .. }
                    | Error::ReservedBitsSet
            )
        )
    }

    fn info(
        mode: u8,
        size: u8,
        block_sums: bool,
        content_sum: bool,
        sized: Option<u64>,
    ) -> FrameInfo {
        FrameInfo::new()
            .block_mode(if mode == 0 {
                BlockMode::Linked
            } else {
                BlockMode::Independent
            })
            .block_size(match size {
                0 => BlockSize::Max64KB,
                1 => BlockSize::Max256KB,
                2 => BlockSize::Max1MB,
                _ => BlockSize::Max4MB,
            })
            .block_checksums(block_sums)
            .content_checksum(content_sum)
            .content_size(sized)
    }

    /// Data that compresses (runs, repeats from far back) mixed with data that does not.
    fn data() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                (any::<u8>(), 1usize..70_000).prop_map(|(b, n)| vec![b; n]),
                prop::collection::vec(any::<u8>(), 0..3000),
                (0u8..4, 1usize..40).prop_map(|(k, n)| b"rewrap.cfrag rewrap.edek "
                    .repeat(n)
                    .into_iter()
                    .map(|b| b.wrapping_add(k))
                    .collect()),
            ],
            0..6,
        )
        .prop_map(|parts| {
            let mut v: Vec<u8> = parts.concat();
            // Repeat an early part far back, so linked blocks use their dictionary.
            if v.len() > 10 {
                let head = v[..v.len().min(5000)].to_vec();
                v.extend_from_slice(&head);
            }
            v
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Valid frames (every block mode, size and checksum flag; concatenated, with skippable
        /// frames between) decode to what lz4_flex decodes, under any limit.
        #[test]
        fn lz4_agrees_with_lz4_flex_on_valid_frames(
            parts in prop::collection::vec(
                (data(), 0u8..2, 0u8..4, any::<bool>(), any::<bool>(), any::<bool>()),
                1..4,
            ),
            skippable in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..3),
            max_frac in 0.0f64..1.2,
        ) {
            let mut frames = Vec::new();
            let mut with_skips = Vec::new();
            let mut expect = Vec::new();
            for (i, (input, mode, size, bs, cs, sized)) in parts.iter().enumerate() {
                let frame = flex_encode(
                    input,
                    info(*mode, *size, *bs, *cs, sized.then_some(input.len() as u64)),
                );
                // lz4_flex checked frame by frame: its reader stops at an empty frame, dropping
                // the frames after it (this reader does not).
                prop_assert_eq!(&flex_decode(&frame).unwrap(), input);
                frames.extend_from_slice(&frame);
                if let Some(skip) = skippable.get(i) {
                    with_skips.extend_from_slice(&(0x184D_2A50u32 + i as u32).to_le_bytes());
                    with_skips.extend_from_slice(&(skip.len() as u32).to_le_bytes());
                    with_skips.extend_from_slice(skip);
                }
                with_skips.extend_from_slice(&frame);
                expect.extend_from_slice(input);
            }
            let mut out = Vec::new();
            decompress(Codec::Lz4, &with_skips, &mut out, MAX_DECOMPRESSED).unwrap();
            prop_assert!(out == expect, "decoded {} bytes, expected {}", out.len(), expect.len());

            // Under a limit: all of it, or a refusal that says "too big" exactly when it is.
            let max = (expect.len() as f64 * max_frac) as usize;
            match decompress(Codec::Lz4, &with_skips, &mut out, max) {
                Ok(_) => {
                    prop_assert!(expect.len() <= max);
                    prop_assert!(out == expect);
                }
                Err(e) => {
                    prop_assert!(e.over_limit, "{e}");
                    prop_assert!(expect.len() > max, "refused {} bytes under max {max}", expect.len());
                }
            }
            // (A refusal may leave up to a block's room past the limit in `out`.)
            prop_assert!(out.len() <= max.max(expect.len()) + (4 << 20) + 1);
        }

        /// Damaged frames: never a panic, never more than the limit, and never a decode that
        /// lz4_flex refuses as undecodable, or that it decodes differently.
        #[test]
        fn lz4_damaged_frames_are_refused_where_lz4_flex_refuses(
            input in data(),
            mode in 0u8..2,
            size in 0u8..4,
            damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
            do_cut in any::<bool>(),
        ) {
            let mut frame = flex_encode(&input, info(mode, size, false, false, None));
            for (at, b) in &damage {
                // Leave the magic, so the reader gets into the frame.
                if frame.len() > 4 {
                    let i = 4 + at.index(frame.len() - 4);
                    frame[i] = *b;
                }
            }
            if do_cut {
                frame.truncate(cut.index(frame.len() + 1));
            }
            let mut out = Vec::new();
            let ours = decompress(Codec::Lz4, &frame, &mut out, 1 << 22);
            prop_assert!(out.len() <= 1 << 22);
            let theirs = flex_decode(&frame);
            match (ours, theirs) {
                (Ok(_), Ok(t)) => prop_assert!(out == t, "both decode, differently"),
                (Ok(_), Err(e)) => prop_assert!(
                    skipped_check(&e),
                    "decoded {} bytes lz4_flex refuses: {e}",
                    out.len()
                ),
                (Err(_), _) => {}
            }
        }
    }

    /// Record-like data: noise (ciphertext) with the same 600-byte header block (noise too,
    /// like a cfrag) after each, and the repeats a rewriter would note for it.
    fn records_with_repeats(records: usize, value: usize) -> (Vec<u8>, Vec<Repeat>) {
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        let header = noise.bytes(600);
        let (mut input, mut repeats, mut before) = (Vec::new(), Vec::new(), None);
        for _ in 0..records {
            input.extend(noise.bytes(value));
            let at = input.len();
            input.extend_from_slice(&header);
            if let Some(from) = before {
                push_repeat(&mut repeats, Repeat { at, len: 600, from });
            }
            before = Some(at);
        }
        (input, repeats)
    }

    fn lz4_from_repeats(input: &[u8], repeats: &[Repeat]) -> Vec<u8> {
        let mut packed = Vec::new();
        lz4_frame_from_repeats(input, repeats, &mut packed);
        packed
    }

    /// The encoder's frame is what lz4_flex, this reader and Kafka's Java reader take (the
    /// same header as `compress` writes), and it finds what lz4_flex's search finds in records.
    #[test]
    fn lz4_from_repeats_matches_lz4_flex_on_records() {
        for (records, value) in [(200, 1024), (40, 10 << 10), (2000, 100), (1, 5), (0, 0)] {
            let (input, repeats) = records_with_repeats(records, value);
            let packed = lz4_from_repeats(&input, &repeats);
            assert_eq!(&packed[..7], &LZ4_HEADER);
            assert_eq!(flex_decode(&packed).unwrap(), input);
            let mut back = Vec::new();
            decompress(Codec::Lz4, &packed, &mut back, MAX_DECOMPRESSED).unwrap();
            assert_eq!(back, input);
            let mut searched = Vec::new();
            compress(Codec::Lz4, Framing::Standard, &input, &mut searched).unwrap();
            // At most a few per cent larger than lz4_flex's output (a block's first record has
            // nothing before it in reach; lz4_flex finds the header in itself).
            assert!(
                packed.len() as f64 <= searched.len() as f64 * 1.03 + 16.0,
                "{records} x {value}: {} bytes against lz4_flex's {}",
                packed.len(),
                searched.len()
            );
        }
    }

    /// Repeats that do not hold (wrong bytes, from after `at`, out of the input, across blocks,
    /// overlapping) stay literals: the frame still decodes to the input.
    #[test]
    fn lz4_from_repeats_checks_every_repeat() {
        let (input, good) = records_with_repeats(100, 1000);
        let n = input.len();
        let mut bad = vec![
            Repeat {
                at: 10,
                len: 500,
                from: 2000,
            },
            Repeat {
                at: 3000,
                len: 700,
                from: 1000,
            },
            Repeat {
                at: 5000,
                len: usize::MAX,
                from: 4000,
            },
            Repeat {
                at: n - 3,
                len: 10,
                from: 0,
            },
            Repeat {
                at: n + 10,
                len: 10,
                from: 0,
            },
        ];
        bad.extend(good.iter().map(|r| Repeat {
            from: r.from + 1,
            ..*r
        }));
        bad.sort_by_key(|r| r.at);
        assert_eq!(flex_decode(&lz4_from_repeats(&input, &bad)).unwrap(), input);
        // The good ones did shrink it.
        assert!(lz4_from_repeats(&input, &good).len() < n * 3 / 4);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any input and any repeats, true or not, in any place (block edges, the last bytes,
        /// overlapping their source), give a frame that decodes to the input.
        #[test]
        fn lz4_from_repeats_always_decodes_to_the_input(
            input in data(),
            hints in prop::collection::vec((any::<u32>(), 0usize..70_000, 1usize..70_000), 0..40),
        ) {
            let mut repeats: Vec<Repeat> = hints
                .iter()
                .map(|&(at, len, back)| {
                    let at = at as usize % (input.len() + 1);
                    Repeat { at, len, from: at.saturating_sub(back) }
                })
                .collect();
            repeats.sort_by_key(|r| r.at);
            // Every other one made true, byte by byte forwards (a source overlapping its
            // repeat is how LZ4 writes runs).
            let mut input = input;
            for r in repeats.iter().step_by(2) {
                for k in 0..r.len.min(input.len() - r.at) {
                    input[r.at + k] = input[r.from + k];
                }
            }
            let packed = lz4_from_repeats(&input, &repeats);
            prop_assert!(flex_decode(&packed).unwrap() == input);
            let mut back = Vec::new();
            decompress(Codec::Lz4, &packed, &mut back, MAX_DECOMPRESSED).unwrap();
            prop_assert!(back == input);
        }
    }

    /// Each block of a frame of independent blocks of `total` bytes, decoded by liblz4's
    /// `LZ4_decompress_safe` into exactly the block's size (a decoder that checks the end-of-block rules against the
    /// block, not a 64 KiB buffer, as some of Kafka's readers do).
    fn liblz4_blocks_decode(frame: &[u8], total: usize) -> Vec<u8> {
        assert_eq!(&frame[..7], &LZ4_HEADER);
        let (mut at, mut out) = (7, Vec::new());
        loop {
            let size = u32::from_le_bytes(frame[at..at + 4].try_into().unwrap());
            at += 4;
            if size == 0 {
                assert_eq!(at, frame.len(), "bytes after the end mark");
                return out;
            }
            let len = (size & !LZ4_RAW_BLOCK) as usize;
            let block = &frame[at..at + len];
            at += len;
            if size & LZ4_RAW_BLOCK != 0 {
                out.extend_from_slice(block);
                continue;
            }
            // Every block holds 64 KiB of the input but the last, which holds the rest.
            let size = LZ4_BLOCK.min(total - out.len()) as i32;
            let exact = lz4::block::decompress(block, Some(size))
                .expect("liblz4 decodes the block into exactly its size");
            assert_eq!(exact.len(), size as usize);
            out.extend_from_slice(&exact);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// True repeats that start, end or straddle within a few dozen bytes of a block's end
        /// or the input's end, reaching back up to a few hundred bytes (into the block before,
        /// too): liblz4 decodes every block into exactly its size, and the frame is the input.
        #[test]
        fn lz4_from_repeats_at_block_edges_decode_in_liblz4(
            len in 1usize..200_000,
            hints in prop::collection::vec((0usize..4, 0usize..40, 1usize..80, 1usize..300), 0..24),
            seed in any::<u64>(),
        ) {
            let mut input = Noise(seed | 1).bytes(len);
            let mut repeats: Vec<Repeat> = hints
                .iter()
                .filter_map(|&(edge, before, n, back)| {
                    let end = if edge == 0 { len } else { edge * LZ4_BLOCK };
                    let at = end.checked_sub(before)?;
                    let from = at.checked_sub(back)?;
                    (at < len).then_some(Repeat { at, len: n, from })
                })
                .collect();
            // And one long repeat in the middle of every block, so blocks compress (noise
            // with only the short ones above would leave as raw blocks).
            repeats.extend((0..len / LZ4_BLOCK + 1).map(|k| Repeat {
                at: k * LZ4_BLOCK + 3000,
                len: 20_000,
                from: k * LZ4_BLOCK + 1000,
            }).filter(|r| r.at < len));
            repeats.sort_by_key(|r| r.at);
            for r in &repeats {
                for k in 0..r.len.min(len - r.at) {
                    input[r.at + k] = input[r.from + k];
                }
            }
            let packed = lz4_from_repeats(&input, &repeats);
            prop_assert!(liblz4_blocks_decode(&packed, len) == input);
            prop_assert!(flex_decode(&packed).unwrap() == input);
        }
    }

    /// The first block of a frame of linked blocks has no dictionary: its matches cannot reach
    /// into the frame before it (lz4_flex, and the LZ4 frame format, start each frame afresh).
    #[test]
    fn lz4_linked_blocks_do_not_reach_into_the_previous_frame() {
        let first = flex_encode(b"secret-ish bytes", info(1, 0, false, false, None));
        let linked = info(0, 0, false, false, None);
        let header = &flex_encode(b"", linked)[..7];
        let mut second = header.to_vec();
        // One block: a match of 8 bytes from 16 bytes back (before this frame), then 'z'.
        let block = [0x04, 16, 0, 0x10, b'z'];
        second.extend_from_slice(&(block.len() as u32).to_le_bytes());
        second.extend_from_slice(&block);
        second.extend_from_slice(&0u32.to_le_bytes());
        let mut both = first.clone();
        both.extend_from_slice(&second);

        // lz4_flex's reader keeps its buffer across frames and lets this match read the stale
        // bytes of the frame before (it decodes "secret-iz"); the frame format has no such
        // reference, and the reference implementation refuses it.
        eprintln!(
            "lz4_flex: {:?}",
            flex_decode(&both).map(|v| String::from_utf8_lossy(&v).into_owned())
        );
        assert!(
            flex_decode(&second).is_err(),
            "lz4_flex refuses the second frame on its own"
        );
        let mut out = Vec::new();
        let ours = decompress(Codec::Lz4, &both, &mut out, MAX_DECOMPRESSED);
        assert!(
            ours.is_err(),
            "decoded {:?} from a frame whose first block reaches into the frame before it",
            String::from_utf8_lossy(&out)
        );
    }

    /// Bytes the reader zeroes for a frame's compressed blocks (each is given room before it is
    /// decoded): the frame's work beside what it decodes to.
    fn zeroed(frame: &[u8], max: usize) -> usize {
        // Replays lz4_frames_decompress's room computation over the blocks of one frame.
        let bd = frame[5];
        let block_max: usize = match (bd >> 4) & 7 {
            4 => 64 << 10,
            5 => 256 << 10,
            6 => 1 << 20,
            _ => 4 << 20,
        };
        let (mut at, mut start, mut total) = (7, 0usize, 0usize);
        let mut out = Vec::new();
        decompress(Codec::Lz4, frame, &mut out, max).unwrap();
        loop {
            let size = u32::from_le_bytes(frame[at..at + 4].try_into().unwrap());
            at += 4;
            if size == 0 {
                break;
            }
            let len = (size & !LZ4_RAW_BLOCK) as usize;
            if size & LZ4_RAW_BLOCK == 0 {
                let full = block_max.min(len * 255 + 64);
                total += full.min(max + 1 - start);
                let mut one = Vec::new();
                start += lz4_flex::block::decompress_into(&frame[at..at + len], {
                    one.resize(full, 0);
                    &mut one
                })
                .unwrap();
            } else {
                start += len;
            }
            at += len;
        }
        assert_eq!(start, out.len());
        total
    }

    /// A stored 1 MiB batch of 16 KiB literal blocks in a 4 MiB-block frame decodes to 1 MiB but
    /// has the reader zero 4 MiB per block: 256 MiB for 1 MiB of input.
    #[test]
    fn lz4_zeroing_per_input_byte_is_reported() {
        let mut frame = vec![0x04, 0x22, 0x4D, 0x18, 0x60, 0x70, 0x00];
        let literals = 16 * 1024 - 100;
        let mut block = vec![0xF0];
        let mut rest = literals - 15;
        while rest >= 255 {
            block.push(255);
            rest -= 255;
        }
        block.push(rest as u8);
        block.extend((0..literals).map(|i| (i * 7) as u8));
        let blocks = (1 << 20) / (block.len() + 4);
        for _ in 0..blocks {
            frame.extend_from_slice(&(block.len() as u32).to_le_bytes());
            frame.extend_from_slice(&block);
        }
        frame.extend_from_slice(&0u32.to_le_bytes());
        let z = zeroed(&frame, 32 << 20);
        eprintln!(
            "lz4: {} input bytes, {} decoded, {} zeroed ({}x input)",
            frame.len(),
            blocks * literals,
            z,
            z / frame.len()
        );
        let start = std::time::Instant::now();
        let mut out = Vec::new();
        decompress(Codec::Lz4, &frame, &mut out, 32 << 20).unwrap();
        eprintln!("lz4: decoded in {:?}", start.elapsed());
    }

    fn zstd_frame(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        compress(Codec::Zstd, Framing::Standard, input, &mut out).unwrap();
        out
    }

    /// A zstd frame cut short, or stopped at the limit, leaves the thread's reused context
    /// mid-frame: the next batch decoded on the thread must not continue from it.
    #[test]
    fn zstd_a_broken_or_over_limit_frame_does_not_poison_the_next_batch() {
        let big: Vec<u8> = (0..400_000u32)
            .flat_map(|i| (i % 977).to_le_bytes())
            .collect();
        let packed_big = zstd_frame(&big);
        let good_input = b"the next batch, another client's".repeat(100);
        let good = zstd_frame(&good_input);
        let mut out = Vec::new();
        for damage in 0..4 {
            match damage {
                // Cut mid-frame.
                0 => assert!(decompress(
                    Codec::Zstd,
                    &packed_big[..packed_big.len() / 2],
                    &mut out,
                    1 << 30
                )
                .is_err()),
                // Stopped by the limit mid-frame.
                1 => assert!(
                    decompress(Codec::Zstd, &packed_big, &mut out, 1000)
                        .unwrap_err()
                        .over_limit
                ),
                // A valid frame followed by the start of another.
                2 => {
                    let mut two = good.clone();
                    two.extend_from_slice(&packed_big[..20]);
                    assert!(decompress(Codec::Zstd, &two, &mut out, 1 << 30).is_err());
                }
                // Garbage after the magic number.
                _ => {
                    let mut bad = packed_big.clone();
                    for b in &mut bad[6..60] {
                        *b ^= 0x5a;
                    }
                    let _ = decompress(Codec::Zstd, &bad, &mut out, 1 << 30);
                }
            }
            decompress(Codec::Zstd, &good, &mut out, 1 << 30)
                .unwrap_or_else(|e| panic!("after damage {damage}: {e}"));
            assert_eq!(out, good_input, "after damage {damage}");
            // And a frame of the same content the broken one began with.
            decompress(Codec::Zstd, &packed_big, &mut out, 1 << 30).unwrap();
            assert!(out == big, "after damage {damage}");
        }
    }
}
