//! `spinfer-bench` — measures the host and the portable provider (see `make bench`).

use clap::{Parser, Subcommand};
use spinfer_bench::{command, http, portable};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "spinfer-bench", version, about = "Benchmarks of spinfer")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure native inference and a running `spinfer up`.
    Http(HttpCli),
    /// Measure the Wasm wasi:nn provider (fresh instance per inference) against native
    /// ONNX Runtime on one tensor, with parity.
    Portable(portable::PortableArgs),
    /// Run a WASI command component on the host's wasmtime engine with this process's
    /// stdin/stdout (the decoder benchmark's Wasm side).
    Wasm(WasmCli),
}

#[derive(Parser)]
struct WasmCli {
    #[command(flatten)]
    args: command::CommandArgs,
    /// Directory for precompiled components; `none` disables the cache.
    #[arg(long, env = "SPINFER_CACHE_DIR")]
    cache_dir: Option<String>,
}

#[derive(Parser)]
struct HttpCli {
    /// Address of the running `spinfer up`.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// A baseline server with the same routes (e.g. `wasmtime serve`), compared at
    /// concurrency 2 and 8.
    #[arg(long)]
    baseline: Option<SocketAddr>,
    /// A `spinfer up` of spin.portable.toml, compared end to end at concurrency 1.
    #[arg(long)]
    portable: Option<SocketAddr>,
    /// Image to classify.
    #[arg(long)]
    image: PathBuf,
    #[arg(long, default_value = "mobilenetv2")]
    model: String,
    /// The model file, for the native baseline.
    #[arg(long, default_value = "models/mobilenetv2/model.onnx")]
    model_file: PathBuf,
    /// ONNX Runtime intra-op threads for the native baseline (match the server's).
    #[arg(long, default_value_t = 1)]
    intra_threads: usize,
    /// Requests per series.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Only the native inference baseline (no server needed).
    #[arg(long)]
    native_only: bool,
    /// ONNX Runtime shared library (libonnxruntime.so).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    ort_lib: PathBuf,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Wasm(c) => {
            let cache = spinfer::engine::cache_dir(c.cache_dir.as_deref());
            command::run(&c.args, cache.as_deref())
        }
        Command::Portable(b) => {
            spinfer::nn::init_onnxruntime(&b.ort_lib)?;
            let cache = spinfer::engine::cache_dir(b.cache_dir.as_deref());
            portable::run(&b, cache.as_deref())
        }
        Command::Http(b) => {
            spinfer::nn::init_onnxruntime(&b.ort_lib)?;
            http::run(&http::BenchArgs {
                addr: b.addr,
                baseline: b.baseline,
                portable: b.portable,
                image: b.image,
                model: b.model,
                model_file: b.model_file,
                intra_threads: b.intra_threads,
                requests: b.requests,
                native_only: b.native_only,
            })
        }
    }
}
