//! nn-provider: a Wasm component that *exports* `wasi:nn@0.2.0-rc-2024-10-28` with tract
//! inside, so classify (which only imports wasi:nn) runs where the runtime has no wasi:nn —
//! stock Spin, SpinKube's shim — once `wac plug` composes the two (see Makefile `compose`).
//!
//! Models arrive at build time: `wasmtime wizer` runs `wizer-initialize`, which loads and
//! optimises `/models/<name>/model.onnx` (the repo's `models/` directory mapped in), and
//! the snapshot ships the ready plans. A fresh instance per request (Spin's model) then
//! pays no parse or optimisation; `load-by-name` only looks the plan up. This file is the
//! WIT glue; the engine is `engine.rs`, the named models `registry.rs`.

mod engine;
#[cfg(all(target_arch = "wasm32", old_wasi_libc))]
mod libc_shim;
mod registry;
mod zeroing_alloc;

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "spinfer:nn-provider/provider", generate_all });
}

use bindings::exports::wasi::nn::{errors, graph, inference, tensor};
use engine::{EngineError, Model};
use errors::ErrorCode;
use std::sync::atomic::{AtomicBool, Ordering};

#[global_allocator]
static ALLOC: zeroing_alloc::ZeroingAlloc =
    zeroing_alloc::ZeroingAlloc { zero_on_free: AtomicBool::new(false) };

struct Provider;
bindings::export!(Provider with_types_in bindings);

impl bindings::Guest for Provider {
    fn wizer_initialize() {
        ALLOC.zero_on_free.store(true, Ordering::Relaxed);
        match registry::load_dir(registry::MODELS_DIR) {
            Ok(names) => eprintln!("nn-provider: pre-initialised {}", names.join(", ")),
            // Wizer reports a trap and writes nothing: a build without models fails loudly.
            Err(e) => panic!("nn-provider pre-initialisation failed: {e}"),
        }
        ALLOC.zero_on_free.store(false, Ordering::Relaxed);
    }
}

/// wasi:nn `error` resource: a code and a message.
pub struct NnError {
    code: ErrorCode,
    message: String,
}

fn error(code: ErrorCode, message: impl Into<String>) -> errors::Error {
    errors::Error::new(NnError { code, message: message.into() })
}

fn engine_error(e: EngineError) -> errors::Error {
    let code = match e {
        EngineError::Load(_) => ErrorCode::InvalidEncoding,
        EngineError::Input(_) => ErrorCode::InvalidArgument,
        EngineError::Run(_) => ErrorCode::RuntimeError,
    };
    error(code, e.to_string())
}

impl errors::Guest for Provider {
    type Error = NnError;
}

impl errors::GuestError for NnError {
    fn code(&self) -> ErrorCode {
        self.code
    }
    fn data(&self) -> String {
        self.message.clone()
    }
}

/// wasi:nn `tensor` resource: dimensions, element type, little-endian bytes.
pub struct NnTensor {
    dims: Vec<u32>,
    ty: tensor::TensorType,
    data: Vec<u8>,
}

impl tensor::Guest for Provider {
    type Tensor = NnTensor;
}

impl tensor::GuestTensor for NnTensor {
    fn new(dimensions: Vec<u32>, ty: tensor::TensorType, data: Vec<u8>) -> Self {
        NnTensor { dims: dimensions, ty, data }
    }
    fn dimensions(&self) -> Vec<u32> {
        self.dims.clone()
    }
    fn ty(&self) -> tensor::TensorType {
        self.ty
    }
    fn data(&self) -> Vec<u8> {
        self.data.clone()
    }
}

/// wasi:nn `graph` resource: a shared, optimised model.
pub struct NnGraph(Model);

impl graph::Guest for Provider {
    type Graph = NnGraph;

    /// Load from bytes at run time: works, but parses and optimises on every call
    /// (seconds in Wasm). Serving paths use `load-by-name` on pre-initialised models.
    fn load(
        builders: Vec<Vec<u8>>,
        encoding: graph::GraphEncoding,
        target: graph::ExecutionTarget,
    ) -> Result<graph::Graph, errors::Error> {
        use graph::{ExecutionTarget, GraphEncoding};
        if !matches!(encoding, GraphEncoding::Onnx | GraphEncoding::Autodetect) {
            return Err(error(
                ErrorCode::InvalidEncoding,
                format!("{encoding:?}: this provider reads ONNX only"),
            ));
        }
        if target != ExecutionTarget::Cpu {
            return Err(error(
                ErrorCode::UnsupportedOperation,
                format!("{target:?}: this provider runs on the CPU only"),
            ));
        }
        let [bytes] = builders.as_slice() else {
            return Err(error(
                ErrorCode::InvalidArgument,
                "ONNX takes exactly one graph builder (the model bytes)",
            ));
        };
        Model::from_onnx(bytes).map(|m| graph::Graph::new(NnGraph(m))).map_err(engine_error)
    }

    fn load_by_name(name: String) -> Result<graph::Graph, errors::Error> {
        match registry::get(&name) {
            Some(model) => Ok(graph::Graph::new(NnGraph(model))),
            None => Err(error(
                ErrorCode::NotFound,
                format!(
                    "no model named {name:?} in this provider (built with: {})",
                    registry::names().join(", ")
                ),
            )),
        }
    }
}

impl graph::GuestGraph for NnGraph {
    fn init_execution_context(&self) -> Result<inference::GraphExecutionContext, errors::Error> {
        Ok(inference::GraphExecutionContext::new(NnContext(self.0.clone())))
    }
}

/// wasi:nn `graph-execution-context` resource.
pub struct NnContext(Model);

impl inference::Guest for Provider {
    type GraphExecutionContext = NnContext;
}

impl inference::GuestGraphExecutionContext for NnContext {
    fn compute(
        &self,
        inputs: Vec<inference::NamedTensor>,
    ) -> Result<Vec<inference::NamedTensor>, errors::Error> {
        let [(_, input)] = inputs.as_slice() else {
            return Err(error(
                ErrorCode::InvalidArgument,
                format!("{} inputs; the model takes one", inputs.len()),
            ));
        };
        let input = input.get::<NnTensor>();
        if input.ty != tensor::TensorType::Fp32 {
            return Err(error(
                ErrorCode::InvalidArgument,
                format!("input is {:?}; this provider takes FP32", input.ty),
            ));
        }
        let shape: Vec<usize> = input.dims.iter().map(|&d| d as usize).collect();
        let outputs = self.0.run_le(&shape, &input.data).map_err(engine_error)?;
        Ok(outputs.into_iter().enumerate().map(|(i, o)| (i.to_string(), encode_f32(o))).collect())
    }
}

fn encode_f32(o: engine::Output) -> tensor::Tensor {
    let dims = o.shape.iter().map(|&d| d as u32).collect();
    let data = o.values.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor::Tensor::new(NnTensor { dims, ty: tensor::TensorType::Fp32, data })
}
