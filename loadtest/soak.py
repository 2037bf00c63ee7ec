#!/usr/bin/env python3
"""soak.py — `make soak`: a long run at ~70 % of saturation, good images mixed with every
bad-input class, looking for leaks, lost requests and unexpected answers.

Starts `spinfer up -f spin.toml` (native ONNX Runtime) on loopback, then in the same run:
  1. saturation: a closed loop of CONC keep-alive clients sending the mix for
     SOAK_SAT_SECONDS (default 30); its request rate is "saturation";
  2. soak: an open loop at SOAK_LOAD (default 0.70) × saturation for SOAK_SECONDS
     (default 600): requests are scheduled at a fixed rate and sent by a pool of clients,
     so a slower server shows as latency, not as fewer requests.
Every request kind has one expected status and error code (docs/api.md's error table);
anything else counts as unexpected, a failed connection or read as a transport error.
Prints per bucket (SOAK_BUCKET seconds, default 60): requests, status counts, p50/p99
of all requests and of the good images, unexpected answers, transport errors, and the
host's RSS (the median of one sample a second over the bucket, and the bucket's peak).
Pass (exit 0): 0 unexpected, 0 transport errors, median RSS growth ≤ 5 % from bucket 2
to the last bucket.
"""
import http.client
import json
import os
import random
import statistics
import struct
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from spinfer_proc import Spinfer  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
BUCKET = float(os.environ.get("SOAK_BUCKET", "60"))
SAT_SECONDS = float(os.environ.get("SOAK_SAT_SECONDS", "30"))
LOAD = float(os.environ.get("SOAK_LOAD", "0.70"))
# Closed-loop clients for the saturation run: twice the host's default admission slots.
CONC = int(os.environ.get("SOAK_CONC", str(4 * (os.cpu_count() or 2))))
RSS_GROWTH_LIMIT = 0.05


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as fh:
        return fh.read()


