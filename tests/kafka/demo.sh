#!/usr/bin/env bash
# The demo against a real broker: starts Kafka (tests/kafka/broker.sh) and the rewrap proxy
# (tests/kafka/proxy.sh) with a fresh administrator key and grant store, runs
# `rewrap demo --broker ... --proxy ...`, and stops both whatever the outcome.
#   tests/kafka/demo.sh [DEMO ARGS...]      e.g. --messages 600 --mode channel
# REWRAP_PROFILE=debug uses debug builds (what `make test` does, to share its build);
# REWRAP_PREBUILT=1 runs the binaries already in that profile's directory without building.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d /tmp/rewrap-demo.XXXXXX)"
cd "$root"
profile="${REWRAP_PROFILE:-release}"
flag=--release; [ "$profile" = debug ] && flag=
bin="$target/$profile"
if [ "${REWRAP_PREBUILT:-0}" != 1 ]; then
  cargo build -q $flag -p rewrap-proxy --bin rewrap-proxy
  cargo build -q $flag -p rewrap-cli --features kafka
fi
export REWRAP_PROXY_BIN="$bin/rewrap-proxy"
cleanup() {
  rc=$?
  tests/kafka/proxy.sh stop "$work/proxy" >/dev/null 2>&1 || true
  tests/kafka/broker.sh stop "$work/broker" >/dev/null 2>&1 || true
  if [ $rc -ne 0 ]; then
    echo "--- proxy log" >&2; tail -20 "$work/proxy/proxy.log" >&2 || true
  fi
}
trap cleanup EXIT
broker=$(tests/kafka/broker.sh start "$work/broker")
"$bin/rewrap" keygen "$work/admin" >/dev/null
mkdir -m 700 "$work/grants"
proxy=$(tests/kafka/proxy.sh start "$work/proxy" "$broker" "$work/grants" "$work/admin.pub")
"$bin/rewrap" demo --broker "$broker" --proxy "$proxy" --store "$work/grants" \
  --admin "$work/admin.sec" "$@"
