#!/usr/bin/env bash
# Kafka end-to-end benchmark (a script, not a test): a real broker, the rewrap proxy and a
# transform-less Shotover in front of it, and proxy/examples/kafka_bench.rs driving 1 KiB
# records through all of them in one run, for each topic compression.
#   benches/kafka/run.sh [RECORDS (default 200000)] [ROUNDS (default 3)]
# Prints Markdown tables (copied into docs/BENCHMARKS.md). REWRAP_PROXY_REWRITTEN=Uncompressed
# measures the proxy emitting re-encoded batches uncompressed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
records="${1:-200000}"
rounds="${2:-3}"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d /tmp/rewrap-kbench.XXXXXX)"

cd "$root"
cargo build -q --release -p rewrap-proxy -p rewrap-cli --bin rewrap-proxy --bin rewrap --example kafka_bench
export REWRAP_PROXY_BIN="$target/release/rewrap-proxy" REWRAP_PROXY_LOG=warn

cleanup() {
  tests/kafka/proxy.sh stop "$work/proxy" >/dev/null 2>&1 || true
  tests/kafka/proxy.sh stop "$work/passthrough" >/dev/null 2>&1 || true
  tests/kafka/broker.sh stop "$work/broker" >/dev/null 2>&1 || true
}
trap cleanup EXIT

broker=$(tests/kafka/broker.sh start "$work/broker")
"$target/release/rewrap" keygen "$work/admin" >/dev/null
mkdir -m 700 "$work/grants"
proxy=$(tests/kafka/proxy.sh start "$work/proxy" "$broker" "$work/grants" "$work/admin.pub")
passthrough=$(tests/kafka/proxy.sh passthrough "$work/passthrough" "$broker")

echo "## Kafka end to end, rewritten batches ${REWRAP_PROXY_REWRITTEN:-SameCodec} ($(nproc) cores, $(date -u +%Y-%m-%d); broker, proxies and clients on one machine)"
echo
for compression in none lz4; do
  "$target/release/examples/kafka_bench" --broker "$broker" --proxy "$proxy" --passthrough "$passthrough" \
    --proxy-dir "$work/proxy" --passthrough-dir "$work/passthrough" --data "$work/broker/data" \
    --store "$work/grants" --admin "$work/admin.sec" --records "$records" --rounds "$rounds" \
    --compression "$compression"
done
if grep -q "panicked\| ERROR " "$work/proxy/proxy.log"; then
  echo "proxy log has errors:" >&2; grep "panicked\| ERROR " "$work/proxy/proxy.log" >&2; exit 1
fi
