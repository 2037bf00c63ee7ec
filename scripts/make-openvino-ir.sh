#!/usr/bin/env bash
# scripts/make-openvino-ir.sh — derive OpenVINO IR (model.xml + model.bin, fp32) from each
# models/<name>/model.onnx into models/<name>/openvino/, for the host's `openvino`
# backend (wasmtime-wasi-nn's OpenVINO backend loads IR directories). Uses the venv's
# PyPI `openvino`; skips models whose IR is newer than this script and the ONNX file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${SPINFER_VENV:-$ROOT/.venv}/bin/python"
for onnx in "$ROOT"/models/*/model.onnx; do
  out="$(dirname "$onnx")/openvino"
  if [[ "$out/model.xml" -nt "$onnx" && "$out/model.xml" -nt "${BASH_SOURCE[0]}" && -s "$out/model.bin" ]]; then continue; fi
  mkdir -p "$out"
  "$PY" -c "import openvino as ov, sys; ov.save_model(ov.convert_model(sys.argv[1]), sys.argv[2], compress_to_fp16=False)" "$onnx" "$out/model.xml"
  echo "[openvino] $(basename "$(dirname "$onnx")"): IR written to ${out#$ROOT/}"
done
