#!/usr/bin/env bash
# scripts/build-wasm.sh [--debug] CRATE... — build Spin components for wasm32-wasip2 with
# the route scripts/setup.sh chose, then place each <crate>.wasm where spin.toml's
# `source` expects it (target/wasm32-wasip2/<profile>/), as `spin build` would.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SPINFER_CACHE:-$HOME/.cache/spinfer}"
# shellcheck disable=SC1091
source "$CACHE/toolchain.env"
profile=release; flags=(--release)
if [[ "${1:-}" == --debug ]]; then profile=debug; flags=(); shift; fi
(($#)) || { echo "usage: $0 [--debug] CRATE..." >&2; exit 2; }
target_dir="${SPINFER_WASM_TARGET_DIR:-$CACHE/target-wasm-$WASM_TOOLCHAIN}"
pkgs=(); for c in "$@"; do pkgs+=(-p "$c"); done
t0=$EPOCHREALTIME
# shellcheck disable=SC2086
(cd "$ROOT" && env PATH="$WASM_PATH:$PATH" RUSTC="$WASM_RUSTC" RUSTDOC="$WASM_RUSTDOC" \
   RUSTC_BOOTSTRAP=$([[ $WASM_TOOLCHAIN == debian ]] && echo 1 || echo "") \
   CARGO_TARGET_DIR="$target_dir" \
   "$WASM_CARGO" build --quiet --locked --target wasm32-wasip2 "${flags[@]}" $WASM_CARGO_FLAGS "${pkgs[@]}")
mkdir -p "$ROOT/target/wasm32-wasip2/$profile"
for c in "$@"; do
  src="$target_dir/wasm32-wasip2/$profile/${c//-/_}.wasm"
  cp -p "$src" "$ROOT/target/wasm32-wasip2/$profile/"
  printf '[build] %s %s: %s bytes\n' "$c" "$profile" "$(stat -c %s "$src")"
done
printf '[time] wasm build (%s): %s s\n' "$*" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')"
