#!/usr/bin/env python3
"""accuracy_guard.py — does decoding large JPEGs at reduced scale change the answers?

Starts `spinfer up` (spin.toml, native ONNX Runtime), makes the test photos
(scripts/photos.py: ≥ 50 of sizes 1024 px … 48 MP, from what ships here) and sends every
photo — those, the sample photos and, where present, the reference photos — twice through
`POST /classify`: as served (`decode=fast`, the default: ½/¼/⅛-scale JPEG decode when the
photo is larger than the resize needs) and with `?decode=full` (full-size decode, the
reference's path). PNG photos must give the reference's top-5 probabilities exactly
(lossless: the crop is bit-exact). Reports top-1 agreement and mean |Δp| of the full path's top-1 class,
per photo kind; exits 1 if agreement is under 98 % (the fast-path issue's bar) or if any
request fails.

The int8 model (`mobilenetv2_int8`, derived at set-up by scripts/quantize_int8.py) is
guarded the same way against the fp32 model it comes from: every photo of the set is also
classified with `?model=mobilenetv2_int8`, and its top-1 must agree with fp32's on ≥ 98 %;
on the nine shipped reference photos (full-size decode, the reference's path) it must give
ONNX Runtime's reference top-1. Used by `make test` and quoted in docs/performance.md.
"""
import glob
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import photos  # noqa: E402
from spinfer_proc import ROOT, Spinfer  # noqa: E402

BAR = 0.98
INT8 = "mobilenetv2_int8"


def classify(addr, body, query):
    req = urllib.request.Request(f"http://{addr}/classify?top=20{query}", data=body, method="POST",
                                 headers={"content-type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.load(resp)


def agreement(rows, key, what, detail=lambda r: ""):
    """The share of `rows` whose `key` holds; prints each one where it does not."""
    for r in rows:
        if not r[key]:
            print(f"[accuracy] {what}: {r['file']}{detail(r)}")
    return sum(r[key] for r in rows) / len(rows)


def main():
    out = os.path.join(ROOT, "target/photos")
    photos.main(out)
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    # The full-size path refuses photos over the 40 MP decode cap (phone48.jpg): nothing to compare.
    files = [(os.path.join(out, m["file"]), m["kind"]) for m in manifest if m["width"] * m["height"] <= 40_000_000]
    for pattern in ("static/samples/*.jpg", "static/samples/*.png", "tests/data/images/*"):
        files += [(f, "shipped") for f in sorted(glob.glob(os.path.join(ROOT, pattern)))]
    rows = []
    with Spinfer("-f", "spin.toml") as s:
        for path, kind in files:
            body = open(path, "rb").read()
            full = classify(s.addr, body, "&decode=full")
            fast = classify(s.addr, body, "")
            int8 = classify(s.addr, body, f"&model={INT8}")
            top = full["predictions"][0]
            p_fast = next((p["probability"] for p in fast["predictions"] if p["index"] == top["index"]), 0.0)
            rows.append({"file": os.path.relpath(path, ROOT), "kind": kind, "agree": fast["predictions"][0]["index"] == top["index"],
                         "dp": abs(p_fast - top["probability"]),
                         "int8_agree": int8["predictions"][0]["index"] == fast["predictions"][0]["index"],
                         "decode_ms": (full["timings_ms"]["decode"], fast["timings_ms"]["decode"])})
        # Lossless photos keep the reference's path bit for bit (the SIMD resize included):
        # the top-5 probabilities equal ONNX Runtime's on the reference tensor.
        expected = json.load(open(os.path.join(ROOT, "tests/data/expected_mobilenetv2.json")))
        for entry in expected["images"]:
            if entry["image"].endswith(".png"):
                got = classify(s.addr, open(os.path.join(ROOT, "tests/data", entry["image"]), "rb").read(), "")
                pairs = list(zip(got["predictions"], entry["top5"]))
                worst = max(abs(g["probability"] - e["prob"]) for g, e in pairs)
                same = all(g["index"] == e["index"] for g, e in pairs)
                print(f"[accuracy] {entry['image']}: top-5 as the reference, max |Δp| {worst:.1e}")
                if not same or worst > 1e-6:
                    print(f"[accuracy] FAIL: {entry['image']} differs from the reference top-5")
                    return 1
        # The int8 model on the reference photos, decoded as the reference decodes them.
        for entry in expected["images"]:
            got = classify(s.addr, open(os.path.join(ROOT, "tests/data", entry["image"]), "rb").read(),
                           f"&model={INT8}&decode=full")
            top, want = got["predictions"][0], entry["top5"][0]
            if top["index"] != want["index"]:
                print(f"[accuracy] FAIL: {INT8} on {entry['image']}: top-1 {top['index']} {top['label']!r}, "
                      f"the reference's is {want['index']} {want['label']!r}")
                return 1
        print(f"[accuracy] {INT8}: the reference top-1 on all {len(expected['images'])} shipped photos")
        # Phone photos made from eagle.jpg (12 MP and 48 MP, over the 40 MP full-decode cap)
        # answer 200 with the web-size original's top-1.
        eagle = classify(s.addr, open(os.path.join(ROOT, "static/samples/eagle.jpg"), "rb").read(), "")
        for m in manifest:
            if m["kind"] == "phone":
                got = classify(s.addr, open(os.path.join(out, m["file"]), "rb").read(), "")
                top, want = got["predictions"][0], eagle["predictions"][0]
                print(f"[accuracy] {m['file']} ({m['width']}x{m['height']}, {m['bytes'] / 2**20:.1f} MiB): "
                      f"{top['label']} p={top['probability']:.3f}, decode {got['timings_ms']['decode']:.1f} ms")
                if top["index"] != want["index"] or got["image"] != {"width": m["width"], "height": m["height"]}:
                    print(f"[accuracy] FAIL: {m['file']} gave {top} / {got['image']}, eagle.jpg gave {want}")
                    return 1
    for kind in sorted({r["kind"] for r in rows}) + ["all"]:
        rs = [r for r in rows if kind in ("all", r["kind"])]
        agree = sum(r["agree"] for r in rs) / len(rs)
        print(f"[accuracy] {kind:9} {len(rs):3} photos: top-1 agreement {agree * 100:5.1f} %, "
              f"mean |Δp(top-1)| {sum(r['dp'] for r in rs) / len(rs):.4f}, max {max(r['dp'] for r in rs):.4f}")
    agree = agreement(rows, "agree", "top-1 differs", lambda r: f" (Δp {r['dp']:.3f})")
    int8_agree = agreement(rows, "int8_agree", f"{INT8} top-1 differs from fp32")
    print(f"[accuracy] {INT8} vs mobilenetv2 (both decode=fast), {len(rows)} photos: "
          f"top-1 agreement {int8_agree * 100:5.1f} %")
    for value, what in ((agree, "fast vs full decode"), (int8_agree, f"{INT8} vs fp32")):
        if value < BAR:
            print(f"[accuracy] FAIL: {what}: agreement {value * 100:.1f} % < {BAR * 100:.0f} %")
            return 1
    print(f"[accuracy] ok: {agree * 100:.1f} % (fast vs full), {int8_agree * 100:.1f} % ({INT8} vs fp32) "
          f"≥ {BAR * 100:.0f} % over {len(rows)} photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
