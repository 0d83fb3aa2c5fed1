#![no_main]
//! A client's request frames (any api key and version, SASL handshakes and raw SASL
//! messages, Fetch by topic id, Metadata) through the proxy's request inspection and SASL
//! identity steps: never a panic; see `rewrap_fuzz::request_inspect`.
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: rewrap_fuzz::Overcommit = rewrap_fuzz::Overcommit;

fuzz_target!(
    init: {
        rewrap_fuzz::init();
    },
    |data: &[u8]| rewrap_fuzz::request_inspect(data)
);
