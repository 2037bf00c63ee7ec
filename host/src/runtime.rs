//! The Wasm side of the host: one wasmtime `Engine` (pooling allocator, epoch
//! interruption), every component compiled once at start (and cached on disk as a
//! precompiled artifact), and a fresh, limited `Store` + instance per request — the
//! same isolation Spin gives, at the cost of an instantiation, not a compile.

use crate::manifest::{Component as ManifestComponent, Manifest, Mount};
use crate::metrics::Metrics;
use crate::nn::SharedRegistry;
use crate::outbound::{self, HostRule};
use crate::routes::Router;
use anyhow::{bail, Context as _};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap, UpdateDeadline,
};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_nn::wit::WasiNnCtx;

mod variables_bindings {
    wasmtime::component::bindgen!({ path: "wit/spin-variables.wit", world: "host" });
}
use variables_bindings::fermyon::spin::variables;

/// Tick length of the epoch clock: how often a running guest yields, and the
/// granularity of the request timeout inside Wasm.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every instance.
#[derive(Debug, Clone, Copy)]
pub struct InstanceLimits {
    pub max_memory_bytes: usize,
    pub timeout: Duration,
    /// Instances that may exist at once (sizes the pooling allocator).
    pub max_instances: u32,
}

/// Why a component did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("component {0:?} ran past the {1:?} request timeout")]
    Timeout(String, Duration),
    #[error("component {0:?} ran out of memory (instance limit {1} bytes)")]
    OutOfMemory(String, usize),
    #[error("component {0:?} trapped: {1}")]
    Trap(String, String),
    #[error("component {0:?} returned an error code: {1:?}")]
    Guest(String, ErrorCode),
    #[error("internal error running component {0:?}: {1:#}")]
    Internal(String, anyhow::Error),
}

impl InvokeError {
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            Self::Timeout(..) => (504, "timeout"),
            Self::OutOfMemory(..) => (500, "out_of_memory"),
            Self::Trap(..) => (500, "component_trapped"),
            Self::Guest(..) => (502, "component_error"),
            Self::Internal(..) => (500, "internal_error"),
        }
    }
}

/// A compiled component and what each of its instances gets.
struct Loaded {
    id: String,
    pre: ProxyPre<RequestState>,
    env: Vec<(String, String)>,
    preopens: Vec<(PathBuf, String)>,
    variables: Arc<BTreeMap<String, String>>,
    allowed_hosts: Arc<Vec<HostRule>>,
}

/// The running application: engine, components, routes and the shared wasi-nn graphs.
pub struct App {
    pub engine: Engine,
    pub router: Router,
    pub metrics: Arc<Metrics>,
    components: HashMap<String, Arc<Loaded>>,
    nn: SharedRegistry,
    limits: InstanceLimits,
    staging: PathBuf,
    me: Weak<App>,
}

/// Engine configuration shared by the host and its benchmarks.
pub fn engine(limits: &InstanceLimits) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    let mut pool = PoolingAllocationConfig::default();
    let n = limits.max_instances.max(4);
    pool.total_component_instances(n)
        .total_core_instances(n * 8)
        .total_memories(n * 2)
        .total_tables(n * 8)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_core_instances_per_component(32)
        .max_memory_size(limits.max_memory_bytes);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(wt).context("creating the wasmtime engine")
}

impl App {
    /// Compile every component of `manifest`, resolve variables and allowed hosts.
    pub fn load(
        manifest: &Manifest,
        overrides: &BTreeMap<String, String>,
        nn: Option<SharedRegistry>,
        limits: InstanceLimits,
        metrics: Arc<Metrics>,
        cache_dir: Option<&Path>,
    ) -> anyhow::Result<Arc<Self>> {
        let engine = engine(&limits)?;
        let mut linker: Linker<RequestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wt)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(wt)?;
        // `None`: no wasi:nn at all, as on stock Spin; a component importing it is refused
        // at start (the composed classify-portable.wasm carries its own provider).
        let nn_linked = nn.is_some();
        if nn_linked {
            wasmtime_wasi_nn::wit::add_to_linker(&mut linker, |s: &mut RequestState| {
                wasmtime_wasi_nn::wit::WasiNnView::new(&mut s.table, &mut s.nn)
            })
            .map_err(wt)?;
        }
        let nn = nn.unwrap_or_default();
        variables::add_to_linker::<_, HasSelf<RequestState>>(&mut linker, |s| s).map_err(wt)?;

