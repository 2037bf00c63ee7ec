#!/usr/bin/env python3
"""hpa_sim.py — replay a load profile through a model of the Kubernetes HPA (autoscaling/v2).

The model follows the controller's documented algorithm:
  * a sync every 15 s; desired = ceil(current * usage / target), skipped within ±10 %;
  * utilisation = a pod's CPU use over the last 15 s / its CPU request, ready pods only;
    on scale-up, pods not yet ready count as 0 % (and the decision is dropped if that
    flips its direction); pods start serving `--start-delay` seconds after creation;
  * behaviour: scale-up/scale-down stabilisation windows (the max / min recommendation
    over the window) and rate policies (Percent / Pods per period, selectPolicy Max);
  * min/max replicas;
  * the metrics pipeline: the HPA sees CPU through metrics-server, which scrapes the
    kubelet every `--metrics-lag` seconds (15 s by default, its resolution), so each
    decision acts on usage that old — a real cluster's steps came 16–21 s after an
    instant-metrics model's (issue #21);
  * readiness: a pod serves `--start-delay` seconds after it is created (sandbox,
    container start and the readiness probe that marks it Ready);
  * node capacity: pods whose CPU requests do not fit `--node-cpu` stay Pending.
Pods serve at most cpu_limit / cpu_seconds_per_request requests per second; demand above
the ready pods' capacity is not served. `--selftest` checks the model against SpinKube's
HPA tutorial (1 → 4 → 8 → 10 replicas in 15 s steps).
Writes hpa_timeline.csv and hpa_timeline.svg (load, replicas and served fraction over
time, for "1 replica, no autoscaling" and "HPA"), and prints the milestones.
"""
import argparse
import csv
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))


class Policy:
    def __init__(self, kind, value, period):
        self.kind, self.value, self.period = kind, value, period


class Behavior:
    def __init__(self, up_window, up_policies, down_window, down_policies):
        self.up_window, self.up_policies = up_window, up_policies
        self.down_window, self.down_policies = down_window, down_policies


# The HPA in k8s/overlays/hpa/hpa.yaml.
SPINFER = Behavior(0, [Policy("Percent", 100, 15), Policy("Pods", 4, 15)], 60, [Policy("Percent", 50, 15)])
# Kubernetes' default behaviour (what SpinKube's tutorial HPA runs with).
DEFAULT = Behavior(0, [Policy("Percent", 100, 15), Policy("Pods", 4, 15)], 300, [Policy("Percent", 100, 15)])


class Pod:
    def __init__(self, created, start_delay, scheduled=True):
        self.ready_at = created + start_delay if scheduled else math.inf  # Pending: never
        self.usage = []  # (t, cpu cores used) per second once ready

    def ready(self, t):
        return t >= self.ready_at

    def utilisation(self, t, request, window=15, lag=0):
        """Mean use over the `window` seconds metrics-server last reported, `lag` s ago."""
        seen = t - lag
        recent = [u for (s, u) in self.usage if seen - window < s <= seen]
        return (sum(recent) / len(recent)) / request if recent else None


