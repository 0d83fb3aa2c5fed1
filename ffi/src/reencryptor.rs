//! `rewrap_reencryptor`: the broker side. Thread-safe (calls on one handle are serialized).

use std::ffi::c_char;

use rewrap::{ReEncryptor, ReEncryptorConfig};

use crate::buf::{free_handle, give, handle, rewrap_buf, set_out, slice, string};
use crate::error::rewrap_result;
use crate::grant::rewrap_grant;
use crate::keys::{key_list, rewrap_public_key};
use crate::panic::{engine_try, ffi_boundary, non_null, try_arg};
use crate::stats::rewrap_reencryptor_stats;

/// Holds verified grants and a bounded cache of capsule fragments.
pub struct rewrap_reencryptor(ReEncryptor);

/// A re-encryptor accepting grants signed by any of the `n_admins` keys in `admins`. The
/// fragment cache holds `cache_capacity` entries (0 = default 65,536) for `cache_ttl_secs`
/// seconds (0 = until evicted).
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_new(
    admins: *const *const rewrap_public_key,
    n_admins: usize,
    cache_capacity: usize,
    cache_ttl_secs: u64,
    out: *mut *const rewrap_reencryptor,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(out);
        let admins = try_arg!(key_list(admins, n_admins));
        let config = ReEncryptorConfig::or_default(cache_capacity, cache_ttl_secs);
        set_out(out, rewrap_reencryptor(engine_try!(ReEncryptor::with_config(&admins, config))))
    }
}

/// Verifies and installs a grant (the grant handle stays owned by the caller).
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_add_grant(
    reencryptor: *const rewrap_reencryptor,
    grant: *const rewrap_grant,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        non_null!(grant);
        engine_try!(handle(reencryptor).0.add_grant(&handle(grant).0));
        rewrap_result::REWRAP_OK
    }
}

/// Revokes every grant of `consumer` on `topic` and purges its cached fragments. The
/// number of grants removed goes to `*removed` when it is not NULL.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_revoke(
    reencryptor: *const rewrap_reencryptor,
    topic: *const c_char,
    consumer: *const c_char,
    removed: *mut usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        let topic = try_arg!(string(topic, "topic"));
        let consumer = try_arg!(string(consumer, "consumer"));
        let n = handle(reencryptor).0.revoke(topic, consumer);
        if !removed.is_null() {
            // SAFETY: non-NULL; C promises it is writable.
            unsafe { removed.write(n) };
        }
        rewrap_result::REWRAP_OK
    }
}

/// The `rewrap.cfrag` header values for `consumer` reading a record of `topic` with EDEK
/// header `edek`: `*count` values of REWRAP_CFRAG_HEADER_LEN bytes each, concatenated in
/// `*out`. Fails with REWRAP_NOT_GRANTED / REWRAP_REVOKED when the consumer gets none.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_reencrypt(
    reencryptor: *const rewrap_reencryptor,
    topic: *const c_char,
    edek: *const u8,
    edek_len: usize,
    consumer: *const c_char,
    out: *mut rewrap_buf,
    count: *mut usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        non_null!(out);
        non_null!(count);
        let topic = try_arg!(string(topic, "topic"));
        let consumer = try_arg!(string(consumer, "consumer"));
        let edek = try_arg!(slice(edek, edek_len));
        let headers = engine_try!(handle(reencryptor).0.reencrypt(topic, edek, consumer));
        // SAFETY: `count` checked non-NULL above; C promises it is writable.
        unsafe { count.write(headers.len()) };
        give(out, headers.concat());
        rewrap_result::REWRAP_OK
    }
}

/// Cache counters, re-encryptions, refusals and grants held, into `*out`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_get_stats(
    reencryptor: *const rewrap_reencryptor,
    out: *mut rewrap_reencryptor_stats,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        non_null!(out);
        // SAFETY: non-NULL; C promises it is writable.
        unsafe { out.write(handle(reencryptor).0.stats().into()) };
        rewrap_result::REWRAP_OK
    }
}

/// Frees a re-encryptor. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_free(reencryptor: *const rewrap_reencryptor) {
    ffi_boundary! { free_handle(reencryptor) }
}
