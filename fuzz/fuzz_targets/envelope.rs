#![no_main]
//! Any bytes as a record value: parses or fails with a named error, never panics.
use libfuzzer_sys::fuzz_target;
use rewrap_core::envelope::EnvelopeRef;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = EnvelopeRef::parse(data) {
        let _ = v.session_id();
    }
});
