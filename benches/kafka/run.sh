#!/usr/bin/env bash
# Kafka end-to-end benchmark (a script, not a test): a real broker, the rewrap proxy and a
# transform-less Shotover in front of it, and proxy/examples/kafka_bench.rs driving 1 KiB
# records through all of them in one run, for each topic compression.
#   benches/kafka/run.sh [RECORDS (default 200000)] [ROUNDS (default 3)]
# Prints Markdown tables (copied into docs/BENCHMARKS.md). REWRAP_PROXY_REWRITTEN=Lz4 or
# Uncompressed measures the proxy re-encoding batches as LZ4 (uncompressed ones included) or
# uncompressed (default: the topic's codec); REWRAP_BENCH_SIZES (payload
# bytes, default "1024") and REWRAP_BENCH_CODECS (default "none lz4 zstd gzip") choose the runs;
# REWRAP_BENCH_PIN=1 gives the proxies a core of their own (benches/kafka/lib.sh);
# REWRAP_BENCH_PAYLOAD=json sends ~1 KiB JSON events, REWRAP_BENCH_INNER (default "none"; e.g.
# "none lz4 zstd") the codecs inside the envelope to run each with (`make bench-kafka-json`).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
records="${1:-200000}"
rounds="${2:-3}"
work="$(mktemp -d /tmp/rewrap-kbench.XXXXXX)"
. "$root/benches/kafka/lib.sh"

echo "## Kafka end to end, rewritten batches ${REWRAP_PROXY_REWRITTEN:-SameCodec}${pin[*]:+, proxies pinned to CPU 1, broker and clients to CPU 0} ($(nproc) cores, $(date -u +%Y-%m-%d); broker, proxies and clients on one machine)"
echo
for size in ${REWRAP_BENCH_SIZES:-1024}; do
  # At most 200 MB of payload per topic (10 KiB records: 20,000 of them).
  n=$(( records * size > 200000000 ? 200000000 / size : records ))
  for compression in ${REWRAP_BENCH_CODECS:-none lz4 zstd gzip}; do
    for inner in ${REWRAP_BENCH_INNER:-none}; do
      ${pin[@]+"${pin[@]}"} "$target/release/examples/kafka_bench" --broker "$broker" --proxy "$proxy" --passthrough "$passthrough" \
        --proxy-dir "$work/proxy" --passthrough-dir "$work/passthrough" --data "$work/broker/data" \
        --store "$work/grants" --admin "$work/admin.sec" --records "$n" --rounds "$rounds" \
        --compression "$compression" --size "$size" --payload "${REWRAP_BENCH_PAYLOAD:-random}" \
        --inner "$inner"
    done
  done
done
check_proxy_log
