//! `rewrap_encryptor`: the producer side. Thread-safe (calls on one handle are serialized).

use std::ffi::c_char;

use rewrap::{Compression, Encryptor, Error, RotationPolicy, DEFAULT_ZSTD_LEVEL};

use crate::buf::{free_handle, handle, set_out, slice, string};
use crate::error::rewrap_result;
use crate::keys::{rewrap_public_key, rewrap_secret_key};
use crate::panic::{engine_try, ffi_boundary, non_null, try_arg};
use crate::sealed::rewrap_sealed;
use crate::signing::signing_mode;

/// Seals payloads for one delegating public key; one session (DEK) per topic.
pub struct rewrap_encryptor(Encryptor);

/// A producer encrypting to `delegating` (its own key, or the channel key). A session rotates
/// after `max_messages` records or `max_age_secs` seconds; 0 selects the default
/// (1,000,000 messages, 3600 s). It seals unsigned records until `rewrap_encryptor_set_signer`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_encryptor_new(
    delegating: *const rewrap_public_key,
    max_messages: u64,
    max_age_secs: u64,
    out: *mut *const rewrap_encryptor,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(delegating);
        non_null!(out);
        let policy = RotationPolicy::or_default(max_messages, max_age_secs);
        let enc = engine_try!(Encryptor::with_policy(handle(delegating).0, policy));
        set_out(out, rewrap_encryptor(enc))
    }
}

/// Signs every new session with `signer` (copied; the caller keeps and frees its handle) in
/// `mode`, a rewrap_signing_mode (REWRAP_SIGNING_SESSION or REWRAP_SIGNING_RECORD).
/// `signer` NULL makes new sessions unsigned (`mode` is then ignored); readers accept those
/// only under REWRAP_POLICY_OPTIONAL or REWRAP_POLICY_OFF. Consumers accept the signer's
/// records once they hold a producer grant for its public key.
#[no_mangle]
pub unsafe extern "C" fn rewrap_encryptor_set_signer(
    encryptor: *const rewrap_encryptor,
    signer: *const rewrap_secret_key,
    mode: u32,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(encryptor);
        let enc = &handle(encryptor).0;
        if signer.is_null() {
            enc.set_signer(None);
        } else {
            let mode = try_arg!(signing_mode(mode));
            enc.set_signer(Some((&handle(signer).0, mode)));
        }
        rewrap_result::REWRAP_OK
    }
}

/// How an encryptor compresses payloads before sealing them (docs/FORMAT.md §2.1). Passed to
/// `rewrap_encryptor_set_compression` as a `uint32_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rewrap_compression {
    /// Seal payloads as given (the default).
    REWRAP_COMPRESSION_NONE = 0,
    /// lz4 block compression: fast, modest ratio.
    REWRAP_COMPRESSION_LZ4 = 1,
    /// zstd at the level passed beside it: better ratio, slower.
    REWRAP_COMPRESSION_ZSTD = 2,
}

/// Compresses payloads before sealing them from the next record on: `codec` is a
/// rewrap_compression; `level` is the zstd level (1..=22, or 0 for zstd's default, 3) and is
/// ignored for the other codecs. A payload is sealed compressed only when that makes it
/// smaller; readers need no setting. Record lengths then reveal how compressible payloads
/// are: keep compression off for records mixing attacker-chosen data with secrets.
#[no_mangle]
pub unsafe extern "C" fn rewrap_encryptor_set_compression(
    encryptor: *const rewrap_encryptor,
    codec: u32,
    level: i32,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(encryptor);
        const NONE: u32 = rewrap_compression::REWRAP_COMPRESSION_NONE as u32;
        const LZ4: u32 = rewrap_compression::REWRAP_COMPRESSION_LZ4 as u32;
        const ZSTD: u32 = rewrap_compression::REWRAP_COMPRESSION_ZSTD as u32;
        let compression = match codec {
            NONE => Compression::None,
            LZ4 => Compression::Lz4,
            ZSTD => Compression::Zstd {
                level: if level == 0 { DEFAULT_ZSTD_LEVEL } else { level },
            },
            _ => {
                return crate::error::engine(Error::InvalidArgument(
                    "codec must be REWRAP_COMPRESSION_NONE, _LZ4 or _ZSTD",
                ))
            }
        };
        engine_try!(handle(encryptor).0.set_compression(compression));
        rewrap_result::REWRAP_OK
    }
}

/// Seals `payload` for `topic` under the Kafka record key `key` (`key_len` bytes; `key` NULL
/// means a null key, distinct from an empty one: pass a non-NULL pointer with `key_len` 0 for
/// an empty key). The consumer must open with the same key. On success `*out` holds the
/// sealed record: its value and every header to attach (free with `rewrap_sealed_free`).
#[no_mangle]
pub unsafe extern "C" fn rewrap_encryptor_seal(
    encryptor: *const rewrap_encryptor,
    topic: *const c_char,
    key: *const u8,
    key_len: usize,
    payload: *const u8,
    payload_len: usize,
    out: *mut *const rewrap_sealed,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(encryptor);
        non_null!(out);
        let topic = try_arg!(string(topic, "topic"));
        let key = if key.is_null() { None } else { Some(try_arg!(slice(key, key_len))) };
        let payload = try_arg!(slice(payload, payload_len));
        let record = engine_try!(handle(encryptor).0.seal(topic, key, payload));
        set_out(out, rewrap_sealed::new(record))
    }
}

/// Ends the current sessions; the next seal of each topic starts a fresh DEK.
#[no_mangle]
pub unsafe extern "C" fn rewrap_encryptor_rotate(
    encryptor: *const rewrap_encryptor,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(encryptor);
        handle(encryptor).0.rotate();
        rewrap_result::REWRAP_OK
    }
}

/// Frees an encryptor. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn rewrap_encryptor_free(encryptor: *const rewrap_encryptor) {
    ffi_boundary! { free_handle(encryptor) }
}
