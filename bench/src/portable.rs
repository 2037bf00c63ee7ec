//! `spinfer-bench portable`: the Wasm wasi:nn provider against native ONNX Runtime, in
//! one run on one input (the reference tensor): a fresh provider instance per inference
//! (as Spin makes one per request), instantiate + first inference with and without
//! pre-initialisation, and the logits' largest difference from ONNX Runtime's.

use crate::http::{line, summarize, Native};
use crate::provider::{fresh_inference, Provider, Source};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to measure (the `spinfer-bench portable` command line).
#[derive(clap::Args)]
pub struct PortableArgs {
    /// The pre-initialised provider component.
    #[arg(long, default_value = "target/wasm32-wasip2/release/nn_provider.init.wasm")]
    pub provider: PathBuf,
    /// The provider before pre-initialisation, to time instantiate + load + first inference
    /// without it.
    #[arg(long)]
    pub raw_provider: Option<PathBuf>,
    #[arg(long, default_value = "mobilenetv2")]
    pub model: String,
    /// The model file, for ONNX Runtime (and the not-pre-initialised run).
    #[arg(long, default_value = "models/mobilenetv2/model.onnx")]
    pub model_file: PathBuf,
    /// Input: a 1x3x224x224 f32 little-endian tensor.
    #[arg(long)]
    pub tensor: PathBuf,
    /// Inferences per series.
    #[arg(long, default_value_t = 50)]
    pub requests: usize,
    /// ONNX Runtime intra-op threads (the provider runs single-threaded, like the host's default).
    #[arg(long, default_value_t = 1)]
    pub intra_threads: usize,
    /// Directory for precompiled components; `none` disables the cache.
    #[arg(long, env = "SPINFER_CACHE_DIR")]
    pub cache_dir: Option<String>,
    /// ONNX Runtime shared library (libonnxruntime.so).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_lib: PathBuf,
}

pub fn run(a: &PortableArgs, cache_dir: Option<&Path>) -> anyhow::Result<()> {
    let input = std::fs::read(&a.tensor)?;
    let dims = [1u32, 3, 224, 224];
    anyhow::ensure!(
        input.len() == 4 * 3 * 224 * 224,
        "{}: not a 1x3x224x224 f32 tensor",
        a.tensor.display()
    );
    println!(
        "spinfer-bench portable: model {}, input {}, {} inferences per series",
        a.model,
        a.tensor.display(),
        a.requests
    );

    let native = Native::load(&a.model, &a.model_file, a.intra_threads)?;
    let (_, reference) = native.infer(&input)?;
    native.warm_up(&input)?;

    let t = Instant::now();
    let provider = Provider::load(&a.provider, cache_dir)?;
    println!(
        "provider {}: compiled/loaded in {:.0} ms (once per host)",
        a.provider.display(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let first = fresh_inference(&provider, Source::Name(&a.model), &dims, &input)?;
    println!(
        "pre-initialised, first request: instantiate {:.2} ms + load-by-name/compute {:.1} ms \
         = {:.1} ms",
        first.instantiate_ms,
        first.infer_ms,
        first.instantiate_ms + first.infer_ms
    );
    println!(
        "parity: max |portable - native| over {} logits = {:.2e}",
        reference.len(),
        max_diff(&first.logits, &reference)
    );

    // Native and portable alternate, so drift on a shared machine hits both series alike.
    let mut native_ms = Vec::with_capacity(a.requests);
    let mut runs = Vec::with_capacity(a.requests);
    for _ in 0..a.requests {
        native_ms.push(native.infer(&input)?.0);
        runs.push(fresh_inference(&provider, Source::Name(&a.model), &dims, &input)?);
    }
    let native_s = summarize(native_ms);
    let inst = summarize(runs.iter().map(|r| r.instantiate_ms).collect());
    let total = summarize(runs.iter().map(|r| r.instantiate_ms + r.infer_ms).collect());
    line(
        "native ONNX Runtime compute (no Wasm), interleaved with the next series",
        &native_s,
        None,
    );
    line("portable, fresh instance per request: instantiate", &inst, None);
    line("portable, fresh instance per request: instantiate + inference", &total, None);
    println!(
        "  ratio portable p50 / native p50: {:.2}x (p99 {:.2}x)",
        total.p50 / native_s.p50,
        total.p99 / native_s.p99
    );
    let mut reused = provider.instantiate()?;
    let reuse = (0..a.requests)
        .map(|_| {
            let t = Instant::now();
            reused
                .infer(Source::Name(&a.model), &dims, &input)
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    line(
        "portable, one instance reused (for comparison; Spin does not reuse)",
        &summarize(reuse),
        None,
    );

    if let Some(raw) = &a.raw_provider {
        let bytes = std::fs::read(&a.model_file)?;
        let provider = Provider::load(raw, cache_dir)?;
        let r = fresh_inference(&provider, Source::Onnx(&bytes), &dims, &input)?;
        println!(
            "not pre-initialised (load ONNX bytes per instance): instantiate {:.2} ms + \
             load/optimise/compute {:.0} ms = {:.0} ms ({:.0}x the pre-initialised first request)",
            r.instantiate_ms,
            r.infer_ms,
            r.instantiate_ms + r.infer_ms,
            (r.instantiate_ms + r.infer_ms) / (first.instantiate_ms + first.infer_ms)
        );
    }
    Ok(())
}

pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
