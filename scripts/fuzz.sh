#!/usr/bin/env bash
# fuzz.sh [TARGET...] — `make fuzz`: build the cargo-fuzz targets in fuzz/ (libFuzzer,
# AddressSanitizer, release build with debug assertions so integer overflow panics) and
# run each for FUZZ_SECONDS (default 30) with a 1 s per-input timeout and an RSS cap,
# then print executions and crashes per target.
#
# The committed seeds (fuzz/corpus/<target>/) are read, never written: new inputs go to a
# working corpus in the cache ($SPINFER_CACHE/fuzz-corpus/<target>/, kept between runs);
# crashes, timeouts and OOMs to fuzz/artifacts/<target>/ (ignored by git). Reproduce one:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz <target> fuzz/artifacts/<target>/<file>
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
set -uo pipefail
cd "$(dirname "$0")/.."
CACHE=${SPINFER_CACHE:-$HOME/.cache/spinfer}
SECONDS_EACH=${FUZZ_SECONDS:-30}
RSS_MB=${FUZZ_RSS_MB:-2048}
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(image jpeg_reduced multipart oip manifest)
export RUSTC_BOOTSTRAP=1
# FUZZ_SANITIZER=none: no AddressSanitizer (2-3× the executions; the code is safe Rust
# but for the decoders' dependencies), built in its own target dir.
SANITIZER=${FUZZ_SANITIZER:-address}
TARGET_DIR="$CACHE/target-fuzz"
[[ "$SANITIZER" == address ]] || TARGET_DIR="$CACHE/target-fuzz-$SANITIZER"
FUZZ=(--fuzz-dir fuzz --target-dir "$TARGET_DIR" -O --debug-assertions -s "$SANITIZER")
PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: bash scripts/setup.sh --fuzz" >&2; exit 1; }

for t in "${TARGETS[@]}"; do
  cargo fuzz build "${FUZZ[@]}" "$t" || exit 1
done

summary=()
failed=0
for t in "${TARGETS[@]}"; do
  work="$CACHE/fuzz-corpus/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  log="$CACHE/fuzz-$t.log"
  echo "[fuzz] $t: ${SECONDS_EACH}s (log: $log)"
  cargo fuzz run "${FUZZ[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -timeout=1 -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  runs=$(grep -oP '^stat::number_of_executed_units:\s*\K\d+' "$log" | tail -1)
  [[ -n "$runs" ]] || runs=$(grep -oP '^#\K\d+' "$log" | tail -1)
  rate=$(grep -oP '^stat::average_exec_per_sec:\s*\K\d+' "$log" | tail -1)
  peak=$(grep -oP '^stat::peak_rss_mb:\s*\K\d+' "$log" | tail -1)
  found=$(grep -oP "Test unit written to \K\S+" "$log" || true)
  # On a shared machine a stall can make any input "time out": run a timeout once more,
  # alone, and count it only if it times out again.
  if [[ "$found" == */timeout-* && $(wc -l <<<"$found") == 1 ]]; then
    bin="$TARGET_DIR/x86_64-unknown-linux-gnu/release/$t"
    if "$bin" -timeout=1 -runs=1 "$found" >"$log.rerun" 2>&1; then
      echo "    $found timed out once but ran in time when re-run alone (machine stall): not counted"
      found="" rc=0
    fi
  fi
  crashes=$( [[ -n "$found" ]] && wc -l <<<"$found" || echo 0)
  if ((rc != 0)) || [[ -n "$found" ]]; then
    failed=1
    grep -m3 -E 'panicked|ERROR|ALARM|out-of-memory|deadly' "$log" | sed 's/^/    /'
  fi
  summary+=("$(printf '%-13s %10s execs  %6s exec/s  peak RSS %5s MB  crashes %s %s' \
    "$t" "${runs:-?}" "${rate:-?}" "${peak:-?}" "$crashes" "$found")")
done
echo "[fuzz] $(date -u +%FT%TZ), ${SECONDS_EACH}s per target, sanitizer $SANITIZER, -timeout=1 -rss_limit_mb=$RSS_MB:"
printf '  %s\n' "${summary[@]}"
exit $failed
