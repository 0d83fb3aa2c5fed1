# Shared by broker.sh and proxy.sh (sourced).

# A loopback TCP port nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# Two distinct free ports, space-separated.
two_free_ports() {
  local a b
  a=$(free_port); b=$(free_port)
  while [ "$a" = "$b" ]; do b=$(free_port); done
  echo "$a $b"
}

# True when something accepts connections on 127.0.0.1:$1.
port_open() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1).close()" 2>/dev/null; }

# wait_ready NAME PIDFILE LOG SECONDS CHECK...: polls CHECK every 0.2 s until it succeeds
# (prints BOOTSTRAP file's content and exits 0), the process dies, or SECONDS pass (both
# print the log's tail, and the latter kills the process; exit 1).
wait_ready() {
  local name="$1" pidfile="$2" log="$3" seconds="$4"
  shift 4
  local tries=$((seconds * 5))
  for _ in $(seq 1 "$tries"); do
    if "$@"; then cat "$dir/bootstrap"; exit 0; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "$name exited; log follows" >&2; tail -50 "$log" >&2; exit 1
    fi
    sleep 0.2
  done
  echo "$name did not start in $seconds s; log follows" >&2; tail -50 "$log" >&2
  kill "$(cat "$pidfile")" 2>/dev/null || true
  exit 1
}

# stop_pid PIDFILE SECONDS: TERM, wait up to SECONDS, then KILL; removes the file.
stop_pid() {
  local pidfile="$1" seconds="$2" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}
