#!/usr/bin/env bash
# The rewrap re-encryption proxy (Shotover + RewrapReencrypt) in front of a test broker.
#   proxy.sh start DIR BROKER GRANTS ADMIN_PUB   -> writes DIR/topology.yaml and config.yaml,
#                                                  starts the proxy on a free 127.0.0.1 port,
#                                                  waits until it answers; prints its bootstrap
#   proxy.sh passthrough DIR BROKER              -> the same Shotover chain without the
#                                                  transform (benchmark baseline)
#   proxy.sh stop DIR                            -> stops it by process id (log in DIR/proxy.log)
#   proxy.sh restart DIR                         -> stop, then start again on the same port
# Environment: REWRAP_PROXY_BIN (default: target/{release,debug}/rewrap-proxy),
#              REWRAP_PROXY_SINK=cluster|single (default cluster: Shotover's KafkaSinkCluster),
#              REWRAP_PROXY_REWRITTEN=SameCodec|Lz4|Uncompressed (codec of re-encoded batches),
#              REWRAP_PROXY_POLICY=require|optional|off (producer signature policy),
#              REWRAP_PROXY_POLICIES="TOPIC=POLICY ..." (per-topic overrides),
#              REWRAP_PROXY_SEED=FILE (channel signing seed: 64 hex characters, mode 0600),
#              REWRAP_PROXY_MISSES_PER_CONSUMER=N (re-encryption misses per second per consumer),
#              REWRAP_PROXY_REQUIRE_SASL=1 (the listener requires SASL: frames before the client
#              authenticated are bounded by max_unauthenticated_request_bytes, default 512 KiB),
#              REWRAP_PROXY_REGISTRY_TOPIC, REWRAP_PROXY_SHARE (with GRANTS = kafka://BOOTSTRAP:
#              follow the Kafka grant registry instead of a directory store),
#              REWRAP_PROXY_PEERS="HOST:PORT HOST:PORT ..." with REWRAP_PROXY_NODE=i (0-based):
#              start node i of a group of KafkaSinkCluster proxies that know each other (node
#              j: rack "rack<j>", broker_id j), listening on the i-th address; BROKER may then
#              be a comma-separated bootstrap list (all of it becomes first_contact_points),
#              REWRAP_PROXY_TLS=DIR (certs.sh output): the client listener on TLS with
#              DIR/proxy.{crt,key},
#              REWRAP_PROXY_BROKER_TLS=DIR: the sink's connections to BROKER on TLS (CA
#              DIR/ca.crt, host names verified),
#              REWRAP_PROXY_MTLS=HOST:PORT,... (with REWRAP_PROXY_BROKER_TLS, cluster sink): SASL
#              SCRAM through Shotover's authorize_scram_over_mtls, delegation tokens created
#              over mTLS (client certificate DIR/proxy.{crt,key}) at those broker listeners,
#              REWRAP_PROXY_REGISTRY_PROPERTIES="KEY=VALUE ..." (librdkafka properties of the
#              registry follower: TLS, SASL).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cmd="${1:?start|passthrough|stop|restart}"
dir="$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"

. "$here/lib.sh"

bin="${REWRAP_PROXY_BIN:-}"
if [ -z "$bin" ]; then
  for b in "$target/release/rewrap-proxy" "$target/debug/rewrap-proxy"; do
    if [ -x "$b" ]; then bin="$b"; break; fi
  done
fi

