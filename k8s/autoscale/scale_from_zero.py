#!/usr/bin/env python3
"""scale_from_zero.py — what a measured cold start means when KEDA scales a Deployment
from zero (`minReplicaCount: 0`), spinfer vs the Python peer.

A model, not a cluster (nothing here can reach one); every step that is not the app's
own start is a stated constant, the same for both stacks:
  * at t = 0 the first request arrives after idle, with no replica running. An HTTP
    scaler that can hold requests (the KEDA HTTP add-on's interceptor) queues it and
    KEDA activates the Deployment 0 → 1 after ACTIVATION_S (its polling interval, 1 s);
  * a new pod's container is exec'd POD_START_S after the scale decision (scheduling,
    sandbox and container creation, image already on the node);
  * the app then needs its measured cold start (exec → first 200) to serve; the kubelet
    sends traffic once the readiness probe passes. Kubernetes probes at most once a
    second (`periodSeconds` ≥ 1), so with `probe_period = 1` a replica is ready at the
    first whole second after its cold start; `probe_period = 0` is an ideal probe
    (ready the instant it can answer), the bound a faster activator could reach;
  * after activation, KEDA's HPA syncs every 15 s: desired = ceil(demand / (TARGET ×
    capacity)), at most +100 % or +4 pods (whichever is more) per sync, ≤ MAX_REPLICAS;
  * a ready replica serves up to its measured saturation throughput; what it cannot
    serve waits in the interceptor's queue (first in, first out).
`report()` (used by loadtest/report.py scale) writes the first 30 s of a burst as SVG;
`--selftest` checks the model against hand-computed answers.
"""
import argparse
import math

ACTIVATION_S = 1.0
POD_START_S = 1.0
SYNC_S = 15.0
TARGET = 0.6
MAX_REPLICAS = 20
DT = 0.01


def ready_after(cold_start, probe_period):
    """Seconds from exec until the kubelet routes traffic to the pod."""
    if probe_period <= 0:
        return cold_start
    return math.ceil(cold_start / probe_period - 1e-9) * probe_period


def simulate(cold_start, capacity, demand, horizon=60.0, probe_period=1.0, cores=2):
    """demand: req/s from t = 0 (after idle, zero replicas). Returns a dict with the
    time series (t, arrived, served, ready replicas) and the figures."""
    service = cores / capacity  # one request's time on one core at saturation
    pods_ready_at = []  # each pod's ready time
    replicas = 0
    next_sync = ACTIVATION_S + SYNC_S

    def scale_to(t, want):
        nonlocal replicas
        for _ in range(want - replicas):
            pods_ready_at.append(t + POD_START_S + ready_after(cold_start, probe_period))
        replicas = max(replicas, want)

    steps = int(round(horizon / DT))
    cum_arrived = cum_served = 0.0
    series = []
    for i in range(steps):
        t = i * DT
        if replicas == 0 and t >= ACTIVATION_S - 1e-9:
            scale_to(t, 1)
        if replicas and t >= next_sync - 1e-9:
            desired = math.ceil(demand / (TARGET * capacity))
            scale_to(t, min(MAX_REPLICAS, desired, max(2 * replicas, replicas + 4)))
            next_sync += SYNC_S
        ready = sum(1 for r in pods_ready_at if r <= t + 1e-9)
        cum_arrived += demand * DT
        cum_served = min(cum_arrived, cum_served + ready * capacity * DT)
        series.append((t + DT, cum_arrived, cum_served, ready))
    first_ready = min(pods_ready_at) if pods_ready_at else None
    return {"series": series, "first_answer_s": None if first_ready is None else first_ready + service,
            "figures": figures(series, demand)}


