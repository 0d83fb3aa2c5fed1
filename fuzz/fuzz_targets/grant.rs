#![no_main]
//! Any bytes as a grant: parsing and verification never panic.
use libfuzzer_sys::fuzz_target;
use rewrap_core::{Grant, SecretKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = Grant::from_bytes(data) {
        let admin = SecretKey::from_bytes(&[9u8; 32]).unwrap().public_key();
        let _ = g.verify(&[admin, g.admin_key()], 1_700_000_000);
        let _ = Grant::from_bytes(&g.to_bytes());
    }
});
