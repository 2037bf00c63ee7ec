#!/usr/bin/env bash
# scripts/bench.sh — `make bench`: start `spinfer up` on a free loopback port, run
# `spinfer bench` against it (native ONNX Runtime baseline + end-to-end figures in one
# run), stop the server. Extra arguments go to `spinfer bench` (e.g. --requests 100).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPINFER="${SPINFER:-$HOME/.cache/spinfer/target-host/release/spinfer}"
IMAGE="${IMAGE:-$ROOT/static/samples/cat.png}"
cd "$ROOT"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
"$SPINFER" up -f spin.toml --listen "127.0.0.1:$port" --sessions "${SESSIONS:-0}" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 600); do grep -q "^Serving" "$log" && break; kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }; sleep 0.1; done
# Baseline: `wasmtime serve -S nn` on the same classify component, when set-up --bench
# installed it. Its wasi-nn has OpenVINO (not ONNX Runtime), so it runs the IR that
# set-up derives from models/mobilenetv2/model.onnx.
baseline=()
VENV="$ROOT/.venv"
if [[ -x "$VENV/bin/wasmtime" ]] && "$VENV/bin/python" -c 'import openvino' 2>/dev/null; then
  ir="$ROOT/models/mobilenetv2/openvino"   # made by scripts/make-openvino-ir.sh (set-up)
  ovlibs="$OPENVINO_LIBS"
  bport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  LD_LIBRARY_PATH="$ovlibs" "$VENV/bin/wasmtime" serve --addr "127.0.0.1:$bport" -S cli \
    -S nn,nn-graph=openvino::"$ir" --dir "$ROOT/models::/models" target/wasm32-wasip2/release/classify.wasm >/dev/null 2>&1 &
  bpid=$!
  trap 'kill $pid $bpid 2>/dev/null; wait $pid $bpid 2>/dev/null; rm -f "$log"' EXIT
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$bport") 2>/dev/null && break; sleep 0.1; done
  baseline=(--baseline "127.0.0.1:$bport")
  echo "baseline: wasmtime serve $("$VENV/bin/wasmtime" --version | cut -d' ' -f2) -S nn (OpenVINO) on 127.0.0.1:$bport"
else
  echo "baseline: wasmtime serve not installed (scripts/setup.sh --bench); skipped"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%FT%TZ)"
"$SPINFER" bench --addr "127.0.0.1:$port" --image "$IMAGE" "${baseline[@]}" "$@"
