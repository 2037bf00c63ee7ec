//! The inference engine behind the provider: tract (pure Rust) turns ONNX bytes into an
//! optimised plan once, then runs f32 NCHW tensors through it. No wasi:nn types here, so
//! the WIT glue in `lib.rs` stays thin and this part reads like any tract program.

use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

/// Why the engine refused: callers map these onto wasi:nn error codes.
#[derive(Debug)]
pub enum EngineError {
    /// The bytes are not a model tract can load (bad protobuf, unsupported operator, …).
    Load(String),
    /// The input does not fit the model (shape, element count).
    Input(String),
    /// The plan failed while running.
    Run(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Load(m) => write!(f, "cannot load model: {m}"),
            EngineError::Input(m) => write!(f, "bad input: {m}"),
            EngineError::Run(m) => write!(f, "inference failed: {m}"),
        }
    }
}

/// One loaded, optimised model. Cheap to clone (the plan is shared).
#[derive(Clone)]
pub struct Model {
    plan: Arc<TypedRunnableModel>,
    input_shape: Vec<usize>,
}

/// One output of a run: dimensions and f32 values.
pub struct Output {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl Model {
    /// Parse ONNX bytes, fix the batch to 1 (the models declare a symbolic batch), and
    /// optimise: the expensive step, done once per model (at build time when pre-initialised).
    pub fn from_onnx(bytes: &[u8]) -> Result<Model, EngineError> {
        let load = |e: TractError| EngineError::Load(format!("{e:#}"));
        let mut model = tract_onnx::onnx()
            .with_ignore_output_shapes(true)
            .with_ignore_value_info(true)
            .model_for_read(&mut &*bytes)
            .map_err(load)?;
        let input_shape = Self::fixed_input_shape(&model)?;
        model.set_input_fact(0, f32::fact(&input_shape).into()).map_err(load)?;
        let plan = model.into_optimized().map_err(load)?.into_runnable().map_err(load)?;
        Ok(Model { plan, input_shape })
    }

    /// The single input's declared shape with symbolic dimensions (the batch) set to 1.
    fn fixed_input_shape(model: &InferenceModel) -> Result<Vec<usize>, EngineError> {
        if model.inputs.len() != 1 {
            return Err(EngineError::Load(format!(
                "{} inputs; only single-input models are supported",
                model.inputs.len()
            )));
        }
        let fact = model.input_fact(0).map_err(|e| EngineError::Load(format!("{e:#}")))?;
        let shape = fact
            .shape
            .concretize()
            .ok_or_else(|| EngineError::Load("input shape is not declared".into()))?;
        Ok(shape.iter().map(|d| d.to_usize().unwrap_or(1)).collect())
    }

    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Run one f32 input, given as its dims and little-endian bytes, through the plan.
    /// The plan is fixed at batch 1; a batch of N (dims `[N, rest…]` where the model takes
    /// `[1, rest…]`) runs item by item and comes back as one output with batch N.
    pub fn run_le(&self, shape: &[usize], bytes: &[u8]) -> Result<Vec<Output>, EngineError> {
        let batched = match (shape.split_first(), self.input_shape.split_first()) {
            (Some((&n, rest)), Some((&1, model_rest))) if n >= 1 && rest == model_rest => n,
            _ => 0,
        };
        if batched == 0 {
            return Err(EngineError::Input(format!(
                "shape {shape:?}, the model takes {:?} (any batch ≥ 1)",
                self.input_shape
            )));
        }
        let item = self.input_shape.iter().product::<usize>() * 4;
        let needed = item.checked_mul(batched);
        if needed != Some(bytes.len()) {
            return Err(EngineError::Input(format!(
                "{} data bytes for shape {shape:?} (needs {needed:?})",
                bytes.len()
            )));
        }
        let mut merged: Vec<Output> = Vec::new();
        for chunk in bytes.chunks_exact(item) {
            let outputs = self.run_one(chunk)?;
            if merged.is_empty() {
                merged = outputs;
                continue;
            }
            for (into, out) in merged.iter_mut().zip(outputs) {
                into.values.extend(out.values);
                if let Some(b) = into.shape.first_mut() {
                    *b += out.shape.first().copied().unwrap_or(1);
                }
            }
        }
        Ok(merged)
    }

    /// One batch-1 item (its length checked by the caller).
    fn run_one(&self, bytes: &[u8]) -> Result<Vec<Output>, EngineError> {
        // SAFETY: every bit pattern is a valid f32, the length matches the shape (checked
        // by run_le), from_raw copies into aligned storage, and wasm32 is little-endian.
        let input = unsafe { Tensor::from_raw::<f32>(&self.input_shape, bytes) }
            .map_err(|e| EngineError::Input(format!("{e:#}")))?;
        let outputs =
            self.plan.run(tvec!(input.into())).map_err(|e| EngineError::Run(format!("{e:#}")))?;
        outputs.iter().map(Self::output).collect()
    }

    fn output(value: &TValue) -> Result<Output, EngineError> {
        let view = value
            .to_plain_array_view::<f32>()
            .map_err(|e| EngineError::Run(format!("output: {e:#}")))?;
        Ok(Output { shape: view.shape().to_vec(), values: view.iter().copied().collect() })
    }
}
