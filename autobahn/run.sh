#!/usr/bin/env bash
# Run the Autobahn|Testsuite (wstest) against our WebSocket implementations.
#
#   bash autobahn/run.sh [servers|clients|all]      (default: all)
#
# servers: wstest in fuzzingclient mode tests our echo servers
#          (agents ws-tokio, ws-blocking, ws-uring; one wstest per agent, in parallel)
# clients: wstest in fuzzingserver mode tests our autobahn clients
#          (agents ws-tokio-client, ws-blocking-client, ws-uring-client; one wstest
#          each, in parallel)
#
# Reports: autobahn/reports/{servers,clients}/index.html (+ index.json, merged),
#          autobahn/reports/{servers,clients}/<agent>/ (wstest's own report),
#          autobahn/reports/summary.md; logs in autobahn/reports/*/logs/.
#
# Environment:
#   AUTOBAHN_CASES='1.*,2.*'   cases to run (comma-separated wstest patterns; default '*')
#   AUTOBAHN_SHARE_DEFLATE=1   the shorter run CI makes (about a third of the time):
#                              every agent runs sections 1-11, and the twelve
#                              parameter sets of sections 12 and 13 (permessage-
#                              deflate, 95% of a full run's time) are dealt out,
#                              each to one server agent and to the client agent
#                              of another adapter; every case still runs against
#                              a server and a client. Replaces AUTOBAHN_CASES.
#   AUTOBAHN_EXCLUDE_CASES=... override EXCLUDED_CASES below (empty = exclude nothing)
#   AUTOBAHN_STRICT=1          NON-STRICT cases fail the run too
#   AUTOBAHN_RUN_TIMEOUT=SECS  time limit of each wstest / client run (default 1800)
#   AUTOBAHN_PORT_BASE=N       ports: servers N+1..N+3; fuzzingservers N+11..N+13 (default 9100)
#   AUTOBAHN_AGENTS='ws-uring ws-uring-client'
#                              run only these agents (space- or comma-separated;
#                              default: all of them)
#   AUTOBAHN_TOKIO_SERVER_CMD, AUTOBAHN_BLOCKING_SERVER_CMD, AUTOBAHN_URING_SERVER_CMD,
#   AUTOBAHN_TOKIO_CLIENT_CMD, AUTOBAHN_BLOCKING_CLIENT_CMD, AUTOBAHN_URING_CLIENT_CMD
#                              replace the program run for that agent (a command
#                              line, split on spaces; the address, and for clients
#                              the agent name, are appended). When all programs a
#                              mode needs are replaced, nothing is built.
#
# Exit status: 0 when every agent passed; 1 when a case FAILED, an UNIMPLEMENTED
# case is not excluded, a case is missing, a run produced no report, or a
# process failed/timed out (NON-STRICT too with AUTOBAHN_STRICT=1); 2 on usage
# or setup errors (install, build).
set -uo pipefail

# Cases skipped in every run: none. Sections 12 and 13 (permessage-deflate)
# are the slow ones (wstest's own CPU: 1,000 of a full run's 1,030 s per
# agent); CI shares them out (AUTOBAHN_SHARE_DEFLATE=1).
EXCLUDED_CASES=""
EXCLUDED_REASON="excluded"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENV=${AUTOBAHN_VENV:-$HERE/.venv}
REPORTS=$HERE/reports
SUMMARY_MD=$REPORTS/summary.md

MODE=${1:-all}
case "$MODE" in
    servers | clients | all) ;;
    -h | --help)
        sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [servers|clients|all]" >&2
        exit 2
        ;;
esac
if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
    echo "run.sh needs bash >= 5.1 (wait -n -p)" >&2
    exit 2
fi

CASES=${AUTOBAHN_CASES:-*}
SHARE_DEFLATE=${AUTOBAHN_SHARE_DEFLATE:-0}
[[ $SHARE_DEFLATE == 1 ]] && CASES="1.*-11.*, and a share of 12.*, 13.* (AUTOBAHN_SHARE_DEFLATE=1)"
EXCLUDED_CASES=${AUTOBAHN_EXCLUDE_CASES-$EXCLUDED_CASES}
STRICT=${AUTOBAHN_STRICT:-0}
RUN_TIMEOUT=${AUTOBAHN_RUN_TIMEOUT:-1800}
PORT_BASE=${AUTOBAHN_PORT_BASE:-9100}
HOST=127.0.0.1

