#!/usr/bin/env python3
"""The Open Inference Protocol v2 on classify, driven by PyPI tritonclient[http] unchanged.

Runs the same cases against the native host (`spin.toml`, ONNX Runtime wasi-nn), the
portable app (`spin.portable.toml --nn-backend none`, tract inside the component), the real
Spin CLI on the portable app, and spin.deps.toml (the provider composed at load time) on
spinfer and on Spin, each started by `scripts/spinfer_proc` on a free port. Logits are compared with ONNX
Runtime on the reference tensor (tests/data/tensors/), image top-5s with
tests/data/expected_*.json. Bodies tritonclient's public API cannot produce (malformed
JSON, a header length past the body, overflowing sizes) go through its own transport
(`_post`) and error parsing (`_raise_if_error`), so every error is checked as a client sees
it: an `InferenceServerException` carrying the server's message. KServe's own client
(`InferenceRESTClient`, kserve_cases.py) runs on the same servers.

    .venv/bin/python tests/oip/test_oip.py [native|portable|spin|deps|spin-deps ...]
"""
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import onnxruntime as ort
import tritonclient.http as tc
from tritonclient.http._utils import _raise_if_error
from tritonclient.utils import InferenceServerException

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from spinfer_proc import ROOT, Spin, Spinfer, find_spin  # noqa: E402
from kserve_cases import KServeCases, batch  # noqa: E402

DATA = os.environ.get("SPINFER_TEST_DATA", os.path.join(ROOT, "tests", "data"))
TENSOR = os.path.join(DATA, "tensors", "chelsea_mobilenetv2_1x3x224x224_f32le.bin")
# name → (server class, arguments): the same cases on every runtime (issue 17).
RUNTIMES = {
    "native": (Spinfer, ("-f", "spin.toml")),
    "portable": (Spinfer, ("-f", "spin.portable.toml", "--nn-backend", "none")),
    # The real Spin CLI (scripts/spin.sh finds it; skipped with the reason where none is).
    "spin": (Spin, ("-f", "spin.portable.toml")),
    # Load-time composition of classify's wasi:nn dependency, on spinfer and on Spin.
    "deps": (Spinfer, ("-f", "spin.deps.toml", "--nn-backend", "none")),
    "spin-deps": (Spin, ("-f", "spin.deps.toml")),
}
TOL = 1e-4
M = "mobilenetv2"
MODELS = (M, "efficientnet_lite0", "mobilenetv2_int8")


def reference_tensor():
    return np.fromfile(TENSOR, dtype="<f4").reshape(1, 3, 224, 224)


def ort_logits(x, model=M):
    session = ort.InferenceSession(os.path.join(ROOT, "models", model, "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input": x})[0]


def expected_top5(model, image):
    with open(os.path.join(DATA, f"expected_{model}.json")) as f:
        return next(e["top5"] for e in json.load(f)["images"] if e["image"] == image)


