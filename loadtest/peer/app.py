"""The comparison peer: what the seed-style stack looks like today — a Python web
server (Flask under gunicorn, one sync worker per core) doing the same preprocessing
with Pillow/NumPy and the same ONNX Runtime inference, one session per worker with
one intra-op thread (as spinfer's sessions). Same routes and JSON shape as classify.

Draft mode (on by default; PEER_DRAFT=0 turns it off): Pillow's `draft("RGB", (256, 256))`
asks libjpeg-turbo to decode a large JPEG at ½, ¼ or ⅛ scale, the one line a careful
Python engineer adds — so the comparison is with the best version of this stack.

Models: PEER_MODELS (comma-separated, default "mobilenetv2"; "efficientnet_lite0" and
"mobilenetv2_int8" too — the int8 model set-up derives, models/mobilenetv2_int8) are each
loaded as one session per worker at import, and `?model=` picks one (the first by default)
— how `loadtest/report.py memory` measures the cost of one more model here, and how
`loadtest/fastpath.py load` runs the peer on the same int8 model as spinfer.
"""
import io
import os
import time

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request
from PIL import Image, ImageOps, UnidentifiedImageError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRAFT = os.environ.get("PEER_DRAFT", "1") != "0"
# Per model: (mean, std) applied to pixels scaled to 0..1, as classify does.
NORMALISATION = {
    "mobilenetv2": (np.array([0.485, 0.456, 0.406], dtype=np.float32), np.array([0.229, 0.224, 0.225], dtype=np.float32)),
    # (p - 127) / 128 on 0..255 pixels
    "efficientnet_lite0": (np.full(3, 127 / 255, dtype=np.float32), np.full(3, 128 / 255, dtype=np.float32)),
}
NORMALISATION["mobilenetv2_int8"] = NORMALISATION["mobilenetv2"]  # quantised from it: same input
MODEL_NAMES = [m.strip() for m in os.environ.get("PEER_MODELS", "mobilenetv2").split(",") if m.strip()]
for _m in MODEL_NAMES:
    if _m not in NORMALISATION:
        raise SystemExit(f"PEER_MODELS: unknown model {_m!r} (known: {', '.join(NORMALISATION)})")

options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
MODELS = {
    m: (ort.InferenceSession(os.path.join(ROOT, f"models/{m}/model.onnx"), options, providers=["CPUExecutionProvider"]),
        open(os.path.join(ROOT, f"models/{m}/labels.txt")).read().splitlines())
    for m in MODEL_NAMES
}

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 40 * 1024 * 1024  # as spinfer's classify


def preprocess(data, model):
    img = Image.open(io.BytesIO(data))
    if DRAFT:
        img.draft("RGB", (256, 256))  # JPEG only; a no-op for other formats
    img = ImageOps.exif_transpose(img).convert("RGB")
    w, h = img.size
    nw, nh = (256, h * 256 // w) if w <= h else (w * 256 // h, 256)
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - 224) // 2, (nh - 224) // 2
    a = np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.float32)
    mean, std = NORMALISATION[model]
    a = (a / np.float32(255.0) - mean) / std
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])


@app.post("/classify")
def classify():
    start = time.perf_counter()
    top = int(request.args.get("top", 5))
    model = request.args.get("model", MODEL_NAMES[0])
    if model not in MODELS:
        return jsonify(error={"code": "unknown_model", "message": f"unknown model {model!r}"}), 404
    session, labels = MODELS[model]
    data = request.get_data()
    if not data:
        return jsonify(error={"code": "empty_body", "message": "empty body"}), 400
    try:
        t0 = time.perf_counter()
        tensor = preprocess(data, model)
    except (UnidentifiedImageError, OSError) as e:
        return jsonify(error={"code": "not_an_image", "message": str(e)}), 400
    t1 = time.perf_counter()
    logits = session.run(None, {session.get_inputs()[0].name: tensor})[0][0]
    t2 = time.perf_counter()
    e = np.exp(logits - logits.max())
    p = e / e.sum()
    idx = np.argsort(-p)[:top]
    return jsonify(
        model=model,
        predictions=[{"index": int(i), "label": labels[i], "probability": float(p[i])} for i in idx],
        timings_ms={"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "total": (time.perf_counter() - start) * 1e3},
    )
