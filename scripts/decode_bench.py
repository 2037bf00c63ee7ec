#!/usr/bin/env python3
"""decode_bench.py — spinfer's JPEG decoder against libjpeg-turbo at the same scale, one run.

Each photo is decoded to 8-bit RGB at the scale classify decodes it at (the smallest of
1/8, 1/4, 1/2 whose output still covers the 256-px resize; the scale is printed per photo)
by four decoders, the series interleaved photo by photo and round by round:
  - libjpeg-turbo through simplejpeg (pinned in scripts/requirements.txt): TurboJPEG's
    decompress with the scaling factor, fast DCT and fast (non-fancy) upsampling, into a
    preallocated array — one C call, the least overhead around libjpeg-turbo that Python
    reaches, and the same upsampling (replication) as spinfer's. The reference: the
    ratios below are against it.
  - libjpeg-turbo through Pillow's draft mode (what the Python peer in loadtest/peer
    does): Image.open + draft("RGB", …) + load, printed beside it.
  - spinfer's decoder natively: pipeline/examples/decode.rs built for the host.
  - spinfer's decoder inside Wasm: the same example built for wasm32-wasip2, run by
    `spinfer-bench wasm` on the host's own wasmtime engine (host/src/engine.rs).
spinfer's side times `decode_for_resize`, what classify reports as "decode". Every output
is checked: the same size on every side, and native and Wasm outputs identical to the
byte (SHA-256). Prints medians and the ratios wasm/libjpeg-turbo and native/libjpeg-turbo
per photo (the ratio of the medians and, since a busy machine preempts long decodes more
often than short ones, also of the fastest runs); `--json FILE` writes them too.

  decode_bench.py --native BIN --wasm WASM --runner SPINFER_BENCH [--rounds N] [PHOTO…]
"""
import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import photos  # noqa: E402

import simplejpeg  # noqa: E402
from PIL import Image, features  # noqa: E402

PHOTOS = ["static/samples/eagle.jpg", "static/samples/grace_hopper.jpg", "static/samples/yurt.jpg",
          "static/samples/strawberry.jpg", "target/photos/phone12.jpg", "target/photos/phone48.jpg"]


class Harness:
    """pipeline/examples/decode, natively or under `spinfer-bench wasm`: one line per photo."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)

    def decode(self, path):
        data = open(path, "rb").read()
        self.proc.stdin.write(f"{len(data)}\n".encode() + data)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode().split()
        if not line or line[0] == "error":
            raise SystemExit(f"[decode] {path}: {' '.join(line) or 'the harness exited'}")
        ms, size, digest = float(line[0]), line[-2], line[-1]
        return ms, tuple(int(v) for v in size.split("x")), digest

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def scale_of(width, height, out):
    """The eighths spinfer decoded at, from its output size."""
    for eighths in (1, 2, 4, 8):
        if ((width * eighths + 7) // 8, (height * eighths + 7) // 8) in (out, out[::-1]):
            return eighths
    raise SystemExit(f"[decode] no scale gives {out} from {width}x{height}")


def simplejpeg_decode(data, out):
    t = time.perf_counter()
    rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=True, fastupsample=True,
                                 min_width=out[0], min_height=out[1])
    return (time.perf_counter() - t) * 1e3, (rgb.shape[1], rgb.shape[0])


def pillow_decode(data, eighths):
    t = time.perf_counter()
    im = Image.open(io.BytesIO(data))
    denom = 8 // eighths
    im.draft("RGB", (im.size[0] // denom, im.size[1] // denom))
    im.load()
    ms = (time.perf_counter() - t) * 1e3
    assert im.mode == "RGB", im.mode
    return ms, im.size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--runner", required=True, help="spinfer-bench (its `wasm` subcommand runs the Wasm side)")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "30")))
    ap.add_argument("--json")
    ap.add_argument("photos", nargs="*")
    args = ap.parse_args()
    photos.main(os.path.join(ROOT, "target/photos"))
    paths = [os.path.join(ROOT, p) for p in (args.photos or PHOTOS)]
    native = Harness([args.native])
    wasm = Harness([args.runner, "wasm", args.wasm])
    series = {p: {"simplejpeg": [], "pillow": [], "native": [], "wasm": []} for p in paths}
    info = {}
    for p in paths:  # warm-up, and every output checked once
        data = open(p, "rb").read()
        _, out, digest = native.decode(p)
        _, wout, wdigest = wasm.decode(p)
        with Image.open(p) as im:
            w, h = im.size  # as stored; spinfer's output is upright (EXIF)
        eighths = scale_of(w, h, out)
        stored = ((w * eighths + 7) // 8, (h * eighths + 7) // 8)  # before EXIF turns it
        _, sj = simplejpeg_decode(data, stored)
        _, pl = pillow_decode(data, eighths)
        if wout != out or wdigest != digest:
            raise SystemExit(f"[decode] {p}: native {out} {digest[:12]} vs wasm {wout} {wdigest[:12]}")
        if sj != stored or pl != stored:
            raise SystemExit(f"[decode] {p}: spinfer {stored}, simplejpeg {sj}, Pillow {pl}: not the same size")
        info[p] = {"size": [w, h], "eighths": eighths, "out": list(out), "bytes": len(data), "data": data,
                   "stored": stored}
    for _ in range(args.rounds):
        for p in paths:
            data, stored = info[p]["data"], info[p]["stored"]
            series[p]["simplejpeg"].append(simplejpeg_decode(data, stored)[0])
            series[p]["native"].append(native.decode(p)[0])
            series[p]["pillow"].append(pillow_decode(data, info[p]["eighths"])[0])
            series[p]["wasm"].append(wasm.decode(p)[0])
    native.close()
    wasm.close()

    print(f"[decode] {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}; median of {args.rounds} interleaved rounds (ms); "
          f"libjpeg-turbo {features.version('libjpeg_turbo')} via simplejpeg {simplejpeg.__version__} "
          f"(fastdct, fastupsample) = ljt, and via Pillow {Image.__version__} draft")
    print(f"  {'photo':18} {'size':>10} {'scale':>5} {'output':>9} {'ljt':>8} {'Pillow':>8} {'native':>8} "
          f"{'wasm':>8} {'native/ljt':>10} {'wasm/ljt':>9}   fastest: native/ljt wasm/ljt")
    out_json = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rounds": args.rounds, "photos": {}}
    for p in paths:
        med = {k: statistics.median(v) for k, v in series[p].items()}
        best = {k: min(v) for k, v in series[p].items()}
        i = info[p]
        row = {**med, "native/ljt": med["native"] / med["simplejpeg"], "wasm/ljt": med["wasm"] / med["simplejpeg"],
               "fastest": best, "fastest native/ljt": best["native"] / best["simplejpeg"],
               "fastest wasm/ljt": best["wasm"] / best["simplejpeg"],
               "size": i["size"], "eighths": i["eighths"], "out": i["out"], "bytes": i["bytes"]}
        out_json["photos"][os.path.relpath(p, ROOT)] = row
        print(f"  {os.path.basename(p):18} {i['size'][0]:>5}x{i['size'][1]:<4} {i['eighths']:>3}/8 "
              f"{i['out'][0]:>4}x{i['out'][1]:<4} {med['simplejpeg']:8.2f} {med['pillow']:8.2f} {med['native']:8.2f} "
              f"{med['wasm']:8.2f} {row['native/ljt']:9.2f}x {row['wasm/ljt']:8.2f}x   "
              f"{row['fastest native/ljt']:17.2f}x {row['fastest wasm/ljt']:7.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out_json, fh, indent=1)


if __name__ == "__main__":
    main()
