#!/usr/bin/env bash
# scripts/decode_bench.sh — the decoder benchmark of `make bench`: builds
# pipeline/examples/decode.rs for the host and for wasm32-wasip2 (the route
# scripts/setup.sh chose, as scripts/build-wasm.sh does), then runs
# scripts/decode_bench.py (libjpeg-turbo vs spinfer's decoder natively and in Wasm).
# Extra arguments go to decode_bench.py (e.g. --rounds 10, photo paths).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SPINFER_CACHE:-$HOME/.cache/spinfer}"
# shellcheck disable=SC1091
source "$CACHE/toolchain.env"
host_target="$CACHE/target-host"
# spinfer-bench keeps the compiled component beside the host's (as `make` sets it).
export SPINFER_CACHE_DIR="${SPINFER_CACHE_DIR:-$CACHE/precompiled}"
wasm_target="${SPINFER_WASM_TARGET_DIR:-$CACHE/target-wasm-$WASM_TOOLCHAIN}"
cd "$ROOT"
CARGO_TARGET_DIR="$host_target" cargo build --quiet --release --locked -p spinfer-pipeline --example decode
# shellcheck disable=SC2086
env PATH="$WASM_PATH:$PATH" RUSTC="$WASM_RUSTC" RUSTDOC="$WASM_RUSTDOC" \
  RUSTC_BOOTSTRAP=$([[ $WASM_TOOLCHAIN == debian ]] && echo 1 || echo "") CARGO_TARGET_DIR="$wasm_target" \
  "$WASM_CARGO" build --quiet --locked --target wasm32-wasip2 --release $WASM_CARGO_FLAGS \
  -p spinfer-pipeline --example decode
exec "$ROOT/.venv/bin/python" scripts/decode_bench.py --native "$host_target/release/examples/decode" \
  --wasm "$wasm_target/wasm32-wasip2/release/examples/decode.wasm" \
  --runner "$host_target/release/spinfer-bench" "$@"
