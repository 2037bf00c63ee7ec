//! Native wasi-nn for the host: named graphs loaded once at start and shared by every
//! request. With ONNX Runtime (the default) each graph is a pool of sessions so requests
//! on the same model run in parallel (wasmtime-wasi-nn's own ONNX backend keeps one
//! session behind a mutex, which serialises them). With OpenVINO, wasmtime-wasi-nn's
//! backend is used as it is (it already gives each context its own infer request).
//! Either way the graphs plug into wasmtime-wasi-nn's public `BackendGraph` /
//! `BackendExecutionContext` traits and `GraphRegistry`, so the guest side
//! (`load-by-name`, contexts, `compute`) is wasmtime-wasi-nn's own code.

mod graph_cache;
mod onnx;

pub use graph_cache::GraphCache;
use onnx::{PooledGraph, SessionPool};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use wasmtime_wasi_nn::backend::{
    BackendError, BackendExecutionContext, BackendGraph, Id, NamedTensor,
};
use wasmtime_wasi_nn::{ExecutionContext, Graph, GraphRegistry, Registry, Tensor};

/// How a graph's sessions are sized.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Sessions per graph = requests that can compute at once on that graph.
    pub sessions: usize,
    /// ONNX Runtime intra-op threads per session.
    pub intra_threads: usize,
}

/// Errors while setting up native inference; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum NnSetupError {
    #[error(
        "ONNX Runtime library not found at {0} (run scripts/setup.sh, or set ORT_DYLIB_PATH / \
         --ort-lib to libonnxruntime.so)"
    )]
    MissingLibrary(PathBuf),
    #[error("ONNX Runtime failed to load {path}: {reason}")]
    Library { path: PathBuf, reason: String },
    #[error("model {name:?}: file {path} not found")]
    MissingModel { name: String, path: PathBuf },
    #[error("model {name:?}: ONNX Runtime could not load {path}: {reason}")]
    BadModel { name: String, path: PathBuf, reason: String },
    #[error(
        "model {name:?}: OpenVINO could not load {path} (a directory with model.xml + \
         model.bin; is libopenvino_c.so on LD_LIBRARY_PATH?): {reason}"
    )]
    OpenVino { name: String, path: PathBuf, reason: String },
}

/// Where an app's wasi-nn graphs come from.
pub enum NnSource {
    /// No wasi:nn at all, as on stock Spin: a component importing it is refused (the
    /// composed classify-portable.wasm carries its own provider).
    None,
    /// Graphs already loaded.
    Ready(SharedRegistry),
    /// Loaded only if a component of the app imports wasi:nn — so a frontend-only
    /// deployment (selective deployment) loads no model and creates no session.
    OnDemand(Box<dyn FnOnce() -> anyhow::Result<SharedRegistry> + Send>),
}

