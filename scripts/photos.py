#!/usr/bin/env python3
"""photos.py OUTDIR — make the test photos the fast-path checks use, from what ships here.

No photo set of phone sizes ships with the project (nor may one be downloaded), so this
makes them, deterministically, from the sample photos in static/samples (and, where a
checkout has them, the reference photos in tests/data/images): each source is cropped to
a phone or web aspect ratio, upscaled with Pillow's LANCZOS to sizes from 1024 px to
12 MP, given seeded sensor-like grain (so it compresses like a photo, not like a
gradient), and saved as a JPEG the way cameras and editors do (quality 80–95, 4:2:0 or
4:4:4, some progressive, some with an EXIF "rotate 90°" flag and the pixels stored
sideways). Plus two phone photos for the benchmarks: `phone12.jpg` (4032×3024, 12 MP) and
`phone48.jpg` (8000×6000, 48 MP), made from eagle.jpg.

Writes OUTDIR/<name>.jpg and OUTDIR/manifest.json ([{"file", "width", "height", "bytes",
"kind"}]); files already there are kept (same inputs → same bytes).

`photos.py --big OUTDIR` makes only `phone200.jpg`, what the largest phone sensors write:
16320×12240 (199.8 MP, under the 200 MP header cap), baseline 4:2:0 JPEG with grain, between
10 and 40 MiB (the body limit). It takes ~20 s and ~1 GB of memory once, so only the
big-photo tests ask for it (`big_photo()`), never the accuracy guard or the benchmarks.
"""
import glob
import io
import json
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = sorted(
    glob.glob(os.path.join(ROOT, "static/samples/*.jpg"))
    + glob.glob(os.path.join(ROOT, "static/samples/*.png"))
    + glob.glob(os.path.join(ROOT, "tests/data/images/*"))
)
# (long side, aspect w:h, quality, subsampling (0 = 4:4:4, 2 = 4:2:0), progressive, EXIF 6)
VARIANTS = [
    (1024, (4, 3), 90, 2, False, False),
    (1280, (3, 4), 85, 2, True, False),
    (1600, (16, 9), 92, 2, False, False),
    (2048, (4, 3), 88, 2, False, True),
    (2560, (1, 1), 80, 0, False, False),
    (3024, (3, 4), 90, 2, False, False),
    (4032, (4, 3), 92, 2, False, False),
    (1200, (3, 2), 95, 0, True, False),
    (1800, (2, 3), 85, 2, False, True),
    (3264, (4, 3), 90, 2, False, False),
    (4032, (3, 4), 88, 2, False, True),
]
EXIF_ROTATE_90_CW = 6


def crop_to(img, aspect):
    w, h = img.size
    aw, ah = aspect
    if w * ah > h * aw:  # too wide
        nw = h * aw // ah
        return img.crop(((w - nw) // 2, 0, (w - nw) // 2 + nw, h))
    nh = w * ah // aw
    return img.crop((0, (h - nh) // 2, w, (h - nh) // 2 + nh))


def photo(src, long_side, aspect, seed, grain=4.0):
    img = crop_to(Image.open(src).convert("RGB"), aspect)
    aw, ah = aspect
    size = (long_side, long_side * ah // aw) if aw >= ah else (long_side * aw // ah, long_side)
    img = img.resize(size, Image.LANCZOS)
    noise = np.random.default_rng(seed).normal(0.0, grain, (img.size[1], img.size[0], 1))
    pixels = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def save(img, path, quality, subsampling, progressive, rotated):
    kwargs = dict(quality=quality, subsampling=subsampling, progressive=progressive)
    if rotated:
        # Store the pixels turned 90° anticlockwise with the flag that turns them back,
        # as a phone held upright does.
        img = img.transpose(Image.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = EXIF_ROTATE_90_CW
        kwargs["exif"] = exif.tobytes()
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kwargs)
    with open(path, "wb") as fh:
        fh.write(buf.getvalue())


BIG = ("phone200.jpg", 16320, 12240)


def big_photo(out):
    """Make (once) the 200 MP phone photo in `out`; return its path. Built in bands of rows so
    the grain never needs a float array of the whole image."""
    name, w, h = BIG
    path = os.path.join(out, name)
    if not os.path.exists(path):
        os.makedirs(out, exist_ok=True)
        src = crop_to(Image.open(os.path.join(ROOT, "static/samples/eagle.jpg")).convert("RGB"), (4, 3))
        img = src.resize((w, h), Image.LANCZOS)
        rng, band = np.random.default_rng(200), 512
        for top in range(0, h, band):
            box = (0, top, w, min(h, top + band))
            rows = np.asarray(img.crop(box), dtype=np.int16)
            rows = rows + rng.normal(0.0, 5.0, (rows.shape[0], w, 1)).astype(np.int16)
            img.paste(Image.fromarray(np.clip(rows, 0, 255).astype(np.uint8)), box)
        save(img, path + ".tmp", 85, 2, False, False)
        os.replace(path + ".tmp", path)
    size = os.path.getsize(path)
    assert 10 << 20 <= size <= 40 << 20, f"{path}: {size} bytes, outside 10–40 MiB"
    return path


def main(out):
    os.makedirs(out, exist_ok=True)
    manifest = []

    def add(name, kind, make):
        path = os.path.join(out, name)
        if not os.path.exists(path):
            make(path)
        with Image.open(path) as im:
            w, h = im.size
            if im.getexif().get(0x0112) in (5, 6, 7, 8):
                w, h = h, w
        manifest.append({"file": name, "width": w, "height": h, "bytes": os.path.getsize(path), "kind": kind})

    for i, src in enumerate(SOURCES):
        stem = os.path.splitext(os.path.basename(src))[0]
        for j, (long_side, aspect, q, sub, prog, rot) in enumerate(VARIANTS):
            name = f"{stem}_{long_side}_{aspect[0]}x{aspect[1]}{'_p' if prog else ''}{'_r' if rot else ''}.jpg"
            add(name, "generated", lambda p, a=(src, long_side, aspect, 1000 * i + j, q, sub, prog, rot):
                save(photo(a[0], a[1], a[2], a[3]), p, a[4], a[5], a[6], a[7]))
    eagle = os.path.join(ROOT, "static/samples/eagle.jpg")
    add("phone12.jpg", "phone", lambda p: save(photo(eagle, 4032, (4, 3), 12, grain=6.0), p, 92, 2, False, False))
    add("phone48.jpg", "phone", lambda p: save(photo(eagle, 8000, (4, 3), 48, grain=5.0), p, 85, 2, False, False))
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    print(f"[photos] {len(manifest)} photos in {out}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--big"]
    out = args[0] if args else os.path.join(ROOT, "target/photos")
    if "--big" in sys.argv:
        path = big_photo(out)
        print(f"[photos] {path}: {os.path.getsize(path) / 2**20:.1f} MiB")
    else:
        main(out)
