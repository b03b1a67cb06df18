# Shared helpers for the real-peer scripts in tests/peers/ (sourced, not run).
#
# Each script sets PEER_NAME before sourcing this file, then uses:
#   check NAME COMMAND...   runs COMMAND, counts a pass or a failure
#   pass NAME / fail NAME   counts directly
#   start NAME LOGFILE COMMAND...   starts a background process, records its PID
#   wait_for_line FILE REGEX SECS   waits until FILE has a line matching REGEX
#   build_bins              builds and copies our binaries into $PEERS_BIN
#   free_port               prints a free loopback TCP port
#   finish                  prints "NAME: N passed, N failed" and exits 0/1
#
# Everything runs on 127.0.0.1. Processes are stopped by PID on exit (trap);
# temporary files go under $WORK, removed on exit. Cached, git-ignored state
# (copied binaries, the Python venv) lives under target/peers/.

set -uo pipefail

PEERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$PEERS_DIR/../.." && pwd)
CACHE=${PEERS_CACHE:-$ROOT/target/peers}
PEERS_BIN=$CACHE/bin
mkdir -p "$PEERS_BIN"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ws-peers-${PEER_NAME:-peers}.XXXXXX")

PASSED=0
FAILED=0
PIDS=()

log() { printf '[%s] %s\n' "${PEER_NAME:-peers}" "$*" >&2; }

pass() {
    PASSED=$((PASSED + 1))
    log "PASS: $*"
}

fail() {
    FAILED=$((FAILED + 1))
    log "FAIL: $*"
}

# check NAME COMMAND...: runs COMMAND (output to a log under $WORK, shown on failure).
check() {
    local name=$1
    shift
    local out
    out="$WORK/check-$((PASSED + FAILED)).log"
    if "$@" >"$out" 2>&1; then
        pass "$name"
    else
        fail "$name (exit $?)"
        sed 's/^/    | /' "$out" | tail -n 40 >&2
    fi
}

# check_lines PREFIX COMMAND...: runs COMMAND, which prints `ok: ...` and
# `FAIL: ...` lines; each counts. A non-zero exit without a FAIL line, or
# no line at all, is one failure.
check_lines() {
    local prefix=$1
    shift
    local out status line oks=0 fails=0
    out="$WORK/lines-$((PASSED + FAILED)).log"
    "$@" >"$out" 2>&1
    status=$?
    while IFS= read -r line; do
        case $line in
            ok:*) pass "$prefix: ${line#ok: }"; oks=$((oks + 1)) ;;
            FAIL:*) fail "$prefix: ${line#FAIL: }"; fails=$((fails + 1)) ;;
        esac
    done <"$out"
    if ((fails > 0 || status != 0 || oks == 0)); then
        ((fails == 0)) && fail "$prefix: exit $status without a FAIL line"
        sed 's/^/    | /' "$out" | grep -v '^    | ok:' | tail -n 40 >&2
    fi
}

# start NAME LOGFILE COMMAND...: runs COMMAND in the background; its PID goes
# into PIDS (stopped on exit) and into the variable named NAME.
start() {
    local var=$1 logfile=$2
    shift 2
    "$@" >"$logfile" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    printf -v "$var" '%s' "$pid"
}

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
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for_line FILE REGEX SECS
wait_for_line() {
    local file=$1 regex=$2 secs=$3 i
    for i in $(seq $((secs * 10))); do
        if grep -Eq "$regex" "$file" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    log "timed out waiting for /$regex/ in $file:"
    sed 's/^/    | /' "$file" | tail -n 20 >&2
    return 1
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# copy_example PACKAGE EXAMPLE DEST MARKER: builds PACKAGE's example in
# release mode and copies it right away (ws-tokio and ws-blocking both have
# an `echo-server`, which land on the same path). MARKER is a string only
# that example's source contains: the copy must hold it.
copy_example() {
    local package=$1 example=$2 dest=$3 marker=$4 target_dir
    target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
    (cd "$ROOT" && timeout 1800 cargo build --release --quiet -p "$package" --example "$example") ||
        return 1
    cp "$target_dir/release/examples/$example" "$dest.tmp" || return 1
    if ! grep -aq -- "$marker" "$dest.tmp"; then
        log "$target_dir/release/examples/$example is not $package's (another build replaced it?)"
        rm -f "$dest.tmp"
        return 1
    fi
    mv "$dest.tmp" "$dest"
}

# build_bins: our binaries, in $PEERS_BIN.
build_bins() {
    log "building release binaries (cargo)"
    copy_example ws-tokio echo-server "$PEERS_BIN/tokio-echo-server" "resolves to nothing" &&
        copy_example ws-blocking echo-server "$PEERS_BIN/blocking-echo-server" "connection ended: " &&
        copy_example ws-tokio peer-check "$PEERS_BIN/peer-check" "peer-check server:"
}

# ensure_venv: a private virtualenv with Python websockets, in the cache.
VENV=$CACHE/venv
WEBSOCKETS_VERSION=${WEBSOCKETS_VERSION:-15.0.1}
ensure_venv() {
    if "$VENV/bin/python" -c "import websockets, sys; sys.exit(websockets.version.version != '$WEBSOCKETS_VERSION')" 2>/dev/null; then
        return 0
    fi
    log "creating $VENV with websockets==$WEBSOCKETS_VERSION (pip)"
    rm -rf "$VENV"
    if ! timeout 300 python3 -m venv "$VENV"; then
        # Debian's own python3 keeps venv in a separate package.
        rm -rf "$VENV"
        ensure_apt python3-venv /nonexistent-command-to-force-install || return 1
        timeout 300 python3 -m venv "$VENV" || return 1
    fi
    timeout 600 "$VENV/bin/pip" install --quiet --disable-pip-version-check "websockets==$WEBSOCKETS_VERSION"
}

# ensure_apt PACKAGE COMMAND: installs a Debian package if COMMAND is missing.
ensure_apt() {
    local package=$1 command=$2
    command -v "$command" >/dev/null 2>&1 && return 0
    log "installing $package (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq >/dev/null || return 1
    timeout 1200 apt-get install -y -qq "$package" >/dev/null
}

finish() {
    echo "${PEER_NAME:-peers}: $PASSED passed, $FAILED failed"
    if ((FAILED > 0 || PASSED == 0)); then
        exit 1
    fi
    exit 0
}
