//! `rewrap_grant`: a signed grant (or one share of it). Immutable; safe to share.

use std::ffi::c_char;

use rewrap::{Grant, GrantTerms, Signer};

use crate::buf::{free_handle, give, handle, rewrap_buf, set_out, slice, string};
use crate::error::rewrap_result;
use crate::keys::{rewrap_public_key, rewrap_secret_key};
use crate::panic::{engine_try, ffi_boundary, non_null, try_arg};

/// A grant: kfrags from a delegating key to one consumer, signed by an administrator.
pub struct rewrap_grant(pub(crate) Grant);

/// Issues a grant of `topic` to `consumer` (id as the re-encryptor sees it) with public key
/// `consumer_key`, delegating from `delegating`, signed by `admin`. `threshold` of `shares`
/// fragments open a record (1 and 1 for a single re-encryptor). Valid from `not_before` until
/// `expires` (Unix seconds; 0 = never).
#[no_mangle]
pub unsafe extern "C" fn rewrap_grant_issue(
    admin: *const rewrap_secret_key,
    delegating: *const rewrap_secret_key,
    topic: *const c_char,
    consumer: *const c_char,
    consumer_key: *const rewrap_public_key,
    threshold: u8,
    shares: u8,
    not_before: u64,
    expires: u64,
    out: *mut *const rewrap_grant,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(admin);
        non_null!(delegating);
        non_null!(consumer_key);
        non_null!(out);
        let topic = try_arg!(string(topic, "topic"));
        let consumer = try_arg!(string(consumer, "consumer"));
        let terms = GrantTerms {
            topic,
            consumer,
            consumer_key: handle(consumer_key).0,
            threshold,
            shares,
            not_before,
            expires: (expires != 0).then_some(expires),
            issued_at: None,
        };
        let signer = Signer::from_secret(&handle(admin).0);
        let grant = engine_try!(Grant::issue(&mut rewrap::rng(), &signer, &handle(delegating).0, &terms));
        set_out(out, rewrap_grant(grant))
    }
}

/// Serializes a grant (docs/FORMAT.md §5) into `*out`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_grant_to_bytes(
    grant: *const rewrap_grant,
    out: *mut rewrap_buf,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(grant);
        non_null!(out);
        give(out, handle(grant).0.to_bytes());
        rewrap_result::REWRAP_OK
    }
}

/// Parses a serialized grant (structure only: verify it, or let a re-encryptor verify it).
#[no_mangle]
pub unsafe extern "C" fn rewrap_grant_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *const rewrap_grant,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(out);
        let bytes = try_arg!(slice(bytes, len));
        set_out(out, rewrap_grant(engine_try!(Grant::from_bytes(bytes))))
    }
}

/// Verifies the grant's signature against `admin`, its validity at `now`, and its kfrags.
#[no_mangle]
pub unsafe extern "C" fn rewrap_grant_verify(
    grant: *const rewrap_grant,
    admin: *const rewrap_public_key,
    now: u64,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(grant);
        non_null!(admin);
        engine_try!(handle(grant).0.verify(&[handle(admin).0], now));
        rewrap_result::REWRAP_OK
    }
}

/// The share for re-encryptor `index` (0-based) of a t-of-n grant, into `*out`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_grant_share(
    grant: *const rewrap_grant,
    index: u8,
    out: *mut *const rewrap_grant,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(grant);
        non_null!(out);
        set_out(out, rewrap_grant(engine_try!(handle(grant).0.share(index))))
    }
}

/// Frees a grant. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn rewrap_grant_free(grant: *const rewrap_grant) {
    ffi_boundary! { free_handle(grant) }
}