class Hpa:
    def __init__(self, minr, maxr, target, behavior, tolerance=0.1, period=15, lag=0):
        self.min, self.max, self.target, self.b = minr, maxr, target, behavior
        self.tol, self.period, self.lag = tolerance, period, lag
        self.phase = 0  # seconds between the load's start and the sync before it
        self.recommendations = []  # (t, desired)
        self.history = []  # (t, replicas) after each decision

    def replicas_at(self, t, current):
        past = [r for (s, r) in self.history if s <= t]
        return past[-1] if past else current

    def decide(self, t, pods, request):
        current = len(pods)
        ready = [p for p in pods if p.ready(t) and p.utilisation(t, request, lag=self.lag) is not None]
        unready = [p for p in pods if p not in ready]
        if not ready:
            return current
        # As the controller does: integer millicores, utilisation as an integer percent of
        # the summed requests, target as an integer percent.
        usage_m = sum(round(p.utilisation(t, request, lag=self.lag) * request * 1000) for p in ready)
        request_m = round(request * 1000)
        target_pct = round(self.target * 100)
        ratio = (usage_m * 100 // (request_m * len(ready))) / target_pct
        counted = len(ready)
        if ratio > 1.0 and unready:  # scale-up: unready pods are taken as using nothing
            new_ratio = (usage_m * 100 // (request_m * (len(ready) + len(unready)))) / target_pct
            ratio = new_ratio if new_ratio > 1.0 else 1.0
            counted = len(ready) + len(unready)
        desired = current if abs(ratio - 1.0) <= self.tol else math.ceil(ratio * counted)
        self.recommendations.append((t, desired))
        if desired > current:
            window = [d for (s, d) in self.recommendations if s > t - self.b.up_window] or [desired]
            desired = min(window)
            limits = [self.limit(p, t, current, up=True) for p in self.b.up_policies]
            desired = min(desired, max(limits))
        elif desired < current:
            window = [d for (s, d) in self.recommendations if s > t - self.b.down_window] or [desired]
            desired = max(window)
            limits = [self.limit(p, t, current, up=False) for p in self.b.down_policies]
            desired = max(desired, min(limits))
        desired = max(self.min, min(self.max, desired))
        self.history.append((t, desired))
        return desired

    def limit(self, policy, t, current, up):
        base = self.replicas_at(t - policy.period, current)
        if policy.kind == "Pods":
            return base + policy.value if up else base - policy.value
        change = base * policy.value / 100
        return math.ceil(base + change) if up else math.floor(base - change)


def simulate(load, cpu_per_req, request, limit, start_delay, hpa=None, replicas=1, node_cpu=math.inf):
    """load: demand (req/s) per second. Returns rows of (t, load, replicas, ready, served).
    Pods beyond `node_cpu` / `request` never get a node (Pending)."""
    fits = int(node_cpu // request + 1e-9) if node_cpu != math.inf else 10**9
    pods = [Pod(-60, start_delay) for _ in range(replicas)]
    rows = []
    for t, demand in enumerate(load):
        ready = [p for p in pods if p.ready(t)]
        capacity = len(ready) * limit / cpu_per_req
        served = min(demand, capacity)
        for p in ready:
            p.usage.append((t, served / len(ready) * cpu_per_req))
        rows.append((t, demand, len(pods), len(ready), served / demand if demand else 1.0))
        if hpa and t > 0 and (t - hpa.phase) % hpa.period == 0:
            desired = hpa.decide(t, pods, request)
            if desired > len(pods):
                pods += [Pod(t, start_delay, scheduled=i < fits) for i in range(len(pods), desired)]
            elif desired < len(pods):  # Pending pods go first, then the youngest
                pods = sorted(pods, key=lambda p: p.ready_at)[: desired]
    return rows


def profile(peak, ramp=60, plateau=180, idle=240, warm=30, base=1.0):
    return ([base] * warm + [base + (peak - base) * (i + 1) / ramp for i in range(ramp)]
            + [peak] * plateau + [0.0] * idle)


def selftest():
    """SpinKube's HPA tutorial: bombardier -c 40 for 3 min, target 50 %, max 10, requests
    100m / limits 200m (a saturated pod runs at 200 % of its request)."""
    hpa = Hpa(1, 10, 0.5, DEFAULT)
    rows = simulate([1000.0] * 180, 0.01, request=0.1, limit=0.2, start_delay=2, hpa=hpa)
    steps = [rows[0][2]] + [r for (_, r) in hpa.history]
    seq = []
    for r in steps:
        if not seq or seq[-1] != r:
            seq.append(r)
    assert seq == [1, 4, 8, 10], seq
    times = [t for (t, r), prev in zip(hpa.history, [1] + [r for _, r in hpa.history]) if r != prev]
    assert times == [15, 30, 45], times
    print(f"[hpa] selftest: tutorial sequence {' -> '.join(map(str, seq))} at t = {', '.join(map(str, times))} s: OK")


def svg(rows_a, rows_b, path, title):
    w, h, pad = 900, 520, 50
    tmax = len(rows_a)
    lmax = max(r[1] for r in rows_a) * 1.1
    rmax = max(max(r[2] for r in rows_b), 1) + 1
    x = lambda t: pad + (w - 2 * pad) * t / tmax

    def panel(y0, ph, series, ymax, label):
        out = [f'<text x="{pad}" y="{y0 - 6}" font-size="13">{label}</text>',
               f'<rect x="{pad}" y="{y0}" width="{w - 2 * pad}" height="{ph}" fill="none" stroke="#bbb"/>']
        for values, colour, name in series:
            pts = " ".join(f"{x(t):.1f},{y0 + ph - ph * v / ymax:.1f}" for t, v in enumerate(values))
            out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"><title>{name}</title></polyline>')
        return out

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">',
             f'<rect width="{w}" height="{h}" fill="white"/><text x="{pad}" y="24" font-size="16">{title}</text>']
    parts += panel(50, 110, [([r[1] for r in rows_a], "#555", "load")], lmax, f"load (req/s, peak {max(r[1] for r in rows_a):.0f})")
    parts += panel(195, 130, [([r[2] for r in rows_a], "#d62728", "1 replica"), ([r[2] for r in rows_b], "#1f77b4", "HPA replicas"),
                              ([r[3] for r in rows_b], "#17becf", "HPA ready")], rmax, f"replicas (red: no autoscaling; blue: HPA, cyan: ready; max {rmax - 1})")
    parts += panel(365, 110, [([r[4] for r in rows_a], "#d62728", "served, 1 replica"), ([r[4] for r in rows_b], "#1f77b4", "served, HPA")], 1.05,
                   "served fraction of demand (red: 1 replica, blue: HPA)")
    for t in range(0, tmax + 1, 60):
        parts.append(f'<text x="{x(t):.0f}" y="{h - 20}" font-size="11" text-anchor="middle">{t}s</text>')
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--peak", type=float, default=50.0, help="peak demand, req/s")
    ap.add_argument("--request", type=float, default=1.0, help="classify CPU request (cores)")
    ap.add_argument("--limit", type=float, default=2.0, help="classify CPU limit (cores)")
    ap.add_argument("--start-delay", type=float, default=2.0,
                    help="seconds from pod creation to Ready: 2 with the overlays' probes (readiness period 1 s, "
                         "a warm shim serves in ~0.2 s; make test-cri); 6.5 with the old initialDelay 2 + period 5")
    ap.add_argument("--metrics-lag", type=float, default=15.0,
                    help="age of the CPU figures the HPA acts on (metrics-server resolution, 15 s)")
    ap.add_argument("--max-replicas", type=int, default=10, help="the HPA's maxReplicas")
    ap.add_argument("--node-cpu", type=float, default=math.inf,
                    help="CPU the node(s) can give these pods' requests; pods beyond it stay Pending")
    ap.add_argument("--measured", default="cpu_per_request.json",
                    help="the CPU-per-request figure to replay (beside this script): cpu_per_request.json "
                         "(portable classify, measure_cpu.py) or cpu_per_request.spinfer-shim.json "
                         "(the spinfer shim under containerd, make test-containerd)")
    ap.add_argument("--step", type=float, metavar="RPS",
                    help="instead of the ramp: RPS from t=0 for 3 min, then idle, syncs --sync-phase s after the "
                         "load starts; prints when each scaling step lands (compare with a cluster's timeline)")
    ap.add_argument("--sync-phase", type=int, default=5, help="with --step: first HPA sync at this many s after the load")
    ap.add_argument("--out", default="hpa_timeline", help="output name (beside this script): NAME.csv, NAME.svg")
    args = ap.parse_args()
    selftest()
    if args.selftest:
        return
    measured = json.load(open(os.path.join(HERE, args.measured)))
    cpu = measured["cpu_seconds_per_request"]
    if args.step:
        return step_timeline(args, cpu)
    load = profile(args.peak)
    fixed = simulate(load, cpu, args.request, args.limit, args.start_delay, replicas=1)
    hpa = Hpa(1, args.max_replicas, 0.6, SPINFER, lag=args.metrics_lag)
    scaled = simulate(load, cpu, args.request, args.limit, args.start_delay, hpa=hpa, node_cpu=args.node_cpu)
    with open(os.path.join(HERE, args.out + ".csv"), "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["t_s", "demand_rps", "replicas_fixed", "served_fraction_fixed", "replicas_hpa", "ready_hpa", "served_fraction_hpa"])
        for a, b in zip(fixed, scaled):
            wr.writerow([a[0], round(a[1], 2), a[2], round(a[4], 3), b[2], b[3], round(b[4], 3)])
    svg(fixed, scaled, os.path.join(HERE, args.out + ".svg"),
        f"classify under a {args.peak:.0f} req/s ramp: {cpu * 1000:.1f} ms CPU/request, request {args.request} / limit {args.limit} CPU, target 60 %")
    # Replicas at which the HPA is content: utilisation within its 10 % tolerance of 60 %,
    # bounded by maxReplicas and by what fits the node.
    needed = math.ceil(args.peak * cpu / (args.request * 0.6 * 1.1))
    fits = int(args.node_cpu // args.request + 1e-9) if args.node_cpu != math.inf else args.max_replicas
    reachable = min(needed, args.max_replicas, fits)
    ramp_start, ramp_end, idle_start = 30, 90, 270
    reach = next((r[0] for r in scaled if r[0] >= ramp_start and r[3] >= reachable), None)
    back = next((r[0] for r in scaled if r[0] >= idle_start and r[2] == 1), None)
    served = lambda rows: sum(r[1] * r[4] for r in rows) / sum(r[1] for r in rows)
    print(f"[hpa] measured {cpu * 1000:.1f} ms CPU per request ({measured['image']}, {measured['measured']})")
    why = []
    if needed > args.max_replicas:
        why.append(f"capped by maxReplicas {args.max_replicas}")
    if needed > fits:
        why.append(f"{fits} fit the node's {args.node_cpu:g} CPU")
    print(f"[hpa] replicas needed at {args.peak:.0f} req/s (60 % of {args.request} CPU, within the 10 % tolerance): "
          f"{needed}{' (' + '; '.join(why) + ')' if why else ''}")
    print(f"[hpa] HPA: {reachable} ready replicas at t={reach}s ({reach - ramp_end if reach else '?'} s after the ramp ends, "
          f"{reach - ramp_start if reach else '?'} s after it starts); most ever ready "
          f"{max(r[3] for r in scaled)}, desired {max(r[2] for r in scaled)}; back to 1 replica at t={back}s "
          f"({back - idle_start if back else '?'} s idle); metrics lag {args.metrics_lag:g} s, pod Ready after "
          f"{args.start_delay:g} s")
    print(f"[hpa] demand served over the run: 1 replica {served(fixed) * 100:.1f} %, HPA {served(scaled) * 100:.1f} %; "
          f"at the plateau: 1 replica {min(r[4] for r in fixed[ramp_end:idle_start]) * 100:.1f} %, HPA {scaled[idle_start - 1][4] * 100:.1f} %")


def step_timeline(args, cpu, busy=180, idle=240):
    """A step load, as a load generator started at t=0 makes it: desired-replica steps and
    the scale-down, to set beside a cluster's own timeline."""
    hpa = Hpa(1, args.max_replicas, 0.6, SPINFER, lag=args.metrics_lag)
    hpa.phase = args.sync_phase % hpa.period
    rows = simulate([args.step] * busy + [0.0] * idle, cpu, args.request, args.limit, args.start_delay, hpa=hpa,
                    node_cpu=args.node_cpu)
    steps, prev = [], 1
    for t, r in hpa.history:
        if r != prev and t < busy:
            steps.append(f"{prev}→{r} at +{t} s")
        prev = r
    back = next((r[0] for r in rows if r[0] >= busy and r[2] == 1), None)
    print(f"[hpa] step {args.step:g} req/s, {cpu * 1000:.1f} ms CPU/request, request {args.request} CPU, max "
          f"{args.max_replicas}, node {args.node_cpu:g} CPU, metrics lag {args.metrics_lag:g} s, Ready after "
          f"{args.start_delay:g} s: desired {', '.join(steps) or 'no change'}; most ever ready "
          f"{max(r[3] for r in rows)}; back to 1 at +{back - busy if back else '?'} s after the load stops")


if __name__ == "__main__":
    main()
