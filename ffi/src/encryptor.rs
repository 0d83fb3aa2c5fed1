//! `rewrap_encryptor`: the producer side. Thread-safe (calls on one handle are serialized).

use std::ffi::c_char;

use rewrap::{Encryptor, RotationPolicy};

use crate::buf::{free_handle, give, handle, rewrap_buf, set_out, slice, string};
use crate::error::rewrap_result;
use crate::keys::rewrap_public_key;
use crate::panic::{engine_try, ffi_boundary, non_null, try_arg};

/// Seals payloads for one delegating public key; one session (DEK) per topic.
pub struct rewrap_encryptor(Encryptor);

/// A producer encrypting to `delegating` (its own key, or the channel key). A session rotates
/// after `max_messages` records or `max_age_secs` seconds; 0 selects the default
/// (1,000,000 messages, 3600 s).
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

/// Seals `payload` for `topic`: the record value goes to `*value_out`, the `rewrap.edek`
/// header value to `*edek_out`. Free both with `rewrap_buf_free`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_encryptor_seal(
    encryptor: *const rewrap_encryptor,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    value_out: *mut rewrap_buf,
    edek_out: *mut rewrap_buf,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(encryptor);
        non_null!(value_out);
        non_null!(edek_out);
        let topic = try_arg!(string(topic, "topic"));
        let payload = try_arg!(slice(payload, payload_len));
        let record = engine_try!(handle(encryptor).0.seal(topic, payload));
        give(edek_out, record.edek.to_vec());
        give(value_out, record.value);
        rewrap_result::REWRAP_OK
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
