#![no_main]
//! Any bytes as a record value: parses or fails with a named error, never panics.
use libfuzzer_sys::fuzz_target;
use rewrap_core::envelope::SealedValue;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = SealedValue::parse(data) {
        let _ = v.session_id();
    }
});
