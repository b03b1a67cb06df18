#!/usr/bin/env bash
# Python `websockets` (PyPI, in a private venv) against our stack, on loopback.
#
#   bash tests/peers/python.sh
#
# As a client against both our echo servers (ws-tokio, ws-blocking): text
# and binary up to 1 MiB with and without permessage-deflate (negotiation
# checked in the response headers), fragmented messages, ping/pong, close
# codes 1000 and 4001, invalid UTF-8 closed with 1007; and against a
# ws-tokio server that closes with 4001 "bye from server".
# As a server for both our clients (ws-tokio, ws-blocking): the echo
# scenario with deflate, a client close code, and a server close code.
# Prints `python: N passed, N failed`; exits non-zero on any failure.
PEER_NAME=python
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v python3 >/dev/null 2>&1 || ensure_apt python3-venv python3 || { fail "python3"; finish; }
ensure_venv || { fail "install websockets into $VENV"; finish; }
build_bins || { fail "build our binaries"; finish; }
py() { timeout 180 "$VENV/bin/python" "$PEERS_DIR/python_peer.py" "$@"; }
pc() { timeout 120 "$PEERS_BIN/peer-check" "$@"; }

# Python as the client.
tokio_port=$(free_port)
blocking_port=$(free_port)
closing_port=$(free_port)
start tokio_pid "$WORK/tokio.log" timeout 900 "$PEERS_BIN/tokio-echo-server" "127.0.0.1:$tokio_port"
start blocking_pid "$WORK/blocking.log" timeout 900 "$PEERS_BIN/blocking-echo-server" "127.0.0.1:$blocking_port"
start closing_pid "$WORK/closing.log" timeout 900 "$PEERS_BIN/peer-check" server "127.0.0.1:$closing_port" \
    --close-after 2 --code 4001 --reason "bye from server"
for f in tokio blocking closing; do
    wait_for_line "$WORK/$f.log" '^listening on' 20 || { fail "$f server start"; finish; }
done
check_lines "websockets client -> ws-tokio server" py client "ws://127.0.0.1:$tokio_port/"
check_lines "websockets client -> ws-blocking server" py client "ws://127.0.0.1:$blocking_port/"
check_lines "websockets client -> ws-tokio server closing" \
    py server-close "ws://127.0.0.1:$closing_port/" 4001 "bye from server"

# Python as the server.
py_port=$(free_port)
start py_pid "$WORK/python-server.log" timeout 900 "$VENV/bin/python" "$PEERS_DIR/python_peer.py" server "$py_port"
wait_for_line "$WORK/python-server.log" '^listening on' 30 || { fail "python server start"; finish; }
url=ws://127.0.0.1:$py_port
for flavour in tokio blocking; do
    flag=()
    [[ $flavour == blocking ]] && flag=(--blocking)
    check_lines "ws-$flavour client -> websockets server" pc client "$url/echo" echo --expect-deflate "${flag[@]}"
    check_lines "ws-$flavour client -> websockets server" pc client "$url/echo" close 4321 "${flag[@]}"
    check_lines "ws-$flavour client -> websockets server" pc client "$url/close-4002" server-close 4002 "bye from python" "${flag[@]}"
done

finish