        let app_vars = resolve_app_variables(manifest, overrides)?;
        let staging = std::env::temp_dir().join(format!("spinfer-{}", std::process::id()));
        let mut components = HashMap::new();
        for c in manifest.components.values() {
            let loaded =
                load_component(&engine, &linker, c, &app_vars, &staging, cache_dir, nn_linked)
                    .with_context(|| format!("component {:?}", c.id))?;
            components.insert(c.id.clone(), Arc::new(loaded));
        }
        let router =
            Router::new(manifest.triggers.iter().map(|t| (t.route.as_str(), t.component.as_str())))
                .map_err(anyhow::Error::msg)?;
        let app = Arc::new_cyclic(|me| Self {
            engine,
            router,
            metrics,
            components,
            nn,
            limits,
            staging,
            me: me.clone(),
        });
        Ok(app)
    }

    /// Advance the epoch clock forever (request timeouts inside Wasm count its ticks).
    pub fn spawn_epoch_ticker(&self) {
        let engine = self.engine.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            })
            .expect("spawn epoch ticker");
    }

    pub fn has_component(&self, id: &str) -> bool {
        self.components.contains_key(id)
    }

    /// Run one request through a fresh instance of `component`.
    pub async fn invoke<B>(
        &self,
        component: &str,
        req: hyper::Request<B>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, InvokeError>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        self.invoke_at_depth(component, req, 0).await
    }

    /// [`App::invoke`] for a request chained from another component, `depth` calls deep.
    pub async fn invoke_at_depth<B>(
        &self,
        component: &str,
        req: hyper::Request<B>,
        depth: u32,
    ) -> Result<hyper::Response<HyperOutgoingBody>, InvokeError>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let internal = |e: anyhow::Error| InvokeError::Internal(component.to_owned(), e);
        let loaded = self
            .components
            .get(component)
            .cloned()
            .ok_or_else(|| internal(anyhow::anyhow!("no such component")))?;
        let mut store = self.new_store(&loaded, depth).map_err(internal)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .map_err(|e| internal(wt(e)))?;
        let out = store.data_mut().http().new_response_outparam(tx).map_err(|e| internal(wt(e)))?;
        let pre = loaded.pre.clone();
        self.metrics.instance_started();
        let metrics = self.metrics.clone();
        let task = tokio::spawn(async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
            }
            .await;
            metrics.instance_finished();
            let oom = store.data().limiter.denied;
            result.map_err(|e| (e, oom))
        });
        let classify = |e: wasmtime::Error, oom: bool| -> InvokeError {
            let id = component.to_owned();
            match e.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => InvokeError::Timeout(id, self.limits.timeout),
                _ if oom => InvokeError::OutOfMemory(id, self.limits.max_memory_bytes),
                Some(trap) => InvokeError::Trap(id, trap.to_string()),
                None => InvokeError::Trap(id, format!("{e:#}")),
            }
        };
        match tokio::time::timeout(self.limits.timeout, rx).await {
            Err(_) => {
                // Stuck outside Wasm (e.g. awaiting I/O): drop the instance.
                task.abort();
                Err(InvokeError::Timeout(component.to_owned(), self.limits.timeout))
            }
            Ok(Ok(Ok(resp))) => Ok(resp),
            Ok(Ok(Err(code))) => Err(InvokeError::Guest(component.to_owned(), code)),
            Ok(Err(_)) => match task.await {
                Ok(Ok(())) => Err(internal(anyhow::anyhow!("component never set a response"))),
                Ok(Err((e, oom))) => Err(classify(e, oom)),
                Err(join) => Err(internal(anyhow::anyhow!("instance task failed: {join}"))),
            },
        }
    }

    fn new_store(&self, loaded: &Loaded, depth: u32) -> anyhow::Result<Store<RequestState>> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdout().inherit_stderr().envs(&loaded.env);
        for (host, guest) in &loaded.preopens {
            wasi.preopened_dir(host, guest, FsPerms::ReadOnly).map_err(wt)?;
        }
        let state = RequestState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: crate::chaining::Hooks::new(
                self.me.clone(),
                loaded.id.clone(),
                loaded.allowed_hosts.clone(),
                depth,
            ),
            nn: WasiNnCtx::new([], self.nn.handle()),
            variables: loaded.variables.clone(),
            limiter: MemoryLimiter { max: self.limits.max_memory_bytes, denied: false },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Every epoch tick the guest yields to the executor, so a long-running component
        // never holds a worker thread (and the tasks queued behind it); past the request
        // timeout it is interrupted.
        let deadline = std::time::Instant::now() + self.limits.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if std::time::Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        Ok(store)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// `--cache-dir`: a directory, `none` (no cache), or the default ~/.cache/spinfer/precompiled.
pub fn cache_dir(arg: Option<&str>) -> Option<PathBuf> {
    match arg {
        Some("none") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/spinfer/precompiled"))
        }
    }
}

/// wasmtime 48's error does not convert into anyhow's with `?`.
pub(crate) fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:#}")
}

