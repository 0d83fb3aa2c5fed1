#!/usr/bin/env bash
# The rewrap jar installed as a Java user installs it, against the real broker and the rewrap
# proxy binary (run by tests/kafka/run-tests.sh, which starts the broker):
#  1. InstallCheck.java, compiled with plain javac and run with plain java on a classpath of
#     only the jar, kafka-clients and slf4j-api: RewrapSerializer to the broker, RewrapDeserializer
#     through the proxy (a granted consumer reads every plaintext, an ungranted one none);
#     and the loader's error on a platform the jar has no library for.
#  2. Kafka's own console tools (the 4.1 classes ConsoleProducer and ConsoleConsumer, on the
#     broker's jars plus the rewrap jar): lines through --line-reader RewrapMessageReader are
#     sealed on disk; --formatter RewrapMessageFormatter through the proxy prints them back
#     exactly for the granted consumer, and only named error lines for an ungranted one.
# Keys and grants are made with the rewrap CLI, as an administrator would.
#
# Usage: tests/install/java/run.sh JAR WORK_DIR
# Environment: REWRAP_KAFKA_BOOTSTRAP, REWRAP_KAFKA_DATA (the broker's log dir),
#              REWRAP_PROXY_BIN, REWRAP_CLI_BIN (the rewrap CLI),
#              REWRAP_KAFKA_LIB (the broker's jars; default ~/.cache/rewrap/kafka-lib).
set -euo pipefail
jar=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
broker=${REWRAP_KAFKA_BOOTSTRAP:?start the broker first (tests/kafka/run-tests.sh)}
data=${REWRAP_KAFKA_DATA:?}
cli=${REWRAP_CLI_BIN:?the rewrap CLI}
lib=${REWRAP_KAFKA_LIB:-$HOME/.cache/rewrap/kafka-lib}
[ -f "$jar" ] || { echo "no jar at $jar (make dist-jvm)" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work/keys" "$work/classes"
mkdir -m 700 "$work/grants"
keys=$work/keys
cleanup() { "$repo/tests/kafka/proxy.sh" stop "$work/proxy" >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/proxy/proxy.log" ] && tail -20 "$work/proxy/proxy.log" >&2; exit 1; }

suffix=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
api_topic=java-install-$suffix console_topic=java-console-$suffix
for k in admin channel alice bob; do "$cli" keygen "$keys/$k" >/dev/null; done
"$cli" keygen --signer "$keys/producer" >/dev/null
for t in "$api_topic" "$console_topic"; do
  "$cli" grant --store "$work/grants" --admin "$keys/admin.sec" --delegating "$keys/channel.sec" \
    --topic "$t" --consumer alice --consumer-key "$keys/alice.pub" >/dev/null
  "$cli" grant --store "$work/grants" --admin "$keys/admin.sec" --producer "$keys/producer.pub" --topic "$t" >/dev/null
done
ln -s "$work/grants" "$keys/grants"
proxy=$("$repo/tests/kafka/proxy.sh" start "$work/proxy" "$broker" "$work/grants" "$keys/admin.pub")

# 1. The plain classpath: the jar, kafka-clients and its logging facade, nothing else.
clients_cp="$jar:$lib/kafka-clients-4.1.0.jar:$lib/slf4j-api-1.7.36.jar"
javac -d "$work/classes" -cp "$clients_cp" "$here/InstallCheck.java"
java -cp "$work/classes:$clients_cp" InstallCheck roundtrip "$broker" "$proxy" "$api_topic" "$keys" 20 \
  2> "$work/install.err" || { cat "$work/install.err" >&2; fail "InstallCheck roundtrip"; }
api_segments=("$data/$api_topic"-0/*.log)
grep -aq 'k19' "${api_segments[@]}" || fail "the keys (left readable) are not in ${api_segments[*]}: wrong place?"
if grep -aq 'install check' "${api_segments[@]}"; then fail "plaintext in the log segment of $api_topic"; fi
mkdir -m 700 "$work/tmp"
java -Djava.io.tmpdir="$work/tmp" -cp "$work/classes:$clients_cp" InstallCheck tmpfile \
  2> "$work/tmpfile.err" || { cat "$work/tmpfile.err" >&2; fail "InstallCheck tmpfile"; }
java -Dos.arch=riscv64 -cp "$work/classes:$clients_cp" InstallCheck native \
  2> "$work/native.err" || { cat "$work/native.err" >&2; fail "InstallCheck native"; }

# 2. Kafka's console tools. The producer compresses with lz4, so the console consumer (lz4-java)
# reads the LZ4 frames the proxy writes itself from the repeated headers.
tools_cp="$lib/*:$jar"
printf 'k%d:console line %d \342\230\203 secret\n' 1 1 2 2 3 3 4 4 5 5 > "$work/lines"
java -cp "$tools_cp" org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$broker" --topic "$console_topic" \
  --compression-codec lz4 --line-reader io.rewrap.kafka.RewrapMessageReader \
  --property rewrap.delegating.key.file="$keys/channel.pub" --property rewrap.signing.key.file="$keys/producer.sec" \
  --property parse.key=true --property key.separator=: < "$work/lines" > "$work/producer.out" 2>&1 \
  || { cat "$work/producer.out" >&2; fail "console producer"; }

segments=("$data/$console_topic"-0/*.log)
[ -s "${segments[0]}" ] || fail "no log segment for $console_topic in $data"
grep -aq 'k3' "${segments[@]}" || fail "the keys (left readable) are not in ${segments[*]}: wrong place?"
if grep -aq 'console line' "${segments[@]}"; then fail "plaintext in the log segment of $console_topic"; fi
echo "console producer: 5 lines sealed on disk (keys readable, no plaintext value in the segment)"

consume() { # CLIENT: stdout and stderr of the console consumer reading the topic through the proxy
  java -cp "$tools_cp" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$proxy" \
    --topic "$console_topic" --from-beginning --max-messages 5 --timeout-ms 60000 \
    --consumer-property client.id="$1" --formatter io.rewrap.kafka.RewrapMessageFormatter \
    --property rewrap.consumer.key.file="$keys/$1.sec" --property rewrap.admin.key.file="$keys/admin.pub" \
    --property rewrap.producer.grant.dir="$work/grants" --property print.key=true --property key.separator=: \
    > "$work/$1.out" 2> "$work/$1.err"
}
consume alice || { cat "$work/alice.err" >&2; fail "console consumer (alice)"; }
cmp -s "$work/lines" "$work/alice.out" || { diff "$work/lines" "$work/alice.out" >&2; fail "alice's lines differ"; }
echo "console consumer: alice (granted) printed the 5 lines exactly"

consume bob || { cat "$work/bob.err" >&2; fail "console consumer (bob)"; }
[ ! -s "$work/bob.out" ] || fail "bob (not granted) printed: $(cat "$work/bob.out")"
if grep -aq 'console line' "$work/bob.err"; then fail "plaintext in bob's errors"; fi
refused=$(grep -c "^rewrap: cannot open $console_topic-0@[0-9]*: MissingCfrag (code 200)" "$work/bob.err" || true)
[ "$refused" = 5 ] || { cat "$work/bob.err" >&2; fail "bob: $refused named refusals, expected 5"; }
grep -q '^rewrap: 5 record(s) could not be opened' "$work/bob.err" || fail "no count in bob's errors"
grep -q 'Processed a total of 5 messages' "$work/bob.err" || fail "bob's consumer stopped early"
echo "console consumer: bob (not granted) got 5 named refusals, no plaintext"

# 3. An attacker with read and write access to the broker but no key appends forged records
# (InstallCheck forge, with lz4-java to read the lz4 topic): a replayed honest record with an added header holding a newline and a
# plausible line, a tombstone whose key holds one, a record with a null-valued header, and
# plaintext. Printing headers and keys, alice's stdout holds no forged byte: the header is
# printed escaped, the tombstone and both unsealed records are named on stderr.
java -cp "$work/classes:$tools_cp" InstallCheck forge "$broker" "$console_topic" \
  2> "$work/forge.err" || { cat "$work/forge.err" >&2; fail "InstallCheck forge"; }
java -cp "$tools_cp" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$proxy" \
  --topic "$console_topic" --from-beginning --max-messages 9 --timeout-ms 60000 \
  --consumer-property client.id=alice --formatter io.rewrap.kafka.RewrapMessageFormatter \
  --property rewrap.consumer.key.file="$keys/alice.sec" --property rewrap.admin.key.file="$keys/admin.pub" \
  --property rewrap.producer.grant.dir="$work/grants" --property print.key=true --property key.separator=: \
  --property print.headers=true > "$work/forged.out" 2> "$work/forged.err" \
  || { cat "$work/forged.err" >&2; fail "console consumer (alice, forged records)"; }
grep -q 'Processed a total of 9 messages' "$work/forged.err" || { cat "$work/forged.err" >&2; fail "alice stopped early on forged records"; }
if grep -aq '^k9:\|^FORGED\|FORGED-KEY\|FORGED-TOMBSTONE\|FORGED-PLAIN' "$work/forged.out"; then
  cat -A "$work/forged.out" >&2; fail "forged text on alice's stdout"
fi
grep -aqF 'note:x\x0ak9:FORGED-HEADER-LINE\x1b[2K:k1:console line 1' "$work/forged.out" \
  || { cat -A "$work/forged.out" >&2; fail "the replayed record's header is not printed escaped"; }
[ "$(grep -ac '' "$work/forged.out")" = 6 ] || { cat -A "$work/forged.out" >&2; fail "alice's stdout: expected 6 lines"; }
if grep -aq $'\e' "$work/forged.out" "$work/forged.err"; then fail "a forged escape sequence reached the terminal"; fi
[ "$(grep -c ': Unencrypted (code ' "$work/forged.err")" = 2 ] || { cat "$work/forged.err" >&2; fail "alice: 2 Unencrypted refusals expected"; }
grep -q "^rewrap: $console_topic-0@[0-9]*: tombstone" "$work/forged.err" || { cat "$work/forged.err" >&2; fail "the tombstone is not named on stderr"; }
echo "console consumer: forged records (replayed with a header, tombstone, unsealed) put nothing forged on stdout"
