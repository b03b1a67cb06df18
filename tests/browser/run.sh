#!/usr/bin/env bash
# Headless Chromium against the ws-tokio echo server (see README.md here).
#
#   bash tests/browser/run.sh
#
# Installs Debian's chromium if it is missing, builds the ws-tokio
# echo-server example in release mode, starts it on a free loopback port,
# and runs driver.py, which serves page.html over HTTP on loopback, opens it
# in headless Chromium and checks what the page wrote into its DOM. Prints
# `browser: N passed, M failed` and exits non-zero on any failure. Every
# step is bounded by `timeout`; only processes started here are stopped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

log() { printf 'browser: %s\n' "$*" >&2; }
die() {
    log "FAIL: $*"
    echo "browser: 0 passed, 1 failed"
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ws-browser.XXXXXX")
server_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Chromium (Debian's package) and python3 for the driver.
if ! command -v chromium >/dev/null 2>&1; then
    log "installing chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq >/dev/null || die "apt-get update failed"
    timeout 1200 apt-get install -y -qq chromium >/dev/null ||
        die "apt-get install chromium failed"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is needed for driver.py"
# The interpreter itself, not a version manager's shim around it, so that
# signals from `timeout` reach the driver.
python=$(python3 -c 'import sys; print(sys.executable)')

# 2. The ws-tokio echo server. ws-blocking has an example of the same name,
# and both land in target/release/examples/echo-server: build ours right
# before copying it, then make sure the copy is byte for byte a binary that
# cargo's dep-info says was built from ws-tokio/examples/echo-server.rs.
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') ||
    die "cargo metadata failed"
is_tokio_echo_server() {
    local dep
    for dep in "$target_dir"/release/examples/echo_server-*.d; do
        [[ -e $dep ]] || continue
        if grep -q 'ws-tokio/examples/echo-server\.rs' "$dep" && cmp -s "${dep%.d}" "$1"; then
            return 0
        fi
    done
    return 1
}
for attempt in 1 2 3; do
    log "building the ws-tokio echo-server example (release)"
    (cd "$root" && timeout 1800 cargo build --release -q -p ws-tokio --example echo-server) ||
        die "cargo build failed"
    cp -f "$target_dir/release/examples/echo-server" "$work/echo-server"
    if is_tokio_echo_server "$work/echo-server"; then
        break
    fi
    [[ $attempt -lt 3 ]] || die "target/release/examples/echo-server keeps being another package's"
    log "the copied echo-server is not ws-tokio's (a concurrent build?); again"
done

# 3. Start it on a free port; it prints `listening on ws://ADDR` when ready.
"$work/echo-server" 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
addr=""
for _ in $(seq 100); do
    addr=$(sed -n 's|^listening on ws://||p' "$work/server.out")
    [[ -n $addr ]] && break
    kill -0 "$server_pid" 2>/dev/null || die "the echo server exited: $(cat "$work/server.err")"
    sleep 0.1
done
[[ -n $addr ]] || die "the echo server did not start listening within 10 s"
log "echo server (pid $server_pid) listening on ws://$addr"

# 4. The browser.
status=0
timeout -k 10 180 "$python" "$here/driver.py" --ws "ws://$addr/" --timeout 90 || status=$?
if [[ $status -eq 124 || $status -eq 137 ]]; then
    log "FAIL: driver.py did not finish within 180 s"
    echo "browser: 0 passed, 1 failed"
fi

# 5. The server must have survived the session.
if ! kill -0 "$server_pid" 2>/dev/null; then
    log "FAIL: the echo server exited: $(cat "$work/server.err")"
    status=1
fi
if [[ -s $work/server.err ]]; then
    log "echo server's stderr:"
    cat "$work/server.err" >&2
fi
exit "$status"
