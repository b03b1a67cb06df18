#!/usr/bin/env bash
# The soak: 1,000 WebSocket connections through a fault-injecting proxy for
# SECONDS seconds, every message checked.
#
#   bash tests/soak/run.sh SECONDS
#
# Builds the ws-soak binaries (release), then starts on 127.0.0.1:
#   soak-server   ws-tokio echo server, keepalive on (ping every SOAK_PING,
#                 idle timeout SOAK_IDLE)
#   fault-proxy   in front of it, random faults from SOAK_SEED: latency
#                 spikes of seconds, bandwidth caps, stalls shorter and
#                 longer than the idle timeout, resets, half-closes, cuts;
#                 each fault a JSON line in fault-log.jsonl
#   soak-client   SOAK_CONNECTIONS clients (half ws-tokio Reconnecting, half
#                 ws-blocking on threads), each sending a numbered message
#                 every SOAK_INTERVAL and checking the echoes
# and prints the client's one summary line
#   soak: N connections, S s, faults F, lost L, reordered R, duplicated D,
#   dead links detected in max X s (p99 Y s), reconnects C (max Z s),
#   server RSS start A MiB end B MiB, fds start P end Q
# exiting non-zero when anything was lost, reordered or duplicated, a stall
# longer than the idle timeout went undetected past ping + idle + SOAK_SLACK,
# a reconnect took longer than its backoff allows (+ SOAK_SLACK), or the
# server's fds or memory grew (see soak/src/bin/soak-client.rs).
#
# Runs shorter than 600 s scale the intervals down so that the idle timeout
# is crossed many times within the run: ping 3 s, idle 8 s, short stalls up
# to 4 s, long stalls 10-15 s, latency spikes up to 1.5 s, a fault per
# connection every 30 s on average, backoff 250 ms to 4 s, handshake timeout
# 5 s. Longer runs use ping 20 s, idle 45 s, stalls up to 20 s and 47-70 s,
# spikes up to 3 s, a fault every 120 s, backoff 1 s to 30 s. Any of them can
# be set: SOAK_PING, SOAK_IDLE, SOAK_SHORT_STALL, SOAK_LONG_STALL, SOAK_SPIKE,
# SOAK_EPISODE, SOAK_MEAN_GAP, SOAK_BACKOFF_BASE, SOAK_BACKOFF_MAX,
# SOAK_HANDSHAKE_TIMEOUT, SOAK_SLACK, SOAK_INTERVAL (2s), SOAK_CONNECTIONS
# (1000), SOAK_BLOCKING (half of them: ws-blocking threads), SOAK_SEED
# (default: the time; printed, so a run can be repeated).
#
# Every process is stopped by its PID on exit, every wait is bounded. Logs
# of the last run stay in target/soak/last/.

set -uo pipefail

