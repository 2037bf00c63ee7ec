#!/usr/bin/env bash
# scripts/check-wit.sh [--no-nn] COMPONENT.wasm — validate a built component and check
# its world: it exports wasi:http/incoming-handler and imports only wasi:* interfaces
# (with --no-nn: and no wasi:nn, as stock Spin / SpinKube need). Prints the imports and
# the stripped size.
set -euo pipefail
no_nn=0; if [[ "${1:-}" == --no-nn ]]; then no_nn=1; shift; fi
wasm=$1
PATH="${WASM_PATH:-$HOME/.cargo/bin}:$PATH"
wasm-tools validate "$wasm"
wit=$(wasm-tools component wit "$wasm")
imports=$(sed -n '/^world/,/^}/p' <<<"$wit" | grep -E '^\s*import ' | sed 's/^ *import //; s/;$//')
exports=$(sed -n '/^world/,/^}/p' <<<"$wit" | grep -E '^\s*export ' | sed 's/^ *export //; s/;$//')
echo "[wit] $(basename "$wasm") exports: $exports"
echo "[wit] imports: $(tr '\n' ' ' <<<"$imports")"
grep -q '^wasi:http/incoming-handler@0\.2\.' <<<"$exports" || { echo "error: no wasi:http/incoming-handler export" >&2; exit 1; }
bad=$(grep -v '^wasi:' <<<"$imports" || true)
[[ -z "$bad" ]] || { echo "error: non-wasi imports: $bad" >&2; exit 1; }
if ((no_nn)) && grep -q '^wasi:nn/' <<<"$imports"; then
  echo "error: $(basename "$wasm") still imports wasi:nn: $(grep '^wasi:nn/' <<<"$imports" | tr '\n' ' ')" >&2; exit 1
fi
stripped=$(mktemp); wasm-tools strip -a "$wasm" -o "$stripped"
echo "[wit] size: $(stat -c %s "$wasm") bytes, stripped $(stat -c %s "$stripped") bytes"
rm -f "$stripped"
