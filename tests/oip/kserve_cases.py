"""The Open Inference Protocol on classify, driven by KServe's own Python client.

PyPI `kserve`'s `InferenceRESTClient` (protocol "v2") is what a KServe user's script calls:
it sends FP32 tensors as JSON unless told to send binary, and reads `{"live": …}` /
`{"ready": …}` from the health routes. These cases run on the same server as the
tritonclient ones (test_oip.py mixes them into each runtime's test class): JSON and binary
FP32 at batch 1, 4 and 8 against ONNX Runtime on the same tensor, BYTES images with the
classification extension, and errors as the client raises them (`httpx.HTTPStatusError`
carrying the server's message).
"""
import asyncio

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

M = "mobilenetv2"
TOL = 1e-4


def batch(reference, n):
    """n rows, each a different tensor (the reference scaled), so a mixed-up row shows."""
    return np.concatenate([reference * np.float32(1.0 - 0.1 * i) for i in range(n)]).astype(np.float32)


class KServeCases:
    """Mixed into test_oip.Oip: needs `self.server.addr`, `self.reference_tensor()`, `self.ort()`."""

    def kserve(self, call):
        """Run `call(client, base_url)` with a fresh v2 REST client."""
        async def run():
            client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=120))
            try:
                return await call(client, f"http://{self.server.addr}")
            finally:
                await client.close()
        return asyncio.run(run())

    def test_kserve_health(self):
        async def call(c, url):
            return (await c.is_server_live(url), await c.is_server_ready(url),
                    [await c.is_model_ready(url, m) for m in (M, "efficientnet_lite0", "mobilenetv2_int8")],
                    await c.is_model_ready(url, "nope"))
        live, ready, models, unknown = self.kserve(call)
        self.assertIs(live, True)
        self.assertIs(ready, True)
        self.assertEqual(models, [True, True, True])
        self.assertIs(unknown, False)

    def test_kserve_fp32_json_and_binary_batches(self):
        reference = self.reference_tensor()
        for n in (1, 4, 8):
            x = batch(reference, n)
            want = self.ort(x)
            for binary in (False, True):
                inp = InferInput("input", list(x.shape), "FP32")
                inp.set_data_from_numpy(x, binary_data=binary)
                request = InferRequest(M, [inp], request_id=f"kserve-{n}-{binary}")

                async def call(c, url, request=request):
                    return await c.infer(url, request, model_name=M)
                response = self.kserve(call)
                what = f"batch {n}, {'binary' if binary else 'JSON'}"
                self.assertEqual(response.id, f"kserve-{n}-{binary}", what)
                logits = response.outputs[0].as_numpy()
                self.assertEqual(logits.shape, (n, 1000), what)
                self.assertLessEqual(np.abs(logits - want).max(), TOL, what)

    def test_kserve_images_classification(self):
        names = ["images/chelsea.png", "images/eagle.jpg", "images/coffee.png"]
        blobs = np.array([self.image(n) for n in names], dtype=np.object_)
        inp = InferInput("image", [len(names)], "BYTES")
        inp.set_data_from_numpy(blobs, binary_data=True)
        outputs = [RequestedOutput("logits", {"classification": 3, "binary_data": False})]
        request = InferRequest(M, [inp], request_outputs=outputs, parameters={"decode": "full"})

        async def call(c, url):
            return await c.infer(url, request, model_name=M)
        top3 = self.kserve(call).outputs[0].as_numpy()
        self.assertEqual(top3.shape, (3, 3))
        for name, row in zip(names, top3):
            want = self.expected_top5(M, name)
            score, index, label = row[0].split(":", 2)
            self.assertEqual((int(index), label), (want[0]["index"], want[0]["label"]), name)

    def test_kserve_errors_carry_the_message(self):
        x = self.reference_tensor()
        inp = InferInput("input", [1, 3, 224, 223], "FP32")
        inp.set_data_from_numpy(x[:, :, :, :223], binary_data=False)

        async def call(c, url):
            try:
                await c.infer(url, InferRequest(M, [inp]), model_name=M)
            except httpx.HTTPStatusError as e:
                return e.response.status_code, str(e)
            return None
        status, message = self.kserve(call)
        self.assertEqual(status, 400)
        self.assertIn("it takes [N,3,224,224]", message)
        self.assertTrue(self.client.is_server_ready())