write_config() {
  local broker="$1" transform="$2"
  local bport="${broker##*:}" port mport
  local peers="${REWRAP_PROXY_PEERS:-}" node="${REWRAP_PROXY_NODE:-0}" b
  local -a peer_list
  if [ -n "$peers" ]; then
    read -r -a peer_list <<< "$peers"
    if [ -z "${peer_list[$node]:-}" ]; then
      echo "REWRAP_PROXY_NODE=$node is not an index of REWRAP_PROXY_PEERS ($peers)" >&2
      exit 2
    fi
    port="${peer_list[$node]##*:}"
    mport=$(free_port)
    while [ "$mport" = "$port" ]; do mport=$(free_port); done
  else
    read -r port mport <<< "$(two_free_ports)"
    peer_list=("127.0.0.1:$port")
    node=0
  fi
  echo "$port $mport" > "$dir/ports"
  local sink contacts="" nodes="" j limits=""
  if [ -n "${REWRAP_PROXY_REQUIRE_SASL:-}" ]; then
    limits="      require_sasl: true
"
  fi
  for b in ${broker//,/ }; do contacts+="${contacts:+, }\"$b\""; done
  for j in "${!peer_list[@]}"; do
    nodes+="
              - address_for_clients: \"${peer_list[$j]}\"
                address_for_peers: \"${peer_list[$j]}\"
                rack: \"rack$j\"
                broker_id: $j"
  done
  local tls="${REWRAP_PROXY_TLS:-}" listener_tls="" sink_tls="" mtls="" m mtls_points=""
  if [ -n "$tls" ]; then
    tls="$(cd "$tls" && pwd)"
    listener_tls="
      tls:
        certificate_path: \"$tls/proxy.crt\"
        private_key_path: \"$tls/proxy.key\""
  fi
  tls="${REWRAP_PROXY_BROKER_TLS:-}"
  if [ -n "$tls" ]; then
    tls="$(cd "$tls" && pwd)"
    sink_tls="
            tls:
              certificate_authority_path: \"$tls/ca.crt\"
              verify_hostname: true"
    if [ -n "${REWRAP_PROXY_MTLS:-}" ]; then
      for m in ${REWRAP_PROXY_MTLS//,/ }; do mtls_points+="${mtls_points:+, }\"$m\""; done
      mtls="
            authorize_scram_over_mtls:
              mtls_port_contact_points: [$mtls_points]
              tls:
                certificate_authority_path: \"$tls/ca.crt\"
                certificate_path: \"$tls/proxy.crt\"
                private_key_path: \"$tls/proxy.key\"
                verify_hostname: true
              delegation_token_lifetime_seconds: 86400"
    fi
  fi
  if [ "${REWRAP_PROXY_SINK:-cluster}" = single ]; then
    # KafkaSinkSingle connects to the proxy's own address with the broker's port.
    sink="        - KafkaSinkSingle:
            destination_port: $bport
            connect_timeout_ms: 3000$sink_tls"
  else
    sink="        - KafkaSinkCluster:
            first_contact_points: [$contacts]
            shotover_nodes:$nodes
            local_shotover_broker_id: $node
            connect_timeout_ms: 3000$sink_tls$mtls"
  fi
  cat > "$dir/topology.yaml" <<YAML
sources:
  - Kafka:
      name: "rewrap"
      listen_addr: "127.0.0.1:$port"$listener_tls
$limits      chain:
$transform$sink
YAML
  cat > "$dir/config.yaml" <<YAML
main_log_level: "${REWRAP_PROXY_LOG:-info}"
observability_interface: "127.0.0.1:$mport"
YAML
}

launch() {
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "rewrap-proxy binary not found; build it with: cargo build --release -p rewrap-proxy" >&2
    exit 1
  fi
  local port
  read -r port _ < "$dir/ports"
  [ -f "$dir/proxy.log" ] && cat "$dir/proxy.log" >> "$dir/proxy.previous.log"
  nohup "$bin" --topology-file "$dir/topology.yaml" --config-file "$dir/config.yaml" \
    --core-threads "${REWRAP_PROXY_THREADS:-2}" > "$dir/proxy.log" 2>&1 &
  echo $! > "$dir/proxy.pid"
  echo "127.0.0.1:$port" > "$dir/bootstrap"
  wait_ready proxy "$dir/proxy.pid" "$dir/proxy.log" 10 port_open "$port"
}

stop() {
  stop_pid "$dir/proxy.pid" 5
}

case "$cmd" in
start)
  broker="${3:?BROKER}"; grants="${4:?GRANTS}"; admin="${5:?ADMIN_PUB}"
  signing=""
  if [ -n "${REWRAP_PROXY_POLICY:-}" ]; then
    signing+="            producer_policy: \"$REWRAP_PROXY_POLICY\"
"
  fi
  if [ -n "${REWRAP_PROXY_POLICIES:-}" ]; then
    signing+="            producer_policies:
"
    for p in $REWRAP_PROXY_POLICIES; do
      signing+="              \"${p%%=*}\": \"${p#*=}\"
"
    done
  fi
  if [ -n "${REWRAP_PROXY_MISSES_PER_CONSUMER:-}" ]; then
    signing+="            max_misses_per_sec_per_consumer: $REWRAP_PROXY_MISSES_PER_CONSUMER
"
  fi
  if [ -n "${REWRAP_PROXY_SEED:-}" ]; then
    signing+="            channel_signing_seed: \"$REWRAP_PROXY_SEED\"
"
  fi
  case "$grants" in
  kafka://*)
    # The Kafka grant registry at that bootstrap.
    source_yaml="grant_registry:
              bootstrap: \"${grants#kafka://}\"
              topic: \"${REWRAP_PROXY_REGISTRY_TOPIC:-__rewrap_grants}\""
    if [ -n "${REWRAP_PROXY_SHARE:-}" ]; then
      source_yaml+="
              share: $REWRAP_PROXY_SHARE"
    fi
    if [ -n "${REWRAP_PROXY_REGISTRY_PROPERTIES:-}" ]; then
      source_yaml+="
              properties:"
      for p in $REWRAP_PROXY_REGISTRY_PROPERTIES; do
        source_yaml+="
                \"${p%%=*}\": \"${p#*=}\""
      done
    fi
    ;;
  *) source_yaml="grant_store: \"$grants\"" ;;
  esac
  write_config "$broker" "        - RewrapReencrypt:
            $source_yaml
            trusted_admins: [\"$admin\"]
            reload_interval_ms: ${REWRAP_PROXY_RELOAD_MS:-200}
            rewritten_batches: ${REWRAP_PROXY_REWRITTEN:-SameCodec}
$signing"
  launch
  ;;
passthrough)
  write_config "${3:?BROKER}" ""
  launch
  ;;
stop) stop ;;
restart)
  stop
  launch
  ;;
*) echo "usage: $0 start|passthrough|stop|restart DIR ..." >&2; exit 2 ;;
esac
