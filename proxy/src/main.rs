//! `rewrap-proxy`: Shotover with the `RewrapReencrypt` transform compiled in.
//!
//! `rewrap-proxy --topology-file topology.yaml --config-file config.yaml`

shotover::import_transform!(rewrap_proxy::RewrapReencryptConfig);

fn main() {
    shotover::runner::Shotover::new().run_block();
}
