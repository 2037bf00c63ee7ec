#!/usr/bin/env bash
# scripts/bench.sh — `make bench`: start `spinfer up` on a free loopback port, run
# `spinfer bench` against it (native ONNX Runtime baseline + end-to-end figures in one
# run), stop the server. Extra arguments go to `spinfer bench` (e.g. --requests 100).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPINFER="${SPINFER:-$HOME/.cache/spinfer/target-host/release/spinfer}"
IMAGE="${IMAGE:-$ROOT/static/samples/cat.png}"
cd "$ROOT"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
"$SPINFER" up -f spin.toml --listen "127.0.0.1:$port" --sessions "${SESSIONS:-0}" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 600); do grep -q "^Serving" "$log" && break; kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }; sleep 0.1; done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%FT%TZ)"
"$SPINFER" bench --addr "127.0.0.1:$port" --image "$IMAGE" "$@"
