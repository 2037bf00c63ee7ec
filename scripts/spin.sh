#!/usr/bin/env bash
# scripts/spin.sh — find the real Spin CLI for the tests and `make bench`; prints its path.
#   1. $SPIN_BIN (an error if it names no executable: the user asked for that one);
#   2. `spin` on PATH.
# Where none is found it prints the reason on stderr and exits 3, so a caller can report
# the Spin cases as skipped with that reason. Nothing is downloaded or unpacked.
set -euo pipefail

if [[ -n "${SPIN_BIN:-}" ]]; then
  [[ -x "$SPIN_BIN" && -f "$SPIN_BIN" ]] || { echo "SPIN_BIN=$SPIN_BIN is not an executable file" >&2; exit 3; }
  echo "$SPIN_BIN"; exit 0
fi
if found=$(command -v spin 2>/dev/null) && [[ -f "$found" ]]; then
  echo "$found"; exit 0
fi
echo "no Spin CLI: put spin on PATH or set SPIN_BIN to one (docs/spin.md, "Run it on Spin")" >&2
exit 3
