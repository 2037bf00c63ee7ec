"""Start `spinfer up` for a Python check or benchmark and stop it again.

One place for what every Python harness here needs: the binary's path, a free port
chosen by the host itself (`--listen 127.0.0.1:0`), the address read from its
`Serving http://…` line, and a stop that never leaves the process behind.
"""
import os
import socket
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPINFER = os.environ.get(
    "SPINFER", os.path.join(os.environ.get("SPINFER_CACHE", os.path.expanduser("~/.cache/spinfer")),
                            "target-host/release/spinfer"))


class Spinfer:
    """`with Spinfer("-f", "spin.toml") as s:` → s.addr is "127.0.0.1:PORT"."""

    def __init__(self, *args, timeout=120):
        self.args, self.timeout, self.addr, self.proc, self.lines = args, timeout, None, None, []

    def __enter__(self):
        self.proc = subprocess.Popen([SPINFER, "up", "--listen", "127.0.0.1:0", *self.args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")})
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
            raise SystemExit("spinfer did not start:\n" + "\n".join(self.lines[-20:]))
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return False

    def pid(self):
        return self.proc.pid


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
