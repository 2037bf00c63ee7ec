#!/usr/bin/env python3
"""measure_cpu.py — CPU-seconds per classify request, measured on loopback.

Starts `spinfer up`, warms it up, then sends a bounded number of POST /classify requests
(concurrency 2) and reads the server's utime+stime from /proc before and after. Writes
the figure (and the throughput seen) to cpu_per_request.json beside this file; the HPA
simulation and the SpinApp's CPU request are sized from it.

By default it measures what the classify SpinApp runs on SpinKube: spin.portable.toml
(classify composed with the Wasm wasi:nn provider) on a spinfer with no wasi:nn linked.
MANIFEST=spin.toml measures the native-host path instead (overlays/native-host).
"""
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def post(port, body, n):
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", "/classify", body)
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        c.close()


def main():
    binary = os.environ.get("SPINFER", os.path.expanduser("~/.cache/spinfer/target-host/release/spinfer"))
    image = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "static/samples/cat.png")
    requests = int(os.environ.get("REQUESTS", "200"))
    body = open(image, "rb").read()
    manifest = os.environ.get("MANIFEST", "spin.portable.toml")
    extra = ["--nn-backend", "none"] if manifest == "spin.portable.toml" else []
    proc = subprocess.Popen([binary, "up", "-f", os.path.join(ROOT, manifest), "--listen", "127.0.0.1:0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        for line in proc.stdout:
            m = re.match(r"Serving http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        assert port, "spinfer did not start"
        post(port, body, 10)
        before, t0 = cpu_seconds(proc.pid), time.time()
        threads = [threading.Thread(target=post, args=(port, body, requests // 2)) for _ in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        cpu, wall = cpu_seconds(proc.pid) - before, time.time() - t0
    finally:
        proc.terminate()
        proc.wait()
    n = 2 * (requests // 2)
    result = {
        "manifest": manifest,
        "image": os.path.relpath(image, ROOT),
        "requests": n,
        "cpu_seconds_per_request": round(cpu / n, 5),
        "throughput_rps": round(n / wall, 1),
        "cores": os.cpu_count(),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    json.dump(result, open(os.path.join(HERE, "cpu_per_request.json"), "w"), indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