def image_bytes(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def text(element):
    """A BYTES element as tritonclient returns it: bytes (binary) or str (JSON)."""
    return element.decode() if isinstance(element, bytes) else element


def images_input(blobs):
    inp = tc.InferInput("image", [len(blobs)], "BYTES")
    inp.set_data_from_numpy(np.array(blobs, dtype=np.object_))
    return inp


def tensor_input(x, binary=True, name="input", datatype="FP32"):
    inp = tc.InferInput(name, list(x.shape), datatype)
    inp.set_data_from_numpy(x, binary_data=binary)
    return inp


class Oip(unittest.TestCase):
    runtime = None
    server = None
    # Helpers the KServe cases share.
    reference_tensor = staticmethod(reference_tensor)
    ort = staticmethod(ort_logits)
    image = staticmethod(image_bytes)
    expected_top5 = staticmethod(expected_top5)

    @classmethod
    def setUpClass(cls):
        server, args = RUNTIMES[cls.runtime]
        if server is Spin:
            _, reason = find_spin()
            if reason:
                raise unittest.SkipTest(reason)
        cls.server = server(*args).__enter__()
        cls.client = tc.InferenceServerClient(cls.server.addr, network_timeout=120)
        cls.reference = ort_logits(reference_tensor())

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.__exit__(None, None, None)

    def refused(self, status, needle, call, *args, **kwargs):
        with self.assertRaises(InferenceServerException) as caught:
            call(*args, **kwargs)
        e = caught.exception
        self.assertEqual(e.status(), str(status), e.message())
        self.assertIn(needle, e.message())
        # One bad request never hurts the next.
        self.assertTrue(self.client.is_server_ready())

    def raw(self, body, header_length=None):
        headers = {} if header_length is None else {"Inference-Header-Content-Length": header_length}
        _raise_if_error(self.client._post(f"v2/models/{M}/infer", body, headers, {}))

    def test_health_and_metadata(self):
        c = self.client
        self.assertTrue(c.is_server_live())
        self.assertTrue(c.is_server_ready())
        for model in MODELS:
            self.assertTrue(c.is_model_ready(model))
            self.assertTrue(c.is_model_ready(model, model_version="1"))
        self.assertFalse(c.is_model_ready("nope"))
        self.assertFalse(c.is_model_ready(M, model_version="2"))
        meta = c.get_server_metadata()
        self.assertEqual(meta["name"], "spinfer")
        self.assertEqual(set(meta["extensions"]),
                         {"binary_tensor_data", "classification", "model_configuration"})
        for version in ("", "1"):
            m = c.get_model_metadata(M, model_version=version)
            self.assertEqual(m["platform"], "onnxruntime_onnx")
            self.assertEqual({i["name"]: i["shape"] for i in m["inputs"]},
                             {"input": [-1, 3, 224, 224], "image": [-1]})
            self.assertEqual(m["outputs"], [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}])
            cfg = c.get_model_config(M, model_version=version)
            self.assertEqual(cfg["max_batch_size"], 8)
            self.assertEqual(cfg["output"][0]["dims"], [1000])
        self.refused(404, "unknown model", c.get_model_metadata, "nope")
        self.refused(404, "unknown version", c.get_model_config, M, model_version="7")

    def test_fp32_binary_and_json(self):
        x = reference_tensor()
        for binary in (True, False):
            out = tc.InferRequestedOutput("logits", binary_data=binary)
            r = self.client.infer(M, [tensor_input(x, binary)], outputs=[out], request_id="req-1")
            logits = r.as_numpy("logits")
            self.assertEqual(logits.shape, (1, 1000))
            self.assertEqual(r.get_response()["id"], "req-1")
            self.assertLessEqual(np.abs(logits - self.reference).max(), TOL, f"binary={binary}")
        # No outputs named: every output, binary (tritonclient's binary_data_output).
        r = self.client.infer(M, [tensor_input(x)], model_version="1")
        self.assertLessEqual(np.abs(r.as_numpy("logits") - self.reference).max(), TOL)

    def test_fp32_batches_json_and_binary(self):
        # JSON at batch 8 is ~24 MB of text: what tritonclient (and KServe's client) send
        # by default; it must fit classify's body limit.
        for n in (1, 4, 8):
            x = batch(reference_tensor(), n)
            want = ort_logits(x)
            for binary in (True, False):
                r = self.client.infer(M, [tensor_input(x, binary)],
                                      outputs=[tc.InferRequestedOutput("logits", binary_data=binary)])
                logits = r.as_numpy("logits")
                self.assertEqual(logits.shape, (n, 1000))
                self.assertLessEqual(np.abs(logits - want).max(), TOL, f"batch {n} binary={binary}")

    def test_images_classification_top5(self):
        for model in (M, "efficientnet_lite0"):
            with open(os.path.join(DATA, f"expected_{model}.json")) as f:
                expected = json.load(f)["images"]
            for entry in expected:
                out = tc.InferRequestedOutput("logits", class_count=5)
                blob = [images_input([image_bytes(entry["image"])])]
                want = entry["top5"]
                what = f"{model} {entry['image']}"
                # The default decode (fast path: as POST /classify) agrees on the top-1.
                fast = self.client.infer(model, blob, outputs=[out]).as_numpy("logits")[0]
                self.assertEqual(int(text(fast[0]).split(":")[1]), want[0]["index"], what)
                # The reference's full-size decode gives the reference's top-5.
                r = self.client.infer(model, blob, outputs=[out], parameters={"decode": "full"})
                got = [text(s).split(":") for s in r.as_numpy("logits")[0]]
                self.assertEqual(int(got[0][1]), want[0]["index"], what)
                self.assertEqual(got[0][2], want[0]["label"], what)
                self.assertEqual({int(g[1]) for g in got}, {w["index"] for w in want}, what)
                if entry["image"].endswith(".png"):  # lossless: the same tensor, the same order
                    self.assertEqual([int(g[1]) for g in got], [w["index"] for w in want], what)
                    self.assertAlmostEqual(float(got[0][0]), want[0]["logit"], delta=1e-3)

    def test_images_batch4_json_classification(self):
        names = ["images/chelsea.png", "images/coffee.png", "images/eagle.jpg", "images/china.jpg"]
        blobs = [image_bytes(n) for n in names]
        outs = [tc.InferRequestedOutput("logits", binary_data=False, class_count=3)]
        batch = self.client.infer(M, [images_input(blobs)], outputs=outs).as_numpy("logits")
        self.assertEqual(batch.shape, (4, 3))
        logits = self.client.infer(M, [images_input(blobs)]).as_numpy("logits")
        for i, blob in enumerate(blobs):
            one = self.client.infer(M, [images_input([blob])]).as_numpy("logits")[0]
            self.assertLessEqual(np.abs(logits[i] - one).max(), TOL, names[i])
            self.assertEqual(int(text(batch[i][0]).split(":")[1]), int(np.argmax(one)))

    def test_errors(self):
        x = reference_tensor()
        infer = self.client.infer
        # Wrong datatype, shape, element count; unknown names; batch over the cap.
        self.refused(400, "takes FP32", infer, M, [tensor_input(x.astype(np.float64), datatype="FP64")])
        self.refused(400, "it takes [N,3,224,224]", infer, M, [tensor_input(x[:, :, :, :223])])
        short = tensor_input(x)
        short.set_shape([2, 3, 224, 224])
        self.refused(400, "bytes of FP32 data", infer, M, [short])
        self.refused(400, "unknown input", infer, M, [tensor_input(x, name="pixels")])
        self.refused(400, "unknown output", infer, M, [tensor_input(x)],
                     outputs=[tc.InferRequestedOutput("probs")])
        self.refused(400, "over the cap of 8", infer, M, [images_input([b"x"] * 9)])
        self.refused(400, "image 0 of 1", infer, M, [images_input([b"not an image"])])
        self.refused(404, "unknown model", infer, "nope", [tensor_input(x)])
        self.refused(404, "unknown version", infer, M, [tensor_input(x)], model_version="3")
        self.refused(413, "over the limit", infer, M, [images_input([b"\0" * (40 << 20)])])
        # Bodies only a hostile client sends.
        head = b'{"inputs":[{"name":"input","shape":[1,3,224,224],"datatype":"FP32",' \
               b'"parameters":{"binary_data_size":%d}}]}'
        self.refused(400, "malformed request", self.raw, b'{"inputs": [')
        self.refused(400, "past the end of the", self.raw, b"{}", "400")
        self.refused(400, "non-negative", self.raw, b"{}", "-5")
        self.refused(400, "past the end of the body", self.raw, head % 602112 + b"\0" * 8, str(len(head % 602112)))
        self.refused(400, "non-negative", self.raw, head % -4, str(len(head % -4)))
        big = b'{"inputs":[{"name":"input","shape":[4294967296,4294967296,4294967296,1],' \
              b'"datatype":"FP32","data":[1]}]}'
        self.refused(400, "overflows", self.raw, big)
        self.refused(400, "decode must be", infer, M, [images_input([b"x"])], parameters={"decode": 1})
        # And the next good request is answered as usual.
        r = infer(M, [tensor_input(x)])
        self.assertLessEqual(np.abs(r.as_numpy("logits") - self.reference).max(), TOL)


