#!/usr/bin/env bash
# nginx as a reverse proxy in front of our echo servers, on loopback.
#
#   bash tests/peers/nginx.sh
#
# Installs Debian's nginx if missing; runs it in the foreground (`daemon
# off`) with a private config and prefix under a temporary directory.
#   /ws, /ws-blocking  proxy_http_version 1.1 + Upgrade/Connection headers:
#                      messages of 10 B .. 1 MiB pass both ways (both clients)
#   /noupgrade         no Upgrade/Connection headers: the client's error
#                      names 426 and the likely cause (a stripped Upgrade)
#   /http10            nginx's default HTTP/1.0 to the upstream: a clear refusal
#   /static, /denied   nginx answers 200 / 403 itself: status + likely cause
#   /drop              nginx closes without answering (444): "connection
#                      closed during the opening handshake (a proxy ...)"
# Prints `nginx: N passed, N failed`; exits non-zero on any failure.
PEER_NAME=nginx
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_apt nginx nginx || { fail "install nginx"; finish; }
build_bins || { fail "build our binaries"; finish; }

tokio_port=$(free_port)
blocking_port=$(free_port)
nginx_port=$(free_port)
start tokio_pid "$WORK/tokio-echo.log" timeout 600 "$PEERS_BIN/tokio-echo-server" "127.0.0.1:$tokio_port"
start blocking_pid "$WORK/blocking-echo.log" timeout 600 "$PEERS_BIN/blocking-echo-server" "127.0.0.1:$blocking_port"
wait_for_line "$WORK/tokio-echo.log" '^listening on' 20 || { fail "tokio echo server start"; finish; }
wait_for_line "$WORK/blocking-echo.log" '^listening on' 20 || { fail "blocking echo server start"; finish; }

prefix=$WORK/nginx
mkdir -p "$prefix/logs" "$prefix/tmp"
# nginx's workers run as an unprivileged user when started by root.
chmod 755 "$WORK" "$prefix" "$prefix/tmp"
cat >"$prefix/nginx.conf" <<EOF
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log info;
events { worker_connections 256; }
http {
    access_log $prefix/logs/access.log;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        location /ws {
            proxy_pass http://127.0.0.1:$tokio_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host \$host;
            proxy_read_timeout 60s;
        }
        location /ws-blocking {
            proxy_pass http://127.0.0.1:$blocking_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        location /noupgrade {
            proxy_pass http://127.0.0.1:$tokio_port;
            proxy_http_version 1.1;
        }
        location /http10 {
            proxy_pass http://127.0.0.1:$tokio_port;
        }
        location /static { return 200 "a plain web page\n"; }
        location /denied { return 403; }
        location /drop { return 444; }
    }
}
EOF
timeout 20 nginx -t -p "$prefix" -c "$prefix/nginx.conf" >"$WORK/nginx-t.log" 2>&1 ||
    { fail "nginx -t"; sed 's/^/    | /' "$WORK/nginx-t.log" >&2; finish; }
start nginx_pid "$WORK/nginx.log" timeout 600 nginx -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;'
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break
    sleep 0.1
done

base=ws://127.0.0.1:$nginx_port
pc() { timeout 120 "$PEERS_BIN/peer-check" "$@"; }

check "tokio client: 10 B .. 1 MiB both ways through nginx /ws (deflate negotiated)" \
    pc client "$base/ws" echo --expect-deflate
check "blocking client: 10 B .. 1 MiB both ways through nginx /ws" \
    pc client "$base/ws" echo --blocking --expect-deflate
check "tokio client through nginx to the blocking server (/ws-blocking)" \
    pc client "$base/ws-blocking" echo
check "tokio client: close code 4321 passes through nginx" \
    pc client "$base/ws" close 4321
check_error() {
    local name=$1 path=$2 want=$3
    shift 3
    local out=$WORK/refused-$RANDOM.log
    if pc client "$base$path" refused "$@" >"$out" 2>&1 && grep -q "$want" "$out"; then
        pass "$name: $(grep '^error:' "$out" | head -n 1)"
    else
        fail "$name"
        sed 's/^/    | /' "$out" >&2
    fi
}
check_error "tokio client: /noupgrade gives 426 + cause" /noupgrade "stripped the Upgrade header" --status 426
check_error "blocking client: /noupgrade gives 426 + cause" /noupgrade "stripped the Upgrade header" --status 426 --blocking
check_error "tokio client: /http10 is a clear refusal" /http10 "instead of 101"
check_error "tokio client: nginx answering 200 itself" /static "answered the request itself" --status 200
check_error "tokio client: nginx refusing with 403" /denied "refused the client" --status 403
check_error "tokio client: nginx closing during the handshake" /drop "a proxy or load balancer that does not pass WebSocket upgrades"
check_error "blocking client: nginx closing during the handshake" /drop "a proxy or load balancer that does not pass WebSocket upgrades" --blocking

finish
