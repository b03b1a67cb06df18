#!/usr/bin/env bash
# Autobahn|Testsuite through the WebSocket reverse proxy (ws-tokio example
# `proxy`), compared case by case with the ws-tokio echo server alone.
#
#   bash autobahn/proxy.sh
#
# Two wstest fuzzingclient runs, in parallel, each with its own wstest
# process, port and report directory:
#   ws-tokio            the echo server alone            (port BASE+1)
#   ws-tokio-via-proxy  the proxy (port BASE+3) in front of a second echo
#                       server (port BASE+2):
#                       proxy 127.0.0.1:BASE+3 ws://127.0.0.1:BASE+2/
# Passes (exit 0) only when both reports hold the same cases, every case has
# the same verdict (behavior and behaviorClose) through the proxy as without
# it, every verdict is OK or INFORMATIONAL (NON-STRICT fails, as in run.sh
# with AUTOBAHN_STRICT=1), and no process failed, crashed or timed out.
# One run at a time: a second waits (up to 30 min) for the first to finish,
# since both would write autobahn/reports/proxy/.
#
# Reports: autobahn/reports/proxy/summary.md (the printed summary),
#          autobahn/reports/proxy/index.html, index.json (both agents merged),
#          autobahn/reports/proxy/<agent>/ (wstest's own reports),
#          autobahn/reports/proxy/logs/, specs/, bin/ (the binaries run).
#
# Environment:
#   AUTOBAHN_CASES='1.*,2.*'      cases to run (comma-separated wstest patterns;
#                                 default: sections 1 to 13, i.e. all of them)
#   AUTOBAHN_EXCLUDE_CASES=...    cases to leave out (default: none)
#   AUTOBAHN_RUN_TIMEOUT=SECS     time limit of each wstest run (default 1800)
#   AUTOBAHN_BUILD_TIMEOUT=SECS   time limit of the cargo build, waiting for the
#                                 shared target dir's lock included (default 3600)
#   AUTOBAHN_PROXY_PORT_BASE=N    ports N+1, N+2, N+3 (default 9200; run.sh uses 9100)
#   AUTOBAHN_TOKIO_SERVER_CMD     replaces the echo server (a command line, split
#                                 on spaces; ADDR is appended)
#   AUTOBAHN_PROXY_CMD            replaces the proxy (a command line, split on
#                                 spaces; LISTEN_ADDR BACKEND_URL are appended;
#                                 it must print "listening on ..." once ready)
#                                 With both replaced, nothing is built.
#
# Exit status: 0 on pass; 1 when the comparison or a run failed; 2 on usage or
# setup errors (install, build, busy port).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENV=${AUTOBAHN_VENV:-$HERE/.venv}
OUT=$HERE/reports/proxy
SUMMARY_MD=$OUT/summary.md
BIN_DIR=$OUT/bin

case "${1:-}" in
    "") ;;
    -h | --help)
        sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0   (no arguments; see --help for the environment)" >&2
        exit 2
        ;;
esac
if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
    echo "proxy.sh needs bash >= 5.1 (wait -n -p)" >&2
    exit 2
fi

CASES=${AUTOBAHN_CASES:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*,11.*,12.*,13.*}
EXCLUDED_CASES=${AUTOBAHN_EXCLUDE_CASES:-}
RUN_TIMEOUT=${AUTOBAHN_RUN_TIMEOUT:-1800}
BUILD_TIMEOUT=${AUTOBAHN_BUILD_TIMEOUT:-3600}
PORT_BASE=${AUTOBAHN_PROXY_PORT_BASE:-9200}
SERVER_OVERRIDE=${AUTOBAHN_TOKIO_SERVER_CMD:-}
PROXY_OVERRIDE=${AUTOBAHN_PROXY_CMD:-}
HOST=127.0.0.1

DIRECT=ws-tokio
VIA=ws-tokio-via-proxy
DIRECT_PORT=$((PORT_BASE + 1))
BACKEND_PORT=$((PORT_BASE + 2))
PROXY_PORT=$((PORT_BASE + 3))
BACKEND_URL="ws://$HOST:$BACKEND_PORT/"

