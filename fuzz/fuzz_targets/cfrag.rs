#![no_main]
//! Any bytes as a cfrag header never panic the parser.
use libfuzzer_sys::fuzz_target;
use rewrap_core::cfrag::CfragRef;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = CfragRef::parse(data) {
        let _ = (c.threshold(), c.consumer_key_id());
    }
});
