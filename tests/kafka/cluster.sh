#!/usr/bin/env bash
# A three-broker KRaft cluster on loopback for tests (broker.sh start-cluster|stop-cluster).
#   cluster.sh start DIR -> prints the bootstrap list (and writes DIR/bootstrap)
#   cluster.sh stop DIR
# One node: `broker.sh stop DIR/nodeN`, `broker.sh restart DIR/nodeN`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
case "${1:?start|stop}" in
start | stop) exec "$here/broker.sh" "$1-cluster" "${2:?DIR}" ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
