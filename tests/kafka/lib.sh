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
