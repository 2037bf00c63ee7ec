//! The per-request `Store`: WASI (env, read-only preopens), wasi-http with the outbound
//! hook, wasi-nn over the shared graphs, Spin variables, a memory limiter, and the epoch
//! deadline that makes a running guest yield every tick and stop at the request timeout.

use super::{ComponentPre, Instances};
use crate::bindings::variables::fermyon::spin::variables;
use crate::engine::wt;
use crate::outbound::{Caller, Hooks};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_nn::wit::WasiNnCtx;

/// Per-request store data.
pub struct RequestState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    nn: WasiNnCtx,
    variables: Arc<BTreeMap<String, String>>,
    limiter: MemoryLimiter,
}

impl RequestState {
    /// Link everything an instance may import: WASI, wasi-http, Spin variables, and
    /// wasi-nn when `nn` (with `false`, as on stock Spin, a component importing wasi:nn
    /// is refused at start).
    pub fn linker(engine: &wasmtime::Engine, nn: bool) -> anyhow::Result<Linker<Self>> {
        let mut linker: Linker<Self> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wt)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(wt)?;
        if nn {
            wasmtime_wasi_nn::wit::add_to_linker(&mut linker, |s: &mut Self| {
                wasmtime_wasi_nn::wit::WasiNnView::new(&mut s.table, &mut s.nn)
            })
            .map_err(wt)?;
        }
        variables::add_to_linker::<_, HasSelf<Self>>(&mut linker, |s| s).map_err(wt)?;
        Ok(linker)
    }

    /// Did the instance ask for more memory than its limit?
    pub fn out_of_memory(&self) -> bool {
        self.limiter.denied
    }
}

pub(super) fn new_store(
    shared: &Instances,
    component: &ComponentPre,
    caller: Caller,
) -> anyhow::Result<Store<RequestState>> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdout().inherit_stderr().envs(&component.env);
    for (host, guest) in &component.preopens {
        wasi.preopened_dir(host, guest, FsPerms::ReadOnly).map_err(wt)?;
    }
    let limits = shared.limits;
    let state = RequestState {
        table: ResourceTable::new(),
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        hooks: Hooks::new(
            caller,
            component.id.clone(),
            component.allowed_hosts.clone(),
            shared.egress.clone(),
        ),
        nn: WasiNnCtx::new([], shared.nn.handle()),
        variables: component.variables.clone(),
        limiter: MemoryLimiter { max: limits.max_memory_bytes, denied: false },
    };
    let mut store = Store::new(&shared.engine, state);
    store.limiter(|s| &mut s.limiter);
    // Every epoch tick the guest yields to the executor, so a long-running component never
    // holds a worker thread (and the tasks queued behind it); past the request timeout it
    // is interrupted.
    let deadline = std::time::Instant::now() + limits.timeout;
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
