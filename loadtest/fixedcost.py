#!/usr/bin/env python3
"""fixedcost.py [--baseline DIR] — where a `POST /classify` spends the time that is neither
decoding, preprocessing nor inference, measured part by part on a running host.

One keep-alive client, c=1, eagle.jpg (773×512, the issue's photo). Each round sends, to
each server in turn, the requests below; the parts are differences of their p50s, or the
component's own timers:

  HTTP + host        GET /.well-known/spin/health: answered by the host, no Wasm
  instance           POST /classify?top=0 with a 1-byte body − the above: a fresh classify
                     instance, its handler called, refused after reading the body (no
                     decode), a small JSON answer
  body into Wasm     POST /classify?top=0 with the photo − the above: the photo's upload and
                     its read into the instance
  wasi-nn calls      classify's Server-Timing `nn-setup` (load-by-name, execution context,
                     the input tensor's copy out) and `nn-output` (the logits back)
  top-K + JSON       classify's Server-Timing `topk` and `json`
  rest               the fixed cost − everything above: the compute call's own framing
                     and the epoch yield after it, the answer's way out. For reference,
                     its `nn-compute` − the host's compute time for the same requests
                     (/metrics histogram; means, so noisy on a shared machine)

`--baseline DIR` also starts the build in DIR (a checkout of main with its components
built; `--baseline-bin` its spinfer binary) and interleaves it request by request, so the
gain of this tree over it is measured in the same run. Used by `make bench`; the figures
are quoted in docs/performance.md.
"""
import argparse
import http.client
import json
import os
import random
import re
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from spinfer_proc import Spinfer, free_port  # noqa: E402

PHOTO = "static/samples/eagle.jpg"


class Conn:
    """One keep-alive HTTP/1.1 connection; returns (status, body, headers, ms)."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        # As browsers, curl and load generators do: no Nagle delay on the request's last
        # segment (http.client sends the head and the body in separate writes).
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, method, path, body=None):
        t0 = time.perf_counter()
        self.conn.request(method, path, body=body, headers={"content-type": "application/octet-stream"})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, data, resp.headers, (time.perf_counter() - t0) * 1e3


def compute_seconds(admin):
    """(sum, count) of the host's wasi-nn compute histogram, over every model."""
    host, port = admin.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    total = lambda suffix: sum(float(v) for v in re.findall(
        rf"^spinfer_inference_duration_seconds_{suffix}(?:{{[^}}]*}})? (\S+)$", text, re.M))
    return total("sum"), total("count")


def server_timing(headers):
    value = headers.get("server-timing") or ""
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"([\w-]+);dur=([\d.]+)", value)}


def measure(servers, rounds, photo):
    """Interleaved rounds over every server; per server the p50 of each series."""
    stages = ("body", "topk", "json", "nn-setup", "nn-compute", "nn-output")
    rec = {name: {k: [] for k in ("health", "live", "body", "e2e", "decode", "preprocess", "inference",
                                  *(f"st_{k}" for k in stages))} for name in servers}
    conns = {name: Conn(s["addr"]) for name, s in servers.items()}
    for name, c in conns.items():  # warm-up: every path once (precompiled code, first session)
        for _ in range(3):
            c.send("POST", "/classify", photo)
        servers[name]["compute0"] = compute_seconds(servers[name]["admin"])
    # The probes of a round go in a shuffled order: a request right after a classification
    # shares the CPU with that instance's teardown (its memory reset, after the answer),
    # and no probe should always be the one that pays for it.
    probes = [("health", "GET", "/.well-known/spin/health", None, 200), ("live", "POST", "/classify?top=0", b"x", 400),
              ("body", "POST", "/classify?top=0", photo, 400), ("e2e", "POST", "/classify", photo, 200)]
    rng = random.Random(22)
    for _ in range(rounds):
        for name, c in conns.items():
            r = rec[name]
            for key, method, path, body, want in rng.sample(probes, len(probes)):
                status, data, headers, ms = c.send(method, path, body)
                assert status == want, (name, path, status, data[:200])
                r[key].append(ms)
                if key != "e2e":
                    continue
                t = json.loads(data)["timings_ms"]
                for k in ("decode", "preprocess", "inference"):
                    r[k].append(t[k])
                st = server_timing(headers)
                for k in stages:
                    if k in st:
                        r[f"st_{k}"].append(st[k])
    out = {}
    for name, s in servers.items():
        r = rec[name]
        p = {k: statistics.median(v) if v else None for k, v in r.items()}
        s1, n1 = compute_seconds(s["admin"])
        s0, n0 = s["compute0"]
        p["compute_mean"] = (s1 - s0) / (n1 - n0) * 1e3 if n1 > n0 else None
        p["inference_mean"] = statistics.mean(r["inference"])
        p["nn_compute_mean"] = statistics.mean(r["st_nn-compute"]) if r["st_nn-compute"] else None
        out[name] = p
    return out


