//! `rewrap_decryptor`: the consumer side. Thread-safe (calls on one handle are serialized).

use std::ffi::{c_char, CStr};

use rewrap::{Decryptor, DecryptorConfig, OpenedKind, SecretKey};

use crate::buf::{free_handle, give, handle, rewrap_buf, set_out, slice, slice_of, string};
use crate::error::rewrap_result;
use crate::keys::{key_list, rewrap_public_key, rewrap_secret_key};
use crate::panic::{engine_try, ffi_boundary, non_null, try_arg};
use crate::stats::rewrap_decryptor_stats;

/// One Kafka record header as C clients hold it (librdkafka: `rd_kafka_header_get_all`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rewrap_header {
    /// NUL-terminated header name.
    pub name: *const c_char,
    /// Header value (may be NULL when `value_len` is 0).
    pub value: *const u8,
    /// Length of the value.
    pub value_len: usize,
}

/// What `rewrap_decryptor_open` found (the engine's `OpenedKind`, same numbers). Only
/// `REWRAP_OPENED_DECRYPTED` is authenticated data.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rewrap_opened_kind {
    /// A sealed record, authenticated and decrypted into the output buffer.
    REWRAP_OPENED_DECRYPTED = 0,
    /// A tombstone (NULL value): the output buffer is empty, the record stays a tombstone.
    REWRAP_OPENED_TOMBSTONE = 1,
    /// A record without rewrap headers, passed through unauthenticated because plaintext is
    /// allowed (migrations only).
    REWRAP_OPENED_UNENCRYPTED_ALLOWED = 2,
}

// cbindgen needs literal discriminants; these checks keep them the engine's numbers.
const _: () =
    assert!(rewrap_opened_kind::REWRAP_OPENED_DECRYPTED as u8 == OpenedKind::Decrypted as u8);
const _: () =
    assert!(rewrap_opened_kind::REWRAP_OPENED_TOMBSTONE as u8 == OpenedKind::Tombstone as u8);
const _: () = assert!(
    rewrap_opened_kind::REWRAP_OPENED_UNENCRYPTED_ALLOWED as u8
        == OpenedKind::UnencryptedAllowed as u8
);

impl From<OpenedKind> for rewrap_opened_kind {
    fn from(kind: OpenedKind) -> Self {
        match kind {
            OpenedKind::Decrypted => rewrap_opened_kind::REWRAP_OPENED_DECRYPTED,
            OpenedKind::Tombstone => rewrap_opened_kind::REWRAP_OPENED_TOMBSTONE,
            OpenedKind::UnencryptedAllowed => rewrap_opened_kind::REWRAP_OPENED_UNENCRYPTED_ALLOWED,
        }
    }
}

/// Opens records for one consumer.
pub struct rewrap_decryptor(Decryptor);

/// A consumer with secret key `secret` (copied; the caller keeps and frees its handle),
/// trusting fragments from grants signed by any of the `n_admins` keys. The DEK cache holds
/// `cache_capacity` sessions (0 = default 4096) for `cache_ttl_secs` (0 = until evicted).
/// `allow_plaintext` accepts records without rewrap headers (migrations only).
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_new(
    secret: *const rewrap_secret_key,
    admins: *const *const rewrap_public_key,
    n_admins: usize,
    cache_capacity: usize,
    cache_ttl_secs: u64,
    allow_plaintext: bool,
    out: *mut *const rewrap_decryptor,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(secret);
        non_null!(out);
        let admins = try_arg!(key_list(admins, n_admins));
        let config = DecryptorConfig::or_default(cache_capacity, cache_ttl_secs, allow_plaintext);
        let own = engine_try!(SecretKey::from_bytes(handle(secret).0.to_bytes().as_slice()));
        set_out(out, rewrap_decryptor(engine_try!(Decryptor::with_config(own, &admins, config))))
    }
}

/// Opens one record read from `topic`. `value` NULL means a tombstone. `headers` are all of
/// the record's headers as the client received them (the engine selects the rewrap ones). On success `*kind` says what
/// the record was and `*plaintext_out` holds the payload (free with `rewrap_buf_free`).
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_open(
    decryptor: *const rewrap_decryptor,
    topic: *const c_char,
    value: *const u8,
    value_len: usize,
    headers: *const rewrap_header,
    n_headers: usize,
    kind: *mut rewrap_opened_kind,
    plaintext_out: *mut rewrap_buf,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(decryptor);
        non_null!(kind);
        non_null!(plaintext_out);
        let topic = try_arg!(string(topic, "topic"));
        let value = if value.is_null() {
            None
        } else {
            Some(try_arg!(slice(value, value_len)))
        };
        let raw = try_arg!(slice_of(headers, n_headers));
        let mut list = Vec::with_capacity(raw.len());
        for h in raw {
            if h.name.is_null() {
                return crate::error::fail(rewrap_result::REWRAP_NULL_PARAMETER, "NULL header name");
            }
            // SAFETY: non-NULL; C promises a NUL-terminated name that outlives the call.
            // Names that are not UTF-8 cannot be rewrap headers and are passed as "".
            let name = unsafe { CStr::from_ptr(h.name) }.to_str().unwrap_or("");
            let v = try_arg!(slice(h.value, h.value_len));
            list.push((name, v));
        }
        let opened = engine_try!(handle(decryptor).0.open(topic, value, &list));
        // SAFETY: `kind` checked non-NULL above; C promises it is writable.
        unsafe { kind.write(opened.kind().into()) };
        give(plaintext_out, opened.into_value().unwrap_or_default());
        rewrap_result::REWRAP_OK
    }
}

/// DEK cache counters and Umbral opens, into `*out`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_get_stats(
    decryptor: *const rewrap_decryptor,
    out: *mut rewrap_decryptor_stats,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(decryptor);
        non_null!(out);
        // SAFETY: non-NULL; C promises it is writable.
        unsafe { out.write(handle(decryptor).0.stats().into()) };
        rewrap_result::REWRAP_OK
    }
}

/// Frees a decryptor (its secret key is zeroized). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_free(decryptor: *const rewrap_decryptor) {
    ffi_boundary! { free_handle(decryptor) }
}
