"""Start `spinfer up` (or the real `spin up`) for a Python check or benchmark and stop it.

One place for what every Python harness here needs: the binary's path, a free port
chosen by the host itself (`--listen 127.0.0.1:0`), the address read from its
`Serving http://…` line, and a stop that never leaves the process behind.
"""
import http.client
import os
import signal
import socket
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("SPINFER_CACHE", os.path.expanduser("~/.cache/spinfer"))
SPINFER = os.environ.get("SPINFER", os.path.join(CACHE, "target-host/release/spinfer"))



def stop(proc, grace):
    """SIGTERM `proc`, wait up to `grace` seconds for it to drain, then SIGKILL."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

class Spinfer:
    """`with Spinfer("-f", "spin.toml") as s:` → s.addr is "127.0.0.1:PORT". `binary` and `cwd`
    run another build (a baseline checkout) instead of this tree's."""

    def __init__(self, *args, timeout=120, binary=None, cwd=None, env=None):
        self.args, self.timeout, self.addr, self.proc, self.lines = args, timeout, None, None, []
        self.binary, self.cwd, self.env = binary or SPINFER, cwd or ROOT, env or {}

    def __enter__(self):
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn"), **self.env}
        self.proc = subprocess.Popen([self.binary, "up", "--listen", "127.0.0.1:0", *self.args], cwd=self.cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        return self._await("spinfer")

    def _await(self, what):
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip())
                if line.startswith("Serving http://") and not found.is_set():
                    self.addr = line.split("http://", 1)[1].strip()
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        found.wait(self.timeout)
        if self.addr is None:
            self.__exit__(None, None, None)
            raise SystemExit(f"{what} did not start:\n" + "\n".join(self.lines[-20:]))
        return self

    def __exit__(self, *exc):
        if self.proc:
            stop(self.proc, 15)
        return False

    def pid(self):
        return self.proc.pid


class Spin(Spinfer):
    """`with Spin("-f", "spin.portable.toml") as s:` — the real Spin CLI (scripts/spin.sh
    finds it; `find_spin()` says why there is none) on a free port, with a private HOME and
    state directory under the build cache so the user's Spin set-up is never touched."""

    def __init__(self, *args, timeout=300):
        super().__init__(*args, timeout=timeout)

    def __enter__(self):
        spin, reason = find_spin()
        if spin is None:
            raise RuntimeError(reason)
        home = os.path.join(CACHE, "spin-home")
        os.makedirs(home, exist_ok=True)
        port = free_port()
        env = {**os.environ, "HOME": home, "XDG_CACHE_HOME": os.path.join(home, ".cache"),
               "XDG_CONFIG_HOME": os.path.join(home, ".config"),
               "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
               "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.proc = subprocess.Popen([spin, "up", "--listen", f"127.0.0.1:{port}",
                                      "--state-dir", os.path.join(home, "state"), *self.args],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, process_group=0)
        return self._await("spin")

    def __exit__(self, *exc):
        """Stop the whole process group: `spin up` serves from a child `spin trigger http`
        process that would outlive a SIGKILL of its parent."""
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        return False


def find_spin():
    """(path, None) of the Spin CLI, or (None, why there is none)."""
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "spin.sh")], capture_output=True,
                       text=True, env={**os.environ, "SPINFER_CACHE": CACHE})
    if r.returncode != 0:
        return None, r.stderr.strip() or f"scripts/spin.sh exited {r.returncode}"
    return r.stdout.strip(), None


def request(addr, method, path, body=b"", headers=None, timeout=60):
    """One HTTP request to `addr` ("host:port") on a fresh connection:
    (status, headers with lower-case names, body)."""
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def free_port():
    """A TCP port on 127.0.0.1 that is free right now (for servers that cannot take :0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout, what):
    """Wait until something accepts connections on 127.0.0.1:`port`."""
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_until(up, timeout, what)


def wait_until(predicate, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")
