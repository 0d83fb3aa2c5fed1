#![no_main]
//! Any bytes as an EDEK header: framing, key and capsule decoding never panic.
use libfuzzer_sys::fuzz_target;
use rewrap_core::edek::EdekRef;
use rewrap_core::SecretKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = EdekRef::parse(data) {
        let _ = e.delegating_key();
        let _ = e.digest();
        let key = SecretKey::from_bytes(&[7u8; 32]).unwrap();
        let _ = e.open_with_delegating_key(&key);
    }
});
