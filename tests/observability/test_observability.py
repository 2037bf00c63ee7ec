#!/usr/bin/env python3
"""What an operator sees of spinfer, checked the way their tools see it (`make test`):

* /metrics parsed by the Prometheus project's OpenMetrics parser: today's series and the
  per-model, per-component ones after real requests;
* CPU metering: a known load through /classify, then through /api/classify (frontend →
  classify), the per-request CPU the host meters (guest + wasi-nn, summed over components)
  against the process CPU time /proc reports over the same interval — within 10 %; and
  classify's share per request the same whether called directly or chained;
* traces: one /api/classify with a client `traceparent` sent to a loopback OTLP/HTTP
  receiver that decodes the real protobuf: client parent → request → frontend → the
  chained call → classify → wasi-nn compute, one trace id, model/status/CPU attributes,
  the access log line carrying the trace id;
* a dead collector: every request still answered, the failed exports counted;
* connection closes (cap, idle, header timeout) and admission rejections (queue full)
  counted by reason, one for one with what the clients saw.

    .venv/bin/python tests/observability/test_observability.py [-v]
"""
import json
import os
import socket
import re
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)
from otlp import Receiver, attr, load, metrics_addr, proc_cpu_seconds, scrape, total  # noqa: E402
from spinfer_proc import ROOT, Spinfer, request  # noqa: E402

with open(os.path.join(ROOT, "tests", "data", "images", "grace_hopper.jpg"), "rb") as _f:
    IMAGE = _f.read()
ADMIN = ("--admin-listen", "127.0.0.1:0")
JSON_LOG = ("--log-format", "json")
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def settle(maddr, component, count, timeout=10):
    """Scrape until `count` requests of `component` have finished (their per-request
    series are written when the last byte and the last instance are done)."""
    deadline = time.time() + timeout
    while True:
        m = scrape(maddr)
        if total(m, "spinfer_request_cpu_seconds_count", component=component) >= count or time.time() > deadline:
            return m
        time.sleep(0.05)


def access_log(server):
    """The `request` lines of a spinfer started with `--log-format json` and RUST_LOG=info."""
    out = []
    for line in server.lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("fields", {}).get("message") == "request":
            out.append(entry["fields"])
    return out


def cpu_by_component(m):
    return {c: total(m, "spinfer_cpu_seconds_total", component=c) for c in ("frontend", "classify")}


class Metrics(unittest.TestCase):
    def test_openmetrics_with_per_model_and_component_series(self):
        with Spinfer("-f", "spin.toml", *ADMIN, *JSON_LOG, env={"RUST_LOG": "info"}) as s:
            maddr = metrics_addr(s)
            status, _, _ = request(s.addr, "POST", "/api/classify?top=1", IMAGE)
            self.assertEqual(status, 200)
            self.assertEqual(request(s.addr, "POST", "/classify?top=1", b"not an image")[0], 400)
            m = settle(maddr, "frontend", 1)
            self.assertEqual(total(m, "spinfer_requests_total", component="frontend", status="200"), 1)
            self.assertEqual(total(m, "spinfer_requests_total", component="classify", status="200"), 1)
            self.assertEqual(total(m, "spinfer_requests_total", component="classify", status="400"), 1)
            self.assertEqual(total(m, "spinfer_inference_duration_seconds_count", model="mobilenetv2"), 1)
            for name in ("spinfer_queue_wait_seconds_count", "spinfer_component_duration_seconds_count",
                         "spinfer_wasi_nn_compute_seconds_count", "spinfer_request_body_bytes_count",
                         "spinfer_response_body_bytes_count", "spinfer_request_cpu_seconds_count"):
                for component in ("frontend", "classify"):
                    self.assertEqual(total(m, name, component=component, model="mobilenetv2"), 1, (name, component))
            # The bad image computed nothing: its classify request counts under model "none".
            self.assertEqual(total(m, "spinfer_request_cpu_seconds_count", component="classify", model="none"), 1)
            self.assertEqual(total(m, "spinfer_request_body_bytes_sum", component="frontend"), len(IMAGE))
            self.assertEqual(total(m, "spinfer_request_body_bytes_sum", component="classify", model="mobilenetv2"), len(IMAGE))
            self.assertGreater(total(m, "spinfer_wasi_nn_compute_seconds_sum", component="classify"), 0)
            self.assertEqual(total(m, "spinfer_wasi_nn_compute_seconds_sum", component="frontend"), 0)
            self.assertEqual(total(m, "spinfer_instances_started_total", component="classify"), 2)
            self.assertEqual(total(m, "spinfer_instances"), 0)
            log = [e for e in access_log(s) if e["path"] == "/api/classify"]
        self.assertEqual(len(log), 1, s.lines[-5:])
        entry = log[0]
        self.assertEqual((entry["component"], entry["status"], entry["model"]), ("frontend", 200, "mobilenetv2"))
        self.assertEqual(entry["request_bytes"], 2 * len(IMAGE))
        parts = dict(p.split("=") for p in entry["cpu_by_component"].split(","))
        self.assertEqual(set(parts), {"frontend", "classify"})
        self.assertAlmostEqual(sum(float(v) for v in parts.values()), entry["cpu_ms"], delta=0.01)


