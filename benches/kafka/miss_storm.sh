#!/usr/bin/env bash
# Honest fetch throughput during a re-encryption miss storm (issue 13; a benchmark, not a test):
# one broker, one rewrap proxy (release build), and proxy/examples/miss_storm.rs alternating an
# honest consumer's read with no storm and with a storm of RATE new producer sessions per
# second fetched through the proxy.
#   benches/kafka/miss_storm.sh [RECORDS (default 100000)] [ROUNDS (default 5)] [RATE (default 1000)]
# STORM_PROFILES="default raised tight" (the default) runs the driver once per proxy
# configuration (miss budgets per second: global / per consumer / per connection), on the same
# broker:
#   default  the proxy's defaults, 1000 / 250 / 100;
#   raised   10000 / 5000 / 2000, so that no storm record is throttled: the storm unbounded;
#   tight    200 / 250 / 100: a global budget of a fifth of the default.
# A verified session costs two units of budget (its producer signature, then its re-encryption).
# Prints Markdown tables (for docs/BENCHMARKS.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
records="${1:-100000}"
rounds="${2:-5}"
rate="${3:-1000}"
profiles="${STORM_PROFILES:-default raised tight}"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d /tmp/rewrap-storm.XXXXXX)"
echo "logs and proxy configurations: $work" >&2

cd "$root"
# STORM_PREBUILT=DIR runs rewrap-proxy, rewrap and miss_storm from DIR (no build): binaries
# copied aside, so that a build elsewhere in the tree cannot swap them mid-run.
if [ -n "${STORM_PREBUILT:-}" ]; then
  bin="$STORM_PREBUILT"
else
  cargo build -q --release -p rewrap-proxy -p rewrap-cli --bin rewrap-proxy --bin rewrap --example miss_storm
  bin="$work/bin"
  mkdir "$bin"
  cp "$target/release/rewrap-proxy" "$target/release/rewrap" "$target/release/examples/miss_storm" "$bin/"
fi
export REWRAP_PROXY_BIN="$bin/rewrap-proxy" REWRAP_PROXY_LOG=warn

cleanup() {
  tests/kafka/proxy.sh stop "$work/proxy" >/dev/null 2>&1 || true
  tests/kafka/broker.sh stop "$work/broker" >/dev/null 2>&1 || true
}
trap cleanup EXIT

broker=$(tests/kafka/broker.sh start "$work/broker")
"$bin/rewrap" keygen "$work/admin" >/dev/null

echo "## Honest fetch throughput during a miss storm (\`make bench-miss-storm\`) ($(nproc) cores, $(date -u +%Y-%m-%d); broker, proxy and clients on one machine)"
echo
for profile in $profiles; do
  rm -rf "$work/grants" && mkdir -m 700 "$work/grants"
  proxy=$(tests/kafka/proxy.sh start "$work/proxy" "$broker" "$work/grants" "$work/admin.pub")
  case "$profile" in
  default) budgets="" ;;
  raised) budgets="10000 5000 2000" ;;
  tight) budgets="200 250 100" ;;
  *) echo "unknown profile $profile" >&2; exit 2 ;;
  esac
  if [ -n "$budgets" ]; then
    # proxy.sh has no knob for the global and per-connection budgets: add them to the
    # topology it wrote (under the transform's settings) and start it again on the same port.
    read -r global consumer connection <<< "$budgets"
    sed -i "s/^\(            \)rewritten_batches: .*$/&\\
\1max_misses_per_sec: $global\\
\1max_misses_per_sec_per_consumer: $consumer\\
\1max_misses_per_sec_per_connection: $connection/" "$work/proxy/topology.yaml"
    grep -q "max_misses_per_sec_per_connection: $connection" "$work/proxy/topology.yaml"
    tests/kafka/proxy.sh restart "$work/proxy" >/dev/null
  fi
  "$bin/miss_storm" --broker "$broker" --proxy "$proxy" \
    --proxy-dir "$work/proxy" --broker-dir "$work/broker" \
    --store "$work/grants" --admin "$work/admin.sec" --records "$records" --rounds "$rounds" \
    --rate "$rate" --label ", budgets $profile${budgets:+ ($budgets)}"
  if grep -q "panicked\| ERROR " "$work/proxy/proxy.log"; then
    echo "proxy log has errors:" >&2; grep "panicked\| ERROR " "$work/proxy/proxy.log" >&2; exit 1
  fi
  tests/kafka/proxy.sh stop "$work/proxy" >/dev/null
  mv "$work/proxy" "$work/proxy-$profile"
done
