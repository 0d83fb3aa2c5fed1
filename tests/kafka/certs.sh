#!/usr/bin/env bash
# Test-time certificates (OpenSSL, EC P-256, valid 2 days) for a TLS cluster and its proxies.
#   certs.sh DIR -> DIR/ca.crt           the test CA (trusted by brokers, proxies and clients)
#                   DIR/broker.pem       brokers' PKCS#8 key + certificate (Kafka PEM keystore),
#                                        subjectAltName IP:127.0.0.1, DNS:localhost
#                   DIR/proxy.crt, .key  the proxies' certificate, CN=rewrap-proxy, the same
#                                        names: server certificate of the proxy's client
#                                        listener, and client certificate of its mTLS
#                                        connections to the brokers (principal
#                                        User:CN=rewrap-proxy)
#                   DIR/client.crt, .key a client certificate, CN=rewrap-client (not a super user)
# Keys are written 0600; the CA key is deleted once the certificates are signed.
set -euo pipefail
dir="$(mkdir -p "${1:?DIR}" && cd "$1" && pwd)"
cd "$dir"
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=rewrap test CA" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null

# leaf NAME CN: NAME.key (PKCS#8) and NAME.crt signed by the CA, for server and client use.
leaf() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
leaf broker localhost
leaf proxy rewrap-proxy
leaf client rewrap-client
cat broker.key broker.crt > broker.pem
rm -f broker.key ca.key ca.srl
chmod 0644 ca.crt ./*.crt
