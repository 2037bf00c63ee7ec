# spinfer — the entry points. THE two commands: `make up` (set up, build, serve on
# 127.0.0.1:3000) and `make test` (set up, build, run every test).
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/spinfer
export SPINFER_CACHE := $(CACHE)
HOST_TARGET := $(CACHE)/target-host
SPINFER := $(HOST_TARGET)/release/spinfer
# Precompiled components live in the cache too (spinfer's --cache-dir reads this).
export SPINFER_CACHE_DIR ?= $(CACHE)/precompiled
LISTEN ?= 127.0.0.1:3000
# `/metrics` of `make up` (docs/observability.md); ADMIN_LISTEN= turns it off.
ADMIN_LISTEN ?= 127.0.0.1:9464
ENV := source $(CACHE)/toolchain.env
COMPONENTS := classify frontend nn-provider
HOST_CARGO := CARGO_TARGET_DIR=$(HOST_TARGET) cargo

.PHONY: setup build build-wasm compose build-host setup-containerd build-shim lint-shim test-containerd setup-cri test-cri up up-portable bench load load-report k8s-check autoscale deploy test lint test-unit test-integration test-oip test-accuracy test-big test-browser test-observability test-prometheus wit clean-cache fuzz soak slow-clients

setup:
	@bash scripts/setup.sh

build: setup build-wasm compose build-host

build-wasm:
	@bash scripts/build-wasm.sh $(COMPONENTS) faulty

# classify + the pre-initialised wasi:nn provider → classify-portable.wasm (no wasi:nn
# import): what stock Spin and SpinKube run (spin.portable.toml).
compose: build-wasm
	@bash scripts/compose.sh

# The serving binary, and the benchmarks (a separate binary: nothing of them is in spinfer).
build-host:
	@$(HOST_CARGO) build --release --locked -p spinfer -p spinfer-bench

# The containerd shim (shim/, binary containerd-shim-spinfer-v2): its own Cargo workspace,
# so runwasi's dependency tree (containerd client, ttrpc, youki's libcontainer) is built
# and linted only by these targets, never by `make test`.
# `setup.sh --containerd` adds containerd, runc and protoc (containerd-client's build needs it).
SHIM_CARGO := cd shim && CARGO_TARGET_DIR=$(HOST_TARGET) cargo
setup-containerd:
	@bash scripts/setup.sh --containerd

build-shim: setup-containerd
	@$(ENV) && $(SHIM_CARGO) build --release --locked

lint-shim: setup-containerd
	@$(ENV) && cd shim && cargo fmt --check
	@$(ENV) && $(SHIM_CARGO) clippy --release --locked --all-targets -- -D warnings

# Opt-in (root; installs Debian's containerd + runc): the shim under a real containerd on
# a private socket — serves the imported app, kill/delete leave nothing, bad artifacts
# refused; prints ctr run → first 200 and CPU/request vs `spinfer up` and the portable image.
test-containerd: build build-shim lint-shim
	@$(ENV) && SPINFER_SHIM=$(HOST_TARGET)/release/containerd-shim-spinfer-v2 .venv/bin/python scripts/test_containerd.py

# Opt-in (root): the shim driven through containerd's CRI API as the kubelet drives it
# (tests/cri/; a private containerd + CRI + CNI node): selective deployment, instance
# memory, ContainerStats on this node's cgroup version, a Service call between pods that
# the node's shim.toml allows, refused apps' reasons in the CRI error, readiness. The
# shim's unit tests run first.
setup-cri:
	@bash scripts/setup.sh --cri

test-cri: build setup-cri build-shim lint-shim
	@$(ENV) && $(SHIM_CARGO) test --release --locked
	@$(ENV) && SPINFER_SHIM=$(HOST_TARGET)/release/containerd-shim-spinfer-v2 .venv-cri/bin/python tests/cri/test_cri.py

up: build
	@$(ENV) && $(SPINFER) up -f spin.toml --listen $(LISTEN) $(if $(ADMIN_LISTEN),--admin-listen $(ADMIN_LISTEN))

# The same app with the composed classify and no wasi:nn in the host, as stock Spin runs it.
up-portable: build
	@$(ENV) && $(SPINFER) up -f spin.portable.toml --nn-backend none --listen $(LISTEN)