def figures(series, demand, window=30.0):
    """Served in the first `window` s, and the waits (FIFO) of requests arriving in it."""
    arrived30 = next(a for t, a, s, r in series if t >= window - 1e-9)
    served30 = next(s for t, a, s, r in series if t >= window - 1e-9)
    waits = []
    j = 0
    for k in range(1, int(arrived30) + 1, max(1, int(arrived30) // 500)):
        arrive_t = k / demand
        while j < len(series) and series[j][2] < k:
            j += 1
        waits.append(series[j][0] - arrive_t if j < len(series) else float("inf"))
    waits.sort()
    full = next((t for t, a, s, r in series if r and s >= a - 1e-6 and t > 0.5), None)
    return {"arrived_30s": arrived30, "served_30s": served30, "served_share_30s": served30 / arrived30,
            "wait_p50_s": waits[len(waits) // 2] if waits else None, "wait_max_s": waits[-1] if waits else None,
            "caught_up_s": full}


def report(stacks, svg_path, burst=None, window=30.0):
    """stacks: name → (cold start s, capacity req/s per replica). The burst is 4 × the
    slowest replica's capacity unless given. Returns {lines, rows} and writes the chart."""
    burst = burst or 4 * min(c for _, c in stacks.values())
    rows, curves = [], {}
    for name, (cold, cap) in stacks.items():
        for probe in (1.0, 0.0):
            sim = simulate(cold, cap, burst, probe_period=probe)
            quiet = simulate(cold, cap, 0.2, probe_period=probe)  # one request after idle
            row = {"stack": name, "cold_start_s": cold, "capacity_rps": cap, "probe_period_s": probe,
                   "first_request_answer_s": quiet["first_answer_s"], **sim["figures"]}
            rows.append(row)
            curves[(name, probe)] = sim["series"]
    lines = [f"scale from zero (model: KEDA activation {ACTIVATION_S:g} s, pod start {POD_START_S:g} s, HPA sync "
             f"{SYNC_S:g} s, target {TARGET:.0%} of a replica's measured throughput; burst {burst:.0f} req/s from t = 0):",
             f"  {'stack':22} {'cold s':>6} {'probe':>6} {'1st answer s':>12} {'served 30 s':>11} {'wait p50 s':>10} {'wait max s':>10}"]
    for r in rows:
        probe = "1 s" if r["probe_period_s"] else "ideal"
        lines.append(f"  {r['stack']:22} {r['cold_start_s']:6.2f} {probe:>6} {r['first_request_answer_s']:12.2f} "
                     f"{r['served_share_30s'] * 100:10.0f}% {r['wait_p50_s']:10.1f} {r['wait_max_s']:10.1f}")
    chart(curves, burst, svg_path, window)
    return {"burst_rps": burst, "rows": rows, "lines": lines,
            "assumptions": {"activation_s": ACTIVATION_S, "pod_start_s": POD_START_S, "sync_s": SYNC_S,
                            "target": TARGET, "max_replicas": MAX_REPLICAS}}


COLOURS = ["#1f77b4", "#17becf", "#d62728", "#2ca02c", "#9467bd"]


def chart(curves, burst, path, window):
    """Served requests per second over the first `window` s (0.5 s bins)."""
    w, h, pad = 760, 400, 60
    binw = 0.5
    lines = {}
    for key, series in curves.items():
        pts, prev = [], 0.0
        for b in range(int(window / binw)):
            end = next(s for t, a, s, r in series if t >= (b + 1) * binw - 1e-9)
            pts.append(((b + 1) * binw, (end - prev) / binw))
            prev = end
        lines[key] = pts
    ymax = max(burst, max(v for pts in lines.values() for _, v in pts)) * 1.1
    x = lambda t: pad + (w - 2 * pad) * t / window
    y = lambda v: h - pad - (h - 2 * pad) * v / ymax
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{pad}" y="26" font-size="15">Scale from zero: first {window:.0f} s of a {burst:.0f} req/s burst (model)</text>',
             f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="none" stroke="#bbb"/>',
             f'<line x1="{x(0)}" y1="{y(burst):.1f}" x2="{x(window)}" y2="{y(burst):.1f}" stroke="#999" stroke-dasharray="2,3"/>',
             f'<text x="{x(window) - 4}" y="{y(burst) - 4:.1f}" font-size="11" text-anchor="end" fill="#777">offered</text>',
             f'<text x="14" y="{h / 2}" font-size="12" transform="rotate(-90 14 {h / 2})">answered req/s</text>',
             f'<text x="{w / 2}" y="{h - 14}" font-size="12" text-anchor="middle">seconds since the first request after idle</text>']
    for t in range(0, int(window) + 1, 5):
        parts.append(f'<text x="{x(t):.0f}" y="{h - pad + 16}" font-size="11" text-anchor="middle">{t}</text>')
    for frac in (0, 0.5, 1):
        v = ymax / 1.1 * frac
        parts.append(f'<text x="{pad - 6}" y="{y(v) + 4:.0f}" font-size="11" text-anchor="end">{v:.0f}</text>')
    names = sorted({k[0] for k in lines}, key=lambda n: list(dict.fromkeys(k[0] for k in curves)).index(n))
    for i, name in enumerate(names):
        colour = COLOURS[i % len(COLOURS)]
        for probe, dash in ((1.0, ""), (0.0, ' stroke-dasharray="5,4"')):
            pts = lines.get((name, probe))
            if not pts:
                continue
            poly = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in [(0.0, 0.0)] + pts)
            parts.append(f'<polyline points="{poly}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{pad + 10}" y="{pad + 18 + 16 * i}" font-size="12" fill="{colour}">{name}</text>')
    parts.append(f'<text x="{pad + 10}" y="{pad + 18 + 16 * len(names)}" font-size="11" fill="#555">'
                 f'solid: readiness probe every 1 s; dashed: ideal probe</text>')
    parts.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(parts))


