//! `rewrap_decryptor`: the consumer side. Thread-safe (calls on one handle are serialized).

use std::ffi::{c_char, CStr};

use rewrap::{Decrypted, Decryptor, DecryptorConfig, Opened, OpenedKind, ProducerGrant, SecretKey};

use crate::buf::{free_handle, give, handle, rewrap_buf, set_out, slice, slice_of, string};
use crate::error::rewrap_result;
use crate::keys::{key_list, rewrap_public_key, rewrap_secret_key};
use crate::panic::{engine_try, ffi_boundary, non_null, try_arg};
use crate::signing::{rewrap_signing_mode, rewrap_vouch};
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

/// What an opened record says about its origin. Filled by `rewrap_decryptor_open` for
/// REWRAP_OPENED_DECRYPTED; all zero (REWRAP_VOUCH_UNSIGNED, no producer) for other kinds.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rewrap_record_info {
    /// The producer session (REWRAP_SESSION_ID_LEN bytes, a prefix of the EDEK digest).
    pub session: [u8; 16],
    /// The record's counter in its session (0 first): gaps or repeats show loss or replay.
    pub counter: u64,
    /// How the session was authenticated.
    pub vouch: rewrap_vouch,
    /// The producer's signing mode (REWRAP_SIGNING_NONE when not signed or not checked).
    pub mode: rewrap_signing_mode,
    /// Whether `producer` and `producer_key_id` are set (signed and checked sessions only).
    pub has_producer: bool,
    /// The producer's public key (REWRAP_PUBLIC_KEY_LEN bytes), when `has_producer`.
    pub producer: [u8; 33],
    /// The producer's key id (REWRAP_KEY_ID_LEN bytes), when `has_producer`.
    pub producer_key_id: [u8; 8],
}

// cbindgen needs literal array lengths; these checks keep them the engine's.
const _: () = assert!(rewrap::engine::SESSION_ID_LEN == 16);
const _: () = assert!(rewrap::PUBLIC_KEY_LEN == 33);
const _: () = assert!(rewrap::KEY_ID_LEN == 8);

impl rewrap_record_info {
    const NONE: Self = rewrap_record_info {
        session: [0; 16],
        counter: 0,
        vouch: rewrap_vouch::REWRAP_VOUCH_UNSIGNED,
        mode: rewrap_signing_mode::REWRAP_SIGNING_NONE,
        has_producer: false,
        producer: [0; 33],
        producer_key_id: [0; 8],
    };

    fn of(d: &Decrypted) -> Self {
        let mut info = rewrap_record_info {
            session: d.session.0,
            counter: d.counter,
            vouch: d.vouch.into(),
            mode: d.mode.into(),
            ..Self::NONE
        };
        if let Some(producer) = d.producer {
            info.has_producer = true;
            info.producer = producer.to_bytes();
            info.producer_key_id = producer.key_id().0;
        }
        info
    }
}

/// Opens one record read from `topic`. `key` is the record's Kafka key (`key_len` bytes;
/// NULL for a null key, a non-NULL pointer with length 0 for an empty one), exactly as the
/// producer sealed it. `value` NULL means a tombstone. `headers` are all of the record's
/// headers as the client received them (the engine selects the rewrap ones). On success
/// `*kind` says what the record was, `*plaintext_out` holds the payload (free with
/// `rewrap_buf_free`) and, when `info` is not NULL, `*info` the session, counter and how the
/// producer was authenticated. Under the topic's policy an unsigned record fails with
/// REWRAP_UNSIGNED, a producer without a producer grant with REWRAP_UNAUTHORIZED_PRODUCER and
/// a signature that does not verify with REWRAP_BAD_SIGNATURE.
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_open(
    decryptor: *const rewrap_decryptor,
    topic: *const c_char,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    headers: *const rewrap_header,
    n_headers: usize,
    kind: *mut rewrap_opened_kind,
    plaintext_out: *mut rewrap_buf,
    info: *mut rewrap_record_info,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(decryptor);
        non_null!(kind);
        non_null!(plaintext_out);
        let topic = try_arg!(string(topic, "topic"));
        let key = if key.is_null() { None } else { Some(try_arg!(slice(key, key_len))) };
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
        let opened = engine_try!(handle(decryptor).0.open(topic, key, value, &list));
        if !info.is_null() {
            let record = match &opened {
                Opened::Decrypted(d) => rewrap_record_info::of(d),
                _ => rewrap_record_info::NONE,
            };
            // SAFETY: non-NULL; C promises it is writable.
            unsafe { info.write(record) };
        }
        // SAFETY: `kind` checked non-NULL above; C promises it is writable.
        unsafe { kind.write(opened.kind().into()) };
        give(plaintext_out, opened.into_value().unwrap_or_default());
        rewrap_result::REWRAP_OK
    }
}

/// Sets the signature policy, a rewrap_policy, of `topic`, or the default for every topic
/// without its own when `topic` is NULL. The default default is REWRAP_POLICY_REQUIRE.
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_set_policy(
    decryptor: *const rewrap_decryptor,
    topic: *const c_char,
    policy: u32,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(decryptor);
        let topic = if topic.is_null() { None } else { Some(try_arg!(string(topic, "topic"))) };
        let policy = try_arg!(crate::signing::policy(policy));
        engine_try!(handle(decryptor).0.set_policy(topic, policy));
        rewrap_result::REWRAP_OK
    }
}

/// Verifies a serialized producer grant (from `rewrap_producer_grant_issue`) against the
/// decryptor's administrators and the clock, then accepts that producer's sessions on the
/// grant's topic.
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_add_producer_grant(
    decryptor: *const rewrap_decryptor,
    grant: *const u8,
    grant_len: usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(decryptor);
        non_null!(grant);
        let grant = engine_try!(ProducerGrant::from_bytes(try_arg!(slice(grant, grant_len))));
        engine_try!(handle(decryptor).0.add_producer_grant(&grant));
        rewrap_result::REWRAP_OK
    }
}

/// Stops accepting new sessions of the producer with key id `key_id` (REWRAP_KEY_ID_LEN
/// bytes, see `rewrap_public_key_id`) on `topic`. Whether a grant was removed goes to
/// `*removed` when it is not NULL.
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_revoke_producer(
    decryptor: *const rewrap_decryptor,
    topic: *const c_char,
    key_id: *const u8,
    key_id_len: usize,
    removed: *mut bool,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(decryptor);
        non_null!(key_id);
        let topic = try_arg!(string(topic, "topic"));
        let id = try_arg!(crate::keys::key_id(try_arg!(slice(key_id, key_id_len))));
        let done = handle(decryptor).0.revoke_producer(topic, &id);
        if !removed.is_null() {
            // SAFETY: non-NULL; C promises it is writable.
            unsafe { removed.write(done) };
        }
        rewrap_result::REWRAP_OK
    }
}

/// Trusts `key` (copied) as `topic`'s channel signing key: records carrying a channel
/// signature under it (added by a re-encryptor that checked the producer) open with
/// REWRAP_VOUCH_CHANNEL. Get the key from the re-encryptor (`rewrap_reencryptor_channel_key`).
#[no_mangle]
pub unsafe extern "C" fn rewrap_decryptor_trust_channel_key(
    decryptor: *const rewrap_decryptor,
    topic: *const c_char,
    key: *const rewrap_public_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(decryptor);
        non_null!(key);
        let topic = try_arg!(string(topic, "topic"));
        engine_try!(handle(decryptor).0.trust_channel_key(topic, handle(key).0));
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
