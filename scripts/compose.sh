#!/usr/bin/env bash
# scripts/compose.sh — build-time composition of the portable classify, for runtimes
# without wasi:nn (stock Spin, SpinKube's shim):
#   1. pre-initialise nn_provider.wasm with `wasmtime wizer`: its `wizer-initialize`
#      loads + optimises models/<name>/model.onnx (mapped in as /models) and the snapshot
#      ships the ready plans (nn_provider.init.wasm) — no request parses a model;
#   2. `wac plug` it into classify.wasm → classify-portable.wasm, whose imports hold no
#      wasi:nn (checked with scripts/check-wit.sh --no-nn).
# Skips a step whose output is newer than its inputs; the snapshot is also redone when the
# set of models, the wasmtime version or the wizer flags change (a stamp file records them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SPINFER_CACHE:-$HOME/.cache/spinfer}"
# shellcheck disable=SC1091
source "$CACHE/toolchain.env"
out="$ROOT/target/wasm32-wasip2/release"
provider="$out/nn_provider.wasm" init="$out/nn_provider.init.wasm" portable="$out/classify-portable.wasm"
wasmtime="$SPINFER_VENV/bin/wasmtime" wac="${CARGO_HOME:-$HOME/.cargo}/bin/wac"
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'; }
stale() { # stale OUT IN... — OUT is missing or older than one of IN
  local o=$1; shift; [[ -f "$o" ]] || return 0
  for i in "$@"; do [[ "$i" -nt "$o" ]] && return 0; done; return 1
}

models=("$ROOT"/models/*/model.onnx)
wizer_flags=(-S cli=y --keep-init-func --dir "$ROOT/models::/models")
stamp="$init.stamp"
want_stamp=$(printf '%s\n' "$("$wasmtime" --version)" "${wizer_flags[*]}" "${models[@]}")
if stale "$init" "$provider" "${models[@]}" || [[ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ]]; then
  t0=$EPOCHREALTIME
  "$wasmtime" wizer "${wizer_flags[@]}" -o "$init.tmp" "$provider"
  mv "$init.tmp" "$init"
  printf '%s\n' "$want_stamp" > "$stamp"
  printf '[compose] pre-initialised %s: %s bytes in %s s\n' "$(basename "$init")" "$(stat -c %s "$init")" "$(elapsed "$t0")"
fi
if stale "$portable" "$init" "$out/classify.wasm"; then
  "$wac" plug "$out/classify.wasm" --plug "$init" -o "$portable.tmp"
  mv "$portable.tmp" "$portable"
  printf '[compose] %s: %s bytes\n' "$(basename "$portable")" "$(stat -c %s "$portable")"
fi
bash "$ROOT/scripts/check-wit.sh" --no-nn "$portable"