/// Load the ONNX Runtime shared library once per process.
pub fn init_onnxruntime(lib: &Path) -> Result<(), NnSetupError> {
    if !lib.is_file() {
        return Err(NnSetupError::MissingLibrary(lib.to_owned()));
    }
    graph_cache::set_library(lib);
    let fail = |reason: String| NnSetupError::Library { path: lib.to_owned(), reason };
    // ort panics (rather than erroring) when the library cannot be dlopen'ed.
    std::panic::catch_unwind(|| {
        ort::init_from(lib.display().to_string()).with_name("spinfer").commit()
    })
    .map_err(|p| fail(panic_message(&p)))?
    .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Inference time observer, so the server can export it as a metric.
pub type InferenceObserver = Arc<dyn Fn(&str, f64) + Send + Sync>;

/// Times each successful `compute` of a graph, for `/metrics`, whatever backend runs it.
struct ObservedGraph {
    name: String,
    inner: Graph,
    observe: InferenceObserver,
}

impl BackendGraph for ObservedGraph {
    fn init_execution_context(&self) -> Result<ExecutionContext, BackendError> {
        let inner = self.inner.init_execution_context()?;
        let ctx: Box<dyn BackendExecutionContext> = Box::new(ObservedContext {
            name: self.name.clone(),
            inner,
            observe: self.observe.clone(),
        });
        Ok(ctx.into())
    }
}

struct ObservedContext {
    name: String,
    inner: ExecutionContext,
    observe: InferenceObserver,
}

impl BackendExecutionContext for ObservedContext {
    fn set_input(&mut self, id: Id, tensor: &Tensor) -> Result<(), BackendError> {
        self.inner.set_input(id, tensor)
    }

    fn get_output(&mut self, id: Id) -> Result<Tensor, BackendError> {
        self.inner.get_output(id)
    }

    fn compute(
        &mut self,
        inputs: Option<Vec<NamedTensor>>,
    ) -> Result<Option<Vec<NamedTensor>>, BackendError> {
        let start = Instant::now();
        // Its CPU time is charged to the request whose instance is running on this thread.
        let out = crate::telemetry::cpu::compute(&self.name, || match inputs {
            Some(named) => self.inner.compute_with_io(named).map(Some),
            None => self.inner.compute().map(|()| None),
        })?;
        (self.observe)(&self.name, start.elapsed().as_secs_f64());
        Ok(out)
    }
}

fn observed(name: &str, inner: Graph, observe: &InferenceObserver) -> Graph {
    let graph: Box<dyn BackendGraph> =
        Box::new(ObservedGraph { name: name.to_owned(), inner, observe: observe.clone() });
    graph.into()
}

/// All graphs of the app, by name; cloned (an `Arc`) into every request's wasi-nn context.
#[derive(Clone, Default)]
pub struct SharedRegistry(Arc<HashMap<String, Graph>>);

impl SharedRegistry {
    /// Load every `(name, path)` model with ONNX Runtime.
    pub fn load_onnx(
        models: &[(String, PathBuf)],
        cfg: PoolConfig,
        observe: InferenceObserver,
        cache: Option<&GraphCache>,
    ) -> Result<Self, NnSetupError> {
        // One session per model now; each pool grows under load (`SessionPool`).
        let mut graphs = HashMap::new();
        for (name, path) in models {
            let pool: Box<dyn BackendGraph> =
                Box::new(PooledGraph::new(SessionPool::load(name, path, cfg, cache.cloned())?));
            graphs.insert(name.clone(), observed(name, pool.into(), &observe));
        }
        Ok(Self(Arc::new(graphs)))
    }

    /// Load every `(name, directory)` model (OpenVINO IR: model.xml + model.bin) with
    /// wasmtime-wasi-nn's OpenVINO backend.
    pub fn load_openvino(
        models: &[(String, PathBuf)],
        observe: InferenceObserver,
    ) -> Result<Self, NnSetupError> {
        use wasmtime_wasi_nn::backend::{openvino::OpenvinoBackend, BackendFromDir};
        use wasmtime_wasi_nn::wit::ExecutionTarget;
        let mut backend = OpenvinoBackend::default();
        let mut graphs = HashMap::new();
        for (name, dir) in models {
            let fail = |reason: String| NnSetupError::OpenVino {
                name: name.clone(),
                path: dir.clone(),
                reason,
            };
            if !dir.join("model.xml").is_file() || !dir.join("model.bin").is_file() {
                return Err(fail(
                    "model.xml or model.bin missing (scripts/make-openvino-ir.sh makes them)"
                        .into(),
                ));
            }
            let inner = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                backend.load_from_dir(dir, ExecutionTarget::Cpu)
            }))
            .map_err(|p| fail(panic_message(&p)))?
            .map_err(|e| {
                fail(format!(
                    "{e}: {}",
                    std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()
                ))
            })?;
            graphs.insert(name.clone(), observed(name, inner, &observe));
        }
        Ok(Self(Arc::new(graphs)))
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = self.0.keys().cloned().collect();
        names.sort();
        names
    }

    /// A registry handle for one store.
    pub fn handle(&self) -> Registry {
        Registry::from(self.clone())
    }
}

impl GraphRegistry for SharedRegistry {
    fn get(&self, name: &str) -> Option<&Graph> {
        self.0.get(name)
    }

    fn get_mut(&mut self, _name: &str) -> Option<&mut Graph> {
        None // graphs are shared and immutable once loaded
    }
}