def report(results, rounds):
    names = list(results)
    rows = []

    def row(label, f):
        vals = []
        for n in names:
            try:
                vals.append(f(results[n]))
            except TypeError:
                vals.append(None)
        rows.append((label, vals))

    row("e2e POST /classify (p50)", lambda p: p["e2e"])
    row("  − inference (issue 22: ≤ 5 with the decoder work)", lambda p: p["e2e"] - p["inference"])
    row("decode + preprocess (in Wasm)", lambda p: p["decode"] + p["preprocess"])
    row("fixed = e2e − decode − preprocess − inference", lambda p: p["e2e"] - p["decode"] - p["preprocess"] - p["inference"])
    row("  HTTP + host (GET /.well-known/spin/health)", lambda p: p["health"])
    row("  instance (POST /classify?top=0, 1 byte − the above)", lambda p: p["live"] - p["health"])
    row("  body into Wasm (the same with the photo − 1 byte)", lambda p: p["body"] - p["live"])
    row("    of which the read, inside classify (Server-Timing body)", lambda p: p["st_body"])
    row("  wasi-nn around compute (Server-Timing nn-setup + nn-output)", lambda p: p["st_nn-setup"] + p["st_nn-output"])
    row("  top-K + JSON (Server-Timing topk + json)", lambda p: p["st_topk"] + p["st_json"])
    row("  rest: compute call's framing and yield, the answer's way out", lambda p: (
        p["e2e"] - p["decode"] - p["preprocess"] - p["inference"]) - p["body"]
        - (p["st_nn-setup"] + p["st_nn-output"]) - (p["st_topk"] + p["st_json"]))
    row("  (compute call − host compute, means: noisy)", lambda p: p["nn_compute_mean"] - p["compute_mean"])
    print(f"[fixed] {PHOTO}, one client, {rounds} interleaved rounds; p50 ms unless marked "
          f"(— where the build does not report that part)")
    print("  " + " " * 58 + "".join(f"{n:>12}" for n in names) + ("   change" if len(names) == 2 else ""))
    for label, vals in rows:
        cells = "".join(f"{v:12.2f}" if v is not None else f"{'—':>12}" for v in vals)
        change = ""
        if len(vals) == 2 and None not in vals:
            change = f"   {vals[0] - vals[1]:+.2f}"
        print(f"  {label:58}{cells}{change}")
    return {label: dict(zip(names, vals)) for label, vals in rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "60")))
    ap.add_argument("--baseline", help="a checkout with its components built, to compare with")
    ap.add_argument("--baseline-bin", help="that checkout's spinfer binary")
    ap.add_argument("--json")
    args = ap.parse_args()
    with open(os.path.join(ROOT, PHOTO), "rb") as fh:
        photo = fh.read()
    runs = [("this tree", {})]
    if args.baseline:
        runs.append(("baseline", {"binary": args.baseline_bin, "cwd": args.baseline}))
    servers, started = {}, []
    try:
        for name, where in runs:
            admin = f"127.0.0.1:{free_port()}"
            s = Spinfer("-f", "spin.toml", "--admin-listen", admin, **where).__enter__()
            started.append(s)
            servers[name] = {"addr": s.addr, "admin": admin}
        results = measure(servers, args.rounds, photo)
    finally:
        for s in started:
            s.__exit__(None, None, None)
    table = report(results, args.rounds)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "p50": results,
                       "table": table}, fh, indent=1)


if __name__ == "__main__":
    sys.exit(main())
