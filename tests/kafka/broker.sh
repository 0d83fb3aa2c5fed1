#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft) for tests, from Maven Central jars.
#   broker.sh start DIR   -> resolves jars (cached in ~/.m2), formats DIR, starts the broker on
#                            free 127.0.0.1 ports, waits until it answers; prints BOOTSTRAP
#   broker.sh stop DIR    -> stops it by process id (logs stay in DIR/broker.log)
#   broker.sh restart DIR -> stops it and starts it again on the same ports and data
# REWRAP_KAFKA_SASL_USERS="alice:pw bob:pw" makes the client listener SASL_PLAINTEXT with the
# PLAIN mechanism and those users (plus "admin:admin-secret" for the broker itself).
# REWRAP_KAFKA_SCRAM_USERS="alice:pw mallory:pw" does the same and also enables SCRAM-SHA-256
# for those users (credentials written into the metadata log when DIR is formatted).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:?start|stop}"
dir="$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)"
lib="${REWRAP_KAFKA_LIB:-$HOME/.cache/rewrap/kafka-lib}"

. "$here/lib.sh"

case "$cmd" in
start)
  if [ ! -f "$lib/.complete" ]; then
    mkdir -p "$lib"
    mvn -B -ntp -q -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" -DincludeScope=runtime
    touch "$lib/.complete"
  fi
  java_opts=(-Xms256m -Xmx512m -Dlog4j.configuration="file:$here/log4j.properties" -cp "$lib/*")
  if [ -f "$dir/ports" ]; then
    # Restart: same ports, same (already formatted) data.
    read -r port cport < "$dir/ports"
  else
    read -r port cport <<< "$(two_free_ports)"
    echo "$port $cport" > "$dir/ports"
    mkdir -p "$dir/data"
    proto=PLAINTEXT
    sasl_users="${REWRAP_KAFKA_SASL_USERS:-}"
    scram_users="${REWRAP_KAFKA_SCRAM_USERS:-}"
    if [ -n "$sasl_users$scram_users" ]; then proto=SASL_PLAINTEXT; fi
    cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$proto://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$proto://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$proto:$proto
inter.broker.listener.name=$proto
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
    scram_args=()
    if [ "$proto" = SASL_PLAINTEXT ]; then
      users=""
      for u in admin:admin-secret $sasl_users; do users="$users user_${u%%:*}=\"${u#*:}\""; done
      mechanisms=PLAIN
      if [ -n "$scram_users" ]; then mechanisms=PLAIN,SCRAM-SHA-256; fi
      cat >> "$dir/server.properties" <<PROPS
sasl.enabled.mechanisms=$mechanisms
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret"$users;
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
      for u in $scram_users; do
        scram_args+=(--add-scram "SCRAM-SHA-256=[name=${u%%:*},password=${u#*:}]")
      done
    fi
    cluster=$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" \
      ${scram_args[@]+"${scram_args[@]}"} > "$dir/format.log" 2>&1
  fi
  [ -f "$dir/broker.log" ] && cat "$dir/broker.log" >> "$dir/broker.previous.log"
  nohup java "${java_opts[@]}" kafka.Kafka "$dir/server.properties" > "$dir/broker.log" 2>&1 &
  echo $! > "$dir/broker.pid"
  echo "127.0.0.1:$port" > "$dir/bootstrap"
  broker_up() {
    grep -q "Kafka Server started" "$dir/broker.log" 2>/dev/null && port_open "$port"
  }
  wait_ready broker "$dir/broker.pid" "$dir/broker.log" 60 broker_up
  ;;
stop)
  stop_pid "$dir/broker.pid" 30
  ;;
restart)
  "$0" stop "$dir"
  exec "$0" start "$dir"
  ;;
*) echo "usage: $0 start|stop|restart DIR" >&2; exit 2 ;;
esac