class MissingGraph(unittest.TestCase):
    """A host whose runtime config lacks one model's graph: 503s, the protocol's form."""

    def test_unready_model_is_503(self):
        with tempfile.TemporaryDirectory() as d:
            rc = os.path.join(d, "rc.toml")
            with open(rc, "w") as f:
                f.write(f'[wasi_nn.models]\n{M} = "{os.path.join(ROOT, "models", M, "model.onnx")}"\n')
            with Spinfer("-f", "spin.toml", "--runtime-config-file", rc) as server:
                c = tc.InferenceServerClient(server.addr, network_timeout=120)
                self.assertTrue(c.is_server_live())
                self.assertFalse(c.is_server_ready())
                self.assertTrue(c.is_model_ready(M))
                self.assertFalse(c.is_model_ready("efficientnet_lite0"))
                blob = [images_input([image_bytes("images/eagle.jpg")])]
                with self.assertRaises(InferenceServerException) as caught:
                    c.infer("efficientnet_lite0", blob)
                self.assertEqual(caught.exception.status(), "503")
                self.assertIn("efficientnet_lite0", caught.exception.message())
                top1 = [tc.InferRequestedOutput("logits", class_count=1)]
                r = c.infer(M, blob, outputs=top1).as_numpy("logits")
                self.assertEqual(text(r[0][0]).split(":")[1], "22")
                c.close()


def main():
    runtimes = sys.argv[1:] or list(RUNTIMES)
    suite = unittest.TestSuite()
    for name in runtimes:
        case = type(f"Oip_{name}", (Oip, KServeCases), {"runtime": name})
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(case))
    if "native" in runtimes:
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(MissingGraph))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