class CpuMetering(unittest.TestCase):
    """The host's per-request CPU against /proc: within 10 % per load, and classify's
    share per request the same directly and chained. The two loads are interleaved in
    chunks so that the shared machine's noise falls on both alike."""

    ROUNDS, CHUNK = 4, 20

    def chunk(self, s, maddr, path, component, sums):
        before_m = settle(maddr, component, 0)
        count0 = total(before_m, "spinfer_request_cpu_seconds_count", component=component)
        before = proc_cpu_seconds(s.pid())
        load(s.addr, path, IMAGE, self.CHUNK)
        # /proc first: the scrapes that wait for the last records cost the process CPU too.
        after = proc_cpu_seconds(s.pid())
        after_m = settle(maddr, component, count0 + self.CHUNK)
        sums["proc"] += after - before
        for c, v in cpu_by_component(after_m).items():
            sums[c] += v - cpu_by_component(before_m)[c]

    def test_metered_cpu_matches_proc(self):
        direct = {"proc": 0.0, "frontend": 0.0, "classify": 0.0}
        chained = dict(direct)
        with Spinfer("-f", "spin.toml", *ADMIN) as s:
            maddr = metrics_addr(s)
            load(s.addr, "/api/classify?top=1", IMAGE, 8)  # warm: every session and instance slot
            settle(maddr, "frontend", 8)
            for _ in range(self.ROUNDS):
                self.chunk(s, maddr, "/classify?top=1", "classify", direct)
                self.chunk(s, maddr, "/api/classify?top=1", "frontend", chained)
        n = self.ROUNDS * self.CHUNK
        direct_sum, chained_sum = direct["frontend"] + direct["classify"], chained["frontend"] + chained["classify"]
        per = lambda v: v / n * 1e3  # noqa: E731
        print(f"\n  /classify ×{n}: metered {direct_sum:.3f} s (classify {per(direct['classify']):.2f} ms/request) "
              f"vs /proc {direct['proc']:.3f} s: ratio {direct_sum / direct['proc']:.3f}")
        print(f"  /api/classify ×{n}: metered {chained_sum:.3f} s (frontend {per(chained['frontend']):.2f} + "
              f"classify {per(chained['classify']):.2f} ms/request) vs /proc {chained['proc']:.3f} s: "
              f"ratio {chained_sum / chained['proc']:.3f}")
        self.assertEqual(direct["frontend"], 0)
        self.assertAlmostEqual(direct_sum / direct["proc"], 1, delta=0.10)
        self.assertAlmostEqual(chained_sum / chained["proc"], 1, delta=0.10)
        self.assertGreater(chained["frontend"], 0)
        # Chained, classify's CPU is charged to classify, not to the frontend that called
        # it: the frontend only forwards (~0.6 ms of ~12 ms per request here) ...
        self.assertGreater(chained["classify"], 5 * chained["frontend"])
        # ... and classify costs what it costs when called directly. Not an accuracy
        # bound (the two ratios to /proc above are): the same work measured in two series
        # differs by what the machine does meanwhile (0.85-1.12x seen in 25 runs on the
        # 2-core VM), while a misattributed or doubly charged chain is off by ~2x.
        self.assertAlmostEqual(chained["classify"] / direct["classify"], 1, delta=0.25)


