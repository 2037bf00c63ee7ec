//! `spinfer` — runs a Spin app (`spin.toml`) on wasmtime with native wasi-nn.
//!
//! `spinfer up` reads the manifest and the runtime config, loads every wasi-nn model
//! once, compiles every component once, then serves HTTP with a fresh instance per
//! request, admission control and limits; `/metrics` is on a separate admin listener.
//! `spinfer manifest` answers what it makes of a manifest (routes, resolved templates).
//! This file is start-up: the choice of wasi-nn backend and starting the listeners; the
//! command line is `cli.rs`, the rest is the library (see lib.rs).

mod cli;

use cli::{Cli, Command, ManifestArgs, ManifestQuery, UpArgs};
use spinfer::{admin, app, config, engine, inspect, manifest, metrics, nn, server};

use anyhow::{bail, Context as _};
use clap::Parser as _;
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

fn main() -> anyhow::Result<()> {
    let args = match Cli::parse().command {
        Command::Up(args) => *args,
        Command::Manifest(m) => return manifest_query(m),
    };
    init_logging(&args.log_format)?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let max_concurrency = if args.max_concurrency == 0 { 2 * cores } else { args.max_concurrency };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(max_concurrency + 2)
        .enable_all()
        .build()?;
    runtime.block_on(up(args, cores, max_concurrency))
}

fn init_logging(format: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,cranelift=warn,wasmtime=warn".into());
    // Colours only for a person at a terminal: a log file or collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        "json" => builder.json().init(),
        "text" => builder.init(),
        other => bail!("unknown --log-format {other:?} (text or json)"),
    }
    Ok(())
}

async fn up(args: UpArgs, cores: usize, max_concurrency: usize) -> anyhow::Result<()> {
    let manifest = manifest::Manifest::load(&args.manifest)?;
    let config_path = args
        .runtime_config_file
        .clone()
        .unwrap_or_else(|| manifest.dir.join("runtime-config.toml"));
    let rc = if config_path.is_file() || args.runtime_config_file.is_some() {
        config::RuntimeConfig::load(&config_path)?
    } else {
        config::RuntimeConfig::default()
    };
    let metrics = Arc::new(metrics::Metrics::default());
    let cache_dir = engine::cache_dir(args.cache_dir.as_deref());
    let registry = load_models(&args, &rc, cores, metrics.clone(), cache_dir.as_deref())?;

    let limits = engine::InstanceLimits {
        max_memory_bytes: args.max_instance_memory,
        timeout: Duration::from_millis(args.timeout_ms),
        max_instances: (max_concurrency * 4 + 8) as u32,
    };
    let overrides = spin_variable_overrides();
    let egress = spinfer::outbound::AddressPolicy::new(&args.allow_private_hosts, &args.resolve)
        .map_err(anyhow::Error::msg)?;
    let started = std::time::Instant::now();
    let app = app::App::load(
        &manifest,
        &overrides,
        registry,
        limits,
        metrics.clone(),
        cache_dir.as_deref(),
        Arc::new(egress),
    )?;
    tracing::info!(
        app = %manifest.name,
        components = manifest.components.len(),
        ms = started.elapsed().as_millis() as u64,
        "components ready"
    );
    engine::spawn_epoch_ticker(app.engine());

    let tracing =
        spinfer::telemetry::Tracing::from_env(&std::env::vars().collect(), metrics.clone())?;
    let server = server::Server::with_tracing(
        app,
        server::ServerLimits {
            max_concurrency,
            max_queue: args.max_queue,
            queue_timeout: Duration::from_millis(args.queue_timeout_ms),
            max_body_bytes: args.max_body_bytes,
            body_timeout: Duration::from_millis(args.timeout_ms),
        },
        tracing,
    );
    if let Some(addr) = args.admin_listen {
        let local = admin::start(addr, metrics).await?;
        println!("Metrics http://{local}/metrics");
    }
    let listener =
        TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    for t in &manifest.triggers {
        tracing::info!(route = %t.route, component = %t.component, "route");
    }
    // The line scripts and tests wait for.
    println!("Serving http://{local}");
    let limits = spinfer::connections::ConnectionLimits {
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        max_connections: args.max_connections.max(1),
    };
    server::serve(listener, server, limits).await
}

