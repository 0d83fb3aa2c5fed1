//! Realistic compressible payloads for the benchmarks (criterion's `benches/engine.rs` and the
//! Kafka driver `proxy/examples/kafka_bench.rs` include this file by path).

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// `n` different JSON events of about 1 KiB, like an application's event log: field names
/// repeat, ids, timestamps, users and amounts vary.
pub fn json_events(n: usize) -> Vec<Vec<u8>> {
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    let actions = ["view", "add_to_cart", "checkout", "refund", "login"];
    let countries = ["DE", "FR", "US", "JP", "BR", "IN"];
    (0..n)
        .map(|i| {
            let r = |rng: &mut ChaCha20Rng, m: u32| rng.next_u32() % m;
            let mut items = String::new();
            for k in 0..(6 + r(&mut rng, 4)) {
                if k > 0 {
                    items.push(',');
                }
                items += &format!(
                    "{{\"sku\":\"SKU-{:06}\",\"qty\":{},\"unit_price_cents\":{},\"category\":\"{}\"}}",
                    r(&mut rng, 1_000_000),
                    1 + r(&mut rng, 5),
                    99 + r(&mut rng, 20_000),
                    ["books", "garden", "toys", "electronics"][r(&mut rng, 4) as usize]
                );
            }
            format!(
                "{{\"event_id\":\"{:016x}{:016x}\",\"ts\":\"2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"seq\":{},\"user\":{{\"id\":\"u-{:08}\",\"country\":\"{}\",\"session\":\"{:016x}\"}},\"action\":\"{}\",\"items\":[{}],\"client\":{{\"app\":\"shop-web\",\"version\":\"4.{}.{}\",\"ip\":\"10.{}.{}.{}\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\"}},\"trace_id\":\"{:032x}\"}}",
                rng.next_u64(),
                rng.next_u64(),
                1 + r(&mut rng, 28),
                r(&mut rng, 24),
                r(&mut rng, 60),
                r(&mut rng, 60),
                r(&mut rng, 1000),
                i,
                r(&mut rng, 100_000_000),
                countries[r(&mut rng, 6) as usize],
                rng.next_u64(),
                actions[r(&mut rng, 5) as usize],
                items,
                r(&mut rng, 20),
                r(&mut rng, 10),
                r(&mut rng, 256),
                r(&mut rng, 256),
                r(&mut rng, 256),
                (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()),
            )
            .into_bytes()
        })
        .collect()
}
