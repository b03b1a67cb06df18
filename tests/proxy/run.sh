#!/usr/bin/env bash
# The clients behind real proxies, on loopback: ws-tokio's `client` example
# (which reads the proxy from the environment like curl) through tinyproxy
# (HTTP CONNECT, with and without Basic credentials) and microsocks
# (SOCKS5, socks5:// and socks5h://, with and without RFC 1929 credentials),
# to our echo server over ws:// and, behind a TLS front with a self-signed
# certificate, wss://. NO_PROXY bypasses; and every failure in words: 407,
# 403, 500 and 502, SOCKS5 reply codes 1-8, SOCKS5 authentication, a proxy
# that closes early or answers garbage (fake_proxy.py for what a real proxy
# will not do on demand).
#
#   bash tests/proxy/run.sh
#
# Installs tinyproxy and microsocks with apt-get if missing. Prints a
# matrix (case, expected, got, pass/fail) and `proxy: N passed, N failed`;
# exits non-zero on any failure. The proxy-level unit tests are in
# ws-proto (handshake::proxy), the adapter ones in ws-tokio/tests/proxy.rs
# and ws-blocking/tests/proxy.rs.
PEER_NAME=proxy
source "$(dirname "${BASH_SOURCE[0]}")/../peers/lib.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ensure_apt tinyproxy tinyproxy || { fail "install tinyproxy"; finish; }
ensure_apt microsocks microsocks || { fail "install microsocks"; finish; }
command -v openssl >/dev/null || ensure_apt openssl openssl || { fail "install openssl"; finish; }

log "building the client and echo-server examples (cargo)"
(cd "$ROOT" && timeout 1200 cargo build --quiet -p ws-tokio --example client --example echo-server) ||
    { fail "build the examples"; finish; }
target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
CLIENT=$target_dir/debug/examples/client
ECHO=$target_dir/debug/examples/echo-server

# Everything below lives at most this long.
LIFE=300
# tinyproxy drops root for `nobody`: its files must be reachable.
chmod 755 "$WORK"