/// Application variables: defaults, overridden by `SPIN_VARIABLE_<NAME>` (given here as `overrides`).
fn resolve_app_variables(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    for (name, v) in &manifest.variables {
        match overrides.get(name).or(v.default.as_ref()) {
            Some(value) => {
                vars.insert(name.clone(), value.clone());
            }
            None if v.required => {
                bail!("variable {name:?} is required: set SPIN_VARIABLE_{}", name.to_uppercase())
            }
            None => {}
        }
    }
    Ok(vars)
}

fn load_component(
    engine: &Engine,
    linker: &Linker<RequestState>,
    c: &ManifestComponent,
    app_vars: &BTreeMap<String, String>,
    staging: &Path,
    cache_dir: Option<&Path>,
    nn_linked: bool,
) -> anyhow::Result<Loaded> {
    let bytes = std::fs::read(&c.source).with_context(|| {
        format!("cannot read component source {} (build it first: make build)", c.source.display())
    })?;
    let component = compile_cached(engine, &bytes, cache_dir)?;
    let linked = linker.instantiate_pre(&component).map_err(|e| {
        let e = wt(e);
        let hint = if !nn_linked && format!("{e:#}").contains("wasi:nn") {
            " (wasi:nn is not linked: --nn-backend none; compose a provider in, e.g. classify-portable.wasm)"
        } else {
            ""
        };
        e.context(format!("cannot satisfy the imports of {}{hint}", c.source.display()))
    })?;
    let pre = ProxyPre::new(linked)
        .map_err(wt)
        .context("component does not export wasi:http/incoming-handler@0.2.x")?;
    let variables = c
        .variables
        .iter()
        .map(|(k, t)| Ok((k.clone(), outbound::expand(t, app_vars).map_err(anyhow::Error::msg)?)))
        .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
    let allowed_hosts = c
        .allowed_outbound_hosts
        .iter()
        .map(|t| {
            outbound::expand(t, app_vars)
                .and_then(|h| HostRule::parse(&h))
                .map_err(anyhow::Error::msg)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Loaded {
        id: c.id.clone(),
        pre,
        env: c.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        preopens: stage_files(&c.id, &c.files, staging)?,
        variables: Arc::new(variables),
        allowed_hosts: Arc::new(allowed_hosts),
    })
}

/// Directories mount as they are; single files are linked into a per-component
/// staging directory that is mounted at `/`.
fn stage_files(
    id: &str,
    mounts: &[Mount],
    staging: &Path,
) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut preopens = Vec::new();
    let root = staging.join(id);
    let mut staged_any = false;
    for m in mounts {
        if m.host.is_dir() {
            preopens.push((m.host.clone(), m.guest.clone()));
        } else if m.host.is_file() {
            let dest = root.join(m.guest.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap_or(&root))?;
            if std::fs::hard_link(&m.host, &dest).is_err() {
                std::fs::copy(&m.host, &dest)
                    .with_context(|| format!("staging {}", m.host.display()))?;
            }
            staged_any = true;
        } else {
            bail!("files: {} does not exist", m.host.display());
        }
    }
    if staged_any {
        preopens.push((root, "/".to_owned()));
    }
    Ok(preopens)
}

/// Compile a component, or load its precompiled artifact from `cache_dir` when the
/// same bytes were compiled by a compatible engine before.
pub(crate) fn compile_cached(
    engine: &Engine,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> anyhow::Result<Component> {
    use sha2::Digest;
    use std::hash::{Hash, Hasher};
    let Some(dir) = cache_dir else {
        return Component::new(engine, bytes).map_err(wt);
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let key = format!("{:x}-{:016x}.cwasm", sha2::Sha256::digest(bytes), h.finish());
    let path = dir.join(key);
    if path.is_file() {
        // SAFETY: the file was written by `Component::serialize` of an engine with the same
        // compatibility hash, into the host's own cache directory.
        if let Ok(c) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(c);
        }
    }
    let component = Component::new(engine, bytes).map_err(wt)?;
    if let Ok(serialized) = component.serialize() {
        let _ = std::fs::create_dir_all(dir);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, serialized).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(component)
}

/// Per-request store data.
pub struct RequestState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: crate::chaining::Hooks,
    nn: WasiNnCtx,
    variables: Arc<BTreeMap<String, String>>,
    limiter: MemoryLimiter,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl variables::Host for RequestState {
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        self.variables
            .get(&name)
            .cloned()
            .ok_or(variables::Error::Undefined(format!("no variable {name:?} for this component")))
    }
}

/// Caps linear memory growth and remembers a refusal, so a trap that follows can be
/// reported as out-of-memory.
struct MemoryLimiter {
    max: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.max;
        self.denied |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
