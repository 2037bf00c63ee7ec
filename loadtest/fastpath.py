#!/usr/bin/env python3
"""fastpath.py bench|load — the image fast path measured against the Python peer, in one run.

Starts `spinfer up` (spin.toml, native ONNX Runtime) and two copies of the peer
(loadtest/peer: Flask + gunicorn, one sync worker per core, Pillow + the same ONNX
Runtime session settings), one with Pillow's JPEG draft mode (PEER_DRAFT=1, the best
version of that stack) and one without (PEER_DRAFT=0). Photos: the web-size samples
(static/samples) and the phone photos of scripts/photos.py (12 MP, 48 MP).

bench (in `make bench`):
  - Wasm tax per stage: decode and preprocess of each photo inside classify.wasm (its own
    `timings_ms`) vs the same pipeline crate built natively (pipeline/examples/stages),
    interleaved request by request; ratio of p50s.
  - End to end, one client: `POST /classify` p50 per photo on spinfer and on both peers,
    interleaved (spinfer, peer, peer-no-draft, spinfer, …); spinfer's inference p50 and
    e2e − inference.
load (in `make load`):
  - Throughput at saturation (closed loop, CONC clients, LOAD_SECONDS per run, LOAD_ROUNDS
    rounds that each run every server once back to back): web-size JPEG photos, a 9:1 mix
    of web-size and 12 MP photos, and 12 MP photos alone; ratios within each round (the
    machine's speed drifts between rounds), their median and range. fp32 on both sides
    against both peers; and on web-size photos the int8 model (`?model=mobilenetv2_int8`,
    models/mobilenetv2_int8) on spinfer against the draft peer on fp32, and the draft peer
    running the same int8 model too, so both comparisons are in one run. Each ratio is
    printed beside issue 22's target for it.
Prints one line per figure; `--json FILE` also writes them.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import photos  # noqa: E402
from spinfer_proc import Spinfer, free_port, wait_port  # noqa: E402

CORES = os.cpu_count()
WEB = ["static/samples/eagle.jpg", "static/samples/grace_hopper.jpg", "static/samples/yurt.jpg",
       "static/samples/strawberry.jpg"]
PNG = ["static/samples/cat.png"]
PHONE = ["target/photos/phone12.jpg", "target/photos/phone48.jpg"]
INT8 = "mobilenetv2_int8"
# (numerator, denominator) → issue 22's target for that ratio of req/s, per load.
TARGETS = {
    ("spinfer", "peer (draft)"): {"web-size JPEG": 1.0, "9:1 web-size + 12 MP": 1.0, "12 MP": 1.0},
    ("spinfer int8", "peer (draft)"): {"web-size JPEG": 1.4},
}


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as fh:
        return fh.read()


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def post(self, path, body):
        if self.conn.sock is None:
            # As browsers, curl and oha do: no Nagle delay on a request's last segment
            # (http.client writes the head and the body separately).
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        self.conn.request("POST", path, body=body, headers={"content-type": "application/octet-stream"})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, data, (time.perf_counter() - t0) * 1e3


class Peer:
    def __init__(self, draft, models="mobilenetv2"):
        self.draft, self.models, self.proc = draft, models, None

    def __enter__(self):
        port = free_port()
        self.addr = f"127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [os.path.join(ROOT, ".venv/bin/gunicorn"), "-w", str(CORES), "-b", self.addr, "--chdir",
             os.path.join(HERE, "peer"), "--log-level", "warning", "app:app"],
            env={**os.environ, "PEER_DRAFT": "1" if self.draft else "0", "PEER_MODELS": self.models},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port, 120, "the Python peer")
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        return False


def p50(xs):
    return statistics.median(xs)


def bench(sp, peers, rounds, out):
    stages = subprocess.Popen([os.path.join(os.environ["PIPELINE_TARGET"], "release/examples/stages")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    images = WEB + PNG + PHONE
    spc = Client(sp.addr)
    pcs = {name: Client(p.addr) for name, p in peers.items()}
    rec = {img: {"native": [], "wasm": [], "e2e": {"spinfer": [], **{n: [] for n in peers}}, "inference": []}
           for img in images}
    bodies = {img: read(img) for img in images}
    for img in images:  # warm-up: every path once
        spc.post("/classify", bodies[img])
        for c in pcs.values():
            c.post("/classify", bodies[img])
    for _ in range(rounds):
        for img in images:
            stages.stdin.write(os.path.join(ROOT, img) + "\n")
            stages.stdin.flush()
            d, p = map(float, stages.stdout.readline().split())
            rec[img]["native"].append((d, p))
            status, data, ms = spc.post("/classify", bodies[img])
            assert status == 200, (img, status, data[:200])
            t = json.loads(data)["timings_ms"]
            rec[img]["wasm"].append((t["decode"], t["preprocess"]))
            rec[img]["inference"].append(t["inference"])
            rec[img]["e2e"]["spinfer"].append(ms)
            for name, c in pcs.items():
                status, data, ms = c.post("/classify", bodies[img])
                assert status == 200, (name, img, status, data[:200])
                rec[img]["e2e"][name].append(ms)
    stages.stdin.close()
    stages.wait()
    print(f"[fastpath] Wasm tax: decode + preprocess, p50 of {rounds} interleaved runs each "
          f"(native = the pipeline crate built for x86_64, wasm = inside classify.wasm on spinfer)")
    for img in images:
        r = rec[img]
        nd, npp = p50([x[0] for x in r["native"]]), p50([x[1] for x in r["native"]])
        wd, wp = p50([x[0] for x in r["wasm"]]), p50([x[1] for x in r["wasm"]])
        line = (f"  {os.path.basename(img):18} decode native {nd:7.2f} wasm {wd:7.2f} ms ({wd / nd:4.2f}x)   preprocess "
                f"native {npp:5.2f} wasm {wp:5.2f} ms ({wp / npp:4.2f}x)   total {(wd + wp) / (nd + npp):4.2f}x")
        print(line)
        out.setdefault("wasm_tax", {})[img] = {"native": [nd, npp], "wasm": [wd, wp], "ratio": (wd + wp) / (nd + npp)}
    print(f"[fastpath] end to end, one client, POST /classify p50 (ms), {rounds} interleaved requests each")
    web_e2e = []
    for img in images:
        r = rec[img]
        e = {k: p50(v) for k, v in r["e2e"].items()}
        inf = p50(r["inference"])
        if img in WEB:
            web_e2e.append(e["spinfer"])
        print(f"  {os.path.basename(img):18} spinfer {e['spinfer']:7.1f} (inference {inf:5.1f}, e2e − inference "
              f"{e['spinfer'] - inf:5.1f})   " + "   ".join(f"{n} {v:7.1f} ({v / e['spinfer']:4.2f}x spinfer)"
                                                           for n, v in e.items() if n != "spinfer"))
        out.setdefault("e2e_p50_ms", {})[img] = {**e, "inference": inf}
    web = p50(web_e2e)
    p12, p48 = out["e2e_p50_ms"][PHONE[0]]["spinfer"], out["e2e_p50_ms"][PHONE[1]]["spinfer"]
    print(f"[fastpath] 12 MP p50 / web-size p50 = {p12:.1f} / {web:.1f} = {p12 / web:.2f}x; "
          f"48 MP / 12 MP = {p48 / p12:.2f}x")
    out["phone_ratios"] = {"p12_over_web": p12 / web, "p48_over_p12": p48 / p12}


def closed_loop(addr, path, bodies, conc, seconds):
    """conc clients, each POSTing bodies[i % len] to `path` in turn for `seconds`; returns
    (ok/s, p50, p99, errors)."""
    lat, errors, stop = [], [0], time.time() + seconds
    lock = threading.Lock()

    def run(k):
        c, i = Client(addr), k
        while time.time() < stop:
            try:
                status, _, ms = c.post(path, bodies[i % len(bodies)])
            except OSError:
                with lock:
                    errors[0] += 1
                c = Client(addr)
                continue
            i += 1
            with lock:
                (lat.append(ms) if status == 200 else errors.__setitem__(0, errors[0] + 1))

    t0 = time.time()
    threads = [threading.Thread(target=run, args=(k * 7,)) for k in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    lat.sort()
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")
    return len(lat) / wall, q(0.5), q(0.99), errors[0]


def load(sp, peers, seconds, conc, rounds, out):
    web = [read(img) for img in WEB]
    phone12 = read(PHONE[0])
    mix = web * 2 + [web[0]] + [phone12]  # 9 web-size : 1 phone photo
    fp32, int8 = "/classify", f"/classify?model={INT8}"
    draft, nodraft = peers["peer (draft)"].addr, peers["peer (no draft)"].addr
    # name → (address, path): the same path on spinfer and the peer picks the same model.
    servers = {"spinfer": (sp.addr, fp32), "peer (draft)": (draft, fp32), "peer (no draft)": (nodraft, fp32),
               "spinfer int8": (sp.addr, int8), "peer (draft) int8": (draft, int8)}
    loads = {"web-size JPEG": (web, list(servers)),
             "9:1 web-size + 12 MP": (mix, ["spinfer", "peer (draft)", "peer (no draft)"]),
             "12 MP": ([phone12], ["spinfer", "peer (draft)"])}
    pairs = [("spinfer", "peer (draft)"), ("spinfer", "peer (no draft)"), ("spinfer int8", "peer (draft)"),
             ("spinfer int8", "peer (draft) int8"), ("peer (draft) int8", "peer (draft)")]
    print(f"[fastpath] throughput at saturation: closed loop, {conc} clients, {seconds:g} s per run; "
          f"{rounds} rounds, each running every server once, back to back; ratios within a round "
          f"(this machine's speed drifts between rounds); {CORES} cores")
    for name, (bodies, names) in loads.items():
        runs = {t: [] for t in names}
        for _ in range(rounds):
            for t in names:
                r = closed_loop(*servers[t], bodies, conc, seconds)
                runs[t].append(r)
                print(f"  {name:22} {t:18} {r[0]:6.1f} req/s  p50 {r[1]:6.1f}  p99 {r[2]:6.1f} ms  errors {r[3]}")
        summary = {}
        for a, b in pairs:
            if a not in runs or b not in runs:
                continue
            ratios = sorted(x[0] / y[0] for x, y in zip(runs[a], runs[b]))
            p99s = sorted(x[2] / y[2] for x, y in zip(runs[a], runs[b]))
            target = TARGETS.get((a, b), {}).get(name)
            summary[f"{a} / {b}"] = {"rps_ratio_median": statistics.median(ratios),
                                     "rps_ratio_range": [ratios[0], ratios[-1]],
                                     "p99_ratio_median": statistics.median(p99s), "target": target}
            verdict = "" if target is None else (f"   target ≥ {target:.1f}x: "
                                                 f"{'met' if statistics.median(ratios) >= target else 'NOT met'}")
            print(f"[fastpath] {name}: {a} / {b} = {statistics.median(ratios):.2f}x req/s (rounds "
                  f"{ratios[0]:.2f}–{ratios[-1]:.2f}), p99 {statistics.median(p99s):.2f}x{verdict}")
        med = {t: statistics.median(r[0] for r in v) for t, v in runs.items()}
        print(f"[fastpath] {name}: median req/s " + ", ".join(f"{t} {v:.1f}" for t, v in med.items()))
        out.setdefault("throughput", {})[name] = {"median_rps": med, "ratios": summary}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["bench", "load"])
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "30")))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", "8")))
    ap.add_argument("--load-rounds", type=int, default=int(os.environ.get("LOAD_ROUNDS", "4")))
    ap.add_argument("--conc", type=int, default=int(os.environ.get("CONC", "4")))
    ap.add_argument("--json")
    args = ap.parse_args()
    photos.main(os.path.join(ROOT, "target/photos"))
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": CORES}
    # In `load` the draft peer also serves the int8 model (`?model=`), as spinfer does.
    draft_models = "mobilenetv2" if args.mode == "bench" else f"mobilenetv2,{INT8}"
    with Spinfer("-f", "spin.toml") as sp, Peer(True, draft_models) as pd, Peer(False) as pn:
        peers = {"peer (draft)": pd, "peer (no draft)": pn}
        if args.mode == "bench":
            bench(sp, peers, args.rounds, out)
        else:
            load(sp, peers, args.seconds, args.conc, args.load_rounds, out)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    sys.exit(main())
