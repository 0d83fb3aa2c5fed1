//! `rewrap_secret_key` and `rewrap_public_key`: secp256k1 keys of any role (producer,
//! channel, consumer, administrator). Immutable; safe to share between threads.

use rewrap::{KeyId, PublicKey, SecretKey};

use std::ffi::c_char;
use std::path::Path;

use crate::buf::{copy_out, free_handle, handle, set_out, slice, string};
use crate::error::rewrap_result;
use crate::panic::{engine_try, ffi_boundary, non_null, try_arg};

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
        let bytes = try_arg!(slice(bytes, len));
        set_out(out, rewrap_secret_key(engine_try!(SecretKey::from_bytes(bytes))))
    }
}

/// Reads a secret key file (hex, as `rewrap keygen` writes it). Refuses a file that group or
/// others may access (REWRAP_INSECURE_KEY_FILE), as ssh does; REWRAP_IO when it cannot be read.
#[no_mangle]
pub unsafe extern "C" fn rewrap_secret_key_from_file(
    path: *const c_char,
    out: *mut *const rewrap_secret_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(out);
        let path = try_arg!(string(path, "path"));
        match rewrap::keyfile::read_secret(Path::new(path)) {
            Ok(key) => set_out(out, rewrap_secret_key(key)),
            Err(e) => crate::error::store(e),
        }
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

/// Reads a public key file (hex, as `rewrap keygen` writes it).
#[no_mangle]
pub unsafe extern "C" fn rewrap_public_key_from_file(
    path: *const c_char,
    out: *mut *const rewrap_public_key,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(out);
        let path = try_arg!(string(path, "path"));
        match rewrap::keyfile::read_public(Path::new(path)) {
            Ok(key) => set_out(out, rewrap_public_key(key)),
            Err(e) => crate::error::store(e),
        }
    }
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
        let bytes = try_arg!(slice(bytes, len));
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

/// A key id from C bytes (exactly REWRAP_KEY_ID_LEN of them).
pub(crate) fn key_id(bytes: &[u8]) -> Result<KeyId, rewrap_result> {
    <[u8; rewrap::KEY_ID_LEN]>::try_from(bytes)
        .map(KeyId)
        .map_err(|_| {
            crate::error::engine(rewrap::Error::InvalidArgument(
                "a key id is REWRAP_KEY_ID_LEN bytes",
            ))
        })
}