log() { printf '[autobahn/proxy] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 2
}

# ------------------------------------------------------------ processes
# Every process this script starts is recorded here and stopped by PID only.
PIDS=()

stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || {
        wait "$pid" 2>/dev/null
        return 0
    }
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "process $pid did not stop on SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    PIDS=()
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# start_bg LOGFILE CMD... : start CMD in the background; its PID in BG_PID.
start_bg() {
    local logfile=$1
    shift
    "$@" </dev/null >"$logfile" 2>&1 8>&- &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

port_listening() {
    if command -v ss >/dev/null 2>&1; then
        [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
    else
        (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
    fi
}

port_free_or_die() {
    if port_listening "$1"; then
        die "port $1 on $HOST is already in use (set AUTOBAHN_PROXY_PORT_BASE to move the ports)"
    fi
}

log_ready() { # log_ready LOGFILE PATTERN
    if [[ -n $2 ]]; then
        grep -qE "$2" "$1"
    else
        [[ -s $1 ]]
    fi
}

# wait_ready PID PORT LOGFILE PATTERN: until PORT listens and LOGFILE has a
# line matching PATTERN (grep -E; empty: any output). Fails if the process
# exits or 60 s pass.
wait_ready() {
    local pid=$1 port=$2 logfile=$3 pattern=$4 i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if port_listening "$port" && log_ready "$logfile" "$pattern"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

now() { echo "$EPOCHREALTIME"; }
elapsed() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }

# ------------------------------------------------------------ build
# Copies ws-tokio's examples echo-server and proxy to $BIN_DIR. ws-blocking
# has an echo-server example too (and may get a proxy), which cargo links to
# the same target/release/examples/<name>: other builds in the shared target
# dir can replace the file at any time. So: build ws-tokio's, copy, and check
# from the debug info that the copy is ws-tokio's; retry if it is not.
build_examples() {
    local -a need=()
    [[ -n $SERVER_OVERRIDE ]] || need+=(echo-server)
    [[ -n $PROXY_OVERRIDE ]] || need+=(proxy)
    if ((${#need[@]} == 0)); then
        log "echo server and proxy overridden: not building"
        return 0
    fi
    if [[ " ${need[*]} " == *" proxy "* ]] &&
        [[ ! -e $ROOT/ws-tokio/examples/proxy.rs && ! -e $ROOT/ws-tokio/examples/proxy/main.rs ]]; then
        die "ws-tokio has no proxy example (ws-tokio/examples/proxy.rs) yet; set AUTOBAHN_PROXY_CMD to test another proxy"
    fi
    log "building: cargo build --release -p ws-tokio --examples (time limit ${BUILD_TIMEOUT}s)"
    (cd "$ROOT" && timeout -k 10 "$BUILD_TIMEOUT" cargo build --release -p ws-tokio --examples) ||
        die "cargo build --release -p ws-tokio --examples failed"
    local target_dir
    target_dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') ||
        die "cargo metadata failed"
    rm -rf "$BIN_DIR"
    mkdir -p "$BIN_DIR"
    local -a ex_args=()
    local ex attempt ok
    for ex in "${need[@]}"; do ex_args+=(--example "$ex"); done
    for ((attempt = 1; attempt <= 3; attempt++)); do
        # Up to date after the build above: this only re-links ws-tokio's files.
        (cd "$ROOT" && timeout -k 10 "$BUILD_TIMEOUT" cargo build --release -q -p ws-tokio "${ex_args[@]}") ||
            die "cargo build -p ws-tokio ${ex_args[*]} failed"
        ok=1
        for ex in "${need[@]}"; do
            cp -f "$target_dir/release/examples/$ex" "$BIN_DIR/$ex" ||
                die "missing $target_dir/release/examples/$ex"
            if grep -qaF "ws-blocking/examples/$ex" "$BIN_DIR/$ex" ||
                ! grep -qaF "ws-tokio/examples/$ex" "$BIN_DIR/$ex"; then
                log "target/release/examples/$ex is not ws-tokio's (another build replaced it); attempt $attempt of 3"
                ok=0
            fi
        done
        ((ok)) && return 0
        sleep 2
    done
    die "could not get ws-tokio's ${need[*]} out of the shared target dir"
}

program_cmd() { # program_cmd OVERRIDE EXAMPLE: sets CMD (array)
    if [[ -n $1 ]]; then
        read -r -a CMD <<<"$1"
    else
        CMD=("$BIN_DIR/$2")
    fi
}

# ------------------------------------------------------------ wstest
write_spec() { # write_spec FILE AGENT PORT OUTDIR
    python3 - "$@" "$CASES" "$EXCLUDED_CASES" "$HOST" <<'PY'
import json, sys
path, agent, port, outdir, cases, excluded, host = sys.argv[1:8]
split = lambda s: [p.strip() for p in s.split(",") if p.strip()]
spec = {"outdir": outdir, "cases": split(cases),
        "exclude-cases": split(excluded), "exclude-agent-cases": {},
        "servers": [{"agent": agent, "url": "ws://%s:%s" % (host, port)}]}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
PY
}

announced_cases() { # number of cases wstest said it would run, from its log
    grep -oE 'will run [0-9]+ test cases' "$1" 2>/dev/null | head -n 1 | grep -oE '[0-9]+' || true
}

describe_rc() {
    case "$1" in
        0) echo "exited 0" ;;
        124) echo "timed out (AUTOBAHN_RUN_TIMEOUT=${RUN_TIMEOUT}s)" ;;
        *) echo "exited with status $1" ;;
    esac
}

declare -A DURATION EXPECTED PROBLEMS
add_problem() { PROBLEMS[$1]+="$2"$'\n'; }

# ------------------------------------------------------------ comparison
# compare: the verdict tables of both agents side by side, the cases whose
# verdict differs or is not OK / INFORMATIONAL with the relevant part of
# wstest's per-case reports; appends to $SUMMARY_MD; exit 1 on any of those.
compare() {
    python3 - "$OUT" "$DIRECT" "$VIA" "$SUMMARY_MD" "$HERE" <<'PY'
import json, os, sys
out, direct, via, summary_md, here = sys.argv[1:6]
sys.path.insert(0, here)
from summarize import OUTCOMES, case_key, outcome  # same verdicts as run.sh

PASSING = ("OK", "INFORMATIONAL")
MAX_DETAILS = 20  # cases shown with their reports; the rest one line each
FIELDS = ["behavior", "behaviorClose", "result", "resultClose", "expectation",
          "expectedClose", "closedByMe", "droppedByMe", "failedByMe", "wasClean",
          "wasNotCleanReason", "wasCloseHandshakeTimeout", "wasOpenHandshakeTimeout",
          "wasServerConnectionDropTimeout", "localCloseCode", "localCloseReason",
          "remoteCloseCode", "remoteCloseReason", "duration"]

def load(agent):
    try:
        with open(os.path.join(out, agent, "index.json")) as f:
            return json.load(f).get(agent) or {}
    except (OSError, ValueError):
        return {}

def case_report(agent, res):
    name = res.get("reportfile")
    if not name:
        return {}
    try:
        with open(os.path.join(out, agent, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}

def short(v, n=300):
    s = json.dumps(v, sort_keys=True) if not isinstance(v, str) else v
    return s if len(s) <= n else s[:n] + "... (%d chars)" % len(s)

results = {direct: load(direct), via: load(via)}
lines = ["## Comparison: %s vs %s" % (via, direct), ""]
lines.append("| verdict | %s | %s |" % (direct, via))
lines.append("|---|---:|---:|")
totals = {}
for a in (direct, via):
    totals[a] = dict.fromkeys(OUTCOMES, 0)
    for res in results[a].values():
        totals[a][outcome(res)] += 1
for o in OUTCOMES:
    lines.append("| %s | %d | %d |" % (o, totals[direct][o], totals[via][o]))
lines.append("| **cases** | **%d** | **%d** |" % (len(results[direct]), len(results[via])))
lines.append("")

problems = []
for a in (direct, via):
    if not results[a]:
        problems.append("no results for %s" % a)
ids = sorted(set(results[direct]) | set(results[via]), key=case_key)
only = {a: [c for c in ids if c not in results[a]] for a in (direct, via)}
for a in (direct, via):
    if only[a]:
        problems.append("%d case(s) missing from %s: %s" % (
            len(only[a]), a, ", ".join(only[a][:20]) + (" ..." if len(only[a]) > 20 else "")))

differing, not_passing = [], []
for c in ids:
    if c not in results[direct] or c not in results[via]:
        continue
    d, v = results[direct][c], results[via][c]
    vd, vv = outcome(d), outcome(v)
    if (vd, d.get("behavior"), d.get("behaviorClose")) != (vv, v.get("behavior"), v.get("behaviorClose")):
        differing.append(c)
    elif vd not in PASSING:
        not_passing.append(c)
bad_via = [c for c in ids if c in results[via] and outcome(results[via][c]) not in PASSING]
bad_direct = [c for c in ids if c in results[direct] and outcome(results[direct][c]) not in PASSING]
if differing:
    problems.append("%d case(s) with a different verdict through the proxy" % len(differing))
if bad_via:
    problems.append("%d case(s) through the proxy neither OK nor INFORMATIONAL" % len(bad_via))
if bad_direct:
    problems.append("%d case(s) of the echo server alone neither OK nor INFORMATIONAL" % len(bad_direct))

def handshake(rep):  # the opening handshake response, without its per-key accept
    return [l for l in str(rep.get("httpResponse", "")).strip().splitlines()
            if not l.lower().startswith("sec-websocket-accept:")]

def detail(c, title):
    lines.append("#### `%s`: %s" % (c, title))
    lines.append("")
    reps = {}
    for a in (direct, via):
        res = results[a][c]
        reps[a] = case_report(a, res)
        lines.append("- %s: **%s** (behavior %s / behaviorClose %s, remote close code %s)" % (
            a, outcome(res), res.get("behavior"), res.get("behaviorClose"),
            res.get("remoteCloseCode")))
    desc = reps[direct].get("description") or reps[via].get("description")
    if desc:
        lines.append("- description: %s" % short(" ".join(desc.split()), 400))
    lines.append("")
    lines.append("| report field | %s | %s |" % (direct, via))
    lines.append("|---|---|---|")
    for k in FIELDS:
        vals = [short(reps[a].get(k, "")).replace("|", "\\|").replace("\n", " ") for a in (direct, via)]
        lines.append("| %s%s | %s | %s |" % (k, " (differs)" if vals[0] != vals[1] else "", vals[0], vals[1]))
    if handshake(reps[direct]) != handshake(reps[via]):
        for a in (direct, via):
            lines.append("")
            lines.append("%s opening handshake response:" % a)
            lines.append("")
            lines.append("```")
            lines.append(str(reps[a].get("httpResponse", "")).strip())
            lines.append("```")
    for a in (direct, via):
        wl = reps[a].get("wirelog") or []
        if wl:
            lines.append("")
            lines.append("%s wire log, last %d of %d entries:" % (a, min(8, len(wl)), len(wl)))
            lines.append("")
            lines.append("```")
            for e in wl[-8:]:
                lines.append(short(e, 240))
            lines.append("```")
    lines.append("")

if differing or not_passing:
    lines.append("### Cases that differ or are neither OK nor INFORMATIONAL")
    lines.append("")
    listed = [(c, "different verdict") for c in differing] + \
        [(c, "same verdict, but not OK / INFORMATIONAL") for c in not_passing]
    for c, title in listed[:MAX_DETAILS]:
        detail(c, title)
    if len(listed) > MAX_DETAILS:
        lines.append("The other %d (details in the wstest reports):" % (len(listed) - MAX_DETAILS))
        lines.append("")
        for c, title in listed[MAX_DETAILS:]:
            lines.append("- `%s` %s: %s" % (c, title, "; ".join(
                "%s %s (%s / %s)" % (a, outcome(results[a][c]), results[a][c].get("behavior"),
                                     results[a][c].get("behaviorClose")) for a in (direct, via))))
        lines.append("")
else:
    lines.append("Every case has the same verdict (behavior and behaviorClose) through the proxy as from the echo server alone.")
    lines.append("")
info = [c for c in ids if c in results[via] and outcome(results[via][c]) == "INFORMATIONAL"]
if info:
    lines.append("INFORMATIONAL through the proxy: %s." % ", ".join("`%s`" % c for c in info))
    lines.append("")
for p in problems:
    lines.append("- **problem: %s**" % p)
if problems:
    lines.append("")
lines.append("**Comparison: %s**" % ("FAIL" if problems else "PASS"))
lines.append("")
text = "\n".join(lines)
with open(summary_md, "a") as f:
    f.write(text + "\n")
sys.stdout.write(text + "\n")
sys.exit(1 if problems else 0)
PY
}

# ------------------------------------------------------------ main
T0=$(now)
mkdir -p "$HERE/reports"
exec 8>"$HERE/reports/.proxy.lock"
if ! flock -n 8; then
    log "another autobahn/proxy.sh is running; waiting for it (up to 30 min)"
    flock -w 1800 8 || die "another autobahn/proxy.sh still running after 30 min"
fi
bash "$HERE/install.sh" || die "autobahn/install.sh failed"
# (the bin dir is rebuilt below; everything else of the last run goes now)
rm -rf "$OUT"
mkdir -p "$OUT/logs" "$OUT/specs"
build_examples

for port in "$DIRECT_PORT" "$BACKEND_PORT" "$PROXY_PORT"; do
    port_free_or_die "$port"
done

program_cmd "$SERVER_OVERRIDE" echo-server
SERVER_CMD=("${CMD[@]}")
program_cmd "$PROXY_OVERRIDE" proxy
PROXY_CMD=("${CMD[@]}")

{
    echo "# Autobahn|Testsuite through the proxy"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
        [[ -n "$(git -C "$ROOT" status --porcelain -- ws-proto ws-tokio 2>/dev/null)" ]] &&
            echo " (ws-proto / ws-tokio have uncommitted changes)")"
    echo "- wstest: $("$VENV/bin/wstest" -a 2>/dev/null | tr '\n' ' ')"
    echo "- \`$DIRECT\`: \`${SERVER_CMD[*]##*/} $HOST:$DIRECT_PORT\`"
    echo "- \`$VIA\`: \`${PROXY_CMD[*]##*/} $HOST:$PROXY_PORT $BACKEND_URL\` in front of \`${SERVER_CMD[*]##*/} $HOST:$BACKEND_PORT\`"
    echo
} >"$SUMMARY_MD"

status=0
# The two echo servers, then the proxy in front of the second.
start_bg "$OUT/logs/echo-server-direct.log" "${SERVER_CMD[@]}" "$HOST:$DIRECT_PORT"
DIRECT_SERVER_PID=$BG_PID
log "started echo server for $DIRECT (pid $BG_PID): ${SERVER_CMD[*]} $HOST:$DIRECT_PORT"
start_bg "$OUT/logs/echo-server-backend.log" "${SERVER_CMD[@]}" "$HOST:$BACKEND_PORT"
BACKEND_PID=$BG_PID
log "started echo server behind the proxy (pid $BG_PID): ${SERVER_CMD[*]} $HOST:$BACKEND_PORT"
wait_ready "$DIRECT_SERVER_PID" "$DIRECT_PORT" "$OUT/logs/echo-server-direct.log" "" ||
    add_problem "$DIRECT" "echo server did not start listening on $HOST:$DIRECT_PORT (see logs/echo-server-direct.log)"
PROXY_PID=""
if wait_ready "$BACKEND_PID" "$BACKEND_PORT" "$OUT/logs/echo-server-backend.log" ""; then
    start_bg "$OUT/logs/proxy.log" "${PROXY_CMD[@]}" "$HOST:$PROXY_PORT" "$BACKEND_URL"
    PROXY_PID=$BG_PID
    log "started proxy (pid $BG_PID): ${PROXY_CMD[*]} $HOST:$PROXY_PORT $BACKEND_URL"
    if ! wait_ready "$PROXY_PID" "$PROXY_PORT" "$OUT/logs/proxy.log" '^listening on '; then
        add_problem "$VIA" "proxy did not print 'listening on ...' and listen on $HOST:$PROXY_PORT within 60 s (see logs/proxy.log)"
        tail -n 20 "$OUT/logs/proxy.log" >&2
    fi
else
    add_problem "$VIA" "echo server behind the proxy did not start listening on $HOST:$BACKEND_PORT (see logs/echo-server-backend.log)"
fi

# The two wstest runs, in parallel.
declare -A AGENT_OF STARTED
WAITING=()
for agent in "$DIRECT" "$VIA"; do
    [[ -z "${PROBLEMS[$agent]:-}" ]] || continue
    port=$DIRECT_PORT
    [[ $agent == "$VIA" ]] && port=$PROXY_PORT
    write_spec "$OUT/specs/$agent.json" "$agent" "$port" "$OUT/$agent"
    STARTED[$agent]=$(now)
    start_bg "$OUT/logs/$agent-wstest.log" timeout -k 10 "$RUN_TIMEOUT" \
        "$VENV/bin/python" "$HERE/wstest_loopback.py" -m fuzzingclient -s "$OUT/specs/$agent.json"
    AGENT_OF[$BG_PID]=$agent
    WAITING+=("$BG_PID")
    log "started wstest fuzzingclient for $agent (pid $BG_PID) against ws://$HOST:$port"
done
while ((${#WAITING[@]})); do
    done_pid=""
    wait -n -p done_pid "${WAITING[@]}"
    rc=$?
    [[ -n $done_pid ]] || continue
    agent=${AGENT_OF[$done_pid]}
    DURATION[$agent]=$(elapsed "${STARTED[$agent]}" "$(now)")
    EXPECTED[$agent]=$(announced_cases "$OUT/logs/$agent-wstest.log")
    log "wstest for $agent $(describe_rc "$rc") after ${DURATION[$agent]}s"
    ((rc == 0)) || add_problem "$agent" "wstest $(describe_rc "$rc") (see logs/$agent-wstest.log)"
    rest=()
    for w in "${WAITING[@]}"; do [[ $w != "$done_pid" ]] && rest+=("$w"); done
    WAITING=("${rest[@]}")
done

# Servers and proxy must have lived through the runs.
check_alive() { # check_alive PID AGENT WHAT LOG
    [[ -n $1 ]] || return 0
    if ! kill -0 "$1" 2>/dev/null; then
        wait "$1" 2>/dev/null
        add_problem "$2" "$3 exited during the run with status $? (see logs/$4)"
    fi
    stop_pid "$1"
}
check_alive "$DIRECT_SERVER_PID" "$DIRECT" "echo server" echo-server-direct.log
check_alive "$PROXY_PID" "$VIA" "proxy" proxy.log
check_alive "$BACKEND_PID" "$VIA" "echo server behind the proxy" echo-server-backend.log
cleanup

# Per-agent tables (run.sh's summarize.py; NON-STRICT counts as a failure).
sum_args=(--mode proxy --title "Per agent: wstest fuzzingclient vs the echo server, alone and through the proxy"
    --dir "$OUT" --cases "$CASES" --exclude "$EXCLUDED_CASES" --strict --summary-md "$SUMMARY_MD")
for agent in "$DIRECT" "$VIA"; do
    sum_args+=(--agent "$agent")
    [[ -n "${DURATION[$agent]:-}" ]] && sum_args+=(--duration "$agent=${DURATION[$agent]}")
    [[ -n "${EXPECTED[$agent]:-}" ]] && sum_args+=(--expected "$agent=${EXPECTED[$agent]}")
    while IFS= read -r p; do
        [[ -n $p ]] && sum_args+=(--problem "$agent=$p")
    done <<<"${PROBLEMS[$agent]:-}"
done
python3 "$HERE/summarize.py" "${sum_args[@]}" || status=1
compare || status=1

total=$(elapsed "$T0" "$(now)")
verdict=PASS
((status == 0)) || verdict=FAIL
{
    echo "- total wall time (install, build, both runs): ${total} s"
    echo
    echo "**proxy.sh: $verdict**"
} | tee -a "$SUMMARY_MD"
log "$verdict (summary: ${SUMMARY_MD#"$ROOT"/})"
exit "$status"
