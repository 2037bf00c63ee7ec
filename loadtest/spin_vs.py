#!/usr/bin/env python3
"""spin_vs.py — spinfer against the real Spin CLI, in one run (`make bench`, issue 17).

Three servers of the same app, POST /classify with static/samples/eagle.jpg:
  spin            `spin up -f spin.portable.toml` (the baseline: classify composed with the
                  Wasm wasi:nn provider, tract inside the component)
  spinfer-none    `spinfer up -f spin.portable.toml --nn-backend none` (the same bytes)
  spinfer-native  `spinfer up -f spin.toml` (native ONNX Runtime wasi-nn)
Figures, each series interleaved with the others round by round (this shared machine's
speed drifts, so only same-run ratios mean anything):
  - c=1 p50 of ROUNDS × N1 requests; throughput (req/s, closed loop) at c=2 and c=8 for
    SECONDS each per round; RSS (VmRSS; peak VmHWM) of the server after the load, summed
    over its process tree (`spin up` serves from a child process);
  - exec → first 200: a fresh process per trial (STARTS trials each, interleaved), timed
    from spawn to the first 200 answer of a classify request (components precompiled /
    cached by an earlier start, as on a redeploy), and its RSS right then.
Ratios are spinfer / Spin (time: < 1 is faster; throughput: > 1 is more). Where no Spin
CLI is found (scripts/spin.sh) it says why and stops without failing.
"""
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from spinfer_proc import CACHE, SPINFER, Spin, Spinfer, find_spin, free_port  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "2"))
N1 = int(os.environ.get("N1", "15"))
SECONDS = float(os.environ.get("SECONDS", "5"))
STARTS = int(os.environ.get("STARTS", "3"))
IMAGE = open(os.path.join(ROOT, "static/samples/eagle.jpg"), "rb").read()
PATH = "/classify?top=5"
SERIES = {
    "spin": (Spin, ("-f", "spin.portable.toml")),
    "spinfer-none": (Spinfer, ("-f", "spin.portable.toml", "--nn-backend", "none")),
    "spinfer-native": (Spinfer, ("-f", "spin.toml")),
}


def post(conn):
    conn.request("POST", PATH, IMAGE)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise SystemExit(f"classify answered {r.status}")


def connect(addr):
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=120)


def p50(addr, n):
    conn, times = connect(addr), []
    for _ in range(n):
        t0 = time.perf_counter()
        post(conn)
        times.append(time.perf_counter() - t0)
    conn.close()
    return statistics.median(times) * 1000


def throughput(addr, clients, seconds):
    done, stop = [0] * clients, time.perf_counter() + seconds

    def work(i):
        conn = connect(addr)
        while time.perf_counter() < stop:
            post(conn)
            done[i] += 1
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


def tree(pid):
    """pid and its descendants (`spin up` serves from a child `spin trigger http` process)."""
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            kids = open(f"/proc/{pid}/task/{task}/children").read().split()
        except OSError:
            continue
        for k in kids:
            pids += tree(int(k))
    return pids


def memory(pid):
    """(RSS, peak RSS) in MB, summed over the process tree."""
    total = [0.0, 0.0]
    for p in tree(pid):
        try:
            status = dict(line.split(":", 1) for line in open(f"/proc/{p}/status"))
        except OSError:
            continue
        for i, k in enumerate(("VmRSS", "VmHWM")):
            total[i] += int(status[k].split()[0]) / 1024
    return tuple(total)


def exec_to_200(name, spin):
    """Seconds from spawn to the first 200 of a classify request on a fresh process, and
    its RSS (MB, whole process tree) right then."""
    port = free_port()
    if name == "spin":
        home = os.path.join(CACHE, "spin-home")
        cmd = [spin, "up", "--listen", f"127.0.0.1:{port}", "--state-dir", os.path.join(home, "state"),
               *SERIES[name][1]]
        env = {**os.environ, "HOME": home, "XDG_CACHE_HOME": os.path.join(home, ".cache")}
    else:
        cmd = [SPINFER, "up", "--listen", f"127.0.0.1:{port}", *SERIES[name][1]]
        env = dict(os.environ)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            process_group=0)
    try:
        while time.perf_counter() - t0 < 300:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("POST", PATH, IMAGE)
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    return time.perf_counter() - t0, memory(proc.pid)[0]
            except (ConnectionError, socket.timeout, http.client.HTTPException, OSError):
                pass
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with {proc.returncode} before answering")
            time.sleep(0.005)
        raise SystemExit(f"{name}: no 200 within 300 s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group: `spin up` serves from a child
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def main():
    spin, reason = find_spin()
    if spin is None:
        print(f"spinfer vs Spin: SKIPPED ({reason})")
        return
    version = subprocess.run([spin, "--version"], capture_output=True, text=True).stdout.split("(")[0].strip()
    print(f"spinfer vs Spin ({version}) — POST {PATH} eagle.jpg; {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; {ROUNDS} rounds, series interleaved")
    servers = {name: cls(*args).__enter__() for name, (cls, args) in SERIES.items()}
    try:
        fig = {name: {"p50": [], "c2": [], "c8": []} for name in SERIES}
        for name, s in servers.items():
            p50(s.addr, 3)  # warm: first instances, caches
        for _ in range(ROUNDS):
            for name, s in servers.items():
                fig[name]["p50"].append(p50(s.addr, N1))
            for name, s in servers.items():
                fig[name]["c2"].append(throughput(s.addr, 2, SECONDS))
            for name, s in servers.items():
                fig[name]["c8"].append(throughput(s.addr, 8, SECONDS))
        for name, s in servers.items():
            fig[name]["rss"], fig[name]["hwm"] = memory(s.pid())
    finally:
        for s in servers.values():
            s.__exit__(None, None, None)
    starts = {name: [] for name in SERIES}
    first_rss = {name: [] for name in SERIES}
    for _ in range(STARTS):
        for name in SERIES:
            t, rss = exec_to_200(name, spin)
            starts[name].append(t)
            first_rss[name].append(rss)
    for name in SERIES:
        fig[name]["start"] = statistics.median(starts[name])
        fig[name]["rss0"] = statistics.median(first_rss[name])

    base = fig["spin"]
    med = statistics.median
    print(f"{'':16} {'c=1 p50 ms':>11} {'c=2 req/s':>10} {'c=8 req/s':>10} {'exec→200 s':>11} "
          f"{'RSS@200 MB':>11} {'RSS after load':>15} {'peak MB':>8}")
    for name in SERIES:
        f = fig[name]
        print(f"{name:16} {med(f['p50']):11.1f} {med(f['c2']):10.1f} {med(f['c8']):10.1f} "
              f"{f['start']:11.2f} {f['rss0']:11.0f} {f['rss']:15.0f} {f['hwm']:8.0f}")
    for name in ("spinfer-none", "spinfer-native"):
        f = fig[name]
        print(f"{name} / spin: c=1 p50 ×{med(f['p50']) / med(base['p50']):.2f}, "
              f"c=2 throughput ×{med(f['c2']) / med(base['c2']):.2f}, "
              f"c=8 throughput ×{med(f['c8']) / med(base['c8']):.2f}, "
              f"exec→200 ×{f['start'] / base['start']:.2f}, RSS at first 200 ×{f['rss0'] / base['rss0']:.2f}, "
              f"after load ×{f['rss'] / base['rss']:.2f}")
    print("exec→200 trials (s): " + "; ".join(
        f"{n} " + ", ".join(f"{t:.2f}" for t in starts[n]) for n in SERIES))


if __name__ == "__main__":
    main()
