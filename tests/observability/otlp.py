"""A loopback OTLP/HTTP receiver for the tests: `POST /v1/traces` with a protobuf
`ExportTraceServiceRequest`, decoded by the OpenTelemetry project's own generated classes
(PyPI `opentelemetry-proto`), spans kept in memory; and the helpers the tests and the
Prometheus check share (scrape, parse OpenMetrics, /proc CPU time, load)."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from spinfer_proc import request  # the importers put scripts/ on sys.path first


class Receiver:
    """`with Receiver() as r:` → r.endpoint ("http://127.0.0.1:PORT"), r.spans()."""

    def __init__(self):
        self._spans, self._lock, self.requests = [], threading.Lock(), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.requests.append((self.path, self.headers.get("content-type")))
                req = trace_service_pb2.ExportTraceServiceRequest()
                req.ParseFromString(body)
                with receiver._lock:
                    for rs in req.resource_spans:
                        service = {a.key: a.value.string_value for a in rs.resource.attributes}
                        for ss in rs.scope_spans:
                            for s in ss.spans:
                                receiver._spans.append((service, s))
                answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False

    def spans(self):
        with self._lock:
            return list(self._spans)

    def wait_for(self, predicate, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            spans = self.spans()
            if predicate(spans):
                return spans
            time.sleep(0.1)
        return self.spans()


def attr(span, key):
    for a in span.attributes:
        if a.key == key:
            v = a.value
            return {"string_value": v.string_value, "int_value": v.int_value,
                    "double_value": v.double_value, "bool_value": v.bool_value}[v.WhichOneof("value")]
    return None


def scrape(metrics_addr):
    """The admin listener's /metrics, parsed as OpenMetrics by the Prometheus project's
    Python parser (which refuses anything malformed): {(name, frozenset(labels)): value}."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    status, headers, body = request(metrics_addr, "GET", "/metrics")
    assert status == 200, status
    assert headers.get("content-type", "").startswith("application/openmetrics-text"), headers
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def total(samples, name, **labels):
    """Sum of `name`'s samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def proc_cpu_seconds(pid):
    """utime + stime of every thread of `pid` (/proc/PID/stat), seconds."""
    import os
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metrics_addr(server):
    """The admin address `spinfer up` printed (`Metrics http://ADDR/metrics`)."""
    for line in server.lines:
        if line.startswith("Metrics http://"):
            return line.split("http://", 1)[1].split("/", 1)[0]
    raise AssertionError("spinfer printed no Metrics line:\n" + "\n".join(server.lines[-20:]))


def load(addr, path, body, n, clients=2, headers=None):
    """`n` POSTs of `body` to `path` from `clients` threads; every answer must be 200."""
    errors, lock, left = [], threading.Lock(), [n]

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            status, _, answer = request(addr, "POST", path, body, headers)
            if status != 200:
                errors.append((status, answer[:200]))

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
