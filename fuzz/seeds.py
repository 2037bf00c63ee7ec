#!/usr/bin/env python3
"""seeds.py — write the committed seed corpora (fuzz/corpus/<target>/): small valid
inputs of every shape each parser takes, so the fuzzer starts from the interesting
paths instead of random bytes. Deterministic; run with the project's venv (Pillow):
`.venv/bin/python fuzz/seeds.py`. Files already there are overwritten with the same bytes.
"""
import io
import json
import os
import struct

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as fh:
        fh.write(data)


def picture(w, h, mode="RGB"):
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 37) % 256, (y * 53) % 256, ((x + y) * 11) % 256) for y in range(h) for x in range(w)])
    return img.convert(mode)


def enc(img, fmt, **kw):
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def exif_orientation(value):
    ifd = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0" + struct.pack("<H", value) + b"\0\0\0\0\0\0"
    return b"Exif\0\0" + ifd


jpegs = {
    "baseline_420.jpg": enc(picture(40, 24), "JPEG", quality=80, subsampling=2),
    "baseline_444.jpg": enc(picture(17, 9), "JPEG", quality=90, subsampling=0),
    "baseline_422.jpg": enc(picture(33, 20), "JPEG", quality=70, subsampling=1),
    "grey.jpg": enc(picture(24, 24, "L"), "JPEG", quality=85),
    "progressive.jpg": enc(picture(40, 32), "JPEG", quality=80, progressive=True),
    "progressive_grey.jpg": enc(picture(16, 24, "L"), "JPEG", quality=75, progressive=True),
    "restart.jpg": enc(picture(48, 16), "JPEG", quality=80, restart_marker_blocks=1),
    "exif6.jpg": enc(picture(32, 16), "JPEG", quality=80, exif=exif_orientation(6)),
    "cmyk.jpg": enc(picture(16, 16, "CMYK"), "JPEG", quality=80),
}
others = {
    "rgb.png": enc(picture(16, 12), "PNG"),
    "rgba.png": enc(picture(9, 7, "RGBA"), "PNG"),
    "grey16.png": enc(picture(8, 8, "I;16"), "PNG"),
    "palette.png": enc(picture(12, 12, "P"), "PNG"),
    "optimized.png": enc(picture(13, 11), "PNG", optimize=True),
    "lossy.webp": enc(picture(16, 16), "WEBP", quality=50),
    "lossless.webp": enc(picture(12, 10, "RGBA"), "WEBP", lossless=True),
    "anim.gif": enc(picture(10, 10, "P"), "GIF", save_all=True,
                    append_images=[picture(10, 10, "P").rotate(90)], duration=10, loop=0),
    "rgb.bmp": enc(picture(7, 5), "BMP"),
    "pal.bmp": enc(picture(6, 6, "P"), "BMP"),
}
for name, data in {**jpegs, **others}.items():
    write("image", name, data)
for i, (name, data) in enumerate(jpegs.items()):
    if name != "cmyk.jpg":
        write("jpeg_reduced", name, bytes([i % 3]) + data)

png = others["rgb.png"]
form = (b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nmobilenetv2\r\n"
        b"--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
        b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--XyZ--\r\n")
write("multipart", "form", b"multipart/form-data; boundary=XyZ\n" + form)
write("multipart", "form_quoted", b'multipart/form-data; boundary="XyZ"\n' + form)
write("multipart", "form_nofile", b"multipart/form-data; boundary=B\n--B\r\nContent-Disposition: form-data; "
      b"name=\"file\"\r\n\r\nabc\r\n--B--\r\n")
write("multipart", "json_url", b"application/json\n" + json.dumps({"url": "https://example.com/a.jpg"}).encode())
write("multipart", "raw", b"image/png\n" + png)

header = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 2, 2],
                                 "parameters": {"binary_data_size": 16}}],
                     "outputs": [{"name": "logits", "parameters": {"classification": 3}}]}).encode()
write("oip", "binary_fp32", str(len(header)).encode() + b"\n" + header + struct.pack("<4f", 1, 2, 3, 4))
img = jpegs["baseline_420.jpg"]
header = json.dumps({"id": "x", "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                            "parameters": {"binary_data_size": 4 + len(img)}}],
                     "parameters": {"binary_data_output": True}}).encode()
write("oip", "binary_bytes", str(len(header)).encode() + b"\n" + header + struct.pack("<I", len(img)) + img)
write("oip", "json_fp32", b"\n" + json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 2],
                                                         "data": [[1.5, 2], [3, -4e3]]}]}).encode())
write("oip", "json_bytes", b"\n" + json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2],
                                                          "data": ["ab", "c"]}]}).encode())

for rel in ["spin.toml", "spin.portable.toml", "host/tests/fixtures/faults.toml"]:
    with open(os.path.join(ROOT, rel), "rb") as fh:
        write("manifest", os.path.basename(rel), fh.read())
