//! One request, one instance: a fresh, limited `Store` ([`store`]), the component
//! instantiated into it, its `wasi:http/incoming-handler` called, and every way that can
//! fail mapped — in one place, [`InvokeError::into_response`] — to a JSON answer.

mod store;

use crate::engine::{wt, InstanceLimits};
use crate::metrics::Metrics;
use crate::nn::SharedRegistry;
use crate::outbound::{AddressPolicy, Caller, HostRule};
use crate::response::{json_error, Body, Response};
use crate::telemetry::{cpu::Metered, Invocation};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime::{Engine, Trap};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::WasiHttpView;

pub use store::RequestState;

/// A compiled, linked component and what each of its instances gets.
pub struct ComponentPre {
    pub id: String,
    pub pre: ProxyPre<RequestState>,
    pub env: Vec<(String, String)>,
    /// `(host directory, guest path)`, mounted read-only.
    pub preopens: Vec<(PathBuf, String)>,
    pub variables: Arc<BTreeMap<String, String>>,
    pub allowed_hosts: Arc<Vec<HostRule>>,
}

/// Why a component did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("component {0:?} ran past the {1:?} request timeout")]
    Timeout(String, std::time::Duration),
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

    /// The JSON answer for this failure.
    pub fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        json_error(status, code, &self.to_string())
    }
}

/// What every instance shares: the engine, limits, the wasi-nn graphs, the metrics and
/// the operator's address policy for outgoing connections.
pub struct Instances {
    pub engine: Engine,
    pub limits: InstanceLimits,
    pub nn: SharedRegistry,
    pub metrics: Arc<Metrics>,
    pub egress: Arc<AddressPolicy>,
}

impl Instances {
    /// Run one request through a fresh instance of `component`.
    pub async fn invoke(
        &self,
        component: &ComponentPre,
        mut req: hyper::Request<Body>,
        caller: Caller,
    ) -> Result<Response, InvokeError> {
        let id = component.id.as_str();
        // The request's telemetry, if the server sent it: the task's CPU is charged to it.
        let invocation = req.extensions_mut().remove::<Invocation>();
        let internal = |e: anyhow::Error| InvokeError::Internal(id.to_owned(), e);
        let mut store = store::new_store(self, component, caller).map_err(internal)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .map_err(|e| internal(wt(e)))?;
        let out = store.data_mut().http().new_response_outparam(tx).map_err(|e| internal(wt(e)))?;
        let pre = component.pre.clone();
        self.metrics.instance_started(id);
        let metrics = self.metrics.clone();
        let owner = id.to_owned();
        let run = async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
            }
            .await;
            metrics.instance_finished(&owner);
            let oom = store.data().out_of_memory();
            drop(store);
            result.map_err(|e| (e, oom))
        };
        let task = match invocation {
            Some(invocation) => tokio::spawn(Metered::new(run, invocation.account())),
            None => tokio::spawn(run),
        };
        let limits = self.limits;
        let classify = |e: wasmtime::Error, oom: bool| -> InvokeError {
            let id = id.to_owned();
            match e.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => InvokeError::Timeout(id, limits.timeout),
                _ if oom => InvokeError::OutOfMemory(id, limits.max_memory_bytes),
                Some(trap) => InvokeError::Trap(id, trap.to_string()),
                None => InvokeError::Trap(id, format!("{e:#}")),
            }
        };
        match tokio::time::timeout(limits.timeout, rx).await {
            Err(_) => {
                // Stuck outside Wasm (e.g. awaiting I/O): drop the instance.
                task.abort();
                Err(InvokeError::Timeout(id.to_owned(), limits.timeout))
            }
            Ok(Ok(Ok(resp))) => Ok(resp),
            Ok(Ok(Err(code))) => Err(InvokeError::Guest(id.to_owned(), code)),
            Ok(Err(_)) => match task.await {
                Ok(Ok(())) => Err(internal(anyhow::anyhow!("component never set a response"))),
                Ok(Err((e, oom))) => Err(classify(e, oom)),
                Err(join) => Err(internal(anyhow::anyhow!("instance task failed: {join}"))),
            },
        }
    }
}