def selftest():
    # Ready times: a probe every second rounds a cold start up to the next whole second.
    assert ready_after(0.25, 1.0) == 1.0 and ready_after(1.0, 1.0) == 1.0 and ready_after(1.2, 1.0) == 2.0
    assert ready_after(0.25, 0.0) == 0.25
    # One quiet request: activation + pod start + ready + one request's service time.
    r = simulate(0.3, 100.0, 0.2, probe_period=0.0)
    assert abs(r["first_answer_s"] - (ACTIVATION_S + POD_START_S + 0.3 + 0.02)) < 1e-9, r["first_answer_s"]
    r = simulate(0.3, 100.0, 0.2, probe_period=1.0)
    assert abs(r["first_answer_s"] - (ACTIVATION_S + POD_START_S + 1.0 + 0.02)) < 1e-9, r["first_answer_s"]
    # A burst of 400 req/s on 100 req/s replicas: one replica until the first sync at
    # 16 s; then 5 (+4), ready one pod start + cold start later; never more served than arrived.
    r = simulate(0.3, 100.0, 400.0, probe_period=0.0)
    s = r["series"]
    assert all(served <= arrived + 1e-9 for _, arrived, served, _ in s)
    at = lambda t: next(row for row in s if row[0] >= t - 1e-9)
    assert at(2.2)[3] == 0 and at(2.4)[3] == 1, (at(2.2), at(2.4))
    assert at(17.2)[3] == 1 and at(17.4)[3] == 5, (at(17.2), at(17.4))
    # In the first 30 s: 1 replica for 30 − 2.3 s, 4 more for 30 − 17.3 s.
    want = 100 * (30 - 2.3) + 400 * (30 - 17.3)
    assert abs(r["figures"]["served_30s"] - want) < 5, (r["figures"]["served_30s"], want)
    print("scale_from_zero selftest: ok (ready rounding, first answer, burst replicas, served in 30 s)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--cold-start", type=float, nargs=2, metavar=("SPINFER_S", "PEER_S"))
    ap.add_argument("--capacity", type=float, nargs=2, metavar=("SPINFER_RPS", "PEER_RPS"))
    ap.add_argument("--svg", default="scale_from_zero.svg")
    a = ap.parse_args()
    if a.selftest:
        selftest()
    elif a.cold_start and a.capacity:
        out = report({"spinfer": (a.cold_start[0], a.capacity[0]), "peer": (a.cold_start[1], a.capacity[1])}, a.svg)
        print("\n".join(out["lines"]))
    else:
        ap.error("--selftest, or --cold-start and --capacity (loadtest/report.py scale feeds the measured ones)")
