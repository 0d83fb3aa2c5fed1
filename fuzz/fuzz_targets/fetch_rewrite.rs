#![no_main]
//! A Fetch response frame from the broker (or, in records mode, one partition's record
//! batches with their CRCs fixed) through the proxy's transform for a consumer holding
//! grants: cfrags attached, stray headers removed, never a panic; see `rewrap_fuzz::fetch_rewrite`.
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: rewrap_fuzz::Overcommit = rewrap_fuzz::Overcommit;

fuzz_target!(
    init: {
        rewrap_fuzz::init();
    },
    |data: &[u8]| {
        rewrap_fuzz::fetch_rewrite(data);
    }
);
