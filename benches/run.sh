#!/usr/bin/env bash
# Runs the ws-benches suite and writes benches/RESULTS.md.
#
#   bash benches/run.sh [quick|full]
#
# 1. Builds the echo servers and the load generator (release).
# 2. Hot path: the criterion benches (frames, primitives, handshake), with
#    short settings in quick mode (WS_BENCH_QUICK=1). SKIP_CRITERION=1 skips.
# 3. End to end over 127.0.0.1: each echo server (ours: ws-tokio on a
#    current-thread runtime and ws-blocking with a thread per connection;
#    peers: tokio-tungstenite, fastwebsockets, tokio-websockets, all on a
#    current-thread runtime) pinned to core 0, the load generator pinned to
#    core 1; messages of 20 B and 1 KiB over 100 connections with one
#    message in flight each (the load the performance targets name), 64 KiB
#    over 4 connections x 2 in flight, 1 MiB over 2 x 1; messages/s, MB/s,
#    p50/p99 round trip and the server's CPU time per echoed message
#    (/proc/PID/stat utime+stime over the measured window). The load
#    generator does not offer permessage-deflate.
# 4. Memory: a fresh server per stack, 10,000 idle connections, the
#    server's VmRSS delta per connection.
# 5. One Markdown table of ratios (ours / peer) plus the raw numbers, printed
#    and written to benches/RESULTS.md.
#
# Every server is started and stopped by PID; a trap stops them on any exit.
# Everything is bounded in time: quick takes a few minutes, full longer.

set -euo pipefail

MODE=${1:-quick}
case "$MODE" in
quick)
    SECONDS_PER_RUN=2
    WARMUP_MS=300
    ROUNDS=1
    ;;
full)
    SECONDS_PER_RUN=8
    WARMUP_MS=1000
    ROUNDS=3
    ;;
*)
    echo "usage: $0 [quick|full]" >&2
    exit 2
    ;;
esac
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCHES=$ROOT/benches
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ws-benches.XXXXXX")
RESULTS=$WORK/results.txt
: >"$RESULTS"

SERVERS=(ws-tokio ws-blocking tungstenite fastwebsockets tokio-websockets)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${KEEP_WORK:-}" ]; then
        echo "work files kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[run.sh $(date +%H:%M:%S)] $*" >&2; }

# 10,000 connections need more than the usual 1,024 descriptors per process.
want_fds=$((IDLE_CONNECTIONS + 512))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want_fds" ]; then
    want_fds=$hard
fi
ulimit -n "$want_fds"
if [ "$IDLE_CONNECTIONS" -gt $(($(ulimit -n) - 256)) ]; then
    IDLE_CONNECTIONS=$(($(ulimit -n) - 256))
    log "fd limit $(ulimit -n): measuring memory at $IDLE_CONNECTIONS connections"
fi

# Server on core 0, load generator on core 1.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    PIN_SERVER=(taskset -c 0)
    PIN_LOADGEN=(taskset -c 1)
    PINNING="server on CPU 0, load generator on CPU 1 (taskset)"
else
    PIN_SERVER=()
    PIN_LOADGEN=()
    PINNING="not pinned (needs 2 CPUs and taskset)"
fi

log "building (release)"
(cd "$ROOT" && cargo build --release --quiet -p ws-benches --bins)
# Private copies: another build in the shared target directory cannot
# change the binaries under a running measurement.
mkdir -p "$WORK/bin"
for bin in loadgen echo-ws-tokio echo-ws-blocking echo-tungstenite echo-fastwebsockets echo-tokio-websockets; do
    cp "$ROOT/target/release/$bin" "$WORK/bin/"
done

CRITERION_DIR=$WORK/criterion
if [ -z "${SKIP_CRITERION:-}" ]; then
    log "hot path: criterion benches ($MODE)"
    quick_flag=0
    [ "$MODE" = quick ] && quick_flag=1
    (cd "$ROOT" && WS_BENCH_QUICK=$quick_flag CRITERION_HOME=$CRITERION_DIR \
        timeout 1800 cargo bench --quiet -p ws-benches --bench frames --bench primitives --bench handshake --bench bandwidth \
        >"$WORK/criterion.log" 2>&1) || {
        log "criterion failed; last lines:"
        tail -20 "$WORK/criterion.log" >&2
        exit 1
    }
fi

SERVER_PID=
SERVER_URL=

start_server() {
    local name=$1 out=$WORK/server-$1.log
    : >"$out"
    "${PIN_SERVER[@]}" "$WORK/bin/echo-$name" 127.0.0.1:0 >"$out" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local i
    for i in $(seq 100); do
        SERVER_URL=$(sed -n 's/^listening on //p' "$out")
        [ -n "$SERVER_URL" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "echo-$name did not start:"
    cat "$out" >&2
    exit 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

loadgen() {
    timeout 120 "${PIN_LOADGEN[@]}" "$WORK/bin/loadgen" --url "$SERVER_URL/" \
        --server-pid "$SERVER_PID" "$@" | grep '^RESULT' >>"$RESULTS" || {
        log "loadgen failed: $*"
        return 1
    }
}

# size connections in-flight. The targets: server CPU per echo at most 0.8x
# the best peer's for 20 B and 1 KiB at 100 connections x 1 in flight, at
# most 0.9x for 64 KiB and 1 MiB (report.py checks them).
LOADS=(
    "20 100 1"
    "1024 100 1"
    "65536 4 2"
    "1048576 2 1"
)
if [ "$MODE" = full ]; then
    # One connection, one message at a time: round-trip latency alone.
    LOADS+=("20 1 1")
fi

for round in $(seq "$ROUNDS"); do
    for name in "${SERVERS[@]}"; do
        log "round $round/$ROUNDS: echo on $name"
        start_server "$name"
        for load in "${LOADS[@]}"; do
            read -r size conns inflight <<<"$load"
            loadgen --label "$name" --size "$size" --connections "$conns" \
                --inflight "$inflight" --seconds "$SECONDS_PER_RUN" --warmup-ms "$WARMUP_MS" ||
                echo "RESULT mode=echo label=$name size=$size conns=$conns inflight=$inflight failed=1" >>"$RESULTS"
        done
        stop_server
    done
done

for name in "${SERVERS[@]}"; do
    log "memory: $IDLE_CONNECTIONS idle connections on $name"
    start_server "$name"
    sleep 0.2
    loadgen --label "$name" --idle "$IDLE_CONNECTIONS" --hold-ms 1000 ||
        echo "RESULT mode=idle label=$name conns=$IDLE_CONNECTIONS failed=1" >>"$RESULTS"
    stop_server
done

log "writing $BENCHES/RESULTS.md"
# Keep the sections other runs wrote (fan-out by benches/fanout.sh, issue
# 16's before/after tables) across the rewrite.
: >"$WORK/fanout-section.md"
for section in fanout issue16; do
    sed -n "/^<!-- $section:start -->\$/,/^<!-- $section:end -->\$/p" "$BENCHES/RESULTS.md" >>"$WORK/fanout-section.md" 2>/dev/null || true
done
python3 "$BENCHES/report.py" \
    --mode "$MODE" \
    --results "$RESULTS" \
    --criterion "$CRITERION_DIR" \
    --pinning "$PINNING" \
    --seconds "$SECONDS_PER_RUN" \
    --rounds "$ROUNDS" \
    --root "$ROOT" \
    --out "$BENCHES/RESULTS.md"
if [ -s "$WORK/fanout-section.md" ]; then
    { echo; cat "$WORK/fanout-section.md"; } >>"$BENCHES/RESULTS.md"
fi
cat "$BENCHES/RESULTS.md"
