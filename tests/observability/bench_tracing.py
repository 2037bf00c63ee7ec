#!/usr/bin/env python3
"""What tracing costs a request (`make bench`): /api/classify p50 on one spinfer with no
OTLP endpoint (the baseline), one exporting to a live loopback receiver, one whose endpoint
refuses connections, and one whose endpoint accepts and never answers (the exporter then
waits out its timeout while the queue fills and drops). The four run at once and are
measured interleaved — round by round, the same requests in turn — so the shared machine's
noise falls on all alike; prints each p50 and its ratio to the baseline.

    .venv/bin/python tests/observability/bench_tracing.py [ROUNDS] [PER_ROUND]
"""
import os
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)
from otlp import Receiver, metrics_addr, scrape, total  # noqa: E402
from spinfer_proc import ROOT, Spinfer, request  # noqa: E402

with open(os.path.join(ROOT, "tests", "data", "images", "grace_hopper.jpg"), "rb") as _f:
    IMAGE = _f.read()


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    per_round = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(1024)  # accepted by the kernel, never read or answered
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    with Receiver() as receiver:
        setups = {
            "no endpoint": {},
            "live receiver": {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint},
            "refusing endpoint": {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{refused.getsockname()[1]}"},
            "silent endpoint": {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{blackhole.getsockname()[1]}"},
        }
        servers = {name: Spinfer("-f", "spin.toml", "--admin-listen", "127.0.0.1:0",
                                 env={**env, "OTEL_BSP_SCHEDULE_DELAY": "1000", "OTEL_BSP_MAX_QUEUE_SIZE": "256"}) for name, env in setups.items()}
        for s in servers.values():
            s.__enter__()
        try:
            times = {name: [] for name in servers}
            for name, s in servers.items():  # warm each: sessions, instance slots
                for _ in range(5):
                    request(s.addr, "POST", "/api/classify?top=1", IMAGE)
            for _ in range(rounds):
                for name, s in servers.items():
                    for _ in range(per_round):
                        t = time.perf_counter()
                        status, _, _ = request(s.addr, "POST", "/api/classify?top=1", IMAGE)
                        times[name].append(time.perf_counter() - t)
                        assert status == 200, (name, status)
            counters = {name: scrape(metrics_addr(s)) for name, s in servers.items()}
        finally:
            for s in servers.values():
                s.__exit__(None, None, None)
    base = statistics.median(times["no endpoint"])
    print(f"/api/classify p50, {rounds} interleaved rounds × {per_round} requests per server "
          f"({len(IMAGE)} B JPEG, 1 client):")
    for name, t in times.items():
        m = counters[name]
        spans = (f"spans exported {total(m, 'spinfer_trace_spans_exported_total'):.0f}, dropped "
                 f"{total(m, 'spinfer_trace_spans_dropped_total'):.0f}, failed batches "
                 f"{total(m, 'spinfer_trace_export_errors_total'):.0f}")
        p50 = statistics.median(t)
        print(f"  {name:18} p50 {p50 * 1e3:7.2f} ms  ratio {p50 / base:.3f}  ({spans})")


if __name__ == "__main__":
    main()
