//! `containerd-shim-spinfer-v2`: a containerd shim (on runwasi's `containerd-shim-wasm`)
//! that runs a Spin app from its OCI artifact — the layout `spin registry push` makes and
//! SpinKube ships — on spinfer's host, with native wasi-nn (ONNX Runtime).
//!
//! containerd starts it for `runtime io.containerd.spinfer.v2` (or a Kubernetes
//! `RuntimeClass` with handler `spinfer`). runwasi reads the image's layers of the types
//! [`SpinferShim::supported_layers_types`] names from containerd's content store and runs
//! the container in a youki (libcontainer) process; in that process
//! [`Sandbox::can_handle`] (at *create*, so a bad app fails `ctr run` / the pod's start)
//! turns the locked app into files (`spinfer::locked`), loads the node's models and compiles
//! every component; [`Sandbox::run_wasi`] (at *start*) serves the HTTP triggers on
//! `SPIN_HTTP_LISTEN_ADDR` (default `0.0.0.0:80`, as containerd-shim-spin) until containerd
//! kills the task (SIGTERM: drain, exit 0).
//!
//! Node-level files ([`node`]): ONNX Runtime and the wasi-nn models are the node's, not the
//! artifact's, so one image runs on every node and each node says which models it serves.

mod node;

use anyhow::{bail, Context as _};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source, WasmLayer};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{Cli as _, Config, Shim, Version};
use spinfer::{app, config, connections, engine, locked, metrics, nn, outbound, server};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Spin's OCI media types (Spin's crates/oci).
const SPIN_CONFIG: &str = "application/vnd.fermyon.spin.application.v1+config";
const WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";
const DATA_LAYER: &str = "application/vnd.wasm.content.layer.v1+data";
/// Where the app listens unless `SPIN_HTTP_LISTEN_ADDR` says otherwise (SpinKube's port).
const DEFAULT_LISTEN: &str = "0.0.0.0:80";

struct SpinferShim;

impl Shim for SpinferShim {
    fn name() -> &'static str {
        "spinfer"
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

struct Prepared {
    app: app::App,
    listen: SocketAddr,
    cores: usize,
}

impl Sandbox for SpinferSandbox {
    async fn can_handle(&self, ctx: &impl RuntimeContext) -> anyhow::Result<()> {
        let prepared = prepare(ctx).inspect_err(report)?;
        *self.prepared.lock().expect("sandbox lock") = Some(prepared);
        Ok(())
    }

    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> anyhow::Result<i32> {
        let prepared = self.prepared.lock().expect("sandbox lock").take();
        let prepared = match prepared {
            Some(p) => p,
            None => prepare(ctx).inspect_err(report)?,
        };
        // spinfer's own runtime, sized as `spinfer up` sizes it (a wasi-nn compute holds
        // its worker thread), rather than runwasi's ambient one.
        let workers = 2 * prepared.cores + 2;
        let served = std::thread::spawn(move || -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()?;
            rt.block_on(serve(prepared))
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
        served.inspect_err(report)?;
        Ok(0)
    }
}

/// On the container's stderr (what `ctr run` and `kubectl logs` show) and the shim log.
fn report(e: &anyhow::Error) {
    let text = node::humanize(e);
    eprintln!("spinfer shim: {text}");
    log::error!("spinfer shim: {text}");
}

fn prepare(ctx: &impl RuntimeContext) -> anyhow::Result<Prepared> {
    init_logging();
    let envs = env_map(ctx.envs());
    let layers = match ctx.entrypoint().source {
        Source::Oci(layers) => layers,
        Source::File(_) => bail!(
            "the image has no Spin app layers (no layer of type {SPIN_CONFIG} or {WASM_LAYER}): \
             it is not a Spin application artifact (pack one with scripts/oci_pack.py or \
             `spin registry push`)"
        ),
    };
    let config_layer = layers
        .iter()
        .find(|l| l.config.media_type().to_string() == SPIN_CONFIG)
        .with_context(|| {
            format!(
                "the image has no Spin application config layer ({SPIN_CONFIG}) among its {} \
                 Wasm/data layers: it is not a Spin application artifact",
                layers.len()
            )
        })?;
    let node = node::files()?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let listen: SocketAddr = envs
        .get("SPIN_HTTP_LISTEN_ADDR")
        .map_or(DEFAULT_LISTEN, String::as_str)
        .parse()
        .context("SPIN_HTTP_LISTEN_ADDR is not host:port")?;

    let started = std::time::Instant::now();
    // The container's root is the (empty) image rootfs: the app is written under /tmp.
    let dir = PathBuf::from("/tmp/spinfer-app");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let manifest = locked::materialize(&config_layer.layer, |d| content(layers, d), &dir)
        .context("reading the Spin locked app")?;

    let rc = node.runtime_config()?;
    let metrics = Arc::new(metrics::Metrics::default());
    let registry = load_models(node, &rc, cores, metrics.clone())?;
    let max_concurrency = 2 * cores;
    let limits = engine::InstanceLimits {
        max_memory_bytes: 512 * 1024 * 1024,
        timeout: Duration::from_secs(30),
        max_instances: (max_concurrency * 4 + 8) as u32,
    };
    let overrides: BTreeMap<String, String> = envs
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("SPIN_VARIABLE_").map(|n| (n.to_lowercase(), v.clone()))
        })
        .collect();
    let egress = outbound::AddressPolicy::new(&[], &[]).map_err(anyhow::Error::msg)?;
    let app = app::App::load(
        &manifest,
        &overrides,
        Some(registry),
        limits,
        metrics,
        node.cache_dir().as_deref(),
        Arc::new(egress),
    )?;
    tracing::info!(
        app = %manifest.name,
        components = manifest.components.len(),
        ms = started.elapsed().as_millis() as u64,
        "app ready"
    );
    Ok(Prepared { app, listen, cores })
}

