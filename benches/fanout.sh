#!/usr/bin/env bash
# The fan-out (chat-room) benchmark: writes its section of benches/RESULTS.md.
#
#   bash benches/fanout.sh [quick|full]
#
# N clients each send one message per round; the server sends every message
# to all N clients (the sender too); the next round starts when every client
# has every message of the round (the method Bun and uWebSockets use). The
# load generator (fanout-loadgen, the ws-proto client core) checks that each
# client gets each message exactly once and, per sender, in order, and
# reports deliveries/s (a delivery: one message arriving at one client), the
# server's CPU time per delivery (/proc/PID/stat over the measured rounds),
# its own CPU time per delivery, and lost messages. N = 16, 100, 1,000;
# binary messages of 20 B and 1 KiB; a fresh server per point. quick: one
# run of about 2 s per point (under 3 minutes in all); full: 3 runs of
# about 5 s per point (FANOUT_REPEATS=N to change), the median shown (about
# 17 minutes).
#
# Servers: ours (ws-tokio/examples/broadcast.rs, skipped if it does not build),
# tokio-tungstenite, fastwebsockets, tokio-websockets (benches/src/bin/
# fanout-*.rs), optionally sockudo-ws (benches/fanout/sockudo, skipped if it
# does not build), Bun's server.publish and Node's ws (benches/fanout/, npm
# packages installed here by this script; a failed install skips them).
# Server on CPU 0, load generator on CPU 1 (taskset). Every server is started
# and stopped by PID (a trap stops them on any exit); every run is bounded
# in time (a round that does not complete within the timeout ends the point
# and is reported as loss).

set -euo pipefail

MODE=${1:-quick}
case "$MODE" in
quick)
    SECONDS_PER_POINT=2
    WARMUP_MS=500
    WARMUP_ROUNDS=1
    REPEATS=${FANOUT_REPEATS:-1}
    ;;
full)
    SECONDS_PER_POINT=5
    WARMUP_MS=1000
    WARMUP_ROUNDS=2
    REPEATS=${FANOUT_REPEATS:-3}
    ;;
*)
    echo "usage: $0 [quick|full]" >&2
    exit 2
    ;;
esac
CLIENTS=(16 100 1000)
SIZES=(20 1024)

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCHES=$ROOT/benches
FANOUT=$BENCHES/fanout
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ws-fanout.XXXXXX")
RESULTS=$WORK/results.txt
: >"$RESULTS"
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

log() { echo "[fanout.sh $(date +%H:%M:%S)] $*" >&2; }
note() { echo "NOTE $*" >>"$RESULTS"; }

# 1,000 clients: the load generator and the server each need 1,000+ sockets.
want_fds=8192
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want_fds" ]; then
    want_fds=$hard
fi
ulimit -n "$want_fds"

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
# The workspace may be mid-edit by others: retry a few times, a minute apart.
built=
for attempt in 1 2 3; do
    if (cd "$ROOT" && timeout 900 cargo build --release --quiet -p ws-benches --bins); then
        built=1
        break
    fi
    log "build failed (attempt $attempt); retrying in 60 s"
    sleep 60
done
[ -n "$built" ] || {
    log "ws-benches does not build"
    exit 1
}
# Private copies: another build in the shared target directory cannot
# change the binaries under a running measurement.
mkdir -p "$WORK/bin"
for bin in fanout-loadgen fanout-tungstenite fanout-fastwebsockets fanout-tokio-websockets; do
    cp "$ROOT/target/release/$bin" "$WORK/bin/"
done

# Each server: label and command (the address is appended).
SERVER_NAMES=()
declare -A SERVER_CMD=()
add_server() {
    SERVER_NAMES+=("$1")
    SERVER_CMD[$1]=$2
}

if [ -f "$ROOT/ws-tokio/examples/broadcast.rs" ] || [ -f "$ROOT/ws-tokio/examples/broadcast/main.rs" ]; then
    log "building ws-tokio's broadcast example"
    if (cd "$ROOT" && timeout 900 cargo build --release --quiet -p ws-tokio --example broadcast) &&
        cp "$ROOT/target/release/examples/broadcast" "$WORK/bin/broadcast"; then
        add_server ws-tokio "$WORK/bin/broadcast"
    else
        log "broadcast example does not build; skipped"
        note "ws-tokio: the broadcast example did not build; skipped"
    fi
else
    log "broadcast example not built yet; skipped"
    note "ws-tokio: broadcast example not built yet; skipped"
fi
add_server tokio-tungstenite "$WORK/bin/fanout-tungstenite"
add_server fastwebsockets "$WORK/bin/fanout-fastwebsockets"
add_server tokio-websockets "$WORK/bin/fanout-tokio-websockets"

