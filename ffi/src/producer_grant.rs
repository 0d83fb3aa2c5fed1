//! Producer grants: an administrator's signed statement that a producer key may publish to a
//! topic. The C ABI passes them as bytes (they live in files and configuration); the
//! decryptor and re-encryptor verify them again when they are added.

use std::ffi::c_char;

use rewrap::{ProducerGrant, Signer};

use crate::buf::{give, handle, rewrap_buf, set_out, slice, string};
use crate::error::rewrap_result;
use crate::keys::{key_list, rewrap_public_key, rewrap_secret_key};
use crate::panic::{engine_try, ffi_boundary, non_null, try_arg};

/// Issues a grant letting `producer` sign records of `topic`, signed by `admin`, valid from
/// `not_before` until `expires` (Unix seconds; 0 = never). The serialized grant goes to
/// `*out` (free with `rewrap_buf_free`).
#[no_mangle]
pub unsafe extern "C" fn rewrap_producer_grant_issue(
    admin: *const rewrap_secret_key,
    topic: *const c_char,
    producer: *const rewrap_public_key,
    not_before: u64,
    expires: u64,
    out: *mut rewrap_buf,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(admin);
        non_null!(producer);
        non_null!(out);
        let topic = try_arg!(string(topic, "topic"));
        let signer = Signer::from_secret(&handle(admin).0);
        let expires = (expires != 0).then_some(expires);
        let grant = engine_try!(ProducerGrant::issue(
            &mut rewrap::rng(),
            &signer,
            topic,
            &handle(producer).0,
            not_before,
            expires,
        ));
        give(out, grant.to_bytes());
        rewrap_result::REWRAP_OK
    }
}

/// Parses a serialized producer grant and verifies its signature against any of the
/// `n_admins` keys in `admins` and its validity at `now` (Unix seconds).
#[no_mangle]
pub unsafe extern "C" fn rewrap_producer_grant_verify(
    grant: *const u8,
    grant_len: usize,
    admins: *const *const rewrap_public_key,
    n_admins: usize,
    now: u64,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(grant);
        let admins = try_arg!(key_list(admins, n_admins));
        let grant = engine_try!(ProducerGrant::from_bytes(try_arg!(slice(grant, grant_len))));
        engine_try!(grant.verify(&admins, now));
        rewrap_result::REWRAP_OK
    }
}

/// Parses a serialized producer grant (structure only) and gives the producer key it names
/// as a new handle in `*out`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_producer_grant_producer(
    grant: *const u8,
    grant_len: usize,
    out: *mut *const rewrap_public_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(grant);
        non_null!(out);
        let grant = engine_try!(ProducerGrant::from_bytes(try_arg!(slice(grant, grant_len))));
        set_out(out, rewrap_public_key(grant.producer()))
    }
}
