#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft) for tests, from Maven Central jars.
#   broker.sh start DIR   -> resolves jars (cached in ~/.m2), formats DIR, starts the broker on
#                            free 127.0.0.1 ports, waits until it answers; prints BOOTSTRAP
#   broker.sh stop DIR    -> stops it by process id (logs stay in DIR/broker.log)
#   broker.sh restart DIR -> stops it and starts it again on the same ports and data
#   broker.sh start-cluster DIR -> three KRaft nodes (broker+controller each, node.id 1..3,
#                            racks rack0..rack2, replication factor 3, min.insync.replicas=2)
#                            in DIR/node1..node3, started in parallel; waits until all three
#                            answer; prints and writes DIR/bootstrap (host:port,host:port,...)
#                            One node: `broker.sh stop|restart DIR/nodeN` (same ports, data).
#                            Each node also has a SASL_SSL listener (SCRAM-SHA-512,
#                            SCRAM-SHA-256 and PLAIN; users alice, carol, mallory and
#                            registry, password NAME-secret for both mechanisms) and an SSL
#                            listener that requires a client certificate (for the proxies'
#                            SCRAM-over-mTLS delegation tokens, principal
#                            User:CN=rewrap-proxy); certificates from certs.sh in DIR/tls;
#                            bootstrap lists in DIR/bootstrap-sasl-ssl and DIR/bootstrap-mtls.
#                            No authorizer: the test cluster has no ACLs (README "TLS and
#                            SASL" gives the production settings).
#   broker.sh stop-cluster DIR -> stops the three nodes
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

resolve_jars() {
  if [ ! -f "$lib/.complete" ]; then
    mkdir -p "$lib"
    mvn -B -ntp -q -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" -DincludeScope=runtime
    touch "$lib/.complete"
  fi
}
java_opts=(-Xms256m -Xmx512m -Dlog4j.configuration="file:$here/log4j.properties" -cp "$lib/*")

# Cluster nodes (three JVMs starting at once on a small machine): C1 only and the serial
# collector, for less start-up CPU; a node restarted alone (`broker.sh restart DIR/nodeN`)
# keeps them (DIR/java.opts).
cluster_java_opts=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC)

# launch_node DIR: starts the broker of DIR/server.properties (with the JVM options of
# DIR/java.opts, if any), pid in DIR/broker.pid.
launch_node() {
  local -a extra=()
  [ -f "$1/java.opts" ] && read -r -a extra < "$1/java.opts"
  [ -f "$1/broker.log" ] && cat "$1/broker.log" >> "$1/broker.previous.log"
  nohup java ${extra[@]+"${extra[@]}"} "${java_opts[@]}" kafka.Kafka "$1/server.properties" \
    > "$1/broker.log" 2>&1 &
  echo $! > "$1/broker.pid"
}

# node_up DIR PORT: the node has logged its start and accepts connections.
node_up() { grep -q "Kafka Server started" "$1/broker.log" 2>/dev/null && port_open "$2"; }

case "$cmd" in
start)
  resolve_jars
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
  launch_node "$dir"
  echo "127.0.0.1:$port" > "$dir/bootstrap"
  wait_ready broker "$dir/broker.pid" "$dir/broker.log" 60 node_up "$dir" "$port"
  ;;
