#!/usr/bin/env bash
# scripts/spin.sh — find the real Spin CLI for the tests and `make bench`; prints its path.
#   1. $SPIN_BIN (an error if it names no executable: the user asked for that one);
#   2. `spin` on PATH;
#   3. unpacked once from ../shared/tools/spin/spin-*-x86_64-linux.xz (or $SPIN_ARCHIVE)
#      ($SPINFER_SHARED overrides ../shared) into the build cache ($SPINFER_CACHE/bin/spin) — never into the repository.
# Where none is found it prints the reason on stderr and exits 3, so a caller can report
# the Spin cases as skipped with that reason. Nothing is downloaded.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SPINFER_CACHE:-$HOME/.cache/spinfer}"

if [[ -n "${SPIN_BIN:-}" ]]; then
  [[ -x "$SPIN_BIN" && -f "$SPIN_BIN" ]] || { echo "SPIN_BIN=$SPIN_BIN is not an executable file" >&2; exit 3; }
  echo "$SPIN_BIN"; exit 0
fi
if found=$(command -v spin 2>/dev/null) && [[ -f "$found" ]]; then
  echo "$found"; exit 0
fi
cached="$CACHE/bin/spin"
archive="${SPIN_ARCHIVE:-}"
if [[ -z "$archive" ]]; then
  for a in "${SPINFER_SHARED:-$ROOT/../shared}"/tools/spin/spin-*-"$(uname -m)"-linux.xz; do [[ -f "$a" ]] && archive=$a; done
fi
if [[ -x "$cached" && ( -z "$archive" || "$cached" -nt "$archive" ) ]]; then
  echo "$cached"; exit 0
fi
if [[ -z "$archive" ]]; then
  echo "no Spin CLI: set SPIN_BIN, put spin on PATH, or provide ../shared/tools/spin/spin-*-$(uname -m)-linux.xz (README: Run it on Spin)" >&2
  exit 3
fi
command -v xz >/dev/null || { echo "cannot unpack $archive: xz is not installed" >&2; exit 3; }
mkdir -p "$CACHE/bin"
# Unpack beside the target and rename: parallel callers never see a half-written binary.
tmp=$(mktemp "$CACHE/bin/.spin.XXXXXX")
trap 'rm -f "$tmp"' EXIT
[[ -f "$archive" ]] || { echo "no Spin archive at $archive" >&2; exit 3; }
xz -dc "$archive" > "$tmp" || { echo "cannot unpack $archive" >&2; exit 3; }
chmod +x "$tmp"
if ! version=$("$tmp" --version 2>&1); then
  echo "the Spin unpacked from $archive does not run here: $version" >&2; exit 3
fi
mv -f "$tmp" "$cached"
echo "[spin] unpacked $version from $archive into $cached" >&2
echo "$cached"
