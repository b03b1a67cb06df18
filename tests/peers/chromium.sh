#!/usr/bin/env bash
# Headless Chromium (Debian's `chromium`) against a ws-tokio server, on loopback.
#
#   bash tests/peers/chromium.sh
#
# The server is `peer-check server`: it echoes and, after two data messages,
# closes with 4001 "bye from server". chromium_page.html checks text,
# binary as ArrayBuffer and as Blob (10 B .. 1 MiB), permessage-deflate
# negotiation, the close code, reason and wasClean its onclose sees when the
# SERVER closes, and a close started by the page. chromium_check.py drives
# Chromium over the DevTools protocol and stops its process group.
# Prints `chromium: N passed, N failed`; exits non-zero on any failure.
PEER_NAME=chromium
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_apt chromium chromium || { fail "install chromium"; finish; }
ensure_venv || { fail "install websockets into $VENV"; finish; }
build_bins || { fail "build our binaries"; finish; }

port=$(free_port)
start server_pid "$WORK/server.log" timeout 600 "$PEERS_BIN/peer-check" server "127.0.0.1:$port" \
    --close-after 2 --code 4001 --reason "bye from server"
wait_for_line "$WORK/server.log" '^listening on' 20 || { fail "server start"; finish; }

cp "$PEERS_DIR/chromium_page.html" "$WORK/page.html"
chmod 755 "$WORK"
mkdir -p "$WORK/profile"
check_lines "chromium" timeout 120 "$VENV/bin/python" "$PEERS_DIR/chromium_check.py" \
    "$(command -v chromium)" "file://$WORK/page.html?port=$port" "$WORK/profile" 60

finish
