//! rewrap's C ABI: opaque handles over the engine, one result enum, a per-thread error
//! message, and a panic boundary around every entry point. Translation only — all
//! cryptography and parsing stay in `rewrap-core`. Header: `include/rewrap.h` (cbindgen).
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
// The safety contract is the same for every entry point (valid, live pointers from rewrap or
// the caller; lengths that match) and is stated once in the header's conventions block.
#![allow(clippy::missing_safety_doc)]

mod panic;

pub mod buf;
pub mod decryptor;
pub mod encryptor;
pub mod error;
pub mod grant;
pub mod keys;
pub mod producer_grant;
pub mod reencryptor;
pub mod sealed;
pub mod signing;
pub mod stats;

use std::ffi::c_char;

/// The library version, a static NUL-terminated string ("0.1.0").
#[no_mangle]
pub extern "C" fn rewrap_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
