#!/usr/bin/env python3
"""Photos as large as phones write them, through every route a user has, within bounded memory.

A 200 MP baseline JPEG of ~30 MiB (scripts/photos.py --big: 16320×12240, made here at test
time from eagle.jpg, never committed) must be classified through `POST /classify`, `POST
/api/classify` (a multipart upload, as the page sends it) and the Open Inference Protocol's
BYTES input, with eagle.jpg's top-1; a body over the 40 MiB limit must get a 413 JSON answer
that a client which writes its whole body before reading receives; and with the host's full
concurrency of such uploads in flight at once, every one must be answered 200 (no instance
out of memory) while the host's peak RSS stays under a bound derived from its limits.

    .venv/bin/python tests/limits/test_big_photos.py
"""
import http.client
import json
import os
import socket
import struct
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import photos  # noqa: E402
import spinfer_proc  # noqa: E402
from spinfer_proc import ROOT, Spinfer  # noqa: E402

LIMIT = 40 << 20  # spinfer-api's DEFAULT_MAX_BODY: classify's and the page's limit
CORES = os.cpu_count()
CONCURRENCY = 2 * CORES  # the host's default --max-concurrency, per chain depth
MIB = 1 << 20


def request(addr, method, path, body=b"", headers=None):
    """(status, body): a 200 MP upload's answer can take minutes on a loaded machine."""
    status, _, answer = spinfer_proc.request(addr, method, path, body, headers, timeout=300)
    return status, answer


def multipart(name, data, boundary="bigPhotoBoundary42"):
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def rss_kib(pid):
    """(current, peak) resident set size of a process, KiB."""
    with open(f"/proc/{pid}/status") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def reset_peak(pid):
    """Start the process's peak RSS (VmHWM) afresh; False where the kernel does not let us."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class BigPhotos(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = photos.big_photo(os.path.join(ROOT, "target/photos"))
        with open(cls.path, "rb") as fh:
            cls.photo = fh.read()
        with open(os.path.join(ROOT, "static/samples/eagle.jpg"), "rb") as fh:
            cls.eagle = fh.read()
        cls.server = Spinfer("-f", "spin.toml").__enter__()
        status, body = request(cls.server.addr, "POST", "/classify?top=1", cls.eagle)
        assert status == 200, body
        cls.eagle_top1 = json.loads(body)["predictions"][0]

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def assert_eagle(self, status, body, what):
        self.assertEqual(status, 200, f"{what}: {body[:300]!r}")
        answer = json.loads(body)
        self.assertEqual(answer["image"], {"width": 16320, "height": 12240}, what)
        self.assertEqual(answer["predictions"][0]["index"], self.eagle_top1["index"], what)
        return answer

    def test_the_photo_is_what_phones_write(self):
        self.assertTrue(10 * MIB <= len(self.photo) <= LIMIT, len(self.photo))
        self.assertEqual(self.photo[:2], b"\xff\xd8")
        self.assertIn(b"\xff\xc0", self.photo[:4096], "baseline (SOF0) JPEG")

    def test_classify_route(self):
        status, body = request(self.server.addr, "POST", "/classify", self.photo,
                               {"content-type": "image/jpeg"})
        answer = self.assert_eagle(status, body, "/classify")
        print(f"\n[big] /classify 200 MP, {len(self.photo) / MIB:.1f} MiB: {answer['predictions'][0]['label']}, "
              f"decode {answer['timings_ms']['decode']:.0f} ms, total {answer['timings_ms']['total']:.0f} ms")

    def test_page_api_multipart(self):
        body, content_type = multipart("phone200.jpg", self.photo)
        status, answer = request(self.server.addr, "POST", "/api/classify", body, {"content-type": content_type})
        self.assert_eagle(status, answer, "/api/classify")

    def test_oip_bytes_input(self):
        head = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                       "parameters": {"binary_data_size": len(self.photo) + 4}}],
                           "outputs": [{"name": "logits", "parameters": {"classification": 1}}]}).encode()
        body = head + struct.pack("<I", len(self.photo)) + self.photo
        status, answer = request(self.server.addr, "POST", "/v2/models/mobilenetv2/infer", body,
                                 {"inference-header-content-length": str(len(head))})
        self.assertEqual(status, 200, answer[:300])
        top = json.loads(answer)["outputs"][0]["data"][0]
        self.assertEqual(int(top.split(":")[1]), self.eagle_top1["index"], top)

    def test_over_the_limit_is_413_to_a_client_that_writes_everything_first(self):
        over = b"\xff\xd8" + b"\0" * (LIMIT - 1)  # one byte over 40 MiB
        for path in ("/classify", "/api/classify"):
            host, port = self.server.addr.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=120) as s:
                s.sendall(f"POST {path} HTTP/1.1\r\nHost: spinfer\r\nContent-Length: {len(over)}\r\n"
                          "Connection: close\r\n\r\n".encode())
                s.sendall(over)  # the whole body, before reading anything
                resp = http.client.HTTPResponse(s)
                resp.begin()
                body = resp.read()
            self.assertEqual(resp.status, 413, f"{path}: {body[:300]!r}")
            self.assertEqual(json.loads(body)["error"]["code"], "body_too_large", path)
        status, _ = request(self.server.addr, "POST", "/classify", self.eagle)
        self.assertEqual(status, 200)

    def test_full_concurrency_stays_within_memory(self):
        """The host's full concurrency of 200 MP uploads through the page's API at once (each
        holds a frontend and a classify instance, so every slot of both chain depths is
        busy): every one answered 200, the host's peak RSS under the bound."""
        pid = self.server.pid()
        before, _ = rss_kib(pid)
        exact = reset_peak(pid)
        mp_body, mp_type = multipart("phone200.jpg", self.photo)
        jobs = [("/api/classify", mp_body, mp_type)] * CONCURRENCY
        results = [None] * len(jobs)
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.wait(0.02):
                peak[0] = max(peak[0], rss_kib(pid)[0])

        def run(i, path, body, content_type):
            results[i] = request(self.server.addr, "POST", path, body, {"content-type": content_type})

        sampler = threading.Thread(target=sample)
        sampler.start()
        threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        sampler.join()
        for (path, _, _), (status, body) in zip(jobs, results):
            self.assert_eagle(status, body, f"{path} under full concurrency")
        if exact:
            peak[0] = max(peak[0], rss_kib(pid)[1])
        # The bound, per request in flight through the page's API, at the body limit: five
        # copies of the body — as the host read it from the client, in frontend's instance,
        # as frontend's outgoing request the host hands on, the host's copy while it crosses
        # into classify, and in classify's instance — plus classify's decode at ⅛ scale
        # (2040×1530 RGB planes, ~9 MiB) and the rest of its working memory (32 MiB in all).
        # The host's concurrency limit caps how many run at once.
        per_request = 5 * LIMIT + 32 * MIB
        bound = before * 1024 + CONCURRENCY * per_request
        print(f"\n[big] {len(jobs)} × 200 MP ({len(self.photo) / MIB:.1f} MiB) through /api/classify at once: "
              f"host RSS {before / 1024:.0f} MiB before, peak {peak[0] / 1024:.0f} MiB "
              f"({'VmHWM' if exact else 'sampled every 20 ms'}); bound {bound / MIB:.0f} MiB")
        self.assertLess(peak[0] * 1024, bound)
        status, _ = request(self.server.addr, "POST", "/classify", self.eagle)
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
