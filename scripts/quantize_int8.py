#!/usr/bin/env python3
"""quantize_int8.py — derive models/mobilenetv2_int8/ from the repository's fp32 MobileNetV2.

Run by scripts/setup.sh with the project venv (PyPI onnxruntime + onnx), never downloaded and
never committed: ONNX Runtime's `quantize_static` turns models/mobilenetv2/model.onnx into a
QDQ model with int8 weights (per output channel) and uint8 activations, whose activation
ranges are calibrated (MinMax) on the nine photos shipped in tests/data/images, preprocessed
exactly as classify preprocesses them (resize the short side to 256, bilinear, centre crop
224, ImageNet mean/std). Writes, in models/mobilenetv2_int8/:

  model.onnx        the quantised graph (input `input` f32 [N,3,224,224], output `logits`)
  labels.txt        the fp32 model's labels, copied (the same 1000 classes)
  provenance.json   every input's sha256, the tool versions, the settings, the output's sha256

Idempotent: when provenance.json already records the same inputs, tools and settings and
model.onnx still has the recorded sha256, nothing is redone. The result is deterministic
(same inputs and versions → the same bytes), so the sha256 in models/mobilenetv2_int8/README.md
can be checked against a fresh derivation.
"""
import glob
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = "models/mobilenetv2"
OUT = "models/mobilenetv2_int8"
CALIBRATION = "tests/data/images/*"
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SETTINGS = {
    "pre_process": "onnxruntime.quantization.shape_inference.quant_pre_process(skip_symbolic_shape=True)",
    "quant_format": "QDQ",
    "per_channel": True,
    "activation_type": "QUInt8",
    "weight_type": "QInt8",
    "calibrate_method": "MinMax",
    "calibration_preprocessing": "Pillow: EXIF transpose, RGB, resize short side to 256 (BILINEAR), "
                                 "centre crop 224, (p/255 - mean)/std, NCHW f32",
}


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def tensor(path):
    """The model input for one photo, as classify makes it (the reference's preprocessing)."""
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = img.size
    nw, nh = (256, h * 256 // w) if w <= h else (w * 256 // h, 256)
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - 224) // 2, (nh - 224) // 2
    a = np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.float32)
    a = (a / np.float32(255.0) - MEAN) / STD
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])


def wanted():
    """Everything the output depends on, as recorded in provenance.json."""
    rel = lambda p: os.path.relpath(p, ROOT)
    photos = sorted(glob.glob(os.path.join(ROOT, CALIBRATION)))
    if not photos:
        sys.exit(f"[int8] no calibration photos at {CALIBRATION}")
    return {
        "model": "mobilenetv2_int8",
        "source": {"path": f"{SOURCE}/model.onnx", "sha256": sha256(os.path.join(ROOT, SOURCE, "model.onnx"))},
        "labels": {"path": f"{SOURCE}/labels.txt", "sha256": sha256(os.path.join(ROOT, SOURCE, "labels.txt"))},
        "calibration": [{"path": rel(p), "sha256": sha256(p)} for p in photos],
        "tools": {"python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                  "onnx": onnx.__version__, "numpy": np.__version__, "pillow": Image.__version__},
        "settings": SETTINGS,
    }


def quantize(want, out_model):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Photos(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"input": tensor(os.path.join(ROOT, c["path"]))} for c in want["calibration"]])

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        quant_pre_process(os.path.join(ROOT, want["source"]["path"]), pre, skip_symbolic_shape=True)
        quantize_static(pre, out_model, Photos(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)


def main():
    out = os.path.join(ROOT, OUT)
    model, labels, record = (os.path.join(out, f) for f in ("model.onnx", "labels.txt", "provenance.json"))
    want = wanted()
    try:
        with open(record) as fh:
            have = json.load(fh)
        if ({k: have.get(k) for k in want} == want and os.path.exists(model)
                and sha256(model) == have["output"]["sha256"] and os.path.exists(labels)
                and sha256(labels) == want["labels"]["sha256"]):
            print(f"[int8] {OUT}/model.onnx present (sha256 {have['output']['sha256'][:16]}…)")
            return 0
    except (OSError, ValueError, KeyError):
        pass
    os.makedirs(out, exist_ok=True)
    quantize(want, model + ".tmp")
    os.replace(model + ".tmp", model)
    shutil.copyfile(os.path.join(ROOT, want["labels"]["path"]), labels)
    want["output"] = {"path": f"{OUT}/model.onnx", "sha256": sha256(model), "bytes": os.path.getsize(model)}
    with open(record, "w") as fh:
        json.dump(want, fh, indent=1)
        fh.write("\n")
    print(f"[int8] {OUT}/model.onnx: {want['output']['bytes']} bytes, sha256 {want['output']['sha256']} "
          f"(QDQ, per-channel, calibrated on {len(want['calibration'])} photos)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
