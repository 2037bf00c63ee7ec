//! `spinfer` — runs a Spin app (`spin.toml`) on wasmtime with native wasi-nn.
//!
//! `spinfer up` reads the manifest and the runtime config, loads every wasi-nn model
//! once, compiles every component once, then serves HTTP with a fresh instance per
//! request, admission control and limits; `/metrics` is on a separate admin listener.
//! `spinfer manifest` answers what it makes of a manifest (routes, resolved templates).
//! This file is the command line, the choice of wasi-nn backend, and starting the listeners;
//! the rest is the library (see lib.rs).

use spinfer::{admin, app, config, engine, inspect, manifest, metrics, nn, server};

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(name = "spinfer", version, about = "Run a Spin app on wasmtime with native wasi-nn")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app's HTTP triggers (like `spin up`).
    Up(Box<UpArgs>),
    /// What spinfer makes of a manifest, as JSON (for tools such as scripts/k8s_check.py).
    Manifest(ManifestArgs),
}

#[derive(Parser)]
struct ManifestArgs {
    /// The Spin manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    manifest: PathBuf,
    #[command(subcommand)]
    query: ManifestQuery,
}

#[derive(Subcommand)]
enum ManifestQuery {
    /// The component serving each path (null when none does).
    Routes { paths: Vec<String> },
    /// Application variables and each component's variables and allowed hosts, templates
    /// expanded; `--var name=value` as `SPIN_VARIABLE_<NAME>` would set it.
    Resolve {
        #[arg(long = "var", value_parser = parse_var)]
        vars: Vec<(String, String)>,
    },
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_lowercase(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not name=value"))
}

#[derive(Parser, Clone)]
struct UpArgs {
    /// The Spin manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    manifest: PathBuf,
    /// Address to serve the app on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Address for the admin listener (`/metrics`); off when not given.
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Runtime config (wasi-nn models and backend); default: runtime-config.toml beside the
    /// manifest.
    #[arg(long)]
    runtime_config_file: Option<PathBuf>,
    /// wasi-nn backend, overriding the runtime config: `onnx` (ONNX Runtime), `openvino`, or
    /// `none` (no wasi:nn linked at all: only components that bring their own, such as the
    /// composed classify-portable.wasm, can run — as on stock Spin).
    #[arg(long)]
    nn_backend: Option<String>,
    /// ONNX Runtime shared library (libonnxruntime.so).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    ort_lib: Option<PathBuf>,
    /// Sessions per model (requests computing at once per model); 0 = runtime config or CPU count.
    #[arg(long, default_value_t = 0)]
    sessions: usize,
    /// Requests handled at once; 0 = 2 × CPU count.
    #[arg(long, default_value_t = 0)]
    max_concurrency: usize,
    /// Requests that may wait for a slot; more are answered 503 at once.
    #[arg(long, default_value_t = 64)]
    max_queue: usize,
    /// Longest wait in the queue before a 503, milliseconds.
    #[arg(long, default_value_t = 2000)]
    queue_timeout_ms: u64,
    /// Largest request body accepted by the host (components may set lower limits).
    #[arg(long, default_value_t = server::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: u64,
    /// Linear-memory cap per component instance, bytes.
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY", default_value_t = 512 * 1024 * 1024)]
    max_instance_memory: usize,
    /// Request timeout, milliseconds (Wasm execution is interrupted at this point).
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    /// Directory for precompiled components; `none` disables the cache.
    #[arg(long, env = "SPINFER_CACHE_DIR")]
    cache_dir: Option<String>,
    /// Longest a client may take to send a request's headers, milliseconds (slowloris).
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Longest a keep-alive connection may sit idle (no bytes, no request running), ms.
    #[arg(long, default_value_t = 60_000)]
    idle_timeout_ms: u64,
    /// Connections open at once; more are answered 503 + Retry-After and closed.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// A host (as written in URLs) whose outgoing connections may reach loopback, private,
    /// link-local or other internal addresses: `HOST` or `HOST:PORT`; repeatable. Every
    /// other outgoing connection from any component is refused after DNS resolution when
    /// an address is internal.
    #[arg(long = "allow-private-host", value_name = "HOST[:PORT]")]
    allow_private_hosts: Vec<String>,
    /// Answer DNS for `HOST:PORT` with `ADDR` (as curl's --resolve); repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    resolve: Vec<String>,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
}

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
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
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
    let registry = load_models(&args, &rc, cores, metrics.clone())?;

    let limits = engine::InstanceLimits {
        max_memory_bytes: args.max_instance_memory,
        timeout: Duration::from_millis(args.timeout_ms),
        max_instances: (max_concurrency * 4 + 8) as u32,
    };
    let cache_dir = engine::cache_dir(args.cache_dir.as_deref());
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

    let server = server::Server::new(
        app,
        server::ServerLimits {
            max_concurrency,
            max_queue: args.max_queue,
            queue_timeout: Duration::from_millis(args.queue_timeout_ms),
            max_body_bytes: args.max_body_bytes,
            body_timeout: Duration::from_millis(args.timeout_ms),
        },
    );
    if let Some(addr) = args.admin_listen {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding admin listener {addr}"))?;
        tracing::info!(%addr, "admin listener (/metrics)");
        tokio::spawn(admin::serve(listener, metrics));
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
        nn::SharedRegistry::load_onnx(&models, pool, observe)?
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
