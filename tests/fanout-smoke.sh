#!/usr/bin/env bash
# Fan-out smoke test for CI: the broadcast example under the fan-out load
# generator for one second per point (N = 100 and 1,000 clients, 20 B and
# 1 KiB), failing on any lost, duplicated or reordered delivery or a dead
# connection. Performance is measured by benches/fanout.sh, not here.
#
#   bash tests/fanout-smoke.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release -q -p ws-tokio --example broadcast
cargo build --release -q -p ws-benches --bin fanout-loadgen
BIN=$ROOT/target/release

# 1,000 clients need about 2,100 descriptors on each side.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 4096 ]; then
    ulimit -n 4096
fi

SERVER_PID=
LOG=$(mktemp)
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -f "$LOG"
}
trap cleanup EXIT

"$BIN/examples/broadcast" 127.0.0.1:0 >"$LOG" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    grep -q '^listening on ws://' "$LOG" && break
    sleep 0.1
done
URL=$(sed -n 's/^listening on \(ws:\/\/[^ ]*\).*/\1/p' "$LOG" | head -1)
if [ -z "$URL" ]; then
    echo "fanout-smoke: the broadcast example did not start" >&2
    cat "$LOG" >&2
    exit 1
fi

failed=0
for clients in 100 1000; do
    for size in 20 1024; do
        line=$(timeout 90 "$BIN/fanout-loadgen" --url "$URL/" --clients "$clients" --size "$size" \
            --seconds 1 --server-pid "$SERVER_PID" --label smoke | grep '^RESULT' || true)
        echo "N=$clients size=$size: ${line:-no result}"
        case "$line" in
        *" lost=0 "*" violations=0 dead=0"*) ;;
        *)
            echo "fanout-smoke: FAILED at N=$clients size=$size" >&2
            failed=1
            ;;
        esac
    done
done
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "fanout-smoke: the server died" >&2
    failed=1
fi
[ "$failed" = 0 ] && echo "fanout-smoke: ok (no delivery lost, duplicated or reordered)"
exit "$failed"