if [[ $# -ne 1 || ! $1 =~ ^[0-9]+$ || $1 -lt 10 ]]; then
    echo "usage: bash tests/soak/run.sh SECONDS   (at least 10)" >&2
    exit 2
fi
DURATION=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/target/soak/last
rm -rf "$OUT"
mkdir -p "$OUT"

log() { printf '[soak] %s\n' "$*" >&2; }

if ((DURATION < 600)); then
    : "${SOAK_PING:=3s}" "${SOAK_IDLE:=8s}" "${SOAK_SHORT_STALL:=4s}" "${SOAK_LONG_STALL:=10s}"
    : "${SOAK_SPIKE:=1500ms}" "${SOAK_EPISODE:=5s}" "${SOAK_MEAN_GAP:=30s}"
    : "${SOAK_BACKOFF_BASE:=250ms}" "${SOAK_BACKOFF_MAX:=4s}" "${SOAK_HANDSHAKE_TIMEOUT:=5s}"
    : "${SOAK_SLACK:=3s}"
else
    : "${SOAK_PING:=20s}" "${SOAK_IDLE:=45s}" "${SOAK_SHORT_STALL:=20s}" "${SOAK_LONG_STALL:=47s}"
    : "${SOAK_SPIKE:=3s}" "${SOAK_EPISODE:=10s}" "${SOAK_MEAN_GAP:=120s}"
    : "${SOAK_BACKOFF_BASE:=1s}" "${SOAK_BACKOFF_MAX:=30s}" "${SOAK_HANDSHAKE_TIMEOUT:=10s}"
    : "${SOAK_SLACK:=5s}"
fi
: "${SOAK_INTERVAL:=2s}" "${SOAK_CONNECTIONS:=1000}" "${SOAK_SEED:=$(date +%s)}"
SOAK_BLOCKING=${SOAK_BLOCKING:-$((SOAK_CONNECTIONS / 2))}

PIDS=()
stop_pid() {
    local pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for_line FILE REGEX SECS
wait_for_line() {
    local file=$1 regex=$2 secs=$3
    for _ in $(seq $((secs * 10))); do
        grep -Eq "$regex" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    log "timed out waiting for /$regex/ in $file:"
    tail -n 20 "$file" >&2
    return 1
}

log "building release binaries (cargo)"
(cd "$ROOT" && timeout 1800 cargo build --release --quiet -p ws-soak --bins) || exit 1
BIN=$OUT/bin
mkdir -p "$BIN"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
for b in soak-server fault-proxy soak-client; do
    cp "$TARGET/release/$b" "$BIN/$b" || exit 1
done

# 1,000 connections need about 1,000 descriptors in the client and the
# server and 2,000 in the proxy.
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < 8192)); then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
log "fd limit $(ulimit -n); seed $SOAK_SEED; ping $SOAK_PING, idle $SOAK_IDLE, $SOAK_CONNECTIONS connections ($SOAK_BLOCKING ws-blocking)"
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY

T0=$(date +%s.%N)
"$BIN/soak-server" --ping "$SOAK_PING" --idle "$SOAK_IDLE" --stats-every 10s \
    >"$OUT/server.out" 2>"$OUT/server.err" &
SERVER=$!
PIDS+=("$SERVER")
wait_for_line "$OUT/server.out" 'listening on' 10 || exit 1
SERVER_ADDR=$(sed -n 's/.*listening on //p' "$OUT/server.out")

"$BIN/fault-proxy" --listen 127.0.0.1:0 --upstream "$SERVER_ADDR" --log "$OUT/fault-log.jsonl" \
    --seed "$SOAK_SEED" --mean-gap "$SOAK_MEAN_GAP" --short-stall "$SOAK_SHORT_STALL" \
    --long-stall "$SOAK_LONG_STALL" --spike "$SOAK_SPIKE" --episode "$SOAK_EPISODE" \
    >"$OUT/proxy.out" 2>"$OUT/proxy.err" &
PROXY=$!
PIDS+=("$PROXY")
wait_for_line "$OUT/proxy.out" 'listening on' 10 || exit 1
PROXY_ADDR=$(sed -n 's/.*listening on //p' "$OUT/proxy.out")
log "server $SERVER_ADDR (pid $SERVER), proxy $PROXY_ADDR (pid $PROXY)"

# The client's own bounds: the run, 30 s to connect everyone, the drain,
# the closes; this is only the backstop.
timeout --kill-after=10 $((DURATION + 180)) "$BIN/soak-client" \
    --url "ws://$PROXY_ADDR" --seconds "$DURATION" \
    --connections "$SOAK_CONNECTIONS" --blocking "$SOAK_BLOCKING" --interval "$SOAK_INTERVAL" \
    --ping "$SOAK_PING" --idle "$SOAK_IDLE" --slack "$SOAK_SLACK" \
    --backoff-base "$SOAK_BACKOFF_BASE" --backoff-max "$SOAK_BACKOFF_MAX" \
    --handshake-timeout "$SOAK_HANDSHAKE_TIMEOUT" \
    --server-pid "$SERVER" --proxy-pid "$PROXY" --fault-log "$OUT/fault-log.jsonl" \
    >"$OUT/client.out" 2>"$OUT/client.err" &
CLIENT=$!
PIDS+=("$CLIENT")
wait "$CLIENT"
STATUS=$?
T1=$(date +%s.%N)

stop_pid "$PROXY"
stop_pid "$SERVER"
grep -v '^soak-client: .*stall of' "$OUT/client.err" | tail -n 40 >&2
grep -c 'stall of' "$OUT/client.err" | sed 's/^/[soak] undetected stalls listed in client.err: /' >&2
tail -n 1 "$OUT/proxy.err" >&2
tail -n 1 "$OUT/server.err" >&2
log "wall time (build excluded): $(awk "BEGIN { printf \"%.0f\", $T1 - $T0 }") s; logs in $OUT"
cat "$OUT/client.out"
if ((STATUS != 0)); then
    log "FAILED (soak-client exit $STATUS)"
fi
exit "$STATUS"
