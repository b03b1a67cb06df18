#!/usr/bin/env bash
# Runs the ws-benches suite and writes benches/RESULTS.md.
#
#   bash benches/run.sh [quick|full]
#
# 1. Builds the echo servers and the load generator (release).
# 2. Hot path: the criterion benches (frames, primitives, handshake), with
#    short settings in quick mode (WS_BENCH_QUICK=1). SKIP_CRITERION=1 skips.
# 3. End to end over 127.0.0.1: each echo server (ours: ws-tokio on a
#    current-thread runtime, ws-blocking with a thread per connection and
#    ws-uring on one thread and one io_uring;
#    peers: tokio-tungstenite, fastwebsockets, tokio-websockets, all on a
#    current-thread runtime, and optionally sockudo-ws, also on one, built
#    from its own crate benches/fanout/sockudo and skipped if it does not
#    build) pinned to core 0, the load generator pinned to core 1; the
#    points of issue 18: 20 B and 1 KiB over 100 connections with 1 and
#    with 16 messages in flight each, 64 KiB over 10 connections x 1 in
#    flight, and 1 MiB over 2 x 1; messages/s, MB/s, p50/p99 round trip
#    and the server's CPU time per echoed message (/proc/PID/stat
#    utime+stime over the measured window). The load generator does not
#    offer permessage-deflate.
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

SERVERS=(ws-tokio ws-blocking ws-uring tungstenite fastwebsockets tokio-websockets)
# Servers whose failure to build or start is logged and skipped, not fatal.
OPTIONAL=" sockudo-ws "
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
for bin in loadgen echo-ws-tokio echo-ws-blocking echo-ws-uring echo-tungstenite echo-fastwebsockets echo-tokio-websockets; do
    cp "$ROOT/target/release/$bin" "$WORK/bin/"
done

# Optional: sockudo-ws, from its own crate (benches/fanout/sockudo, not a
# workspace member, its own Cargo.lock) so that its dependency tree stays out
# of the workspace's Cargo.lock and its toolchain needs (edition 2024 with
# let chains: Rust 1.88+, above the workspace's rust-version 1.85) out of
# the workspace's build; the same crate and target directory as fanout.sh.
log "building the sockudo-ws echo server"
if (cd "$ROOT" && CARGO_TARGET_DIR=$ROOT/target/fanout-sockudo timeout 900 \
    cargo build --release --quiet --locked --manifest-path "$BENCHES/fanout/sockudo/Cargo.toml" \
    --bin echo-sockudo-ws) >"$WORK/sockudo-build.log" 2>&1 &&
    cp "$ROOT/target/fanout-sockudo/release/echo-sockudo-ws" "$WORK/bin/"; then
    SERVERS+=(sockudo-ws)
    echo "NOTE sockudo-ws: sockudo-ws $(sed -n '/^name = "sockudo-ws"$/{n;s/^version = "\(.*\)"$/\1/p}' \
        "$BENCHES/fanout/sockudo/Cargo.lock")" >>"$RESULTS"
else
    log "the sockudo-ws echo server does not build; skipped. Last lines:"
    tail -5 "$WORK/sockudo-build.log" >&2
    echo "NOTE sockudo-ws: did not build; skipped" >>"$RESULTS"
fi

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
    tail -20 "$out" >&2
    stop_server
    case "$OPTIONAL" in
    *" $name "*) return 1 ;;
    esac
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

# size connections in-flight: issue 18's points. Its targets (report.py
# checks them): ws-uring's server CPU per echo at most 0.8x the best peer's
# at 20 B and 1 KiB x 100 x 1 and below every peer's at 16 in flight;
# ws-tokio's p99 at 1 KiB x 100 x 16 (the fairness point) at most the best
# peer's; at most 0.9x the best peer's CPU for 64 KiB and 1 MiB.
LOADS=(
    "20 100 1"
    "1024 100 1"
    "20 100 16"
    "1024 100 16"
    "65536 10 1"
    "1048576 2 1"
)
if [ "$MODE" = full ]; then
    # One connection, one message at a time: round-trip latency alone.
    LOADS+=("20 1 1")
fi

for round in $(seq "$ROUNDS"); do
    for name in "${SERVERS[@]}"; do
        log "round $round/$ROUNDS: echo on $name"
        if ! start_server "$name"; then
            echo "NOTE $name: did not start in round $round" >>"$RESULTS"
            continue
        fi
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
    if ! start_server "$name"; then
        echo "NOTE $name: did not start for the memory run" >>"$RESULTS"
        continue
    fi
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
