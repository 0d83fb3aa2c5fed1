#!/usr/bin/env bash
# The real-broker test suites of `make test-kafka`: starts one broker in KAFKA_DIR, runs the
# Python (confluent-kafka, kafka-python, C and Java producers), Rust end-to-end and hostile-client
# suites against it and the proxy binary, and stops the broker whatever the outcome (its log is
# printed on failure). The Rust suites run one test at a time: one of them restarts the broker.
# Then (single broker stopped first, to keep peak memory down) a three-broker cluster in
# KAFKA_DIR-cluster for the Rust `cluster` suite (two proxies), stopped whatever the outcome.
#
# Usage: tests/kafka/run-tests.sh KAFKA_DIR TARGET_DIR VENV EXECUTABLES_JSON
# EXECUTABLES_JSON: the output of `cargo test --workspace --no-run --message-format=json`, so the
# Rust suites run from the build test-rust made (no second feature set, no second build).
set -uo pipefail
kafka_dir=$1 target_dir=$2 venv=$3 executables=$4
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

# test_exe PACKAGE NAME: the test executable NAME of PACKAGE in EXECUTABLES_JSON.
test_exe() {
  python3 - "$executables" "$1" "$2" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    t = m.get("target", {})
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and sys.argv[2] in m["package_id"] and t.get("name") == sys.argv[3] \
            and "test" in t.get("kind", []):
        print(m["executable"])
        break
else:
    sys.exit("no " + sys.argv[2] + " test executable named " + sys.argv[3])
EOF
}
kafka_exe=$(test_exe rewrap-proxy kafka) && hostile_exe=$(test_exe rewrap-proxy hostile) \
  && cluster_exe=$(test_exe rewrap-proxy cluster) \
  && registry_attacks_exe=$(test_exe rewrap-proxy registry_attacks) \
  && cli_exe=$(test_exe rewrap-cli produce_consume) || exit 1

rm -rf "$kafka_dir"
tests/kafka/broker.sh start "$kafka_dir" || exit 1

export REWRAP_KAFKA_BOOTSTRAP=$(cat "$kafka_dir/bootstrap")
export REWRAP_KAFKA_DATA=$kafka_dir/data REWRAP_KAFKA_DIR=$kafka_dir
export REWRAP_PROXY_BIN=$target_dir/debug/rewrap-proxy
export REWRAP_C_PRODUCER=$repo/examples/c/producer
export REWRAP_JAVA_CLASSPATH=$repo/jvm/target/classes:$repo/jvm/target/test-classes:$(cat jvm/target/classpath.txt)

# suite NAME DIR COMMAND...: runs COMMAND in DIR if every suite before it passed, and says how
# long it took (CI's time budget is spent here and in the builds).
rc=0
suite() {
  [ $rc -eq 0 ] || return 0
  local name=$1 dir=$2 start
  shift 2
  start=$(date +%s)
  (cd "$dir" && "$@")
  rc=$?
  echo "== $name: $(($(date +%s) - start)) s, exit $rc"
}

# Rust suites print each test's time (libtest's --report-time; RUSTC_BOOTSTRAP only unlocks
# that flag of the prebuilt harness).
rust_times=(env RUSTC_BOOTSTRAP=1)
times=(-Z unstable-options --report-time)

suite python-kafka . "$venv/bin/pytest" -q -p no:cacheprovider -m kafka python/tests
# The end-to-end tests are isolated (topic prefix, proxy and store of their own, the SASL one
# its own broker) and mostly wait on Kafka, so two run at once; the one that restarts the
# shared broker runs alone.
suite kafka proxy "${rust_times[@]}" "$kafka_exe" "${times[@]}" --ignored --test-threads=2 --skip survives_proxy_and_broker_restarts
suite kafka-restarts proxy "${rust_times[@]}" "$kafka_exe" "${times[@]}" --ignored --exact survives_proxy_and_broker_restarts
suite hostile proxy "${rust_times[@]}" "$hostile_exe" "${times[@]}" --ignored --test-threads=1
suite registry-attacks proxy "${rust_times[@]}" "$registry_attacks_exe" "${times[@]}" --ignored --test-threads=1
# The CLI's console clients (rewrap produce / consume, cli/tests/produce_consume.rs) through the
# proxy binary.
suite cli-console cli "${rust_times[@]}" "$cli_exe" "${times[@]}" --ignored --test-threads=1
# The Java package as a user installs it (the jar make test-jvm deployed to DIST/maven, with
# REWRAP_DIST naming DIST when it is not the repository's dist/): a plain javac/java program on
# the jar and kafka-clients, and Kafka's console producer and consumer with rewrap's reader and
# formatter (tests/install/java/run.sh).
jvm_version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' jvm/pom.xml | head -1)
REWRAP_CLI_BIN=$target_dir/debug/rewrap suite java-install . tests/install/java/run.sh \
  "${REWRAP_DIST:-$repo/dist}/maven/io/rewrap/rewrap/$jvm_version/rewrap-$jvm_version.jar" \
  "$target_dir/java-install"
tests/kafka/broker.sh stop "$kafka_dir"
if [ $rc -ne 0 ]; then tail -40 "$kafka_dir/broker.log"; exit $rc; fi

cluster_dir=$kafka_dir-cluster
rm -rf "$cluster_dir"
cluster_start=$(date +%s)
if cluster=$(tests/kafka/cluster.sh start "$cluster_dir"); then
  echo "kafka cluster ($cluster) started in $(($(date +%s) - cluster_start)) s"
  REWRAP_KAFKA_CLUSTER_BOOTSTRAP=$cluster REWRAP_KAFKA_CLUSTER_DIR=$cluster_dir \
    suite cluster proxy "${rust_times[@]}" "$cluster_exe" "${times[@]}" --ignored --test-threads=1
else
  rc=1
fi
tests/kafka/cluster.sh stop "$cluster_dir"
if [ $rc -ne 0 ]; then
  for n in 1 2 3; do
    echo "--- cluster node $n"; tail -20 "$cluster_dir/node$n/broker.log" 2>/dev/null
  done
fi
exit $rc
