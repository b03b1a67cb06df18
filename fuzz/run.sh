#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30) and prints, per target,
# the executions and coverage libFuzzer reports. Exits non-zero if any target
# crashes, fails an invariant, leaks, times out or exceeds the memory limits.
#
#   bash fuzz/run.sh [SECONDS]          # all targets
#   TARGETS="roundtrip frame_decode" bash fuzz/run.sh 600
#   JOBS=1 bash fuzz/run.sh 20          # build with one job (shared machines)
#
# The committed seeds (fuzz/corpus/<target>/, made by fuzz/gen-corpus) and the
# crash regressions (fuzz/regressions/<target>/) are copied into a scratch
# corpus under fuzz/target/work-corpus/, which libFuzzer grows; git stays clean.
# Crashes land in fuzz/artifacts/<target>/ (git-ignored) and logs in
# fuzz/target/fuzz-logs/.
set -euo pipefail

SECONDS_PER_TARGET="${1:-30}"
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
cd "$FUZZ_DIR"

ALL_TARGETS=(frame_header frame_decode handshake_request handshake_response
  server_connection client_connection roundtrip inflate handshake_server
  handshake_client proxy_tunnel frame_mode)
read -r -a TARGET_LIST <<<"${TARGETS:-${ALL_TARGETS[*]}}"

# Memory: the targets configure small limits (frames <= 64 KiB in frame_decode,
# <= 4 KiB in the connection targets, 1 MiB in roundtrip), so any single
# allocation over 64 MiB comes from an untrusted length.
RSS_LIMIT_MB="${RSS_LIMIT_MB:-512}"
MALLOC_LIMIT_MB="${MALLOC_LIMIT_MB:-64}"
# A single input taking longer than this is reported as a hang.
UNIT_TIMEOUT="${UNIT_TIMEOUT:-10}"
# AddressSanitizer keeps freed memory in a 256 MiB quarantine by default, which
# alone would eat half of the RSS limit; 64 MiB still catches use-after-free.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64:detect_leaks=1}"

log() { printf '==> %s\n' "$*" >&2; }

# --- cargo-fuzz and a compiler that accepts -Z flags -------------------------
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
  CARGO=(cargo +nightly)
  log "toolchain: nightly"
else
  CARGO=(cargo)
  export RUSTC_BOOTSTRAP=1
  log "toolchain: stable with RUSTC_BOOTSTRAP=1 (no nightly installed)"
fi

# --- seed corpus --------------------------------------------------------------
missing=0
for t in "${TARGET_LIST[@]}"; do
  [[ -d "corpus/$t" ]] || missing=1
done
if [[ $missing == 1 ]]; then
  log "generating the seed corpus (fuzz/gen-corpus)"
  cargo run --quiet --manifest-path gen-corpus/Cargo.toml \
    --target-dir target/gen-corpus -- corpus
fi

# --- build --------------------------------------------------------------------
# Release with debug assertions (-a): integer overflow and debug_assert! trip too.
if [[ -n "${JOBS:-}" ]]; then
  export CARGO_BUILD_JOBS="$JOBS"
fi
log "building the fuzz targets"
"${CARGO[@]}" fuzz build -a >&2

# --- run ----------------------------------------------------------------------
WORK="target/work-corpus"
LOGS="target/fuzz-logs"
mkdir -p "$WORK" "$LOGS"

uses_dict() {
  case "$1" in
    handshake_request | handshake_response) return 0 ;;
    *) return 1 ;;
  esac
}

declare -A RESULT EXECS COV FT RATE
failed=0
for t in "${TARGET_LIST[@]}"; do
  work="$WORK/$t"
  mkdir -p "$work" "artifacts/$t"
  # Seeds and regressions in; what earlier runs found stays (it is scratch).
  for src in "corpus/$t" "regressions/$t"; do
    if [[ -d "$src" ]] && compgen -G "$src/*" >/dev/null; then
      cp -f "$src"/* "$work"/
    fi
  done
  flags=(
    "-max_total_time=$SECONDS_PER_TARGET"
    "-rss_limit_mb=$RSS_LIMIT_MB"
    "-malloc_limit_mb=$MALLOC_LIMIT_MB"
    "-timeout=$UNIT_TIMEOUT"
    -print_final_stats=1
  )
  if uses_dict "$t"; then
    flags+=("-dict=$FUZZ_DIR/websocket.dict")
  fi
  log "fuzzing $t for ${SECONDS_PER_TARGET}s"
  status=0
  "${CARGO[@]}" fuzz run -a "$t" "$work" -- "${flags[@]}" >"$LOGS/$t.log" 2>&1 || status=$?

  # libFuzzer's last status line: "#N DONE cov: X ft: Y corp: ... exec/s: Z".
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$LOGS/$t.log" | tail -n 1 || true)"
  EXECS[$t]="$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$LOGS/$t.log" |
    tail -n 1 | grep -oE '[0-9]+$' || true)"
  COV[$t]="$(grep -oE 'cov: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || true)"
  FT[$t]="$(grep -oE 'ft: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || true)"
  RATE[$t]="$(grep -oE 'exec/s: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || true)"
  if [[ $status -eq 0 ]]; then
    RESULT[$t]=ok
  else
    RESULT[$t]="FAILED (exit $status)"
    failed=1
    log "$t failed; last lines of $FUZZ_DIR/$LOGS/$t.log:"
    tail -n 40 "$LOGS/$t.log" >&2
  fi
done

# --- summary ------------------------------------------------------------------
printf '\n%-20s %-18s %12s %8s %8s %8s\n' target result executions cov ft exec/s
for t in "${TARGET_LIST[@]}"; do
  printf '%-20s %-18s %12s %8s %8s %8s\n' "$t" "${RESULT[$t]}" \
    "${EXECS[$t]:--}" "${COV[$t]:--}" "${FT[$t]:--}" "${RATE[$t]:--}"
done
if [[ $failed -ne 0 ]]; then
  printf '\nat least one target failed: crashing inputs are in %s/artifacts/<target>/\n' "$FUZZ_DIR"
  exit 1
fi
