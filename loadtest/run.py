#!/usr/bin/env python3
"""run.py — `make load`: bounded load runs on loopback against spinfer and the Python peer.

Starts `spinfer up` (the whole app) and the peer (Flask + gunicorn, one sync worker per
core, same model and preprocessing), then for each concurrency step sends POST requests
with oha for a fixed time per image (three photos of different sizes), against
spinfer's raw API (/classify), spinfer's page API (/api/classify) and the peer. Records
RPS, p50/p90/p99, status codes, and the server's CPU time and RSS per step; checks 128
users again with hey (Debian) as a second generator. Writes results/results.json, results/results.csv and SVG charts, and
prints the summary that loadtest/README.md quotes.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "results")
STEPS = [1, 2, 4, 8, 16, 32, 64, 75, 128]
IMAGES = ["static/samples/cat.png", "static/samples/grace_hopper.jpg", "static/samples/eagle.jpg"]
SECONDS_PER_IMAGE = float(os.environ.get("LOAD_SECONDS", "2"))
TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count()
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from spinfer_proc import free_port, wait_port  # noqa: E402


def tree(pid):
    """pid and all its descendants."""
    pids, frontier = [pid], [pid]
    while frontier:
        p = frontier.pop()
        try:
            kids = open(f"/proc/{p}/task/{p}/children").read().split()
        except OSError:
            kids = []
        pids += map(int, kids)
        frontier += map(int, kids)
    return pids


def cpu_and_rss(pid):
    cpu = rss = 0
    for p in tree(pid):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            cpu += (int(f[11]) + int(f[12])) / TICK
            rss += int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{p}/status").read()).group(1)) * 1024
        except (OSError, AttributeError):
            pass
    return cpu, rss


def hey(url, image, c, seconds):
    """One bounded hey run (summary parsed): status counts, transport errors, latency percentiles (s)."""
    cmd = ["hey", "-z", f"{seconds}s", "-c", str(c), "-t", "30", "-m", "POST", "-D", os.path.join(ROOT, image),
           "-T", "application/octet-stream", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120).stdout
    codes = {m.group(1): int(m.group(2)) for m in re.finditer(r"\[(\d{3})\]\s+(\d+) responses", out)}
    errors = sum(int(m.group(1)) for m in re.finditer(r"^\s*\[(\d+)\]\s+\S+ \"", out, re.M))
    pct = {f"p{m.group(1)}": float(m.group(2)) for m in re.finditer(r"(\d+)%+ in ([\d.]+) secs", out)}
    return {"codes": codes, "errors": errors, "percentiles": pct}


def oha(url, image, c, seconds):
    """One bounded oha run (JSON output): status counts, transport errors, latency percentiles (s)."""
    cmd = ["oha", "-z", f"{seconds}s", "-w", "-c", str(c), "-m", "POST", "-D", os.path.join(ROOT, image),
           "-T", "application/octet-stream", "--no-tui", "--output-format", "json", url]
    r = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120).stdout)
    return {"codes": {str(k): v for k, v in r.get("statusCodeDistribution", {}).items()},
            "errors": sum(r.get("errorDistribution", {}).values()),
            "percentiles": {k: v for k, v in r.get("latencyPercentiles", {}).items() if v is not None}}


def step(name, url, pid, c):
    cpu0, _ = cpu_and_rss(pid)
    t0 = time.time()
    codes, latencies, errors, rss_max, total = {}, [], 0, 0, 0
    for image in IMAGES:
        r = oha(url, image, c, SECONDS_PER_IMAGE)
        for code, n in r["codes"].items():
            codes[code] = codes.get(code, 0) + n
        errors += r["errors"]
        # Percentiles are per run (per image); combine them weighted by response count.
        n_resp = sum(r["codes"].values())
        total += n_resp
        latencies.append((n_resp, r["percentiles"]))
        rss_max = max(rss_max, cpu_and_rss(pid)[1])
    wall = time.time() - t0
    cpu = cpu_and_rss(pid)[0] - cpu0
    def pct(key):
        got = [(n, lp.get(key)) for n, lp in latencies if lp.get(key) is not None and n]
        return 1e3 * sum(n * v for n, v in got) / sum(n for n, _ in got) if got else None
    ok = codes.get("200", 0)
    busy = codes.get("503", 0)
    other = total - ok - busy + errors
    return {
        "target": name, "users": c, "requests": total + errors, "ok": ok, "rejected_503": busy, "other_errors": other,
        "rps": ok / wall, "p50_ms": pct("p50"), "p90_ms": pct("p90"), "p99_ms": pct("p99"),
        "error_rate": (busy + other) / max(total + errors, 1), "cpu_cores_used": cpu / wall, "rss_mb": rss_max / 2**20,
    }


def check_128(url, seconds=5):
    """128 users again with the second generator, hey."""
    r = hey(url, IMAGES[1], 128, seconds)
    return {"tool": "hey", "users": 128, "codes": r["codes"], "transport_errors": r["errors"],
            "p99_ms": 1e3 * r["percentiles"].get("p99", float("nan"))}


def native_ceiling(spinfer):
    bench = os.path.join(os.path.dirname(spinfer), "spinfer-bench")
    out = subprocess.run([bench, "http", "--native-only", "--image", os.path.join(ROOT, IMAGES[0]),
                          "--model-file", os.path.join(ROOT, "models/mobilenetv2/model.onnx"), "--requests", "100"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300).stdout
    p50 = float(re.search(r"native inference.*?p50 ([\d.]+) ms", out).group(1))
    return {"native_p50_ms": p50, "ceiling_rps": CORES * 1000 / p50}


def main():
    for tool in ("oha", "hey"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: run scripts/setup.sh --load (or make load)")
    os.makedirs(OUT, exist_ok=True)
    spinfer = os.environ.get("SPINFER", os.path.expanduser("~/.cache/spinfer/target-host/release/spinfer"))
    sp_port, peer_port = free_port(), free_port()
    procs = []
    try:
        procs.append(subprocess.Popen([spinfer, "up", "-f", os.path.join(ROOT, "spin.toml"), "--listen", f"127.0.0.1:{sp_port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"}))
        procs.append(subprocess.Popen([os.path.join(ROOT, ".venv/bin/gunicorn"), "-w", str(CORES), "-b", f"127.0.0.1:{peer_port}",
                                       "--chdir", os.path.join(HERE, "peer"), "--log-level", "warning", "app:app"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(sp_port, 300, "spinfer")
        wait_port(peer_port, 300, "the Python peer")
        targets = [("spinfer /classify", f"http://127.0.0.1:{sp_port}/classify", procs[0].pid),
                   ("spinfer /api/classify", f"http://127.0.0.1:{sp_port}/api/classify", procs[0].pid),
                   ("python peer /classify", f"http://127.0.0.1:{peer_port}/classify", procs[1].pid)]
        print(f"[load] {CORES} cores; {len(STEPS)} steps x {len(IMAGES)} images x {SECONDS_PER_IMAGE:g} s per target", flush=True)
        rows = []
        for name, url, pid in targets:
            for c in STEPS:
                r = step(name, url, pid, c)
                rows.append(r)
                print(f"[load] {name:22} users {c:3}: {r['rps']:6.1f} req/s  p50 {r['p50_ms'] or float('nan'):7.1f}  p99 {r['p99_ms'] or float('nan'):7.1f} ms  "
                      f"503 {r['rejected_503']:4}  other errors {r['other_errors']}  cpu {r['cpu_cores_used']:.2f}  rss {r['rss_mb']:.0f} MB", flush=True)
        check = check_128(targets[0][1])
        print(f"[load] {check['tool']}, 128 users on spinfer /classify: codes {check['codes']}, transport errors "
              f"{check['transport_errors']}, p99 {check['p99_ms']:.0f} ms", flush=True)
        alive = procs[0].poll() is None and procs[1].poll() is None
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    native = native_ceiling(spinfer)
    summary = summarize(rows, check, native, alive)
    json.dump({"rows": rows, "check_128": check, "native": native, "summary": summary,
               "machine": f"{CORES} cores", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
              open(os.path.join(OUT, "results.json"), "w"), indent=1)
    write_csv(rows)
    charts(rows)
    print("\n".join(summary["lines"]))


def summarize(rows, check, native, alive):
    by = lambda name: [r for r in rows if r["target"] == name]
    sp, api, peer = by("spinfer /classify"), by("spinfer /api/classify"), by("python peer /classify")
    best = lambda rs: max(rs, key=lambda r: r["rps"])
    breaks = lambda rs: next((r["users"] for r in rs if r["error_rate"] > 0.01 or (r["p99_ms"] or 0) > 1000), None)
    peer_sat = best(peer)
    sp_at = next(r for r in sp if r["users"] == peer_sat["users"])
    at128 = next(r for r in sp if r["users"] == 128)
    nan = float("nan")
    p99 = lambda r: r["p99_ms"] if r["p99_ms"] is not None else nan
    lines = [
        f"saturation throughput: spinfer {best(sp)['rps']:.1f} req/s (at {best(sp)['users']} users), page API {best(api)['rps']:.1f}, "
        f"python peer {peer_sat['rps']:.1f} (at {peer_sat['users']} users); spinfer / peer = {best(sp)['rps'] / peer_sat['rps']:.2f}x",
        f"p99 at the peer's saturation point ({peer_sat['users']} users): spinfer {p99(sp_at):.0f} ms, peer {p99(peer_sat):.0f} ms "
        f"(spinfer / peer = {p99(sp_at) / p99(peer_sat):.2f})",
        f"native inference ceiling: p50 {native['native_p50_ms']:.2f} ms -> {native['ceiling_rps']:.0f} req/s on {CORES} cores; "
        f"spinfer reaches {best(sp)['rps'] / native['ceiling_rps'] * 100:.0f} % of it",
        f"breaks (errors > 1 % or p99 > 1 s) at: spinfer {breaks(sp)} users (503 backpressure), page API {breaks(api)}, peer {breaks(peer)}",
        f"128 users on spinfer: {at128['ok']} ok, {at128['rejected_503']} answered 503, {at128['other_errors']} other errors, "
        f"p99 {p99(at128):.0f} ms; {check['tool']} cross-check: {check['codes']}, {check['transport_errors']} transport errors; "
        f"servers alive after the run: {alive}",
    ]
    return {"lines": lines, "spinfer_over_peer": best(sp)["rps"] / peer_sat["rps"]}


def write_csv(rows):
    keys = list(rows[0])
    with open(os.path.join(OUT, "results.csv"), "w") as fh:
        fh.write(",".join(keys) + "\n")
        for r in rows:
            fh.write(",".join("" if r[k] is None else (f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k])) for k in keys) + "\n")


COLOURS = {"spinfer /classify": "#1f77b4", "spinfer /api/classify": "#17becf", "python peer /classify": "#d62728"}


def chart(rows, key, title, path, ylabel, scale=1.0):
    w, h, pad = 720, 380, 60
    xs = {c: pad + (w - 2 * pad) * i / (len(STEPS) - 1) for i, c in enumerate(STEPS)}
    ymax = max((r[key] or 0) * scale for r in rows) * 1.1 or 1
    y = lambda v: h - pad - (h - 2 * pad) * v / ymax
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">',
             f'<rect width="{w}" height="{h}" fill="white"/><text x="{pad}" y="28" font-size="16">{title}</text>',
             f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="none" stroke="#bbb"/>',
             f'<text x="14" y="{h / 2}" font-size="12" transform="rotate(-90 14 {h / 2})">{ylabel}</text>']
    for frac in (0, 0.5, 1):
        parts.append(f'<text x="{pad - 6}" y="{y(ymax * frac / 1.1) + 4:.0f}" font-size="11" text-anchor="end">{ymax * frac / 1.1:.3g}</text>')
    for c, xx in xs.items():
        parts.append(f'<text x="{xx:.0f}" y="{h - pad + 16}" font-size="11" text-anchor="middle">{c}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 12}" font-size="12" text-anchor="middle">concurrent users</text>')
    for i, (name, colour) in enumerate(COLOURS.items()):
        pts = " ".join(f"{xs[r['users']]:.1f},{y((r[key] or 0) * scale):.1f}" for r in rows if r["target"] == name)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{pad + 10}" y="{pad + 18 + 16 * i}" font-size="12" fill="{colour}">{name}</text>')
    parts.append("</svg>")
    open(os.path.join(OUT, path), "w").write("\n".join(parts))


def charts(rows):
    chart(rows, "rps", "Throughput vs users", "rps.svg", "successful requests / s")
    chart(rows, "p99_ms", "p99 latency vs users", "latency_p99.svg", "p99 latency (ms)")
    chart(rows, "error_rate", "Errors (incl. 503 backpressure) vs users", "errors.svg", "error rate (%)", scale=100)


if __name__ == "__main__":
    sys.exit(main())
