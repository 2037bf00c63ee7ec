//! `containerd-shim-spinfer-v2`: a containerd shim (on runwasi's `containerd-shim-wasm`)
//! that runs a Spin app from its OCI artifact — the layout `spin registry push` makes and
//! SpinKube ships — on spinfer's host, with native wasi-nn (ONNX Runtime).
//!
//! containerd starts it for `runtime io.containerd.spinfer.v2` (or a Kubernetes
//! `RuntimeClass` with handler `spinfer`). runwasi reads the image's layers of the types
//! [`SpinferShim::supported_layers_types`] names from containerd's content store and runs
//! the container in a youki (libcontainer) process; in that process
//! [`Sandbox::can_handle`] (at *create*, so a bad app fails `ctr run` / the pod's start,
//! its reason in the error: [`refusal`]) prepares the app ([`prepare`]: the operator's
//! environment [`operator`], the node's files [`node`] and outbound policy [`egress`]);
//! [`Sandbox::run_wasi`] (at *start*) serves it ([`serve`]) until containerd kills the
//! task (SIGTERM: drain, exit 0). The Task service's `stats` reports the container's
//! cgroup on v1 and v2 ([`stats`]).

mod egress;
mod node;
mod operator;
mod prepare;
mod refusal;
mod serve;
mod stats;

use containerd_shim_wasm::sandbox::context::RuntimeContext;
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{Cli as _, Config, Shim, Version};
use prepare::{Prepared, DATA_LAYER, SPIN_CONFIG, WASM_LAYER};
use std::sync::Mutex;

struct SpinferShim;

impl Shim for SpinferShim {
    fn name() -> &'static str {
        refusal::shim_name()
    }

    fn version() -> Version {
        containerd_shim_wasm::shim::version!()
    }

    type Sandbox = SpinferSandbox;

    fn supported_layers_types() -> &'static [&'static str] {
        &[SPIN_CONFIG, WASM_LAYER, DATA_LAYER, "application/wasm"]
    }
}

/// One container: the app, prepared at create, served at start.
#[derive(Default)]
struct SpinferSandbox {
    prepared: Mutex<Option<Prepared>>,
}

impl Sandbox for SpinferSandbox {
    async fn can_handle(&self, ctx: &impl RuntimeContext) -> anyhow::Result<()> {
        init_logging();
        let prepared = prepare::prepare(ctx).inspect_err(|e| refusal::record(&report(e)))?;
        *self.prepared.lock().expect("sandbox lock") = Some(prepared);
        Ok(())
    }

    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> anyhow::Result<i32> {
        init_logging();
        let prepared = self.prepared.lock().expect("sandbox lock").take();
        let prepared = match prepared {
            Some(p) => p,
            None => prepare::prepare(ctx).inspect_err(|e| {
                report(e);
            })?,
        };
        serve::run(prepared).inspect_err(|e| {
            report(e);
        })?;
        Ok(0)
    }
}

/// On the container's stderr (what `ctr run` and `kubectl logs` show) and the shim log;
/// the text, node paths as the node names them.
fn report(e: &anyhow::Error) -> String {
    let text = node::humanize(e);
    eprintln!("spinfer shim: {text}");
    log::error!("spinfer shim: {text}");
    text
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,cranelift=warn,wasmtime=warn".into());
    // Plain text: this is the container log `kubectl logs` shows, not a terminal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn main() {
    // Before runwasi forks its zygote (the parent of every container process): open the
    // node directory and load ONNX Runtime, which the container's own root cannot see,
    // and note the node's addresses, which its pods may never call.
    node::preload();
    egress::preload();
    stats::install();
    SpinferShim::run(Config::default());
}