/// The bytes of the layer with `digest`.
fn content<'a>(layers: &'a [WasmLayer], digest: &str) -> Option<&'a [u8]> {
    layers.iter().find(|l| l.config.digest().to_string() == digest).map(|l| l.layer.as_slice())
}

fn load_models(
    node: &node::NodeFiles,
    rc: &config::RuntimeConfig,
    cores: usize,
    metrics: Arc<metrics::Metrics>,
) -> anyhow::Result<nn::SharedRegistry> {
    let nn_cfg = &rc.wasi_nn;
    if nn_cfg.backend != "onnx" {
        bail!(
            "the node's runtime config asks for wasi-nn backend {:?}; this shim has onnx",
            nn_cfg.backend
        );
    }
    let models: Vec<(String, PathBuf)> =
        nn_cfg.models.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if models.is_empty() {
        tracing::warn!("the node configures no wasi-nn models: load-by-name will find none");
        return Ok(nn::SharedRegistry::default());
    }
    nn::init_onnxruntime(&node.ort_lib())?;
    let sessions = if nn_cfg.sessions > 0 { nn_cfg.sessions } else { cores };
    let pool = nn::PoolConfig { sessions, intra_threads: nn_cfg.intra_op_threads };
    let observe: nn::InferenceObserver =
        Arc::new(move |model, secs| metrics.inference_done(model, secs));
    Ok(nn::SharedRegistry::load_onnx(&models, pool, observe)?)
}

async fn serve(p: Prepared) -> anyhow::Result<()> {
    engine::spawn_epoch_ticker(p.app.engine());
    let max_concurrency = 2 * p.cores;
    let server = server::Server::new(
        p.app,
        server::ServerLimits {
            max_concurrency,
            max_queue: 64,
            queue_timeout: Duration::from_secs(2),
            max_body_bytes: server::DEFAULT_MAX_BODY_BYTES,
            body_timeout: Duration::from_secs(30),
        },
    );
    let listener = tokio::net::TcpListener::bind(p.listen)
        .await
        .with_context(|| format!("binding {}", p.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "serving");
    let limits = connections::ConnectionLimits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 1024,
    };
    server::serve(listener, server, limits).await
}

fn env_map(envs: &[String]) -> BTreeMap<String, String> {
    envs.iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,cranelift=warn,wasmtime=warn".into());
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn main() {
    // Before runwasi forks its zygote (the parent of every container process): open the
    // node directory and load ONNX Runtime, which the container's own root cannot see.
    node::preload();
    SpinferShim::run(Config::default());
}
