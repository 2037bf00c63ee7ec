#!/usr/bin/env python3
"""A real Prometheus (Debian's `prometheus`) scraping a running `spinfer up` every second,
with k8s/monitoring/spinfer-rules.yml loaded (`make test-prometheus`, opt-in: ~1 minute).

After a known load — N requests to /api/classify from 2 clients — PromQL must give back:
* the request count and rate: `spinfer_requests_total` = N + the warm-up, and
  `increase(...)` over the load ≈ N;
* a p99 from the latency histogram (`histogram_quantile` on
  `spinfer_request_duration_seconds_bucket`) in the bucket the clients' own p99 falls in
  (or the one below: the server's clock stops at the response head);
* CPU per request (`spinfer:request_cpu_seconds:mean5m`, the shipped recording rule) equal,
  per component, to the mean the host's own /metrics gives (within 5 %);
and the alerting rules load, healthy, none firing.

    .venv/bin/python tests/observability/test_prometheus.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)
from otlp import metrics_addr, scrape, total  # noqa: E402
from spinfer_proc import ROOT, Spinfer, free_port, request, stop  # noqa: E402

RULES = os.path.join(ROOT, "k8s", "monitoring", "spinfer-rules.yml")
with open(os.path.join(ROOT, "tests", "data", "images", "grace_hopper.jpg"), "rb") as _f:
    IMAGE = _f.read()
BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, float("inf")]
N = 300


def promql(base, query):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as r:
        answer = json.load(r)
    assert answer["status"] == "success", answer
    return {tuple(sorted(x["metric"].items())): float(x["value"][1]) for x in answer["data"]["result"]}


def one(base, query):
    result = promql(base, query)
    assert len(result) == 1, (query, result)
    value = next(iter(result.values()))
    print(f"  {query}\n    = {value:.6g}")
    return value


def bucket(seconds):
    return next(i for i, b in enumerate(BUCKETS) if seconds <= b)


def wait_scrapes(base, maddr, n=3):
    """Wait until Prometheus has scraped `n` more times (the `up` series' timestamps)."""
    first = promql(base, "timestamp(up)")
    t0 = next(iter(first.values())) if first else 0
    deadline = time.time() + 30
    while time.time() < deadline:
        r = promql(base, "timestamp(up)")
        if r and next(iter(r.values())) >= t0 + n - 0.5:
            return
        time.sleep(0.25)
    raise AssertionError(f"Prometheus did not scrape {maddr}")


def main():
    prometheus = shutil.which("prometheus")
    if not prometheus:
        sys.exit("no prometheus on PATH: `make test-prometheus` installs Debian's (scripts/setup.sh --prometheus)")
    work = tempfile.mkdtemp(prefix="spinfer-prometheus-")
    started = time.time()
    try:
        with Spinfer("-f", "spin.toml", "--admin-listen", "127.0.0.1:0") as s:
            maddr = metrics_addr(s)
            port = free_port()
            config = os.path.join(work, "prometheus.yml")
            with open(config, "w") as f:
                f.write(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{RULES}]
scrape_configs:
  - job_name: spinfer
    static_configs: [{{targets: ["{maddr}"]}}]
""")
            proc = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={work}/data",
                                     f"--web.listen-address=127.0.0.1:{port}"],
                                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "log"), "w"))
            base = f"http://127.0.0.1:{port}"
            try:
                for _ in range(200):
                    try:
                        urllib.request.urlopen(f"{base}/-/ready", timeout=1)
                        break
                    except OSError:
                        time.sleep(0.1)
                assert request(s.addr, "POST", "/api/classify?top=1", IMAGE)[0] == 200  # the series exist
                wait_scrapes(base, maddr)
                assert one(base, 'up{job="spinfer"}') == 1
                load_started = time.time()
                latencies = run_load(s.addr)
                load_seconds = time.time() - load_started
                time.sleep(1)
                wait_scrapes(base, maddr)
                window = int(time.time() - load_started) + 2
                check(base, maddr, latencies, load_seconds, window)
            finally:
                stop(proc, 10)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"test-prometheus: passed in {time.time() - started:.0f} s")


def run_load(addr):
    latencies, lock, left = [], threading.Lock(), [N]

    def worker():
        while True:
            with lock:
                if not left[0]:
                    return
                left[0] -= 1
            t = time.perf_counter()
            status, _, _ = request(addr, "POST", "/api/classify?top=1", IMAGE)
            assert status == 200
            with lock:
                latencies.append(time.perf_counter() - t)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return sorted(latencies)


def check(base, maddr, latencies, load_seconds, window):
    sel = 'component="frontend",status="200"'
    print(f"PromQL after {N} requests in {load_seconds:.1f} s ({N / load_seconds:.2f}/s):")
    assert one(base, f"spinfer_requests_total{{{sel}}}") == N + 1
    increase = one(base, f"sum(increase(spinfer_requests_total{{{sel}}}[{window}s]))")
    assert 0.8 * N <= increase <= 1.3 * N, increase
    rate = one(base, f"sum(rate(spinfer_requests_total{{{sel}}}[{window}s]))")
    assert 0.8 * N / window <= rate <= 1.3 * N / window, rate
    p99 = one(base, 'histogram_quantile(0.99, sum by (le) '
                    f'(increase(spinfer_request_duration_seconds_bucket{{component="frontend"}}[{window}s])))')
    client_p99 = latencies[int(0.99 * (len(latencies) - 1))]
    print(f"    clients' p99 {client_p99:.4f} s")
    assert bucket(p99) in (bucket(client_p99), bucket(client_p99) - 1), (p99, client_p99)
    m = scrape(maddr)
    for component in ("frontend", "classify"):
        recorded = one(base, f'spinfer:request_cpu_seconds:mean5m{{component="{component}",model="mobilenetv2"}}')
        own = (total(m, "spinfer_request_cpu_seconds_sum", component=component, model="mobilenetv2")
               / total(m, "spinfer_request_cpu_seconds_count", component=component, model="mobilenetv2"))
        print(f"    /metrics' own mean for {component}: {own * 1e3:.3f} ms")
        assert abs(recorded / own - 1) < 0.05, (component, recorded, own)
    for rule in ("spinfer:request_errors:ratio_rate5m", "spinfer:responses_503:rate5m"):
        assert one(base, f'{rule}{{component="frontend"}}') == 0, rule
    with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=10) as r:
        groups = json.load(r)["data"]["groups"]
    alerts = [rule for g in groups for rule in g["rules"] if rule["type"] == "alerting"]
    # Loaded and healthy, and none firing (`for:` keeps a busy machine's slow minute pending).
    assert len(alerts) == 4 and all(a["health"] == "ok" and a["state"] != "firing" for a in alerts), alerts
    print(f"  alerting rules: {', '.join(a['name'] + ' ' + a['state'] for a in alerts)}")


if __name__ == "__main__":
    main()