# Native inference vs end-to-end through the host, in one run (prints the figures); then
# the image fast path: Wasm tax per stage and e2e p50 per photo size vs the Python peer;
# then where a request's fixed cost goes (loadtest/fixedcost.py, docs/performance.md);
# then spinfer vs the real Spin CLI on the same app (loadtest/spin_vs.py; skipped, with
# the reason, where scripts/spin.sh finds no Spin); then JPEG decoding vs libjpeg-turbo at
# the same scale, natively and in Wasm (scripts/decode_bench.sh, docs/performance.md).
bench: build
	@$(ENV) && bash scripts/bench.sh
	@$(HOST_CARGO) build --release --locked -p spinfer-pipeline --example stages
	@$(ENV) && PIPELINE_TARGET=$(HOST_TARGET) .venv/bin/python loadtest/fastpath.py bench
	@$(ENV) && .venv/bin/python loadtest/fixedcost.py
	@$(ENV) && .venv/bin/python loadtest/spin_vs.py
	@$(ENV) && .venv/bin/python tests/observability/bench_tracing.py
	@$(ENV) && bash scripts/decode_bench.sh

test: build lint test-unit k8s-check test-integration test-oip test-accuracy test-big test-browser test-observability test-prometheus

# Formatting, clippy (-D warnings) on every workspace crate, and the documented tables
# against the code: docs/api.md's error tables (check_error_table.py) and
# docs/observability.md's metrics table (check_metrics_table.py). Clippy runs on the host
# target for all crates (the components compile there too; route B's Debian toolchain
# ships no clippy). The fuzz targets are checked to compile: they take host modules by
# path, so a host change can break `make fuzz` unseen (~20 s cold; a check links nothing,
# so libFuzzer's C++ is not built: CUSTOM_LIBFUZZER_PATH names a library never read).
lint: setup
	@$(ENV) && cargo fmt --all --check
	@$(HOST_CARGO) clippy --release --locked --workspace --all-targets -- -D warnings
	@CUSTOM_LIBFUZZER_PATH=/nonexistent/libfuzzer.a CARGO_TARGET_DIR=$(CACHE)/target-fuzz-check \
	  cargo check --quiet --locked --manifest-path fuzz/Cargo.toml --bins
	@python3 scripts/check_error_table.py
	@python3 scripts/check_metrics_table.py