echo_port=$(free_port)
start echo_pid "$WORK/echo.log" timeout $LIFE "$ECHO" "127.0.0.1:$echo_port"
wait_for_line "$WORK/echo.log" '^listening on' 20 || { fail "echo server start"; finish; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1 || { fail "make a certificate"; finish; }
tls_port=$(free_port)
start tls_pid "$WORK/tls.log" timeout $LIFE python3 "$HERE/tls_front.py" "$tls_port" "$WORK/cert.pem" "$WORK/key.pem" "$echo_port" $LIFE
wait_for_line "$WORK/tls.log" '^listening on' 20 || { fail "TLS front start"; finish; }

# tinyproxy NAME EXTRA-CONFIG-LINES: a tinyproxy in the foreground; sets
# the variable NAME to its port.
tinyproxy_start() {
    local var=$1 extra=$2 port dir
    port=$(free_port)
    dir=$WORK/$var
    mkdir -p "$dir" && chmod 777 "$dir"
    printf 'Port %s\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Info\nLogFile "%s/log"\nAllow 127.0.0.1\nDisableViaHeader Yes\n%s\n' \
        "$port" "$dir" "$extra" >"$dir/conf"
    start "${var}_pid" "$dir/out" timeout $LIFE tinyproxy -d -c "$dir/conf"
    printf -v "$var" '%s' "$port"
    wait_port "$port" || { fail "$var start"; sed 's/^/    | /' "$dir/out" "$dir/log" >&2; finish; }
}

wait_port() {
    local port=$1
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

tinyproxy_start http_open ""
tinyproxy_start http_auth 'BasicAuth alice s3cret'
# CONNECT allowed to port 1 only: any other destination gets 403.
tinyproxy_start http_ports 'ConnectPort 1'

socks_open=$(free_port)
start socks_open_pid "$WORK/socks-open.log" timeout $LIFE microsocks -i 127.0.0.1 -p "$socks_open"
socks_auth=$(free_port)
start socks_auth_pid "$WORK/socks-auth.log" timeout $LIFE microsocks -i 127.0.0.1 -p "$socks_auth" -u alice -P s3cret
wait_port "$socks_open" && wait_port "$socks_auth" || { fail "microsocks start"; finish; }

closed_port=$(free_port) # nothing listens here
ws=ws://127.0.0.1:$echo_port/
wss=wss://127.0.0.1:$tls_port/
h_open=http://127.0.0.1:$http_open
h_auth=127.0.0.1:$http_auth
s_open=127.0.0.1:$socks_open
s_auth=127.0.0.1:$socks_auth

ROWS=()
# case_ NAME EXPECTED URL [VAR=VALUE ...]: runs the client with only those
# proxy variables set. EXPECTED `echo`: it must print its own message and
# exit 0; otherwise a regex the first line of its error must match, with a
# non-zero exit.
case_() {
    local name=$1 expected=$2 url=$3 message out got ok status
    shift 3
    message="via $name"
    out=$(env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
        -u no_proxy -u NO_PROXY -u REQUEST_METHOD SSL_CERT_FILE="$WORK/cert.pem" "$@" \
        timeout 20 "$CLIENT" "$url" "$message" 2>&1)
    status=$?
    got=$(printf '%s' "$out" | head -n 1)
    if [[ $expected == echo ]]; then
        [[ $got == "$message" && $status == 0 ]]
    else
        [[ $got =~ $expected && $status != 0 ]]
    fi
    if (($? == 0)); then
        ok=pass
        pass "$name"
    else
        ok=FAIL
        fail "$name (exit $status): $out"
    fi
    ROWS+=("$name|$expected|$got|$ok")
}

# Through real proxies.
case_ "direct ws (no proxy)" echo "$ws"
case_ "tinyproxy ws (HTTP_PROXY)" echo "$ws" HTTP_PROXY="$h_open"
case_ "tinyproxy ws (http_proxy)" echo "$ws" http_proxy="$h_open"
case_ "tinyproxy wss (HTTPS_PROXY)" echo "$wss" HTTPS_PROXY="$h_open"
case_ "tinyproxy ws (ALL_PROXY)" echo "$ws" ALL_PROXY="$h_open"
case_ "tinyproxy+auth ws" echo "$ws" http_proxy="http://alice:s3cret@$h_auth"
case_ "tinyproxy+auth wss" echo "$wss" https_proxy="http://alice:s3cret@$h_auth"
case_ "tinyproxy+auth no credentials" "needs credentials \(407" "$ws" http_proxy="http://$h_auth"
# tinyproxy answers wrong credentials with 401, which counts as a rejection.
case_ "tinyproxy+auth wrong password" "rejected the credentials \(40[17]" "$wss" https_proxy="http://alice:nope@$h_auth"
case_ "tinyproxy ConnectPort: 403" "\(403 .*rules do not allow" "$ws" http_proxy="http://127.0.0.1:$http_ports"
case_ "tinyproxy to a closed port: 500" "answered CONNECT with 500" "ws://127.0.0.1:$closed_port/" http_proxy="$h_open"
case_ "microsocks socks5h ws" echo "$ws" ALL_PROXY="socks5h://$s_open"
case_ "microsocks socks5 ws" echo "$ws" all_proxy="socks5://$s_open"
case_ "microsocks socks5h wss" echo "$wss" HTTPS_PROXY="socks5h://$s_open"
case_ "microsocks socks5 wss (local DNS)" echo "wss://localhost:$tls_port/" HTTPS_PROXY="socks5://$s_open" NO_PROXY=example.org
case_ "microsocks+auth socks5 ws" echo "$ws" ALL_PROXY="socks5://alice:s3cret@$s_auth"
case_ "microsocks+auth socks5h wss" echo "$wss" ALL_PROXY="socks5h://alice:s3cret@$s_auth"
case_ "microsocks+auth wrong password" "rejected the user name and password" "$ws" ALL_PROXY="socks5h://alice:nope@$s_auth"
case_ "microsocks+auth no credentials" "requires authentication" "$ws" ALL_PROXY="socks5h://$s_auth"
case_ "microsocks to a closed port: 0x05" "connection refused by the destination \(reply 0x05\)" "ws://127.0.0.1:$closed_port/" ALL_PROXY="socks5h://$s_open"

# NO_PROXY: the proxy named is dead, so only a bypass reaches the server.
dead=http://127.0.0.1:$closed_port
case_ "NO_PROXY ip bypasses" echo "$ws" HTTP_PROXY="$dead" NO_PROXY=127.0.0.1
case_ "no_proxy CIDR bypasses" echo "$wss" HTTPS_PROXY="$dead" no_proxy=10.0.0.0/8,127.0.0.0/8
case_ "NO_PROXY name bypasses" echo "ws://localhost:$echo_port/" ALL_PROXY="$dead" NO_PROXY=.localhost
case_ "NO_PROXY * bypasses" echo "$ws" ALL_PROXY="$dead" NO_PROXY='*'
case_ "NO_PROXY host:port bypasses" echo "$ws" ALL_PROXY="$dead" NO_PROXY="127.0.0.1:$echo_port"
case_ "NO_PROXY other port: via the proxy" "cannot connect to the proxy" "$ws" ALL_PROXY="$dead" NO_PROXY="127.0.0.1:1"
case_ "proxy not listening" "cannot connect to the proxy" "$wss" HTTPS_PROXY="$dead"
case_ "bad proxy URL in the environment" "HTTPS_PROXY is unusable" "$wss" HTTPS_PROXY="ftp://127.0.0.1:21"

# What a real proxy will not do on demand.
# fake_case NAME EXPECTED MODE SCHEME: a fake_proxy.py in MODE, for one case.
fake_case() {
    local name=$1 expected=$2 mode=$3 scheme=$4 port log
    port=$(free_port)
    log=$WORK/fake-$port.log
    start fake_pid "$log" timeout $LIFE python3 "$HERE/fake_proxy.py" "$port" "$mode" $LIFE
    if wait_for_line "$log" '^listening on' 20; then
        case_ "$name" "$expected" "$ws" ALL_PROXY="$scheme://127.0.0.1:$port"
    else
        fail "$name: fake proxy start"
    fi
    stop_pid "$fake_pid"
}
fake_case "fake HTTP 502" "could not reach the destination \(502" http:502 http
fake_case "fake HTTP 403" "\(403 Forbidden\)" http:403 http
fake_case "fake HTTP 503 (other status)" "answered CONNECT with 503" http:503 http
fake_case "fake HTTP closes early" "closed the connection before answering" http-close http
fake_case "fake HTTP garbage" "answer is malformed" http-garbage http
fake_case "fake SOCKS closes early" "closed the connection before answering" socks-close socks5h
fake_case "fake SOCKS garbage" "answer is malformed.*not a SOCKS5 proxy" socks-garbage socks5h
words=("" "general SOCKS server failure" "connection not allowed by the proxy's ruleset"
    "network unreachable" "host unreachable" "connection refused by the destination"
    "TTL expired" "command not supported by the proxy" "address type not supported by the proxy")
for code in 1 2 3 4 5 6 7 8; do
    fake_case "fake SOCKS reply 0x0$code" "${words[$code]} \(reply 0x0$code\)" "socks:$code" socks5h
done

echo
printf '%-40s | %-60s | %-70s | %s\n' case expected got result
for row in "${ROWS[@]}"; do
    IFS='|' read -r name expected got ok <<<"$row"
    printf '%-40s | %-60.60s | %-70.70s | %s\n' "$name" "$expected" "$got" "$ok"
done
echo
finish
