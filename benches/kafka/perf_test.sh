#!/usr/bin/env bash
# Kafka's own perf-test tools (what kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh
# run: ProducerPerformance and ConsumerPerformance from the broker's kafka-tools jar), direct to
# the broker, through the rewrap proxy and through Shotover without the transform, in one run.
#   benches/kafka/perf_test.sh [RECORDS (default 200000)] [SIZE (default 1024)] [ROUNDS (default 3)]
# REWRAP_BENCH_CODECS (default "none lz4 zstd") chooses the topic codecs. A benchmark, not a
# test; prints Markdown tables for docs/BENCHMARKS.md.
#
# Produce: plaintext records (ProducerPerformance always writes raw bytes), so the rows show
# what each proxy costs a producer. Consume: a topic of rewrap-sealed records (written by
# kafka_bench --fill, signed sessions) read by ConsumerPerformance under the granted client id,
# so through the rewrap proxy every record gets its cfrag; the consumer does not open them
# (kafka_bench's (c) row measures opening). Proxy CPU from /proc over each consume gives the
# sizing rule: mCPU of proxy per MB/s fetched.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
records="${1:-200000}"
size="${2:-1024}"
rounds="${3:-3}"
work="$(mktemp -d /tmp/rewrap-perftest.XXXXXX)"
. "$root/benches/kafka/lib.sh"
command -v bc >/dev/null || { echo "perf_test.sh needs bc (apt-get install bc)" >&2; exit 1; }
lib="${REWRAP_KAFKA_LIB:-$HOME/.cache/rewrap/kafka-lib}"
tool() { ${pin[@]+"${pin[@]}"} java -Xmx1g -Dlog4j2.level=warn -cp "$lib/*" "org.apache.kafka.tools.$@"; }
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$(cat "$1/proxy.pid")/stat"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
printf 'client.id=bench-consumer\ngroup.id=perf-%s\n' "$$" > "$work/consumer.properties"

declare -A addr=([direct]="$broker" [rewrap]="$proxy" [shotover]="$passthrough")
declare -A dir=([rewrap]="$work/proxy" [shotover]="$work/passthrough")
echo "## Kafka perf-test tools, $records records of $size B ($(nproc) cores, $(date -u +%Y-%m-%d); broker, proxies and clients on one machine; medians of $rounds rounds)"
for compression in ${REWRAP_BENCH_CODECS:-none lz4 zstd}; do
  tag="$compression-$(date +%s)"
  sealed="perf-sealed-$tag"
  ${pin[@]+"${pin[@]}"} "$target/release/examples/kafka_bench" --fill "$sealed" --broker "$broker" --store "$work/grants" \
    --admin "$work/admin.sec" --records "$records" --size "$size" --compression "$compression" >&2
  sleep 1 # the proxy reloads its grant store
  declare -A prod=() cons=() cpu_s=()
  for round in $(seq "$rounds"); do
    for via in direct rewrap shotover; do
      line=$(tool ProducerPerformance --topic "perf-plain-$tag-$via-$round" --num-records "$records" \
        --record-size "$size" --throughput -1 --producer-props "bootstrap.servers=${addr[$via]}" \
        linger.ms=5 "compression.type=$compression" 2>/dev/null | tail -1)
      # "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50, p95, p99, p99.9"
      prod[$via]+="$(echo "$line" | awk -F'[ ,()]+' '{print $4, $6, $8, $22}')"$'\n'
      before=0; [ "$via" != direct ] && before=$(cpu "${dir[$via]}")
      line=$(tool ConsumerPerformance --bootstrap-server "${addr[$via]}" --topic "$sealed" \
        --messages "$records" --consumer.config "$work/consumer.properties" --timeout 60000 2>/dev/null | tail -1)
      [ "$via" != direct ] && cpu_s[$via]+="$(echo "$(cpu "${dir[$via]}") - $before" | bc)"$'\n'
      # start, end, MB, MB/s, n, n/s, rebalance ms, fetch ms, fetch MB/s, fetch n/s
      cons[$via]+="$(echo "$line" | awk -F', ' '{print $9, $10, $3}')"$'\n'
    done
  done
  col() { printf '%s' "$1" | awk -v c="$2" 'NF {print $c}' | median; }
  echo
  echo "### compression $compression"
  echo
  echo "| path | produce records/s | MB/s | p99 ms | ratio | consume (fetch) MB/s | records/s | ratio | proxy CPU s | mCPU per MB/s |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  p0=$(col "${prod[direct]}" 1); c0=$(col "${cons[direct]}" 1)
  for via in direct rewrap shotover; do
    pr=$(col "${prod[$via]}" 1); pm=$(col "${prod[$via]}" 2); p99=$(col "${prod[$via]}" 4)
    cm=$(col "${cons[$via]}" 1); cr=$(col "${cons[$via]}" 2); mb=$(col "${cons[$via]}" 3)
    if [ "$via" = direct ]; then s="—"; m="—"; else
      s=$(col "${cpu_s[$via]}" 1); m=$(echo "scale=2; $s * 1000 / $mb" | bc); fi
    printf '| %s | %.0f | %.1f | %s | %.3f | %.1f | %.0f | %.3f | %s | %s |\n' "$via" "$pr" "$pm" "$p99" \
      "$(echo "$pr / $p0" | bc -l)" "$cm" "$cr" "$(echo "$cm / $c0" | bc -l)" "$s" "$m"
  done
done
check_proxy_log