# Render the Kubernetes overlays and validate them (schemas + SpinKube rules); every
# seeded broken manifest must be rejected with the rule it names.
k8s-check: setup build-host
	@SPINFER_BIN=$(SPINFER) .venv/bin/python scripts/k8s_check.py k8s/overlays/hpa k8s/overlays/keda k8s/overlays/native-host k8s/overlays/spinfer-shim k8s/overlays/spinfer-node
	@SPINFER_BIN=$(SPINFER) .venv/bin/python scripts/k8s_check.py --expect-fail k8s/broken/*/
	@.venv/bin/python k8s/autoscale/hpa_sim.py --selftest
	@.venv/bin/python k8s/autoscale/scale_from_zero.py --selftest

# hey/oha load runs on loopback: spinfer vs the Python peer (loadtest/README.md).
load: build
	@bash scripts/setup.sh --load
	@$(ENV) && PATH="$$HOME/.cargo/bin:$$PATH" .venv/bin/python loadtest/run.py
	@$(ENV) && .venv/bin/python loadtest/fastpath.py load --json loadtest/results/fastpath.json

# The load report (loadtest/README.md): cold start, memory per replica, open-loop overload
# and scale from zero, spinfer vs the Python peer, and Locust as a third generator; about
# 15 minutes on 2 cores. PARTS=coldstart|memory|overload|scale|locust runs some of them.
load-report: build
	@bash scripts/setup.sh --load
	@$(ENV) && PATH="$$HOME/.cargo/bin:$$PATH" SPINFER=$(SPINFER) .venv/bin/python loadtest/report.py $(PARTS)

# Measure CPU per classify request, then replay a ramp through the HPA model (CSV + SVG);
# then replay the shim path's figure too.
autoscale: build
	@$(ENV) && .venv/bin/python k8s/autoscale/measure_cpu.py && .venv/bin/python k8s/autoscale/hpa_sim.py
	@# The spinfer shim's CPU/request, as `make test-containerd` measured it under containerd
	@# (overlays/spinfer-shim: request 250m, limit 1).
	@$(ENV) && .venv/bin/python k8s/autoscale/hpa_sim.py --measured cpu_per_request.spinfer-shim.json \
		--request 0.25 --limit 1 --max-replicas 6 --node-cpu 1.6 --out hpa_timeline.spinfer-shim
	@# Beside issue #21's cluster timeline (a 2-vCPU node, maxReplicas 10, the old probes).
	@$(ENV) && .venv/bin/python k8s/autoscale/hpa_sim.py --measured cpu_per_request.spinfer-shim.json \
		--request 0.25 --limit 1 --max-replicas 10 --node-cpu 2 --start-delay 6.5 --step 80

# Fuzz the parsers of untrusted bytes (fuzz/README.md): cargo-fuzz + libFuzzer, each
# target FUZZ_SECONDS (default 30) with a 1 s per-input timeout; prints execs and crashes.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= image jpeg_reduced multipart oip manifest
fuzz:
	@bash scripts/setup.sh --fuzz
	@$(ENV) && FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh $(FUZZ_TARGETS)

# 10 minutes at ~70 % of saturation (measured first, same run) with good images and every
# bad-input class: per minute requests, statuses, p50/p99, host RSS (loadtest/README.md).
soak: build
	@$(ENV) && .venv/bin/python loadtest/soak.py

# 500 slowloris + 2,000 idle keep-alive connections while a normal client is served.
slow-clients: build
	@$(ENV) && .venv/bin/python loadtest/slowclients.py

# The steps for a real cluster (nothing here can reach one): that section of k8s/README.md.
deploy:
	@awk '/^## Deploy to a real cluster/ {p = 1; print; next} p && /^## / {exit} p' k8s/README.md

test-unit:
	$(HOST_CARGO) test --release --locked -p spinfer-pipeline
	$(HOST_CARGO) test --release --locked -p spinfer-oip
	$(HOST_CARGO) test --release --locked -p spinfer --lib
	$(HOST_CARGO) test --release --locked -p spinfer-cgroup-stats
	$(HOST_CARGO) test --release --locked -p spinfer-bench -p spinfer-testing -p spinfer-api --lib
	$(HOST_CARGO) test --release --locked -p frontend --lib

test-integration:
	@$(ENV) && bash scripts/check-wit.sh target/wasm32-wasip2/release/classify.wasm
	@$(ENV) && $(HOST_CARGO) test --release --locked -p spinfer --test classify --test host --test frontend --test portable --test runtimes --test connections --test drain --test selective --test graph_cache -- --test-threads=2
	@$(ENV) && $(HOST_CARGO) test --release --locked -p spinfer-bench --test provider

# The Open Inference Protocol on classify with PyPI tritonclient[http], against the native
# host, the portable app on spinfer and on the real Spin CLI (skipped, with the reason,
# where scripts/spin.sh finds none), and spin.deps.toml on both (tests/oip/).
test-oip:
	@$(ENV) && .venv/bin/python tests/oip/test_oip.py native portable spin deps spin-deps

# Reduced-scale JPEG decoding vs full-size decoding over the sample photos and ≥ 50
# generated ones (1024 px … 48 MP): top-1 must agree on ≥ 98 %.
test-accuracy:
	@$(ENV) && .venv/bin/python scripts/accuracy_guard.py

# A 200 MP, ~30 MiB phone photo (made here by scripts/photos.py --big) through /classify,
# /api/classify and the OIP; 413 over 40 MiB; the host's full concurrency of them in memory.
test-big:
	@$(ENV) && .venv/bin/python tests/limits/test_big_photos.py

# /home in headless Chromium (the 200 MP photo too); screenshots land in tests-output/.
test-browser:
	@$(ENV) && .venv/bin/python scripts/photos.py --big target/photos
	@$(ENV) && SPINFER_BIN=$(SPINFER) node --test --test-concurrency=1 tests/browser/home.test.mjs

# /metrics through the Prometheus project's OpenMetrics parser, CPU metering against /proc,
# the span tree at a loopback OTLP receiver, a dead collector (docs/observability.md).
test-observability:
	@$(ENV) && .venv/bin/python tests/observability/test_observability.py

# A real Prometheus (Debian's, installed by set-up) scrapes `spinfer up` with the shipped
# rules loaded (promtool checks them first); PromQL checks rate, p99 and CPU per request
# after a known load (~20 s).
test-prometheus:
	@promtool check rules k8s/monitoring/spinfer-rules.yml
	@$(ENV) && .venv/bin/python tests/observability/test_prometheus.py

# What the release classify component imports and exports.
wit:
	@$(ENV) && PATH="$$WASM_PATH:$$PATH" wasm-tools component wit target/wasm32-wasip2/release/classify.wasm

clean-cache:
	rm -rf $(CACHE)/target-* $(CACHE)/precompiled