def png_header_only(width, height):
    """A PNG whose IHDR declares width × height, with one tiny IDAT (a decompression bomb's header)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def multipart(fields, boundary="soakBoundary7"):
    body = b""
    for name, filename, data in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def oip_image(jpeg):
    header = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                     "parameters": {"binary_data_size": 4 + len(jpeg)}}],
                         "outputs": [{"name": "logits", "parameters": {"classification": 3}}]}).encode()
    return header + struct.pack("<I", len(jpeg)) + jpeg, {"Inference-Header-Content-Length": str(len(header)),
                                                          "content-type": "application/octet-stream"}


def kinds():
    """(name, weight, method, path, body, headers, expected status, expected code or None)."""
    eagle, hopper, yurt, cat = (read("static/samples/eagle.jpg"), read("static/samples/grace_hopper.jpg"),
                                read("static/samples/yurt.jpg"), read("static/samples/cat.png"))
    octet = {"content-type": "application/octet-stream"}
    jsn = {"content-type": "application/json"}
    mp_good, mp_ct = multipart([("model", None, b"mobilenetv2"), ("image", "eagle.jpg", eagle)])
    mp_none, _ = multipart([("model", None, b"mobilenetv2")])
    oip_body, oip_headers = oip_image(hopper)
    url = lambda u: json.dumps({"url": u}).encode()  # noqa: E731
    return [
        # good images: 200
        ("jpeg", 16, "POST", "/classify", eagle, octet, 200, None),
        ("jpeg_progressive", 8, "POST", "/classify?top=3", yurt, octet, 200, None),
        ("jpeg_full_decode", 6, "POST", "/classify?decode=full", hopper, octet, 200, None),
        ("png", 8, "POST", "/classify?model=efficientnet_lite0", cat, octet, 200, None),
        ("page_multipart", 8, "POST", "/api/classify", mp_good, {"content-type": mp_ct}, 200, None),
        ("oip_image", 6, "POST", "/v2/models/mobilenetv2/infer", oip_body, oip_headers, 200, None),
        ("models", 2, "GET", "/api/models", None, {}, 200, None),
        # every bad-input class: its status and code
        ("empty_body", 3, "POST", "/classify", b"", octet, 400, "empty_body"),
        ("not_an_image", 3, "POST", "/classify", b"hello, not an image" * 10, octet, 400, "not_an_image"),
        ("truncated_jpeg", 3, "POST", "/classify", eagle[: len(eagle) * 2 // 3], octet, 400, "decode_failed"),
        # make fuzz's find: a GIF whose screen is 0 pixels wide (classify used to trap on it)
        ("image_without_pixels", 2, "POST", "/classify", read("fuzz/corpus/image/zero_width_screen.gif"), octet,
         400, "decode_failed"),
        ("bad_top", 2, "POST", "/classify?top=99", eagle, octet, 400, "bad_top"),
        ("bad_decode", 2, "POST", "/classify?decode=slow", eagle, octet, 400, "bad_decode"),
        ("unknown_model", 2, "POST", "/classify?model=resnet9000", eagle, octet, 404, "unknown_model"),
        ("not_found", 2, "GET", "/classify/nope", None, {}, 404, "not_found"),
        ("wrong_method", 2, "GET", "/api/classify", None, {}, 405, "method_not_allowed"),
        ("unsupported_format", 2, "POST", "/classify", b"II*\0\x08\0\0\0" + b"junk" * 16, octet, 415,
         "unsupported_format"),
        ("png_bomb", 2, "POST", "/classify", png_header_only(20000, 20000), octet, 422, "image_too_large"),
        # Over classify's 40 MiB (spinfer_api::DEFAULT_MAX_BODY), and over the host's 48 MiB.
        ("over_component_limit", 1, "POST", "/classify", b"\xff\xd8" + b"\0" * (40 << 20), octet, 413,
         "body_too_large"),
        ("over_host_limit", 1, "POST", "/classify", b"\0" * (49 << 20), octet, 413, "body_too_large"),
        ("bad_json", 2, "POST", "/api/classify", b"{nope", jsn, 400, "bad_json"),
        ("missing_url", 2, "POST", "/api/classify", b'{"link":"x"}', jsn, 400, "missing_url"),
        ("bad_url", 2, "POST", "/api/classify", url("not a url"), jsn, 400, "bad_url"),
        ("bad_url_scheme", 2, "POST", "/api/classify", url("ftp://example.com/a.jpg"), jsn, 400, "bad_url_scheme"),
        ("bad_multipart", 2, "POST", "/api/classify", b"x", {"content-type": "multipart/form-data"}, 400,
         "bad_multipart"),
        ("missing_file", 2, "POST", "/api/classify", mp_none, {"content-type": mp_ct}, 400, "missing_file"),
        ("loopback_url", 2, "POST", "/api/classify", url("http://127.0.0.1:9/cat.png"), jsn, 403,
         "forbidden_address"),
        ("decimal_loopback_url", 2, "POST", "/api/classify", url("http://2130706433:9/cat.png"), jsn, 403,
         "forbidden_address"),
        ("metadata_url", 2, "POST", "/api/classify", url("http://169.254.169.254/latest/meta-data"), jsn, 403,
         "forbidden_address"),
        ("oip_malformed", 2, "POST", "/v2/models/mobilenetv2/infer", b'{"inputs": [', jsn, 400, None),
        ("oip_past_end", 2, "POST", "/v2/models/mobilenetv2/infer", b'{"inputs":[]}',
         {"Inference-Header-Content-Length": "999", "content-type": "application/octet-stream"}, 400, None),
    ]


class Client:
    def __init__(self, addr):
        self.host, self.port = addr.rsplit(":", 1)
        self.conn = None

    def send(self, method, path, body, headers):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.will_close:
                self.close()
            return resp.status, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def error_code(data):
    try:
        return json.loads(data).get("error", {}).get("code")
    except Exception:
        return None


class Tally:
    """Results of one time bucket."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses, self.latencies, self.good, self.unexpected, self.transport = {}, [], [], [], []

    def add(self, kind, status, data, ms):
        name, _, _, _, _, _, want, code = kind
        got_code = error_code(data) if code else None
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.latencies.append(ms)
            if want == 200 and status == 200:
                self.good.append(ms)
            if status != want or got_code != code:
                self.unexpected.append(f"{name}: {status} {got_code} (want {want} {code}) {data[:160]!r}")

    def fail(self, kind, err):
        with self.lock:
            self.transport.append(f"{kind[0]}: {type(err).__name__}: {err}")