start-cluster)
  resolve_jars
  # Twelve distinct free ports: client (plaintext), controller, SASL_SSL and mTLS port of
  # each node.
  ports=()
  while [ ${#ports[@]} -lt 12 ]; do
    p=$(free_port)
    case " ${ports[*]-} " in *" $p "*) ;; *) ports+=("$p") ;; esac
  done
  voters="1@127.0.0.1:${ports[1]},2@127.0.0.1:${ports[5]},3@127.0.0.1:${ports[9]}"
  bootstrap="127.0.0.1:${ports[0]},127.0.0.1:${ports[4]},127.0.0.1:${ports[8]}"
  echo "127.0.0.1:${ports[2]},127.0.0.1:${ports[6]},127.0.0.1:${ports[10]}" \
    > "$dir/bootstrap-sasl-ssl"
  echo "127.0.0.1:${ports[3]},127.0.0.1:${ports[7]},127.0.0.1:${ports[11]}" > "$dir/bootstrap-mtls"
  tls="$dir/tls"
  "$here/certs.sh" "$tls"
  # The delegation-token secret (shared by the nodes) and the test users' credentials.
  token_secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  plain_users="" scram_args=()
  for u in alice carol mallory registry; do
    plain_users="$plain_users user_$u=\"$u-secret\""
    for m in SCRAM-SHA-512 SCRAM-SHA-256; do
      scram_args+=(--add-scram "$m=[name=$u,password=$u-secret]")
    done
  done
  # A Kafka Uuid (16 random bytes, unpadded base64url, not starting with '-'), without a JVM.
  cluster=$(python3 -c 'import base64, os
while True:
    u = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    if not u.startswith("-"): print(u); break')
  for n in 1 2 3; do
    node="$dir/node$n" port=${ports[$(((n - 1) * 4))]} cport=${ports[$(((n - 1) * 4 + 1))]}
    sport=${ports[$(((n - 1) * 4 + 2))]} mport=${ports[$(((n - 1) * 4 + 3))]}
    mkdir -p "$node/data"
    echo "$port $cport" > "$node/ports"
    echo "${cluster_java_opts[*]}" > "$node/java.opts"
    echo "127.0.0.1:$port" > "$node/bootstrap"
    cat > "$node/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
broker.rack=rack$((n - 1))
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SECURE://127.0.0.1:$sport,MTLS://127.0.0.1:$mport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SECURE://127.0.0.1:$sport,MTLS://127.0.0.1:$mport
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL,MTLS:SSL
inter.broker.listener.name=PLAINTEXT
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.crt
listener.name.mtls.ssl.client.auth=required
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
delegation.token.secret.key=$token_secret
log.dirs=$node/data
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
    # Format and start each node in the background: the three JVMs start in parallel.
    ( java "${cluster_java_opts[@]}" "${java_opts[@]}" kafka.tools.StorageTool format \
        -t "$cluster" -c "$node/server.properties" "${scram_args[@]}" > "$node/format.log" 2>&1 \
        && launch_node "$node" ) &
  done
  wait
  echo "$bootstrap" > "$dir/bootstrap"
  node_alive() { [ -f "$1/broker.pid" ] && kill -0 "$(cat "$1/broker.pid")" 2>/dev/null; }
  cluster_up() {
    local n
    for n in 1 2 3; do
      node_up "$dir/node$n" "${ports[$(((n - 1) * 4))]}" || return 1
      node_alive "$dir/node$n" || return 1
    done
  }
  for _ in $(seq 1 $((90 * 5))); do
    if cluster_up; then cat "$dir/bootstrap"; exit 0; fi
    for n in 1 2 3; do
      if ! node_alive "$dir/node$n"; then
        echo "cluster node $n exited; logs follow" >&2
        tail -30 "$dir/node$n/format.log" "$dir/node$n/broker.log" >&2 2>/dev/null
        "$0" stop-cluster "$dir"; exit 1
      fi
    done
    sleep 0.2
  done
  echo "cluster did not start in 90 s" >&2
  for n in 1 2 3; do tail -20 "$dir/node$n/broker.log" >&2; done
  "$0" stop-cluster "$dir"; exit 1
  ;;
stop-cluster)
  for n in 1 2 3; do stop_pid "$dir/node$n/broker.pid" 30 & done
  wait
  ;;
stop)
  stop_pid "$dir/broker.pid" 30
  ;;
restart)
  "$0" stop "$dir"
  exec "$0" start "$dir"
  ;;
*) echo "usage: $0 start|stop|restart|start-cluster|stop-cluster DIR" >&2; exit 2 ;;
esac
