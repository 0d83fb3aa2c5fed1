# Shared by the Kafka benchmark scripts (sourced): builds the release binaries, starts one
# broker, the rewrap proxy (over an empty grant store, admin key $work/admin) and a Shotover
# with the same chain minus the transform, and stops them on exit.
# Needs $root and $work; sets $target, $broker, $proxy, $passthrough.
target="${CARGO_TARGET_DIR:-$root/target}"
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

# REWRAP_BENCH_PIN=1: the proxies get CPU 1 to themselves and the broker and the clients share
# CPU 0 (every thread, with taskset), to show what the proxy does on its own core. $pin
# prefixes the client commands.
pin=()
if [ "${REWRAP_BENCH_PIN:-}" = 1 ]; then
  command -v taskset >/dev/null || { echo "REWRAP_BENCH_PIN needs taskset (util-linux)" >&2; exit 1; }
  taskset -apc 0 "$(cat "$work/broker/broker.pid")" >/dev/null
  for p in proxy passthrough; do taskset -apc 1 "$(cat "$work/$p/proxy.pid")" >/dev/null; done
  pin=(taskset -c 0)
fi

# check_proxy_log: fails if the proxy logged a panic or an error.
check_proxy_log() {
  if grep -q "panicked\| ERROR " "$work/proxy/proxy.log"; then
    echo "proxy log has errors:" >&2; grep "panicked\| ERROR " "$work/proxy/proxy.log" >&2; exit 1
  fi
}
