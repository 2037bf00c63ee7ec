//! Drives a Wasm wasi:nn *provider* (nn-provider, which exports wasi:nn) straight from the
//! host, with no host wasi-nn anywhere: a fresh instance per inference, as Spin makes one
//! per request. The parity test compares its logits with ONNX Runtime's on the reference
//! tensor, and `spinfer-bench portable` times it (pre-initialised vs not, against native).

use anyhow::{bail, Context as _};
use spinfer::engine::{compile_cached, engine, wt, InstanceLimits};
use std::path::Path;
use std::time::{Duration, Instant};
use wasmtime::component::{Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../nn-provider/wit",
        world: "spinfer:nn-provider/provider",
    });
}

use bindings::exports::wasi::nn::graph::{ExecutionTarget, GraphEncoding};
use bindings::exports::wasi::nn::tensor::TensorType;

/// A store's WASI state (also `spinfer-bench wasm`'s).
pub(crate) struct Ctx {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A compiled provider component, ready to instantiate many times.
pub struct Provider {
    engine: Engine,
    pre: bindings::ProviderPre<Ctx>,
}

/// One fresh provider instance.
pub struct Instance {
    store: Store<Ctx>,
    nn: bindings::Provider,
}

/// How the model reaches the instance.
pub enum Source<'a> {
    /// `load-by-name`: the plan is in the pre-initialised snapshot.
    Name(&'a str),
    /// `load` with ONNX bytes: parse + optimise inside the instance (no pre-initialisation).
    Onnx(&'a [u8]),
}

impl Provider {
    /// Compile (or take from `cache_dir`) the provider at `path`. Only WASI is linked.
    pub fn load(path: &Path, cache_dir: Option<&Path>) -> anyhow::Result<Provider> {
        // No epoch ticker runs here, so `timeout` is never reached (stores get a far deadline).
        let limits = InstanceLimits {
            max_memory_bytes: 1 << 30,
            timeout: Duration::from_secs(600),
            max_instances: 4,
        };
        let engine = engine(&limits)?;
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let component = compile_cached(&engine, &bytes, cache_dir)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(wt)?;
        let pre = bindings::ProviderPre::new(linker.instantiate_pre(&component).map_err(wt)?)
            .map_err(wt)?;
        Ok(Provider { engine, pre })
    }

    /// A new instance in its own store (what one Spin request gets).
    pub fn instantiate(&self) -> anyhow::Result<Instance> {
        let ctx = Ctx {
            wasi: WasiCtxBuilder::new().inherit_stderr().build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, ctx);
        store.set_epoch_deadline(u64::MAX / 2);
        let nn = self.pre.instantiate(&mut store).map_err(wt)?;
        Ok(Instance { store, nn })
    }
}

impl Instance {
    /// Load the graph, make a context, compute one f32 input; return the first output.
    /// Every handle the provider returns is dropped again, so a reused instance does not
    /// accumulate resources.
    pub fn infer(
        &mut self,
        source: Source,
        dims: &[u32],
        input_le: &[u8],
    ) -> anyhow::Result<Vec<f32>> {
        let graph = self.load(source)?;
        let ctx = self
            .nn
            .wasi_nn_graph()
            .graph()
            .call_init_execution_context(&mut self.store, graph)
            .map_err(wt);
        graph.resource_drop(&mut self.store).map_err(wt)?;
        let ctx = self.check(ctx?, "init-execution-context")?;
        let tensor = self
            .nn
            .wasi_nn_tensor()
            .tensor()
            .call_constructor(&mut self.store, &dims.to_vec(), TensorType::Fp32, &input_le.to_vec())
            .map_err(wt)?;
        let inputs = [("input".to_string(), tensor)];
        // `compute` takes the input tensor by ownership; the context is only borrowed.
        let out = self
            .nn
            .wasi_nn_inference()
            .graph_execution_context()
            .call_compute(&mut self.store, ctx, &inputs)
            .map_err(wt);
        ctx.resource_drop(&mut self.store).map_err(wt)?;
        let outputs = self.check(out?, "compute")?;
        let data = match outputs.first() {
            Some((_, first)) => {
                self.nn.wasi_nn_tensor().tensor().call_data(&mut self.store, *first).map_err(wt)
            }
            None => Err(anyhow::anyhow!("the provider returned no outputs")),
        };
        for (_, t) in outputs {
            t.resource_drop(&mut self.store).map_err(wt)?;
        }
        Ok(spinfer_pipeline::f32s_from_le_bytes(&data?))
    }

    fn load(&mut self, source: Source) -> anyhow::Result<ResourceAny> {
        let graph = self.nn.wasi_nn_graph();
        let result = match source {
            Source::Name(name) => graph.call_load_by_name(&mut self.store, name),
            Source::Onnx(bytes) => graph.call_load(
                &mut self.store,
                &[bytes.to_vec()],
                GraphEncoding::Onnx,
                ExecutionTarget::Cpu,
            ),
        };
        self.check(result.map_err(wt)?, "load")
    }

    /// Turn a wasi:nn `result<T, error>` into anyhow with the provider's code and message.
    fn check<T>(&mut self, r: Result<T, ResourceAny>, stage: &str) -> anyhow::Result<T> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                let errors = self.nn.wasi_nn_errors().error();
                let code = errors.call_code(&mut self.store, e).map_err(wt)?;
                let data = errors.call_data(&mut self.store, e).map_err(wt)?;
                e.resource_drop(&mut self.store).map_err(wt)?;
                bail!("wasi-nn {stage} failed: {code:?}: {data}")
            }
        }
    }
}

/// Timings of one fresh-instance inference, milliseconds.
pub struct Timed {
    pub instantiate_ms: f64,
    pub infer_ms: f64,
    pub logits: Vec<f32>,
}

/// Instantiate a fresh instance and run one inference, timing both halves.
pub fn fresh_inference(
    p: &Provider,
    source: Source,
    dims: &[u32],
    input_le: &[u8],
) -> anyhow::Result<Timed> {
    let t0 = Instant::now();
    let mut instance = p.instantiate()?;
    let t1 = Instant::now();
    let logits = instance.infer(source, dims, input_le)?;
    let t2 = Instant::now();
    Ok(Timed { instantiate_ms: ms(t1 - t0), infer_ms: ms(t2 - t1), logits })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