# ws-uring's agents need io_uring: on a kernel that refuses it their
# programs exit at once with the reason (see ws-uring's `Error::Unavailable`).
SERVER_AGENTS=(ws-tokio ws-blocking ws-uring)
SERVER_PKGS=(ws-tokio ws-blocking ws-uring)
SERVER_PORTS=($((PORT_BASE + 1)) $((PORT_BASE + 2)) $((PORT_BASE + 3)))
SERVER_OVERRIDES=("${AUTOBAHN_TOKIO_SERVER_CMD:-}" "${AUTOBAHN_BLOCKING_SERVER_CMD:-}" "${AUTOBAHN_URING_SERVER_CMD:-}")
CLIENT_AGENTS=(ws-tokio-client ws-blocking-client ws-uring-client)
CLIENT_PKGS=(ws-tokio ws-blocking ws-uring)
CLIENT_PORTS=($((PORT_BASE + 11)) $((PORT_BASE + 12)) $((PORT_BASE + 13)))
CLIENT_OVERRIDES=("${AUTOBAHN_TOKIO_CLIENT_CMD:-}" "${AUTOBAHN_BLOCKING_CLIENT_CMD:-}" "${AUTOBAHN_URING_CLIENT_CMD:-}")

# filter_agents PREFIX KEEP: keeps the agents of PREFIX_AGENTS (and the
# PKGS, PORTS and OVERRIDES beside them) for which `KEEP AGENT PKG` succeeds.
filter_agents() {
    local prefix=$1 keep=$2 i
    local -n agents=${prefix}_AGENTS pkgs=${prefix}_PKGS ports=${prefix}_PORTS overrides=${prefix}_OVERRIDES
    local a=() p=() r=() o=()
    for i in "${!agents[@]}"; do
        if "$keep" "${agents[i]}" "${pkgs[i]}"; then
            a+=("${agents[i]}")
            p+=("${pkgs[i]}")
            r+=("${ports[i]}")
            o+=("${overrides[i]}")
        fi
    done
    agents=("${a[@]}")
    pkgs=("${p[@]}")
    ports=("${r[@]}")
    overrides=("${o[@]}")
    # A mode left with no agent is not run.
    if ((${#agents[@]} == 0)); then
        if [[ $prefix == SERVER ]]; then
            [[ $MODE == servers ]] && MODE=none
            [[ $MODE == all ]] && MODE=clients
        else
            [[ $MODE == clients ]] && MODE=none
            [[ $MODE == all ]] && MODE=servers
        fi
    fi
    return 0
}
named_in_agents() { [[ " ${AUTOBAHN_AGENTS//,/ } " == *" $1 "* ]]; }
if [[ -n ${AUTOBAHN_AGENTS:-} ]]; then
    filter_agents SERVER named_in_agents
    filter_agents CLIENT named_in_agents
    [[ $MODE == none ]] && {
        echo "AUTOBAHN_AGENTS='$AUTOBAHN_AGENTS' names no agent of this mode" >&2
        exit 2
    }
fi

log() { printf '[autobahn] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 2
}

# ------------------------------------------------------------ processes
# Every process this script starts is recorded here and stopped by PID.
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
    "$@" </dev/null >"$logfile" 2>&1 &
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

# wait_ready PID PORT LOGFILE NEED_LINE: until PORT listens (and, with
# NEED_LINE=1, the process printed a line). Fails if the process exits or 60 s pass.
wait_ready() {
    local pid=$1 port=$2 logfile=$3 need_line=$4 i
    for ((i = 0; i < 600; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if port_listening "$port" && { [[ $need_line == 0 ]] || [[ -s $logfile ]]; }; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# ------------------------------------------------------------ helpers
write_spec() { # write_spec KIND FILE AGENT PORT OUTDIR
    python3 - "$@" "${AGENT_CASES[$3]}" "$EXCLUDED_CASES" "$HOST" <<'PY'
import json, sys
kind, path, agent, port, outdir, cases, excluded, host = sys.argv[1:9]
split = lambda s: [p.strip() for p in s.split(",") if p.strip()]
url = "ws://%s:%s" % (host, port)
spec = {"outdir": outdir, "cases": split(cases),
        "exclude-cases": split(excluded), "exclude-agent-cases": {}}
if kind == "fuzzingclient":
    spec["servers"] = [{"agent": agent, "url": url}]
else:
    spec["url"] = url
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
PY
}

wstest_cmd() { # the command line running wstest, bound to loopback
    printf '%s\0' timeout -k 10 "$RUN_TIMEOUT" \
        "$VENV/bin/python" "$HERE/wstest_loopback.py" "$@"
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

now() { echo "$EPOCHREALTIME"; }
elapsed() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }

port_free_or_die() {
    if port_listening "$1"; then
        die "port $1 on $HOST is already in use (set AUTOBAHN_PORT_BASE to move the ports)"
    fi
}

# ------------------------------------------------------------ build
BIN_DIR=$REPORTS/bin
# The program for package PKG, example EX, or the override command line:
# sets CMD (array).
program_cmd() {
    local override=$1 pkg=$2 ex=$3
    if [[ -n "$override" ]]; then
        read -r -a CMD <<<"$override"
    else
        CMD=("$BIN_DIR/$pkg/$ex")
    fi
}

build_examples() {
    local need=0 o
    if [[ $MODE != clients ]]; then
        for o in "${SERVER_OVERRIDES[@]}"; do [[ -n $o ]] || need=1; done
    fi
    if [[ $MODE != servers ]]; then
        for o in "${CLIENT_OVERRIDES[@]}"; do [[ -n $o ]] || need=1; done
    fi
    ((need)) || {
        log "all programs overridden: not building"
        return 0
    }
    # The packages of the agents that run (all three unless AUTOBAHN_AGENTS
    # names fewer).
    local pkgs=() pkg
    for pkg in ws-tokio ws-blocking ws-uring; do
        if [[ " ${SERVER_PKGS[*]} ${CLIENT_PKGS[*]} " == *" $pkg "* ]]; then
            pkgs+=("$pkg")
        fi
    done
    local flags=()
    for pkg in "${pkgs[@]}"; do flags+=(-p "$pkg"); done
    log "building examples: cargo build --release ${flags[*]} --examples"
    (cd "$ROOT" && cargo build --release "${flags[@]}" --examples) ||
        die "cargo build failed"
    local target_dir
    target_dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') ||
        die "cargo metadata failed"
    # The packages all name their examples echo-server and autobahn-client, so in
    # target/release/examples/ one package's binary overwrites the other's
    # (cargo's "output filename collision"). Cargo re-links the file for the
    # package named by -p (nothing is recompiled when the combined build above
    # is up to date), so take a copy of each package's binaries in turn.
    local ex
    rm -rf "$BIN_DIR"
    for pkg in "${pkgs[@]}"; do
        (cd "$ROOT" && cargo build --release -q -p "$pkg" --examples) ||
            die "cargo build -p $pkg failed"
        mkdir -p "$BIN_DIR/$pkg"
        for ex in echo-server autobahn-client; do
            [[ -x "$target_dir/release/examples/$ex" ]] ||
                die "missing $target_dir/release/examples/$ex (example $ex of $pkg)"
            cp -f "$target_dir/release/examples/$ex" "$BIN_DIR/$pkg/$ex"
        done
    done
}

# ------------------------------------------------------------ summaries
summarize() { # summarize MODE TITLE DIR AGENTS...  (uses DURATION/EXPECTED/PROBLEMS maps)
    local mode=$1 title=$2 dir=$3
    shift 3
    local -a args=(--mode "$mode" --title "$title" --dir "$dir"
        --cases "$CASES" --exclude "$EXCLUDED_CASES" --exclude-reason "$EXCLUDED_REASON"
        --summary-md "$SUMMARY_MD")
    [[ $STRICT == 1 ]] && args+=(--strict)
    local a p
    for a in "$@"; do
        args+=(--agent "$a")
        [[ $SHARE_DEFLATE == 1 ]] && args+=(--agent-cases "$a=${AGENT_CASES[$a]}")
        [[ -n "${DURATION[$a]:-}" ]] && args+=(--duration "$a=${DURATION[$a]}")
        [[ -n "${EXPECTED[$a]:-}" ]] && args+=(--expected "$a=${EXPECTED[$a]}")
        if [[ -n "${PROBLEMS[$a]:-}" ]]; then
            while IFS= read -r p; do
                [[ -n $p ]] && args+=(--problem "$a=$p")
            done <<<"${PROBLEMS[$a]}"
        fi
    done
    python3 "$HERE/summarize.py" "${args[@]}"
}

declare -A DURATION EXPECTED PROBLEMS AGENT_CASES

# The parameter sets of sections 12 and 13, longest first (their time in a
# full run of 2026-12-05, 55-154 s each per agent).
DEFLATE_SETS=(12.3 12.2 12.5 13.5 12.4 12.1 13.7 13.3 13.6 13.4 13.1 13.2)
SECTIONS_1_TO_11="1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*,11.*"

# assign_cases: the cases of each agent (AGENT_CASES), once the agents are
# known (the ws-uring ones may have been skipped).
assign_cases() {
    local a
    for a in "${SERVER_AGENTS[@]}" "${CLIENT_AGENTS[@]}"; do
        AGENT_CASES[$a]=$CASES
    done
    if [[ $SHARE_DEFLATE == 1 ]]; then
        share_deflate SERVER 0
        share_deflate CLIENT 1
    fi
}

# share_deflate PREFIX SHIFT: sections 1-11 to every agent of PREFIX, and
# each parameter set of sections 12 and 13 to one of them, dealt in a snake
# order (0 1 2 2 1 0 0 1 2 ...) so the shares take about as long; SHIFT
# moves the deal along, so an adapter's client gets other sets than its
# server.
share_deflate() {
    local -n agents=${1}_AGENTS
    local shift=$2 n=${#agents[@]} k pos a
    ((n > 0)) || return 0
    for a in "${agents[@]}"; do
        AGENT_CASES[$a]=$SECTIONS_1_TO_11
    done
    for k in "${!DEFLATE_SETS[@]}"; do
        pos=$((k % n))
        (((k / n) % 2 == 1)) && pos=$((n - 1 - pos))
        a=${agents[(pos + shift) % n]}
        AGENT_CASES[$a]+=",${DEFLATE_SETS[k]}.*"
    done
}
add_problem() { PROBLEMS[$1]+="$2"$'\n'; }

# ------------------------------------------------------------ servers
run_servers() {
    local dir=$REPORTS/servers i n=${#SERVER_AGENTS[@]}
    rm -rf "$dir"
    mkdir -p "$dir/logs" "$dir/specs"
    local -a server_pid=() wstest_pid=() started=()
    local t0
    t0=$(now)
    log "servers: agents ${SERVER_AGENTS[*]} on ports ${SERVER_PORTS[*]}"
    for ((i = 0; i < n; i++)); do
        port_free_or_die "${SERVER_PORTS[i]}"
    done
    for ((i = 0; i < n; i++)); do
        local agent=${SERVER_AGENTS[i]} port=${SERVER_PORTS[i]}
        program_cmd "${SERVER_OVERRIDES[i]}" "${SERVER_PKGS[i]}" echo-server
        start_bg "$dir/logs/$agent-server.log" "${CMD[@]}" "$HOST:$port"
        server_pid[i]=$BG_PID
        log "  started $agent echo server (pid $BG_PID): ${CMD[*]} $HOST:$port"
    done
    for ((i = 0; i < n; i++)); do
        local agent=${SERVER_AGENTS[i]} port=${SERVER_PORTS[i]}
        if ! wait_ready "${server_pid[i]}" "$port" "$dir/logs/$agent-server.log" 1; then
            add_problem "$agent" "echo server did not start listening on $HOST:$port (see logs/$agent-server.log)"
            log "  $agent: echo server not ready; log:"
            tail -n 20 "$dir/logs/$agent-server.log" >&2
            server_pid[i]=""
            continue
        fi
        local spec=$dir/specs/$agent.json
        write_spec fuzzingclient "$spec" "$agent" "$port" "$dir/$agent"
        local -a wcmd
        mapfile -d '' wcmd < <(wstest_cmd -m fuzzingclient -s "$spec")
        started[i]=$(now)
        start_bg "$dir/logs/$agent-wstest.log" "${wcmd[@]}"
        wstest_pid[i]=$BG_PID
        log "  started wstest fuzzingclient for $agent (pid $BG_PID)"
    done
    # Wait for the wstest runs, in whatever order they finish.
    local -A idx_of=()
    local -a waiting=()
    for ((i = 0; i < n; i++)); do
        if [[ -n "${wstest_pid[i]:-}" ]]; then
            idx_of[${wstest_pid[i]}]=$i
            waiting+=("${wstest_pid[i]}")
        fi
    done
    while ((${#waiting[@]})); do
        local done_pid="" rc
        wait -n -p done_pid "${waiting[@]}"
        rc=$?
        [[ -n $done_pid ]] || continue
        i=${idx_of[$done_pid]}
        local agent=${SERVER_AGENTS[i]}
        DURATION[$agent]=$(elapsed "${started[i]}" "$(now)")
        EXPECTED[$agent]=$(announced_cases "$dir/logs/$agent-wstest.log")
        log "  wstest for $agent $(describe_rc "$rc") after ${DURATION[$agent]}s"
        ((rc == 0)) || add_problem "$agent" "wstest $(describe_rc "$rc") (see logs/$agent-wstest.log)"
        local -a rest=()
        local w
        for w in "${waiting[@]}"; do [[ $w != "$done_pid" ]] && rest+=("$w"); done
        waiting=("${rest[@]}")
    done
    for ((i = 0; i < n; i++)); do
        local agent=${SERVER_AGENTS[i]} pid=${server_pid[i]:-}
        [[ -n $pid ]] || continue
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            add_problem "$agent" "echo server exited during the run with status $? (see logs/$agent-server.log)"
        fi
        stop_pid "$pid"
    done
    log "servers: done in $(elapsed "$t0" "$(now)")s"
    summarize servers "Servers: wstest fuzzingclient vs our echo servers" "$dir" "${SERVER_AGENTS[@]}"
}

# ------------------------------------------------------------ clients
run_clients() {
    local dir=$REPORTS/clients i n=${#CLIENT_AGENTS[@]}
    rm -rf "$dir"
    mkdir -p "$dir/logs" "$dir/specs"
    local -a fs_pid=() client_pid=() started=()
    local t0
    t0=$(now)
    log "clients: agents ${CLIENT_AGENTS[*]}; wstest fuzzingservers on ports ${CLIENT_PORTS[*]}"
    for ((i = 0; i < n; i++)); do
        port_free_or_die "${CLIENT_PORTS[i]}"
    done
    for ((i = 0; i < n; i++)); do
        local agent=${CLIENT_AGENTS[i]} port=${CLIENT_PORTS[i]}
        local spec=$dir/specs/$agent.json
        write_spec fuzzingserver "$spec" "$agent" "$port" "$dir/$agent"
        local -a wcmd
        # Time limit: the client's plus a margin (the server must outlive it).
        mapfile -d '' wcmd < <(RUN_TIMEOUT=$((RUN_TIMEOUT + 120)) wstest_cmd \
            -m fuzzingserver -s "$spec" --webport 0)
        start_bg "$dir/logs/$agent-wstest.log" "${wcmd[@]}"
        fs_pid[i]=$BG_PID
        log "  started wstest fuzzingserver for $agent (pid $BG_PID) on $HOST:$port"
    done
    for ((i = 0; i < n; i++)); do
        local agent=${CLIENT_AGENTS[i]} port=${CLIENT_PORTS[i]}
        if ! wait_ready "${fs_pid[i]}" "$port" "$dir/logs/$agent-wstest.log" 0; then
            add_problem "$agent" "wstest fuzzingserver did not start on $HOST:$port (see logs/$agent-wstest.log)"
            tail -n 20 "$dir/logs/$agent-wstest.log" >&2
            continue
        fi
        EXPECTED[$agent]=$(announced_cases "$dir/logs/$agent-wstest.log")
        program_cmd "${CLIENT_OVERRIDES[i]}" "${CLIENT_PKGS[i]}" autobahn-client
        started[i]=$(now)
        start_bg "$dir/logs/$agent-client.log" timeout -k 10 "$RUN_TIMEOUT" \
            "${CMD[@]}" "ws://$HOST:$port" "$agent"
        client_pid[i]=$BG_PID
        log "  started $agent (pid $BG_PID): ${CMD[*]} ws://$HOST:$port $agent"
    done
    local -A idx_of=()
    local -a waiting=()
    for ((i = 0; i < n; i++)); do
        if [[ -n "${client_pid[i]:-}" ]]; then
            idx_of[${client_pid[i]}]=$i
            waiting+=("${client_pid[i]}")
        fi
    done
    while ((${#waiting[@]})); do
        local done_pid="" rc
        wait -n -p done_pid "${waiting[@]}"
        rc=$?
        [[ -n $done_pid ]] || continue
        i=${idx_of[$done_pid]}
        local agent=${CLIENT_AGENTS[i]}
        DURATION[$agent]=$(elapsed "${started[i]}" "$(now)")
        log "  $agent $(describe_rc "$rc") after ${DURATION[$agent]}s"
        ((rc == 0)) || add_problem "$agent" "client $(describe_rc "$rc") (see logs/$agent-client.log)"
        local -a rest=()
        local w
        for w in "${waiting[@]}"; do [[ $w != "$done_pid" ]] && rest+=("$w"); done
        waiting=("${rest[@]}")
    done
    for ((i = 0; i < n; i++)); do
        local agent=${CLIENT_AGENTS[i]} pid=${fs_pid[i]}
        # wstest writes the report while handling /updateReports; give it a moment.
        local k
        for ((k = 0; k < 50; k++)); do
            [[ -f "$dir/$agent/index.json" ]] && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            add_problem "$agent" "wstest fuzzingserver exited early with status $? (see logs/$agent-wstest.log)"
        fi
        stop_pid "$pid"
    done
    log "clients: done in $(elapsed "$t0" "$(now)")s"
    summarize clients "Clients: wstest fuzzingserver vs our autobahn clients" "$dir" "${CLIENT_AGENTS[@]}"
}

not_uring() { [[ $2 != ws-uring ]]; }

# ws-uring's agents need io_uring. Its echo server, started on a free port,
# either says it listens (io_uring works) or exits with status 2 and the
# reason (a kernel older than 6.0, a seccomp filter, io_uring_disabled):
# then those agents are skipped, with the reason in the log and the summary.
URING_SKIPPED=""
probe_uring() {
    [[ " ${SERVER_PKGS[*]} ${CLIENT_PKGS[*]} " == *" ws-uring "* ]] || return 0
    [[ -x "$BIN_DIR/ws-uring/echo-server" ]] || return 0
    local logfile=$REPORTS/uring-probe.log pid rc i
    mkdir -p "$REPORTS"
    start_bg "$logfile" "$BIN_DIR/ws-uring/echo-server" "$HOST:0"
    pid=$BG_PID
    for ((i = 0; i < 100; i++)); do
        grep -q '^listening on' "$logfile" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q '^listening on' "$logfile" 2>/dev/null; then
        stop_pid "$pid"
        return 0
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    stop_pid "$pid"
    if ((rc == 2)); then
        URING_SKIPPED=$(tr '\n' ' ' <"$logfile")
        log "skipping the ws-uring agents: $URING_SKIPPED"
        filter_agents SERVER not_uring
        filter_agents CLIENT not_uring
        return 0
    fi
    die "the ws-uring echo server neither listened nor reported io_uring missing (see ${logfile#"$ROOT"/})"
}

# ------------------------------------------------------------ main
bash "$HERE/install.sh" || die "autobahn/install.sh failed"
build_examples
probe_uring
assign_cases
mkdir -p "$REPORTS"
{
    echo "# Autobahn|Testsuite summary"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- mode: $MODE; wstest: $("$VENV/bin/wstest" -a 2>/dev/null | tr '\n' ' ')"
    if [[ -n $URING_SKIPPED ]]; then
        echo "- ws-uring agents skipped: $URING_SKIPPED"
    fi
    echo
} >"$SUMMARY_MD"

status=0
if [[ $MODE == servers || $MODE == all ]]; then
    run_servers || status=1
fi
if [[ $MODE == clients || $MODE == all ]]; then
    run_clients || status=1
fi
cleanup
if ((status == 0)); then
    log "PASS (summary: ${SUMMARY_MD#"$ROOT"/})"
else
    log "FAIL (summary: ${SUMMARY_MD#"$ROOT"/})"
fi
exit "$status"
