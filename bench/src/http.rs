//! `spinfer-bench http`: the numbers the host promises, measured in one run on one machine.
//! Native inference (the host's own ONNX Runtime session pool, same threads, no Wasm)
//! is the baseline; against a running `spinfer up` it then measures end-to-end
//! `POST /classify` latency at concurrency 1, the instantiate+call overhead of a
//! component (the frontend's `/` redirect vs the host-answered health route), and throughput at
//! concurrency 2 and 8. Optionally the same against a baseline server, and the
//! end-to-end latency of the portable classify (spin.portable.toml) beside the native one,
//! and the per-image cost of the Open Inference Protocol route at batch 1 and 8 ([`crate::oip`]).

use spinfer::nn::{InferenceObserver, PoolConfig, SharedRegistry};
use spinfer_pipeline::{decode_rgb8, find_model, tensor_le_bytes, to_model_input, DecodeLimits};
use spinfer_testing::try_request;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use wasmtime_wasi_nn::backend::NamedTensor;
use wasmtime_wasi_nn::wit::TensorType;
use wasmtime_wasi_nn::{GraphRegistry, Tensor};

/// What to measure.
pub struct BenchArgs {
    pub addr: SocketAddr,
    pub baseline: Option<SocketAddr>,
    /// A `spinfer up` of spin.portable.toml (composed classify, no host wasi-nn).
    pub portable: Option<SocketAddr>,
    pub image: PathBuf,
    pub model: String,
    pub model_file: PathBuf,
    pub intra_threads: usize,
    pub requests: usize,
    pub native_only: bool,
}

/// Latency summary of one series, milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub p50: f64,
    pub p99: f64,
    pub mean: f64,
}

pub fn summarize(mut ms: Vec<f64>) -> Summary {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    Summary { p50: at(0.50), p99: at(0.99), mean: ms.iter().sum::<f64>() / ms.len() as f64 }
}

/// ONNX Runtime through the host's own backend (one session), for baselines and parity.
pub struct Native {
    graph: wasmtime_wasi_nn::Graph,
}

impl Native {
    pub fn load(
        model: &str,
        file: &std::path::Path,
        intra_threads: usize,
    ) -> anyhow::Result<Native> {
        let observe: InferenceObserver = Arc::new(|_, _| {});
        let cfg = PoolConfig { sessions: 1, intra_threads };
        let registry = SharedRegistry::load_onnx(
            &[(model.to_string(), file.to_path_buf())],
            cfg,
            observe,
            None,
        )?;
        let graph = registry.get(model).expect("just loaded").clone();
        Ok(Native { graph })
    }

    /// One NCHW 1×3×224×224 inference: (milliseconds, first output as f32).
    pub fn infer(&self, input_le: &[u8]) -> anyhow::Result<(f64, Vec<f32>)> {
        self.infer_batch(1, input_le)
    }

    /// One NCHW N×3×224×224 inference (one compute): (milliseconds, first output as f32).
    pub fn infer_batch(&self, n: u32, input_le: &[u8]) -> anyhow::Result<(f64, Vec<f32>)> {
        let tensor = Tensor::new(vec![n, 3, 224, 224], TensorType::Fp32, input_le.to_vec());
        let mut ctx = self.graph.init_execution_context().map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = Instant::now();
        let out = ctx
            .compute_with_io(vec![NamedTensor { name: "input".into(), tensor }])
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let first = out.into_iter().next().ok_or_else(|| anyhow::anyhow!("no outputs"))?;
        Ok((ms, spinfer_pipeline::f32s_from_le_bytes(&first.tensor.data)))
    }

    /// Five untimed inferences (first-run allocations, caches).
    pub fn warm_up(&self, input_le: &[u8]) -> anyhow::Result<()> {
        for _ in 0..5 {
            self.infer(input_le)?;
        }
        Ok(())
    }

    /// Latency over `n` inferences after the warm-up.
    pub fn series(&self, input_le: &[u8], n: usize) -> anyhow::Result<Summary> {
        self.warm_up(input_le)?;
        Ok(summarize(
            (0..n).map(|_| self.infer(input_le).map(|r| r.0)).collect::<anyhow::Result<_>>()?,
        ))
    }
}

/// Native inference latency through the host's own backend (no Wasm, no HTTP).
pub fn native(args: &BenchArgs, input: &[u8]) -> anyhow::Result<Summary> {
    Native::load(&args.model, &args.model_file, args.intra_threads)?.series(input, args.requests)
}

/// One load series: `total` requests over `concurrency` client threads.
pub struct Load {
    pub latency: Summary,
    pub rps: f64,
    pub errors: usize,
}

