//! `rewrap-proxy`: Shotover with the `RewrapReencrypt` transform compiled in.
//!
//! `rewrap-proxy --topology-file topology.yaml --config-file config.yaml`

shotover::import_transform!(rewrap_proxy::RewrapReencryptConfig);

fn main() {
    // Shotover's own `--version` names Shotover's version; a release names ours (the one
    // version of the wheel, the jar and the C library).
    if matches!(std::env::args().nth(1).as_deref(), Some("--version" | "-V"))
        && std::env::args().len() == 2
    {
        println!(
            "rewrap-proxy {} (on Shotover, vendor/shotover)",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    shotover::runner::Shotover::new().run_block();
}
