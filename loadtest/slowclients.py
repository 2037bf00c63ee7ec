#!/usr/bin/env python3
"""slowclients.py — `make slow-clients`: the connection limits at full size (issue 15).

host/tests/connections.rs checks the same limits in `make test` with a handful of
connections; this runs the acceptance's sizes on loopback, which take a minute and
thousands of file descriptors, so it is opt-in:
  - SLOW (default 500) slowloris connections sending headers at 1 byte a second, and
    IDLE (default 2000) keep-alive connections that send one request and then nothing,
    all held at once against one `spinfer up -f spin.toml`;
  - meanwhile a normal client sends `POST /classify` (a sample photo) back to back.
Pass (exit 0): every normal request answered 200, its p99 under load ≤ 3 × its unloaded
p99 (measured in the same run, before and after the load, pooled); every slowloris
connection closed within the header timeout (+1.5 s of slack) of its first byte and
not before it; every idle connection closed within the idle timeout (+1.5 s) of its
last response; all SLOW + IDLE connections were open at once.
The host runs with --header-timeout-ms HEADER_MS (default 10000, the host's default),
--idle-timeout-ms IDLE_MS (default 15000) and --max-connections SLOW + IDLE + 64.
"""
import asyncio
import http.client
import os
import resource
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from spinfer_proc import Spinfer  # noqa: E402

SLOW = int(os.environ.get("SLOW", "500"))
IDLE = int(os.environ.get("IDLE", "2000"))
HEADER_MS = int(os.environ.get("HEADER_MS", "10000"))
IDLE_MS = int(os.environ.get("IDLE_MS", "15000"))
BASELINE_SECONDS = float(os.environ.get("BASELINE_SECONDS", "8"))
SLACK = 1.5
HEALTH = b"GET /.well-known/spin/health HTTP/1.1\r\nHost: x\r\n\r\n"


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def normal_client(addr, body, stop):
    """POST /classify back to back until stop() is true: (statuses, latencies ms)."""
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    statuses, lat = [], []
    while not stop():
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/classify", body=body, headers={"content-type": "application/octet-stream"})
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
        except Exception as e:  # noqa: BLE001 — a failure is an answer that is not 200
            statuses.append(f"{type(e).__name__}: {e}")
            conn.close()
        lat.append((time.perf_counter() - t0) * 1e3)
    conn.close()
    return statuses, lat


async def slowloris(host, port, opened):
    """Headers one byte a second; seconds from the first byte until the server closes."""
    reader, writer = await asyncio.open_connection(host, port)
    opened.append(1)
    started = time.monotonic()
    line = b"POST /classify HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    try:
        for b in line:
            writer.write(bytes([b]))
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1024), 1.0) == b"":
                    break
            except asyncio.TimeoutError:
                continue
    except (ConnectionError, OSError):
        pass
    took = time.monotonic() - started
    writer.close()
    return took


async def idle(host, port, opened):
    """One health request, then nothing: seconds from the response until the server closes."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(HEALTH)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    answered = time.monotonic()
    opened.append(1)
    try:
        while await asyncio.wait_for(reader.read(1024), IDLE_MS / 1000 + 10) != b"":
            pass
        took = time.monotonic() - answered
    except asyncio.TimeoutError:
        took = float("inf")
    except (ConnectionError, OSError):
        took = time.monotonic() - answered
    writer.close()
    return took


async def hold(addr, opened):
    host, port = addr.rsplit(":", 1)
    port = int(port)
    idles = [asyncio.create_task(idle(host, port, opened)) for _ in range(IDLE)]
    slows = [asyncio.create_task(slowloris(host, port, opened)) for _ in range(SLOW)]
    return await asyncio.gather(*slows), await asyncio.gather(*idles)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * (SLOW + IDLE) + 256  # both ends live in this machine's processes
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    body = open(os.path.join(ROOT, "static/samples/eagle.jpg"), "rb").read()
    print(f"slow-clients: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {os.cpu_count()} cores; "
          f"{SLOW} slowloris + {IDLE} idle, header timeout {HEADER_MS} ms, idle timeout {IDLE_MS} ms", flush=True)
    args = ["-f", "spin.toml", "--header-timeout-ms", str(HEADER_MS), "--idle-timeout-ms", str(IDLE_MS),
            "--max-connections", str(SLOW + IDLE + 64)]
    with Spinfer(*args) as sp:
        end = time.time() + BASELINE_SECONDS / 2
        base_s, base_lat = normal_client(sp.addr, body, lambda: time.time() > end)
        opened, result = [], {}
        holder = threading.Thread(target=lambda: result.update(r=asyncio.run(hold(sp.addr, opened))))
        holder.start()
        # The normal client runs while every slow and idle connection is held: from the
        # moment they are all open until the header timeout starts closing the slow ones.
        t0 = time.time()
        while len(opened) < SLOW + IDLE and time.time() < t0 + HEADER_MS / 1000:
            time.sleep(0.05)
        all_open = len(opened)
        load_end = t0 + HEADER_MS / 1000 - 0.5
        load_s, load_lat = normal_client(sp.addr, body, lambda: time.time() > load_end)
        holder.join()
        slow_took, idle_took = result["r"]
        end = time.time() + BASELINE_SECONDS / 2
        after_s, after_lat = normal_client(sp.addr, body, lambda: time.time() > end)
        alive = sp.proc.poll() is None
    unloaded = base_lat + after_lat
    p99_0, p99_l = pct(unloaded, 0.99), pct(load_lat, 0.99)
    bad = [s for s in base_s + load_s + after_s if s != 200]
    slow_late = [t for t in slow_took if t > HEADER_MS / 1000 + SLACK]
    slow_early = [t for t in slow_took if t < HEADER_MS / 1000 - 0.5]
    idle_late = [t for t in idle_took if t > IDLE_MS / 1000 + SLACK]
    idle_early = [t for t in idle_took if t < IDLE_MS / 1000 - 0.5]
    print(f"connections open at once: {all_open} of {SLOW + IDLE}")
    print(f"normal client unloaded: {len(unloaded)} requests, p50 {pct(unloaded, 0.5):.1f} ms, p99 {p99_0:.1f} ms")
    print(f"normal client under load: {len(load_lat)} requests, p50 {pct(load_lat, 0.5):.1f} ms, "
          f"p99 {p99_l:.1f} ms = {p99_l / p99_0:.2f}× unloaded (limit 3×); not 200: {len(bad)} {bad[:5]}")
    print(f"slowloris closed after {min(slow_took):.2f}–{max(slow_took):.2f} s (header timeout "
          f"{HEADER_MS / 1000:.1f} s): late {len(slow_late)}, early {len(slow_early)}")
    print(f"idle closed after {min(idle_took):.2f}–{max(idle_took):.2f} s (idle timeout "
          f"{IDLE_MS / 1000:.1f} s): late {len(idle_late)}, early {len(idle_early)}; host alive: {alive}")
    ok = (all_open == SLOW + IDLE and not bad and load_lat and p99_l <= 3 * p99_0 and not slow_late
          and not slow_early and not idle_late and not idle_early and alive)
    print("slow-clients: PASS" if ok else "slow-clients: FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
