//! The `spinfer` command line: `up` (serve an app) and `manifest` (what spinfer makes of
//! one), with every setting's flag, default and environment variable in one place.

use clap::{Parser, Subcommand};
use spinfer::server;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "spinfer", version, about = "Run a Spin app on wasmtime with native wasi-nn")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the app's HTTP triggers (like `spin up`).
    Up(Box<UpArgs>),
    /// What spinfer makes of a manifest, as JSON (for tools such as scripts/k8s_check.py).
    Manifest(ManifestArgs),
}

#[derive(Parser)]
pub struct ManifestArgs {
    /// The Spin manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    pub manifest: PathBuf,
    #[command(subcommand)]
    pub query: ManifestQuery,
}

#[derive(Subcommand)]
pub enum ManifestQuery {
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
pub struct UpArgs {
    /// The Spin manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    pub manifest: PathBuf,
    /// Address to serve the app on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Address for the admin listener (`/metrics`); off when not given (`make up`: :9464).
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// Runtime config (wasi-nn models and backend); default: runtime-config.toml beside the
    /// manifest.
    #[arg(long)]
    pub runtime_config_file: Option<PathBuf>,
    /// wasi-nn backend, overriding the runtime config: `onnx` (ONNX Runtime), `openvino`, or
    /// `none` (no wasi:nn linked at all: only components that bring their own, such as the
    /// composed classify-portable.wasm, can run — as on stock Spin).
    #[arg(long)]
    pub nn_backend: Option<String>,
    /// ONNX Runtime shared library (libonnxruntime.so).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Sessions per model (requests computing at once per model); 0 = runtime config or CPU count.
    #[arg(long, default_value_t = 0)]
    pub sessions: usize,
    /// Requests handled at once; 0 = 2 × CPU count.
    #[arg(long, default_value_t = 0)]
    pub max_concurrency: usize,
    /// Requests that may wait for a slot; more are answered 503 at once.
    #[arg(long, default_value_t = 64)]
    pub max_queue: usize,
    /// Longest wait in the queue before a 503, milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub queue_timeout_ms: u64,
    /// Largest request body accepted by the host (components may set lower limits).
    #[arg(long, default_value_t = server::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: u64,
    /// Linear-memory cap per component instance, bytes.
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY", default_value_t = 512 * 1024 * 1024)]
    pub max_instance_memory: usize,
    /// Request timeout, milliseconds (Wasm execution is interrupted at this point).
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// Directory for precompiled components; `none` disables the cache.
    #[arg(long, env = "SPINFER_CACHE_DIR")]
    pub cache_dir: Option<String>,
    /// Longest a client may take to send a request's headers, milliseconds (slowloris).
    #[arg(long, default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// Longest a keep-alive connection may sit idle (no bytes, no request running), ms.
    #[arg(long, default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// Connections open at once; more are answered 503 + Retry-After and closed.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// A host (as written in URLs) whose outgoing connections may reach loopback, private,
    /// link-local or other internal addresses: `HOST` or `HOST:PORT`; repeatable. Every
    /// other outgoing connection from any component is refused after DNS resolution when
    /// an address is internal.
    #[arg(long = "allow-private-host", value_name = "HOST[:PORT]")]
    pub allow_private_hosts: Vec<String>,
    /// Answer DNS for `HOST:PORT` with `ADDR` (as curl's --resolve); repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    pub log_format: String,
}
