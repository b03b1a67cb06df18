#!/usr/bin/env bash
# Runs every real-peer check in tests/peers/ (each installs what it needs):
#
#   bash tests/peers/run.sh            nginx, python, chromium
#   bash tests/peers/run.sh --memory   the same plus idle-memory.sh (10,000
#                                      idle connections; slower)
#   PEERS="nginx python" bash tests/peers/run.sh   a selection
#
# Each script prints `NAME: N passed, N failed`; this one adds them up and
# prints the total as its last line, exiting non-zero if any check failed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

peers=${PEERS:-nginx python chromium}
if [[ ${1:-} == --memory ]]; then
    peers="$peers idle-memory"
fi

passed=0
failed=0
for peer in $peers; do
    printf '\n==> tests/peers/%s.sh\n' "$peer"
    out=$(mktemp)
    timeout 1800 bash "$here/$peer.sh" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    line=$(grep -E "^$peer: [0-9]+ passed, [0-9]+ failed" "$out" | tail -n 1)
    rm -f "$out"
    if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
        if ((status != 0 && BASH_REMATCH[2] == 0)); then
            failed=$((failed + 1))
        fi
    else
        echo "$peer.sh ended (status $status) without its summary line"
        failed=$((failed + 1))
    fi
done

echo
echo "peers: $passed passed, $failed failed"
((failed == 0))
