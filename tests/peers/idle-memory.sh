#!/usr/bin/env bash
# Server memory per idle connection: the ws-tokio echo server holding many
# idle WebSocket connections, on loopback.
#
#   bash tests/peers/idle-memory.sh            (10,000 connections)
#   IDLE_CONNECTIONS=2000 bash tests/peers/idle-memory.sh
#
# For each client kind (without compression, and offering permessage-deflate
# as browsers do), starts a fresh echo server, reads its VmRSS from
# /proc/PID/status, opens the connections from a separate process
# (`peer-check hold`), reads VmRSS again once all are idle, and reports the
# growth per connection. The target (IDLE_TARGET_BYTES, default 1536 =
# 1.5 KiB) applies to connections without compression; the deflate figure is
# reported (see README.md for why it is larger). Raises `ulimit -n`.
# Then the same through the reverse proxy (`ws-tokio --example proxy`) in
# front of an echo server: the proxy's growth per relayed pair (its client
# connection, its backend connection and the relay task), which must stay
# within twice the echo server's per connection (IDLE_PROXY_FACTOR, 2).
# Prints `idle-memory: N passed, N failed`; exits non-zero if over target.
#
# Where the bytes go (10,000 connections, glibc malloc, counted with a
# counting allocator and mallinfo2): per connection three allocations live,
# tokio's task cell (256 B, aligned to 128), tokio's I/O registration
# (256 B, aligned to 128) and ws-tokio's shared state (424 B, 312 of them
# the core's Connection); with malloc's headers about 1,030 B in use. The
# 128-byte alignment makes glibc carve each block out of a larger one and
# free the rest as small fragments that nothing reuses: about 290 B per
# connection of free memory inside the arenas. The rest is page tables and
# the like.
PEER_NAME=idle-memory
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUNT=${IDLE_CONNECTIONS:-10000}
TARGET=${IDLE_TARGET_BYTES:-1536}
# Both ends of every connection are on this machine, one per process; the
# proxy holds two sockets per client.
ulimit -n $((2 * COUNT + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if (($(ulimit -n) < COUNT + 100)); then
    log "ulimit -n is $(ulimit -n): not enough for $COUNT connections"
    fail "raise the open-file limit"
    finish
fi
# The proxy holds two sockets per pair: with a lower limit (20,000 is
# common), fewer pairs are measured; the figure is per pair either way.
PROXY_COUNT=$((($(ulimit -n) - 1024) / 2))
((PROXY_COUNT > COUNT)) && PROXY_COUNT=$COUNT
build_bins || { fail "build our binaries"; finish; }
copy_example ws-tokio proxy "$PEERS_BIN/tokio-proxy" "usage: proxy LISTEN_ADDR" || { fail "build the proxy"; finish; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# The server runs under `timeout`: its PID is that process's only child.
child_of() { tr -d ' \n' <"/proc/$1/task/$1/children"; }

# measure LABEL [peer-check hold flags...]: sets PER_CONNECTION (bytes).
# With MEASURE_PROXY=1 the holder connects through the proxy, and the
# proxy's memory is measured instead of the echo server's.
measure() {
    local label=$1
    shift
    local port before after holder_pid server fifo=$WORK/hold-$label.in
    port=$(free_port)
    start server_pid "$WORK/server-$label.log" timeout 900 "$PEERS_BIN/tokio-echo-server" "127.0.0.1:$port"
    wait_for_line "$WORK/server-$label.log" '^listening on' 20 || return 1
    server=$(child_of "$server_pid")
    if [[ ${MEASURE_PROXY:-0} == 1 ]]; then
        local backend=$port
        port=$(free_port)
        start proxy_pid "$WORK/proxy-$label.log" timeout 900 "$PEERS_BIN/tokio-proxy" "127.0.0.1:$port" "ws://127.0.0.1:$backend/"
        wait_for_line "$WORK/proxy-$label.log" '^listening on' 20 || return 1
        server=$(child_of "$proxy_pid")
    fi
    [[ -n $server && -r /proc/$server/status ]] || return 1
    sleep 0.5
    before=$(rss_kib "$server")
    mkfifo "$fifo"
    # The holder keeps its connections until its standard input ends.
    local n=${MEASURE_COUNT:-$COUNT}
    timeout 900 "$PEERS_BIN/peer-check" hold "ws://127.0.0.1:$port/" "$n" "$@" \
        <"$fifo" >"$WORK/hold-$label.log" 2>&1 &
    holder_pid=$!
    PIDS+=("$holder_pid")
    exec 3>"$fifo"
    if ! wait_for_line "$WORK/hold-$label.log" "^holding $n\$" 600; then
        exec 3>&-
        return 1
    fi
    sleep 2 # let the server finish the last handshakes and settle
    after=$(rss_kib "$server")
    exec 3>&- # the holder lets go
    stop_pid "$holder_pid"
    [[ ${MEASURE_PROXY:-0} == 1 ]] && stop_pid "$proxy_pid"
    stop_pid "$server_pid"
    PER_CONNECTION=$(((after - before) * 1024 / n))
    log "$label: server VmRSS ${before} KiB -> ${after} KiB with $n idle connections: $PER_CONNECTION bytes per connection"
}

measure plain --no-deflate || { fail "measure without compression"; finish; }
plain=$PER_CONNECTION
if ((plain <= TARGET)); then
    pass "idle connection without compression: $plain bytes (target <= $TARGET)"
else
    fail "idle connection without compression: $plain bytes (target <= $TARGET)"
fi
measure deflate || { fail "measure with permessage-deflate"; finish; }
deflate=$PER_CONNECTION
pass "idle connection with permessage-deflate negotiated: $deflate bytes (reported, no target)"
FACTOR=${IDLE_PROXY_FACTOR:-2}
MEASURE_PROXY=1 MEASURE_COUNT=$PROXY_COUNT measure proxied --no-deflate || { fail "measure through the proxy"; finish; }
proxied=$PER_CONNECTION
if ((proxied <= FACTOR * plain)); then
    pass "idle pair through the proxy: $proxied bytes in the proxy (target <= $FACTOR x $plain)"
else
    fail "idle pair through the proxy: $proxied bytes in the proxy (target <= $FACTOR x $plain)"
fi
echo "idle-memory: bytes per idle connection: plain=$plain deflate=$deflate proxied-pair=$proxied (count=$COUNT, pairs=$PROXY_COUNT)"

finish
