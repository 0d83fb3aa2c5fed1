//! `rewrap_secret_key` and `rewrap_public_key`: secp256k1 keys of any role (producer,
//! channel, consumer, administrator). Immutable; safe to share between threads.

use rewrap::{KeyId, PublicKey, SecretKey};

use crate::buf::{copy_out, free_handle, handle, set_out, slice};
use crate::error::rewrap_result;
use crate::panic::{engine_try, ffi_boundary, non_null};

/// Length of a serialized secret key.
pub const REWRAP_SECRET_KEY_LEN: usize = 32;
/// Length of a serialized public key (SEC1 compressed).
pub const REWRAP_PUBLIC_KEY_LEN: usize = 33;
/// Length of a key id.
pub const REWRAP_KEY_ID_LEN: usize = 8;

/// A secret key. Zeroized when freed.
pub struct rewrap_secret_key(pub(crate) SecretKey);

/// A public key.
pub struct rewrap_public_key(pub(crate) PublicKey);

/// Generates a secret key from the OS RNG into `*out`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_secret_key_generate(
    out: *mut *const rewrap_secret_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(out);
        set_out(out, rewrap_secret_key(SecretKey::generate()))
    }
}

/// Parses a 32-byte big-endian secret key.
#[no_mangle]
pub unsafe extern "C" fn rewrap_secret_key_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *const rewrap_secret_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(out);
        let bytes = match slice(bytes, len) { Ok(b) => b, Err(r) => return r };
        set_out(out, rewrap_secret_key(engine_try!(SecretKey::from_bytes(bytes))))
    }
}

/// Writes the 32-byte secret key into `out` (`out_len` >= REWRAP_SECRET_KEY_LEN).
#[no_mangle]
pub unsafe extern "C" fn rewrap_secret_key_to_bytes(
    key: *const rewrap_secret_key,
    out: *mut u8,
    out_len: usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(key);
        copy_out(handle(key).0.to_bytes().as_slice(), out, out_len)
    }
}

/// The public key of `key`, into `*out`.
#[no_mangle]
pub unsafe extern "C" fn rewrap_secret_key_public_key(
    key: *const rewrap_secret_key,
    out: *mut *const rewrap_public_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(key);
        non_null!(out);
        set_out(out, rewrap_public_key(handle(key).0.public_key()))
    }
}

/// Frees (and zeroizes) a secret key. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn rewrap_secret_key_free(key: *const rewrap_secret_key) {
    ffi_boundary! { free_handle(key) }
}

/// Parses a 33-byte SEC1 compressed public key.
#[no_mangle]
pub unsafe extern "C" fn rewrap_public_key_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *const rewrap_public_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(out);
        let bytes = match slice(bytes, len) { Ok(b) => b, Err(r) => return r };
        set_out(out, rewrap_public_key(engine_try!(PublicKey::from_bytes(bytes))))
    }
}

/// Writes the 33-byte public key into `out` (`out_len` >= REWRAP_PUBLIC_KEY_LEN).
#[no_mangle]
pub unsafe extern "C" fn rewrap_public_key_to_bytes(
    key: *const rewrap_public_key,
    out: *mut u8,
    out_len: usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(key);
        copy_out(&handle(key).0.to_bytes(), out, out_len)
    }
}

/// Writes the 8-byte key id into `out` (`out_len` >= REWRAP_KEY_ID_LEN).
#[no_mangle]
pub unsafe extern "C" fn rewrap_public_key_id(
    key: *const rewrap_public_key,
    out: *mut u8,
    out_len: usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(key);
        let KeyId(id) = handle(key).0.key_id();
        copy_out(&id, out, out_len)
    }
}

/// Frees a public key. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn rewrap_public_key_free(key: *const rewrap_public_key) {
    ffi_boundary! { free_handle(key) }
}

/// Collects `n` public key handles from a C array.
pub(crate) fn key_list(
    keys: *const *const rewrap_public_key,
    n: usize,
) -> Result<Vec<PublicKey>, rewrap_result> {
    let ptrs = crate::buf::slice_of(keys, n)?;
    ptrs.iter()
        .map(|&p| {
            if p.is_null() {
                Err(crate::error::fail(
                    rewrap_result::REWRAP_NULL_PARAMETER,
                    "NULL key in key array",
                ))
            } else {
                Ok(handle(p).0)
            }
        })
        .collect()
}