class Refusals(unittest.TestCase):
    """Connection closes and admission rejections, counted by reason."""

    def test_connection_closes_by_reason(self):
        limits = ("--header-timeout-ms", "300", "--idle-timeout-ms", "600", "--max-connections", "3")
        with Spinfer("-f", "spin.toml", *ADMIN, *limits) as s:
            host, port = s.addr.rsplit(":", 1)
            held = [socket.create_connection((host, int(port))) for _ in range(3)]
            time.sleep(0.1)
            over = socket.create_connection((host, int(port)))
            over.sendall(b"GET /.well-known/spin/health HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b" 503 ", over.recv(4096))
            time.sleep(1.0)  # the three held connections go idle and are closed
            slow = socket.create_connection((host, int(port)))
            slow.sendall(b"GET /home HTTP/1.1\r\nHost: x")  # headers never finished
            time.sleep(1.0)
            m = scrape(metrics_addr(s))
            for c in held + [over, slow]:
                c.close()
        self.assertEqual(total(m, "spinfer_connections_closed_total", reason="cap"), 1)
        self.assertEqual(total(m, "spinfer_connections_closed_total", reason="idle"), 3)
        self.assertEqual(total(m, "spinfer_connections_closed_total", reason="header_timeout"), 1)

    def test_admission_rejections_by_reason(self):
        with Spinfer("-f", "spin.toml", *ADMIN, "--max-concurrency", "1", "--max-queue", "0") as s:
            statuses, lock = [], threading.Lock()

            def client():
                for _ in range(4):
                    status = request(s.addr, "POST", "/classify?top=1", IMAGE)[0]
                    with lock:
                        statuses.append(status)

            threads = [threading.Thread(target=client) for _ in range(4)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            m = scrape(metrics_addr(s))
        refused = statuses.count(503)
        self.assertGreater(refused, 0, statuses)
        self.assertEqual(statuses.count(200) + refused, 16)
        self.assertEqual(total(m, "spinfer_admission_rejections_total", component="classify", reason="queue_full"), refused)
        self.assertEqual(total(m, "spinfer_rejected_total"), refused)


class Traces(unittest.TestCase):
    def test_span_tree_of_one_chained_request(self):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": None, "OTEL_BSP_SCHEDULE_DELAY": "100",
               "OTEL_SERVICE_NAME": "spinfer-test", "RUST_LOG": "info"}
        with Receiver() as r:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = r.endpoint
            with Spinfer("-f", "spin.toml", *ADMIN, *JSON_LOG, env=env) as s:
                headers = {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"}
                status, _, body = request(s.addr, "POST", "/api/classify?top=1", IMAGE, headers)
                self.assertEqual(status, 200, body)
                spans = r.wait_for(lambda sp: any(x.name == "POST /api/classify" for _, x in sp))
                m = scrape(metrics_addr(s))
                time.sleep(0.2)
                log = [e for e in access_log(s) if e["path"] == "/api/classify"]
        self.assertTrue(r.requests and r.requests[0] == ("/v1/traces", "application/x-protobuf"), r.requests)
        self.assertEqual({svc.get("service.name") for svc, _ in spans}, {"spinfer-test"})
        by_id = {x.span_id.hex(): x for _, x in spans}
        self.assertEqual({x.trace_id.hex() for x in by_id.values()}, {CLIENT_TRACE})

        def one(name):
            found = [x for x in by_id.values() if x.name == name]
            self.assertEqual(len(found), 1, (name, sorted(x.name for x in by_id.values())))
            return found[0]

        root = one("POST /api/classify")
        frontend = one("component frontend")
        call = one("POST classify.spin.internal")
        classify = one("component classify")
        compute = one("wasi-nn compute")
        self.assertEqual(root.parent_span_id.hex(), CLIENT_SPAN)
        for child, parent in [(frontend, root), (call, frontend), (classify, call), (compute, classify)]:
            self.assertEqual(child.parent_span_id, parent.span_id, (child.name, parent.name))
            self.assertLessEqual(parent.start_time_unix_nano, child.start_time_unix_nano, child.name)
            # A callee may end after its caller's client span, as across a network (its
            # instance is torn down after its answer has gone); every other span nests.
            if parent is not call:
                self.assertLessEqual(child.end_time_unix_nano, parent.end_time_unix_nano, child.name)
        self.assertEqual(attr(root, "http.response.status_code"), 200)
        self.assertEqual(attr(root, "spinfer.model"), "mobilenetv2")
        self.assertEqual(attr(classify, "spinfer.model"), "mobilenetv2")
        self.assertEqual(attr(compute, "spinfer.model"), "mobilenetv2")
        self.assertEqual(attr(call, "http.response.status_code"), 200)
        for span in (root, frontend, classify, compute):
            self.assertGreater(attr(span, "spinfer.cpu_ms"), 0, span.name)
        self.assertGreaterEqual(attr(root, "spinfer.cpu_ms"), attr(classify, "spinfer.cpu_ms"))
        self.assertGreaterEqual(total(m, "spinfer_trace_spans_exported_total"), 5)
        self.assertEqual(total(m, "spinfer_trace_spans_dropped_total"), 0)
        self.assertEqual([e["trace_id"] for e in log], [CLIENT_TRACE])

    def test_a_dead_collector_costs_requests_nothing_and_is_counted(self):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_BSP_SCHEDULE_DELAY": "50",
               "OTEL_BSP_MAX_QUEUE_SIZE": "4", "OTEL_EXPORTER_OTLP_TIMEOUT": "500"}
        with Spinfer("-f", "spin.toml", *ADMIN, env=env) as s:
            load(s.addr, "/api/classify?top=1", IMAGE, 12)
            time.sleep(1)
            m = scrape(metrics_addr(s))
        self.assertEqual(total(m, "spinfer_requests_total", component="frontend", status="200"), 12)
        self.assertEqual(total(m, "spinfer_trace_spans_exported_total"), 0)
        lost = total(m, "spinfer_trace_spans_dropped_total") + total(m, "spinfer_trace_export_errors_total")
        self.assertGreater(lost, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
