//! The one place classify talks to wasi:nn (`wasi:nn@0.2.0-rc-2024-10-28`, WIT in
//! `../wit/`): find the graph by name, make an execution context, compute, read the first
//! output as f32 logits. Whoever provides wasi:nn (the spinfer host's native registry or
//! a composed Wasm provider) decides where the graph comes from.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "wasi:nn/ml", generate_all });
}

use bindings::wasi::nn::{errors, graph, tensor};
use spinfer_pipeline::ModelSpec;
use std::time::{Duration, Instant};

/// A wasi-nn failure, with the provider's own code and message.
#[derive(Debug)]
pub struct NnError {
    pub stage: &'static str,
    pub message: String,
}

impl std::fmt::Display for NnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wasi-nn {} failed: {}", self.stage, self.message)
    }
}

fn wrap(stage: &'static str) -> impl FnOnce(errors::Error) -> NnError {
    move |e| NnError { stage, message: format!("{:?}: {}", e.code(), e.data()) }
}

/// Load the model's graph by name and check an execution context can be made.
pub fn probe(model: &ModelSpec) -> Result<(), NnError> {
    let g = graph::load_by_name(model.name).map_err(wrap("load-by-name"))?;
    g.init_execution_context().map_err(wrap("init-execution-context"))?;
    Ok(())
}

/// Where a wasi-nn inference spent its time, as the component sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NnTimes {
    /// `load-by-name`, `init-execution-context` and the input tensor's copy into the provider.
    pub setup: Duration,
    /// The `compute` call, from the call to its return.
    pub compute: Duration,
    /// Reading the output tensor's bytes back and decoding the f32 logits.
    pub output: Duration,
}

/// Run one NCHW f32 tensor (little-endian bytes) through the model; return the logits.
pub fn infer(model: &ModelSpec, input_le: &[u8]) -> Result<(Vec<f32>, NnTimes), NnError> {
    infer_batch(model, 1, input_le)
}

/// Run a batch of `n` NCHW f32 tensors (little-endian bytes, one after another) as one
/// `compute` with batch dimension `n`; return the `n` rows of logits, concatenated.
pub fn infer_batch(
    model: &ModelSpec,
    n: u32,
    input_le: &[u8],
) -> Result<(Vec<f32>, NnTimes), NnError> {
    let t0 = Instant::now();
    let g = graph::load_by_name(model.name).map_err(wrap("load-by-name"))?;
    let ctx = g.init_execution_context().map_err(wrap("init-execution-context"))?;
    let mut shape = model.input_shape;
    shape[0] = n;
    let input = tensor::Tensor::new(&shape, tensor::TensorType::Fp32, input_le);
    let t1 = Instant::now();
    let outputs =
        ctx.compute(vec![(model.input_name.to_string(), input)]).map_err(wrap("compute"))?;
    let t2 = Instant::now();
    let (_, first) = outputs.into_iter().next().ok_or_else(|| NnError {
        stage: "compute",
        message: "the graph returned no outputs".into(),
    })?;
    if first.ty() != tensor::TensorType::Fp32 {
        return Err(NnError {
            stage: "compute",
            message: format!("output is {:?}, expected fp32", first.ty()),
        });
    }
    let logits = spinfer_pipeline::f32s_from_le_bytes(&first.data());
    let times = NnTimes { setup: t1 - t0, compute: t2 - t1, output: t2.elapsed() };
    Ok((logits, times))
}