def pct(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pick(table, rng):
    return rng.choices(table, weights=[k[1] for k in table])[0]


def one(client, kind, tally):
    _, _, method, path, body, headers, _, _ = kind
    t0 = time.perf_counter()
    try:
        status, data = client.send(method, path, body, headers)
    except Exception as e:  # noqa: BLE001 — every failure is counted
        tally.fail(kind, e)
        return
    tally.add(kind, status, data, (time.perf_counter() - t0) * 1e3)


def saturation(addr, table):
    tally, stop = Tally(), time.time() + SAT_SECONDS

    def run(seed):
        rng, client = random.Random(seed), Client(addr)
        while time.time() < stop:
            one(client, pick(table, rng), tally)
        client.close()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(CONC)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    done = len(tally.latencies)
    return done / SAT_SECONDS, tally


def soak(addr, table, rate, pid):
    """Open loop at `rate` req/s; returns the per-bucket tallies and RSS readings."""
    buckets = [Tally() for _ in range(max(1, int(round(SECONDS / BUCKET))))]
    rss = [None] * len(buckets)
    start = time.time() + 0.5
    end = start + len(buckets) * BUCKET
    ticket = [0]
    lock = threading.Lock()

    def run(seed):
        rng, client = random.Random(seed), Client(addr)
        while True:
            with lock:
                n = ticket[0]
                ticket[0] += 1
            due = start + n / rate
            if due >= end:
                break
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            b = min(len(buckets) - 1, int((due - start) // BUCKET))
            one(client, pick(table, rng), buckets[b])
        client.close()

    def sample_rss():
        # Once a second; a bucket's figure is the median of its samples, so that one
        # moment's in-flight uploads (up to 16 × 49 MiB) do not decide it.
        for b in range(len(buckets)):
            samples = []
            while time.time() < start + (b + 1) * BUCKET:
                samples.append(rss_mib(pid))
                time.sleep(max(0, min(1.0, start + (b + 1) * BUCKET - time.time())))
            rss[b] = statistics.median(samples or [rss_mib(pid)])
            report(b, buckets[b], rss[b], max(samples or [rss[b]]))
    # Enough senders that the open loop keeps its schedule while slow requests run.
    workers = [threading.Thread(target=run, args=(100 + i,)) for i in range(max(CONC * 2, 16))]
    sampler = threading.Thread(target=sample_rss)
    [t.start() for t in workers + [sampler]]
    [t.join() for t in workers + [sampler]]
    return buckets, rss


def report(b, t, rss, peak):
    with t.lock:
        codes = " ".join(f"{s}:{n}" for s, n in sorted(t.statuses.items()))
        print(f"  [{(b + 1) * BUCKET / 60:5.1f} min] requests {len(t.latencies) + len(t.transport):6d}  "
              f"p50 {pct(t.latencies, 0.5):7.1f} ms  p99 {pct(t.latencies, 0.99):7.1f} ms  "
              f"good p50 {pct(t.good, 0.5):7.1f} p99 {pct(t.good, 0.99):7.1f} ms  "
              f"unexpected {len(t.unexpected)}  transport {len(t.transport)}  RSS {rss:6.1f} MiB (max {peak:6.1f})  | {codes}",
              flush=True)


def main():
    table = kinds()
    print(f"soak: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"{len(table)} request kinds ({sum(1 for k in table if k[6] != 200)} bad-input classes)", flush=True)
    with Spinfer("-f", "spin.toml") as sp:
        pid = sp.pid()
        sat, sat_tally = saturation(sp.addr, table)
        rate = LOAD * sat
        print(f"saturation: {sat:.1f} req/s with {CONC} closed-loop clients over {SAT_SECONDS:.0f} s "
              f"(p99 {pct(sat_tally.latencies, 0.99):.0f} ms, unexpected {len(sat_tally.unexpected)}, "
              f"transport {len(sat_tally.transport)}); soak at {LOAD:.0%}: {rate:.1f} req/s for {SECONDS:.0f} s",
              flush=True)
        buckets, rss = soak(sp.addr, table, rate, pid)
        alive = sp.proc.poll() is None
    total = sum(len(t.latencies) + len(t.transport) for t in buckets)
    unexpected = [u for t in [sat_tally, *buckets] for u in t.unexpected]
    transport = [u for t in [sat_tally, *buckets] for u in t.transport]
    statuses = {}
    for t in buckets:
        for s, n in t.statuses.items():
            statuses[s] = statuses.get(s, 0) + n
    base = rss[1] if len(rss) > 1 else rss[0]
    growth = (rss[-1] - base) / base
    all_good = [x for t in buckets for x in t.good]
    print(f"total: {total} requests in {len(buckets) * BUCKET:.0f} s ({total / (len(buckets) * BUCKET):.1f} req/s), "
          f"statuses {dict(sorted(statuses.items()))}, good-image p50 {statistics.median(all_good):.1f} ms")
    print(f"unexpected: {len(unexpected)}, transport errors: {len(transport)}, "
          f"RSS (median per bucket) {base:.1f} MiB (bucket {min(2, len(rss))}) → {rss[-1]:.1f} MiB (last): {growth:+.1%} "
          f"(limit +{RSS_GROWTH_LIMIT:.0%}); host alive at the end: {alive}")
    for line in (unexpected + transport)[:20]:
        print("   ", line)
    ok = not unexpected and not transport and growth <= RSS_GROWTH_LIMIT and alive
    print("soak: PASS" if ok else "soak: FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
