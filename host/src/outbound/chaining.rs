//! The outbound hook of every instance: each request is checked against the component's
//! `allowed_outbound_hosts`; `http://<component>.spin.internal/...` is handed, in-process
//! (Spin's local service chaining, no socket), to a [`Dispatch`] — the server, which
//! admits and counts it like a direct request; anything else allowed goes out through
//! [`connect`](super::connect), which also applies the operator's address policy.
//!
//! This module knows nothing of the app or the server: it holds only a weak handle to
//! whatever implements [`Dispatch`].

use crate::outbound::policy::{default_port, HostRule};
use crate::outbound::AddressPolicy;
use crate::response::{full, Body, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

const INTERNAL_SUFFIX: &str = ".spin.internal";
/// Deepest chain of component → component calls before it is called a loop.
pub const MAX_CHAIN_DEPTH: u32 = 8;
/// Largest request body passed between components in-process.
const MAX_CHAINED_BODY: usize = 64 * 1024 * 1024;

/// A response to a chained request, on its way.
pub type DispatchFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// Runs a request chained from one component to another (implemented by the server).
pub trait Dispatch: Send + Sync {
    /// Does the app have a component `id`?
    fn has_component(&self, id: &str) -> bool;
    /// Run `request` on `component`, `depth` calls deep; every failure is a response.
    fn dispatch(
        self: Arc<Self>,
        component: String,
        request: http::Request<Body>,
        depth: u32,
    ) -> DispatchFuture;
}

/// Who is running an instance: the dispatcher its chained calls go to, and how deep in a
/// chain it is (0 for a request from a client).
#[derive(Clone)]
pub struct Caller {
    pub dispatch: Weak<dyn Dispatch>,
    pub depth: u32,
}

/// Per-instance outbound policy.
pub struct Hooks {
    caller: Caller,
    component: String,
    allowed: Arc<Vec<HostRule>>,
    egress: Arc<AddressPolicy>,
}

impl Hooks {
    pub fn new(
        caller: Caller,
        component: String,
        allowed: Arc<Vec<HostRule>>,
        egress: Arc<AddressPolicy>,
    ) -> Self {
        Self { caller, component, allowed, egress }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_owned();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let port = uri.port_u16().or_else(|| default_port(&scheme)).unwrap_or(0);
        if !self.allowed.iter().any(|r| r.allows(&scheme, &host, port)) {
            tracing::warn!(
                component = %self.component, %scheme, %host, port,
                "outbound request denied: not in allowed_outbound_hosts"
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        if let Some(target) = host.strip_suffix(INTERNAL_SUFFIX).map(str::to_owned) {
            let dispatch = self.caller.dispatch.upgrade();
            let depth = self.caller.depth + 1;
            return Box::new(chain(dispatch, target, request, depth));
        }
        Box::new(super::connect::send(self.egress.clone(), request, options))
    }
}

/// A call to `http://<target>.spin.internal/...`, handed to the dispatcher.
async fn chain(
    dispatch: Option<Arc<dyn Dispatch>>,
    target: String,
    request: http::Request<WasiBody>,
    depth: u32,
) -> Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error> {
    let dispatch = dispatch.ok_or(Error::DestinationUnavailable)?;
    if depth > MAX_CHAIN_DEPTH {
        return Err(Error::LoopDetected);
    }
    if !dispatch.has_component(&target) {
        return Err(Error::DestinationNotFound);
    }
    // Take the whole body first, as a server reading the request would: the callee may
    // answer without reading it, and the caller's writes must not then fail on a closed
    // stream.
    use http_body_util::BodyExt;
    let (parts, body) = request.into_parts();
    let bytes = http_body_util::Limited::new(body, MAX_CHAINED_BODY)
        .collect()
        .await
        .map_err(|_| Error::HttpRequestBodySize(Some(MAX_CHAINED_BODY as u64)))?
        .to_bytes();
    let request = http::Request::from_parts(parts, full(bytes));
    let response = dispatch.dispatch(target, request, depth).await;
    let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
    Ok((response, done))
}
