#!/usr/bin/env bash
# Instruction-count profiles with valgrind's callgrind: noise-free numbers
# on a busy machine, and the functions to look at.
#
#   bash benches/profile.sh [MESSAGES] [SIZE]
#   PROFILE_NAMES='ws-tokio ws-blocking' bash benches/profile.sh   (some servers only)
#
# 1. ws-proto alone: the `profile-decode` bin in `decode` and `echo` modes
#    (server Connection fed masked frames; echo also sends them back), and
#    `profile-frames` (the same input in frame mode).
# 2. Each echo server under callgrind, driven by the load generator
#    (16 connections x 4 in flight, MESSAGES messages of SIZE bytes, default
#    20000 x 20 B); counters are zeroed after start-up and dumped after the
#    load, so the figure is instructions per echoed message, handshakes and
#    closes of the 16 connections included.
#
# Prints instructions per message and the top functions (self cost) of
# each profile; the callgrind files stay in the printed directory for
# callgrind_annotate. Caveat: valgrind counts every iteration of a `rep
# movs`/`rep stos` as one instruction, so memcpy/memset of large buffers
# (glibc's ERMS variants) weigh far more here than in CPU time.

set -euo pipefail

MESSAGES=${1:-20000}
SIZE=${2:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/ws-profile.XXXXXX")
SERVER_PID=

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v valgrind >/dev/null || {
    echo "valgrind is not installed" >&2
    exit 1
}
(cd "$ROOT" && cargo build --release --quiet -p ws-benches --bins)
mkdir -p "$OUT/bin"
for bin in loadgen profile-decode profile-frames echo-ws-tokio echo-ws-blocking echo-tungstenite echo-fastwebsockets echo-tokio-websockets; do
    cp "$ROOT/target/release/$bin" "$OUT/bin/"
done

# Self cost per function, largest first. Functions that were on the stack
# when the counters were zeroed or dumped show their inclusive cost as self
# cost (a callgrind artefact of mid-run dumps): they equal the total and are
# dropped.
top() {
    callgrind_annotate --threshold=100 --inclusive=no "$1" 2>/dev/null |
        awk '/PROGRAM TOTALS/ {t = $1} /^-+$/ {n++} n >= 3 && /[0-9]/ && $1 != t' | head -"${2:-12}" |
        sed -E 's#/root/\.cargo/registry/src/[^/]+/##; s#/rustc/[0-9a-f]+/##; s#'"$ROOT"'/##; s# \[/tmp/[^]]*\]##' || true
}

total() {
    callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}' || true
}

echo "== ws-proto alone (profile-decode, $SIZE B frames) =="
for mode in decode echo; do
    file=$OUT/core-$mode.cg
    valgrind --tool=callgrind --callgrind-out-file="$file" \
        "$OUT/bin/profile-decode" "$mode" "$SIZE" 1000 50 >/dev/null 2>&1
    ir=$(total "$file")
    echo "-- $mode: $((ir / 50000)) instructions per message (50,000 messages, set-up included)"
    top "$file"
done
file=$OUT/core-frames.cg
valgrind --tool=callgrind --callgrind-out-file="$file" \
    "$OUT/bin/profile-frames" "$SIZE" 1000 50 >/dev/null 2>&1
ir=$(total "$file")
echo "-- frames: $((ir / 50000)) instructions per frame (frame mode, 50,000 frames, set-up included)"
top "$file"

echo
echo "== echo servers under load ($MESSAGES x $SIZE B, 16 connections x 4 in flight) =="
for name in ${PROFILE_NAMES:-ws-tokio ws-blocking tungstenite fastwebsockets tokio-websockets}; do
    file=$OUT/echo-$name.cg
    : >"$OUT/$name.out"
    valgrind --tool=callgrind --callgrind-out-file="$file" \
        "$OUT/bin/echo-$name" 127.0.0.1:0 >"$OUT/$name.out" 2>"$OUT/$name.err" &
    SERVER_PID=$!
    url=
    for _ in $(seq 150); do
        url=$(sed -n 's/^listening on //p' "$OUT/$name.out")
        [ -n "$url" ] && break
        sleep 0.2
    done
    [ -n "$url" ] || {
        echo "echo-$name did not start" >&2
        exit 1
    }
    callgrind_control -z "$SERVER_PID" >/dev/null 2>&1
    timeout 300 "$OUT/bin/loadgen" --url "$url/" -c 16 -m 4 -s "$SIZE" --seconds 300 \
        --messages "$MESSAGES" --warmup-ms 0 --label "$name" 2>/dev/null | grep '^RESULT' >"$OUT/$name.result"
    sleep 0.5
    callgrind_control -d "$SERVER_PID" >/dev/null 2>&1
    sleep 0.5
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    dump=$(ls -t "$file".* 2>/dev/null | head -1)
    ir=$(total "$dump")
    echo "-- $name: $((ir / MESSAGES)) server instructions per echoed message"
    top "$dump" 15
done
echo
echo "callgrind files: $OUT"
