//! ONNX Runtime graphs: each is a pool of sessions, so requests on the same model compute
//! in parallel; a request's execution context holds its tensors and borrows a session
//! only for `compute`.

use super::{NnSetupError, PoolConfig};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use wasmtime_wasi_nn::backend::{
    BackendError, BackendExecutionContext, BackendGraph, Id, NamedTensor,
};
use wasmtime_wasi_nn::wit::TensorType;
use wasmtime_wasi_nn::{ExecutionContext, Tensor};

/// A pool of sessions for one model, shared by all requests.
pub(super) struct SessionPool {
    name: String,
    idle: Mutex<Vec<ort::session::Session>>,
    available: Condvar,
    input_names: Vec<String>,
}

impl SessionPool {
    pub(super) fn load(name: &str, path: &Path, cfg: PoolConfig) -> Result<Self, NnSetupError> {
        if !path.is_file() {
            return Err(NnSetupError::MissingModel { name: name.into(), path: path.into() });
        }
        let bad = |e: ort::Error| NnSetupError::BadModel {
            name: name.into(),
            path: path.into(),
            reason: e.to_string(),
        };
        let mut sessions = Vec::with_capacity(cfg.sessions);
        for _ in 0..cfg.sessions.max(1) {
            let session = ort::session::Session::builder()
                .and_then(|b| {
                    b.with_optimization_level(ort::session::builder::GraphOptimizationLevel::Level3)
                })
                .and_then(|b| b.with_intra_threads(cfg.intra_threads.max(1)))
                .and_then(|b| b.with_inter_threads(1))
                .and_then(|b| b.commit_from_file(path))
                .map_err(bad)?;
            sessions.push(session);
        }
        let input_names = sessions[0].inputs.iter().map(|i| i.name.clone()).collect();
        Ok(Self {
            name: name.into(),
            idle: Mutex::new(sessions),
            available: Condvar::new(),
            input_names,
        })
    }

    /// Borrow an idle session (waiting for one if all are busy), run `f`, give it back.
    fn with_session<R>(&self, f: impl FnOnce(&mut ort::session::Session) -> R) -> R {
        let mut session = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(s) = idle.pop() {
                    break s;
                }
                idle = self.available.wait(idle).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = f(&mut session);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(session);
        self.available.notify_one();
        result
    }

    fn run(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<NamedTensor>, BackendError> {
        let mut values: Vec<(String, ort::session::SessionInputValue<'static>)> =
            Vec::with_capacity(inputs.len());
        for (name, tensor) in inputs {
            if tensor.ty != TensorType::Fp32 {
                return Err(BackendError::UnsupportedTensorType(format!(
                    "{:?} (only fp32 inputs)",
                    tensor.ty
                )));
            }
            if !self.input_names.contains(&name) {
                return Err(access(format!(
                    "graph {:?} has no input named {name:?} (inputs: {:?})",
                    self.name, self.input_names
                )));
            }
            let data = spinfer_pipeline::f32s_from_le_bytes(&tensor.data);
            let shape: Vec<i64> = tensor.dimensions.iter().map(|&d| i64::from(d)).collect();
            let value =
                ort::value::Tensor::from_array((shape, data)).map_err(|e| access(e.to_string()))?;
            values.push((name, value.into()));
        }
        self.with_session(|session| {
            let outputs = session.run(values).map_err(|e| access(e.to_string()))?;
            let mut named = Vec::with_capacity(outputs.len());
            for (name, value) in outputs.iter() {
                let (shape, data) =
                    value.try_extract_tensor::<f32>().map_err(|e| access(e.to_string()))?;
                let dimensions = shape.iter().map(|&d| d as u32).collect();
                let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
                named.push(NamedTensor {
                    name: name.to_string(),
                    tensor: Tensor::new(dimensions, TensorType::Fp32, bytes),
                });
            }
            Ok(named)
        })
    }
}

fn access(msg: String) -> BackendError {
    BackendError::BackendAccess(wasmtime::Error::msg(msg))
}

pub(super) struct PooledGraph {
    pool: Arc<SessionPool>,
}

impl PooledGraph {
    pub(super) fn new(pool: SessionPool) -> Self {
        Self { pool: Arc::new(pool) }
    }
}

impl BackendGraph for PooledGraph {
    fn init_execution_context(&self) -> Result<ExecutionContext, BackendError> {
        let ctx: Box<dyn BackendExecutionContext> = Box::new(PooledContext {
            pool: self.pool.clone(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        });
        Ok(ctx.into())
    }
}

/// A cheap per-request context: it holds tensors; a session is borrowed only in `compute`.
struct PooledContext {
    pool: Arc<SessionPool>,
    inputs: Vec<(String, Tensor)>,
    outputs: Vec<NamedTensor>,
}

impl BackendExecutionContext for PooledContext {
    fn set_input(&mut self, id: Id, tensor: &Tensor) -> Result<(), BackendError> {
        let name = match id {
            Id::Name(n) => n,
            Id::Index(i) => self
                .pool
                .input_names
                .get(i as usize)
                .cloned()
                .ok_or_else(|| access(format!("no input #{i}")))?,
        };
        self.inputs.push((name, tensor.clone()));
        Ok(())
    }

    fn get_output(&mut self, id: Id) -> Result<Tensor, BackendError> {
        let found = match &id {
            Id::Index(i) => self.outputs.get(*i as usize),
            Id::Name(n) => self.outputs.iter().find(|t| &t.name == n),
        };
        found
            .map(|t| t.tensor.clone())
            .ok_or_else(|| access(format!("no output {id:?}; call compute first")))
    }

    fn compute(
        &mut self,
        inputs: Option<Vec<NamedTensor>>,
    ) -> Result<Option<Vec<NamedTensor>>, BackendError> {
        match inputs {
            Some(named) => {
                Ok(Some(self.pool.run(named.into_iter().map(|t| (t.name, t.tensor)).collect())?))
            }
            None => {
                self.outputs = self.pool.run(std::mem::take(&mut self.inputs))?;
                Ok(None)
            }
        }
    }
}