/// The wasi-nn graphs of the chosen backend, or `None` when wasi:nn is not linked at all.
fn load_models(
    args: &UpArgs,
    rc: &config::RuntimeConfig,
    cores: usize,
    metrics: Arc<metrics::Metrics>,
    cache_dir: Option<&std::path::Path>,
) -> anyhow::Result<Option<nn::SharedRegistry>> {
    let nn_cfg = &rc.wasi_nn;
    let backend = args.nn_backend.as_deref().unwrap_or(&nn_cfg.backend);
    if !matches!(backend, "onnx" | "openvino" | "none") {
        bail!(
            "unknown wasi-nn backend {backend:?}: this spinfer has `onnx` (ONNX Runtime), \
             `openvino` (OpenVINO) and `none` (no wasi:nn)"
        );
    }
    if backend == "none" {
        tracing::info!(
            "wasi:nn not linked (--nn-backend none): components must bring their own provider"
        );
        return Ok(None);
    }
    if nn_cfg.models.is_empty() {
        tracing::warn!(
            "no [wasi_nn.models] configured: components that call wasi:nn will get not-found"
        );
        return Ok(Some(nn::SharedRegistry::default()));
    }
    let models: Vec<(String, PathBuf)> =
        nn_cfg.models.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let started = std::time::Instant::now();
    let observe: nn::InferenceObserver =
        Arc::new(move |model, secs| metrics.inference_done(model, secs));
    let registry = if backend == "openvino" {
        nn::SharedRegistry::load_openvino(&models, observe)?
    } else {
        let lib = args.ort_lib.clone().context(
            "ONNX Runtime library not set: pass --ort-lib or set ORT_DYLIB_PATH \
             (scripts/setup.sh installs it)",
        )?;
        let lib_started = std::time::Instant::now();
        nn::init_onnxruntime(&lib)?;
        tracing::info!(
            ms = lib_started.elapsed().as_millis() as u64,
            "ONNX Runtime library loaded"
        );
        let sessions =
            [args.sessions, nn_cfg.sessions].into_iter().find(|&n| n > 0).unwrap_or(cores);
        let pool = nn::PoolConfig { sessions, intra_threads: nn_cfg.intra_op_threads };
        tracing::info!(sessions, intra_threads = pool.intra_threads, "ONNX Runtime session pools");
        // Optimised graphs beside the precompiled components (nn/graph_cache.rs).
        let graphs = cache_dir.and_then(nn::GraphCache::new);
        nn::SharedRegistry::load_onnx(&models, pool, observe, graphs.as_ref())?
    };
    tracing::info!(
        backend,
        models = ?registry.names(),
        ms = started.elapsed().as_millis() as u64,
        "wasi-nn graphs loaded"
    );
    Ok(Some(registry))
}

/// `SPIN_VARIABLE_<NAME>` environment variables, as Spin reads them.
fn spin_variable_overrides() -> BTreeMap<String, String> {
    std::env::vars()
        .filter_map(|(k, v)| k.strip_prefix("SPIN_VARIABLE_").map(|n| (n.to_lowercase(), v)))
        .collect()
}

/// `spinfer manifest …`: print the answer as JSON on stdout.
fn manifest_query(args: ManifestArgs) -> anyhow::Result<()> {
    let manifest = manifest::Manifest::load(&args.manifest)?;
    let json = match args.query {
        ManifestQuery::Routes { paths } => {
            serde_json::to_string_pretty(&inspect::routes(&manifest, &paths)?)?
        }
        ManifestQuery::Resolve { vars } => {
            let overrides = vars.into_iter().collect();
            serde_json::to_string_pretty(&inspect::resolve(&manifest, &overrides)?)?
        }
    };
    println!("{json}");
    Ok(())
}
