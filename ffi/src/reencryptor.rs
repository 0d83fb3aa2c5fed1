//! `rewrap_reencryptor`: the broker side. Thread-safe (calls on one handle are serialized).

use std::ffi::c_char;

use rewrap::{ProducerGrant, ReEncryptor, ReEncryptorConfig};

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

/// Sets the producer-signature policy, a rewrap_policy, of `topic`, or the default for
/// every topic without its own when `topic` is NULL (the default default is
/// REWRAP_POLICY_REQUIRE). `rewrap_reencryptor_attest` checks records under it.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_set_policy(
    reencryptor: *const rewrap_reencryptor,
    topic: *const c_char,
    policy: u32,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        let topic = if topic.is_null() { None } else { Some(try_arg!(string(topic, "topic"))) };
        let policy = try_arg!(crate::signing::policy(policy));
        engine_try!(handle(reencryptor).0.set_policy(topic, policy));
        rewrap_result::REWRAP_OK
    }
}

/// Signs channel signatures with per-topic keys derived from the 32-byte `seed` (copied), or
/// attaches none when `seed` is NULL.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_set_channel_seed(
    reencryptor: *const rewrap_reencryptor,
    seed: *const u8,
    seed_len: usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        let seed = if seed.is_null() { None } else { Some(try_arg!(slice(seed, seed_len))) };
        engine_try!(handle(reencryptor).0.set_channel_seed(seed));
        rewrap_result::REWRAP_OK
    }
}

/// `topic`'s channel verifying key (what consumers pass to
/// `rewrap_decryptor_trust_channel_key`) as a new handle in `*out`; `*out` is set to NULL
/// when no channel seed is set.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_channel_key(
    reencryptor: *const rewrap_reencryptor,
    topic: *const c_char,
    out: *mut *const rewrap_public_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        non_null!(out);
        let topic = try_arg!(string(topic, "topic"));
        match engine_try!(handle(reencryptor).0.channel_key(topic)) {
            Some(key) => set_out(out, rewrap_public_key(key)),
            None => {
                // SAFETY: checked non-NULL above; C promises it is writable.
                unsafe { out.write(std::ptr::null()) };
                rewrap_result::REWRAP_OK
            }
        }
    }
}

/// Verifies a serialized producer grant against the re-encryptor's administrators and the
/// clock, then accepts that producer's sessions on the grant's topic.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_add_producer_grant(
    reencryptor: *const rewrap_reencryptor,
    grant: *const u8,
    grant_len: usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        non_null!(grant);
        let grant = engine_try!(ProducerGrant::from_bytes(try_arg!(slice(grant, grant_len))));
        engine_try!(handle(reencryptor).0.add_producer_grant(&grant));
        rewrap_result::REWRAP_OK
    }
}

/// Removes the grant of the producer with key id `key_id` (REWRAP_KEY_ID_LEN bytes) on
/// `topic`. Whether one was removed goes to `*removed` when it is not NULL.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_revoke_producer(
    reencryptor: *const rewrap_reencryptor,
    topic: *const c_char,
    key_id: *const u8,
    key_id_len: usize,
    removed: *mut bool,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        non_null!(key_id);
        let topic = try_arg!(string(topic, "topic"));
        let id = try_arg!(crate::keys::key_id(try_arg!(slice(key_id, key_id_len))));
        let done = handle(reencryptor).0.revoke_producer(topic, &id);
        if !removed.is_null() {
            // SAFETY: non-NULL; C promises it is writable.
            unsafe { removed.write(done) };
        }
        rewrap_result::REWRAP_OK
    }
}

/// Checks a record's producer signature under `topic`'s policy before its fragments are
/// served: `edek` is its `rewrap.edek` header value, `sig` its `rewrap.sig` value (NULL when
/// it has none). On success `*chsig_out` holds the `rewrap.chsig` header value to attach
/// (empty when no channel seed is set or the policy asks for none); on failure the error
/// (REWRAP_UNSIGNED, REWRAP_BAD_SIGNATURE, REWRAP_UNAUTHORIZED_PRODUCER...) is why the
/// record's fragments must be refused.
#[no_mangle]
pub unsafe extern "C" fn rewrap_reencryptor_attest(
    reencryptor: *const rewrap_reencryptor,
    topic: *const c_char,
    edek: *const u8,
    edek_len: usize,
    sig: *const u8,
    sig_len: usize,
    chsig_out: *mut rewrap_buf,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(reencryptor);
        non_null!(chsig_out);
        let topic = try_arg!(string(topic, "topic"));
        let edek = try_arg!(slice(edek, edek_len));
        let sig = if sig.is_null() { None } else { Some(try_arg!(slice(sig, sig_len))) };
        let chsig = engine_try!(handle(reencryptor).0.attest(topic, edek, sig, None));
        give(chsig_out, chsig.map(|c| c.to_vec()).unwrap_or_default());
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