# Optional: sockudo-ws, a crate of its own (benches/fanout/sockudo, own lock
# file) so that its dependencies stay out of the workspace's Cargo.lock.
log "building the sockudo-ws server"
if (cd "$ROOT" && CARGO_TARGET_DIR=$ROOT/target/fanout-sockudo timeout 900 \
    cargo build --release --quiet --locked --manifest-path "$FANOUT/sockudo/Cargo.toml") &&
    cp "$ROOT/target/fanout-sockudo/release/fanout-sockudo" "$WORK/bin/"; then
    add_server sockudo-ws "$WORK/bin/fanout-sockudo"
    note "sockudo-ws: sockudo-ws $(sed -n '/^name = "sockudo-ws"$/{n;s/^version = "\(.*\)"$/\1/p}' "$FANOUT/sockudo/Cargo.lock")"
else
    log "the sockudo-ws server does not build; skipped"
    note "sockudo-ws: did not build; skipped"
fi

# Bun and Node's ws, from the npm registry, into benches/fanout/node_modules.
log "installing the npm packages (bun, ws) into $FANOUT"
npm_ok=
if command -v npm >/dev/null; then
    if (cd "$FANOUT" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1); then
        npm_ok=1
    else
        log "npm ci failed; last lines:"
        tail -5 "$WORK/npm.log" >&2
    fi
else
    log "npm not found"
fi
BUN=$FANOUT/node_modules/.bin/bun
if [ -n "$npm_ok" ] && [ -x "$BUN" ] && bun_version=$(timeout 20 "$BUN" --version 2>/dev/null); then
    add_server bun "$BUN $FANOUT/bun-server.js"
    note "bun: Bun $bun_version"
else
    log "Bun not installed; skipped"
    note "bun: the bun npm package did not install or run; skipped"
fi
if [ -n "$npm_ok" ] && command -v node >/dev/null && [ -f "$FANOUT/node_modules/ws/package.json" ]; then
    add_server node-ws "node $FANOUT/node-ws-server.js"
    ws_version=$(node -p "require('$FANOUT/node_modules/ws/package.json').version")
    note "node-ws: Node $(node --version), ws $ws_version"
else
    log "Node's ws not installed; skipped"
    note "node-ws: node or the ws npm package missing; skipped"
fi

SERVER_PID=
SERVER_URL=

# Starts server $1; returns 1 (after logging) if it does not come up.
start_server() {
    local name=$1 out=$WORK/server-$1.log
    : >"$out"
    # shellcheck disable=SC2086 # the command is a word list
    "${PIN_SERVER[@]}" ${SERVER_CMD[$name]} 127.0.0.1:0 >"$out" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local i
    for i in $(seq 150); do
        SERVER_URL=$(sed -n 's/^listening on //p' "$out" | head -1)
        [ -n "$SERVER_URL" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "$name did not start:"
    tail -20 "$out" >&2
    stop_server
    return 1
}

# Running, not exited (an exited child stays a zombie until waited for).
server_alive() {
    [ -r "/proc/$SERVER_PID/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$SERVER_PID/stat" 2>/dev/null
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

for rep in $(seq "$REPEATS"); do
    for size in "${SIZES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            # 10^6 deliveries a round at N = 1,000: the slowest servers take
            # seconds per round, so the timeout is longer there.
            timeout_ms=10000
            [ "$clients" -ge 1000 ] && timeout_ms=30000
            for name in "${SERVER_NAMES[@]}"; do
                log "run $rep/$REPEATS: $name: $clients clients x $size B"
                if ! start_server "$name"; then
                    echo "RESULT mode=fanout label=$name clients=$clients size=$size failed=1 reason=start" >>"$RESULTS"
                    continue
                fi
                line=$(timeout 300 "${PIN_LOADGEN[@]}" "$WORK/bin/fanout-loadgen" --url "$SERVER_URL/" \
                    --server-pid "$SERVER_PID" --label "$name" --clients "$clients" --size "$size" \
                    --seconds "$SECONDS_PER_POINT" --warmup-rounds "$WARMUP_ROUNDS" --warmup-ms "$WARMUP_MS" \
                    --round-timeout-ms "$timeout_ms" | grep '^RESULT' || true)
                if [ -z "$line" ]; then
                    log "fanout-loadgen failed or timed out"
                    line="RESULT mode=fanout label=$name clients=$clients size=$size failed=1"
                fi
                if ! server_alive; then
                    log "$name exited during the run"
                    line="$line server_exited=1"
                fi
                echo "$line" >>"$RESULTS"
                stop_server
            done
        done
    done
done

log "writing the fan-out section of $BENCHES/RESULTS.md"
python3 "$FANOUT/report.py" \
    --mode "$MODE" \
    --results "$RESULTS" \
    --pinning "$PINNING" \
    --seconds "$SECONDS_PER_POINT" \
    --warmup-ms "$WARMUP_MS" \
    --warmup-rounds "$WARMUP_ROUNDS" \
    --repeats "$REPEATS" \
    --root "$ROOT" \
    --out "$BENCHES/RESULTS.md"
