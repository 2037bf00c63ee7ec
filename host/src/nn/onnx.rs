//! ONNX Runtime graphs: each is a pool of sessions, so requests on the same model compute
//! in parallel; a request's execution context holds its tensors and borrows a session
//! only for `compute`.

use super::{GraphCache, NnSetupError, PoolConfig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use wasmtime_wasi_nn::backend::{
    BackendError, BackendExecutionContext, BackendGraph, Id, NamedTensor,
};
use wasmtime_wasi_nn::wit::TensorType;
use wasmtime_wasi_nn::{ExecutionContext, Tensor};

/// A pool of sessions for one model, shared by all requests. It starts with one session
/// and grows on demand up to `cfg.sessions`: a request that finds every session busy
/// while the pool is below its size creates the next one itself.
pub(super) struct SessionPool {
    name: String,
    path: PathBuf,
    cfg: PoolConfig,
    cache: Option<GraphCache>,
    state: Mutex<PoolState>,
    available: Condvar,
    input_names: Vec<String>,
}

struct PoolState {
    idle: Vec<ort::session::Session>,
    /// Sessions that exist or are being created (idle + borrowed + in creation).
    created: usize,
}

impl SessionPool {
    /// Load `path` with its first session, created here: it proves the model loads, so a
    /// bad file fails the start. The rest of the pool is created when load needs it, so a
    /// replica's cold start pays one session per model and an idle replica holds one.
    pub(super) fn load(
        name: &str,
        path: &Path,
        cfg: PoolConfig,
        cache: Option<GraphCache>,
    ) -> Result<Self, NnSetupError> {
        if !path.is_file() {
            return Err(NnSetupError::MissingModel { name: name.into(), path: path.into() });
        }
        let first = new_session(path, cfg, cache.as_ref()).map_err(|e| NnSetupError::BadModel {
            name: name.into(),
            path: path.into(),
            reason: e.to_string(),
        })?;
        let input_names = first.inputs.iter().map(|i| i.name.clone()).collect();
        Ok(Self {
            name: name.into(),
            path: path.into(),
            cfg,
            cache,
            state: Mutex::new(PoolState { idle: vec![first], created: 1 }),
            available: Condvar::new(),
            input_names,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Borrow an idle session; when all are busy, create one if the pool is below its
    /// size, else wait for one. Run `f`, give the session back.
    fn with_session<R>(&self, f: impl FnOnce(&mut ort::session::Session) -> R) -> R {
        let mut session = {
            let mut state = self.lock();
            loop {
                if let Some(s) = state.idle.pop() {
                    break s;
                }
                if state.created < self.cfg.sessions.max(1) {
                    state.created += 1;
                    let n = state.created;
                    drop(state);
                    let started = std::time::Instant::now();
                    match new_session(&self.path, self.cfg, self.cache.as_ref()) {
                        Ok(s) => {
                            tracing::info!(
                                model = %self.name,
                                sessions = n,
                                ms = started.elapsed().as_millis() as u64,
                                "ONNX Runtime session added to the pool"
                            );
                            break s;
                        }
                        Err(e) => {
                            // The first session loaded the same file: keep serving with
                            // the sessions there are.
                            tracing::warn!(model = %self.name, error = %e,
                                "could not add an ONNX Runtime session; waiting for one");
                            state = self.lock();
                            state.created -= 1;
                            continue;
                        }
                    }
                }
                state = self.available.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = f(&mut session);
        self.lock().idle.push(session);
        self.available.notify_one();
        result
    }

    fn run(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<NamedTensor>, BackendError> {
        let mut values: Vec<(&str, ort::session::SessionInputValue<'_>)> =
            Vec::with_capacity(inputs.len());
        for (name, tensor) in &inputs {
            if tensor.ty != TensorType::Fp32 {
                return Err(BackendError::UnsupportedTensorType(format!(
                    "{:?} (only fp32 inputs)",
                    tensor.ty
                )));
            }
            if !self.input_names.contains(name) {
                return Err(access(format!(
                    "graph {:?} has no input named {name:?} (inputs: {:?})",
                    self.name, self.input_names
                )));
            }
            let shape: Vec<i64> = tensor.dimensions.iter().map(|&d| i64::from(d)).collect();
            let bad = |e: ort::Error| access(e.to_string());
            // The tensor's bytes as ONNX Runtime's input, in place when they can be read as
            // f32 where they lie; otherwise (misaligned, or a big-endian host) converted.
            let value = match f32_view(&tensor.data) {
                Some(floats) => {
                    ort::value::TensorRef::from_array_view((shape, floats)).map_err(bad)?.into()
                }
                None => {
                    let floats = spinfer_pipeline::f32s_from_le_bytes(&tensor.data);
                    ort::value::Tensor::from_array((shape, floats)).map_err(bad)?.into()
                }
            };
            values.push((name.as_str(), value));
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

/// wasi-nn's little-endian f32 bytes as `f32`s without a copy, where the host is
/// little-endian and the buffer is 4-byte aligned (as the allocator gives it).
fn f32_view(bytes: &[u8]) -> Option<&[f32]> {
    if cfg!(target_endian = "big") {
        return None;
    }
    // SAFETY: every bit pattern is a valid f32; `align_to` puts only whole, aligned f32s
    // in the middle slice, and the host's byte order is the data's.
    let (head, floats, tail) = unsafe { bytes.align_to::<f32>() };
    (head.is_empty() && tail.is_empty()).then_some(floats)
}

/// One session as every pool's are configured (one inter-op thread, `intra_threads`
/// intra-op threads, the graph optimised at level 3): from the optimised graph in `cache`
/// when there is one (optimisation off), else from the model, saving its optimised graph
/// there for the next session (graph_cache.rs says why).
fn new_session(
    path: &Path,
    cfg: PoolConfig,
    cache: Option<&GraphCache>,
) -> Result<ort::session::Session, ort::Error> {
    use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
    let builder = || -> Result<SessionBuilder, ort::Error> {
        ort::session::Session::builder()?
            .with_intra_threads(cfg.intra_threads.max(1))?
            .with_inter_threads(1)
    };
    let optimise = || builder()?.with_optimization_level(GraphOptimizationLevel::Level3);
    let Some((cache, entry)) = cache.and_then(|c| Some((c, c.entry(path)?))) else {
        return optimise()?.commit_from_file(path);
    };
    if entry.is_file() {
        let cached = builder()?
            .with_optimization_level(GraphOptimizationLevel::Disable)?
            .commit_from_file(&entry);
        match cached {
            Ok(session) => return Ok(session),
            Err(e) => tracing::warn!(cached = %entry.display(), error = %e,
                "unusable optimised graph in the cache; optimising the model again"),
        }
    }
    // Written under a temporary name and renamed: pods or processes starting together
    // never read a half-written graph.
    let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
    let saved = std::fs::create_dir_all(cache.dir()).ok().and_then(|()| {
        optimise().ok()?.with_optimized_model_path(&tmp).ok()?.commit_from_file(path).ok()
    });
    match saved {
        Some(session) => {
            let _ = std::fs::rename(&tmp, &entry);
            Ok(session)
        }
        // An unwritable cache must not stop the model loading: without it, as before.
        None => {
            let _ = std::fs::remove_file(&tmp);
            optimise()?.commit_from_file(path)
        }
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

#[cfg(test)]
mod tests {
    use super::f32_view;

    #[test]
    fn f32_view_reads_aligned_bytes_in_place_and_refuses_the_rest() {
        let values = [1.5f32, -2.0, 3.25];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let aligned: Vec<f32> = values.to_vec();
        // SAFETY: viewing initialised f32s as bytes.
        let as_bytes =
            unsafe { std::slice::from_raw_parts(aligned.as_ptr().cast::<u8>(), aligned.len() * 4) };
        assert_eq!(as_bytes, &bytes[..]);
        assert_eq!(f32_view(as_bytes), Some(&values[..]));
        assert_eq!(f32_view(&as_bytes[..11]), None, "a partial value");
        assert_eq!(f32_view(&as_bytes[1..5]), None, "misaligned");
    }
}