pub fn load(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    concurrency: usize,
    total: usize,
) -> Load {
    let per_thread = total.div_ceil(concurrency);
    let start = Instant::now();
    let results: Vec<(Vec<f64>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrency)
            .map(|_| {
                s.spawn(move || {
                    let mut times = Vec::with_capacity(per_thread);
                    let mut errors = 0;
                    for _ in 0..per_thread {
                        let t = Instant::now();
                        match try_request(addr, method, path, &[], body) {
                            Ok(r) if r.status < 400 => times.push(t.elapsed().as_secs_f64() * 1e3),
                            _ => errors += 1,
                        }
                    }
                    (times, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("load thread")).collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let errors = results.iter().map(|r| r.1).sum();
    let times: Vec<f64> = results.into_iter().flat_map(|r| r.0).collect();
    let ok = times.len();
    let latency = if times.is_empty() {
        Summary { p50: f64::NAN, p99: f64::NAN, mean: f64::NAN }
    } else {
        summarize(times)
    };
    Load { latency, rps: ok as f64 / wall, errors }
}

/// Run everything and print the report.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.image)?;
    let spec =
        find_model(&args.model).ok_or_else(|| anyhow::anyhow!("unknown model {}", args.model))?;
    let input =
        tensor_le_bytes(&to_model_input(&decode_rgb8(&bytes, DecodeLimits::default())?, spec));
    let n = args.requests;
    let path = format!("/classify?model={}", args.model);
    println!(
        "spinfer-bench http: {} ({} bytes), model {}, {} requests per series, \
         {} ORT intra-op thread(s) per session",
        args.image.display(),
        bytes.len(),
        args.model,
        n,
        args.intra_threads
    );

    let native = native(args, &input)?;
    line("native inference (ONNX Runtime, no Wasm)", &native, None);
    if args.native_only {
        return Ok(());
    }
    let _ = load(args.addr, "POST", &path, &bytes, 1, 5); // warm-up
    let c1 = load(args.addr, "POST", &path, &bytes, 1, n);
    line("POST /classify end-to-end, concurrency 1", &c1.latency, Some(c1.errors));
    println!("  ratio end-to-end p50 / native p50: {:.2}x", c1.latency.p50 / native.p50);
    if let Some(p) = args.portable {
        let _ = load(p, "POST", &path, &bytes, 1, 3); // warm-up
        let pc1 = load(p, "POST", &path, &bytes, 1, n);
        line(
            "POST /classify end-to-end, portable classify \
             (Wasm wasi:nn provider, no host wasi-nn), concurrency 1",
            &pc1.latency,
            Some(pc1.errors),
        );
        println!(
            "  ratio portable / native-host end-to-end p50: {:.2}x (p99 {:.2}x)",
            pc1.latency.p50 / c1.latency.p50,
            pc1.latency.p99 / c1.latency.p99
        );
    }

    crate::oip::report(args, &bytes, &input, native.p50, c1.latency.p50)?;

    let health = load(args.addr, "GET", "/.well-known/spin/health", b"", 1, n.max(200));
    let wasm = load(args.addr, "GET", "/", b"", 1, n.max(200));
    line("GET /.well-known/spin/health (host only)", &health.latency, Some(health.errors));
    line("GET / (frontend redirect: instantiate + call)", &wasm.latency, Some(wasm.errors));
    println!(
        "  instantiate+call overhead (p50 difference): {:.3} ms",
        wasm.latency.p50 - health.latency.p50
    );

    for c in [2, 8] {
        let l = load(args.addr, "POST", &path, &bytes, c, n.max(4 * c));
        println!(
            "throughput, concurrency {c}: {:.1} req/s (p50 {:.1} ms, p99 {:.1} ms, errors {})",
            l.rps, l.latency.p50, l.latency.p99, l.errors
        );
        if let Some(base) = args.baseline {
            let b = load(base, "POST", &path, &bytes, c, (n / 4).max(2 * c));
            if b.rps > 0.0 {
                println!(
                    "  baseline, concurrency {c}: {:.1} req/s (p50 {:.1} ms, errors {}); \
                     spinfer / baseline = {:.1}x",
                    b.rps,
                    b.latency.p50,
                    b.errors,
                    l.rps / b.rps
                );
            } else {
                println!(
                    "  baseline, concurrency {c}: no successful responses ({} errors); no ratio",
                    b.errors
                );
            }
        }
    }
    Ok(())
}

pub(crate) fn line(what: &str, s: &Summary, errors: Option<usize>) {
    let errs = errors.map(|e| format!(", errors {e}")).unwrap_or_default();
    println!("{what}: p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms{errs}", s.p50, s.p99, s.mean);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let s = summarize((1..=100).map(f64::from).collect());
        assert_eq!((s.p50, s.p99), (51.0, 99.0));
        assert_eq!(s.mean, 50.5);
    }
}
