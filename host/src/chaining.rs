//! Outbound HTTP from components: every request is checked against the component's
//! `allowed_outbound_hosts`; `http://<component>.spin.internal/...` is dispatched
//! in-process to that component (Spin's local service chaining, no socket); anything
//! else allowed goes out through wasmtime-wasi-http's default client.

use crate::outbound::{default_port, HostRule};
use crate::runtime::App;
use std::future::Future;
use std::sync::{Arc, Weak};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

const INTERNAL_SUFFIX: &str = ".spin.internal";
/// Deepest chain of component → component calls before it is called a loop.
const MAX_CHAIN_DEPTH: u32 = 8;
/// Largest request body passed between components in-process.
const MAX_CHAINED_BODY: usize = 64 * 1024 * 1024;

/// Per-instance outbound policy.
pub struct Hooks {
    app: Weak<App>,
    component: String,
    allowed: Arc<Vec<HostRule>>,
    depth: u32,
}

impl Hooks {
    pub fn new(app: Weak<App>, component: String, allowed: Arc<Vec<HostRule>>, depth: u32) -> Self {
        Self { app, component, allowed, depth }
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
            tracing::warn!(component = %self.component, %scheme, %host, port, "outbound request denied: not in allowed_outbound_hosts");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
        if let Some(target) = host.strip_suffix(INTERNAL_SUFFIX).map(str::to_owned) {
            let app = self.app.upgrade();
            let depth = self.depth + 1;
            return Box::new(async move {
                let app = app.ok_or(Error::DestinationUnavailable)?;
                if depth > MAX_CHAIN_DEPTH {
                    return Err(Error::LoopDetected);
                }
                if !app.has_component(&target) {
                    return Err(Error::DestinationNotFound);
                }
                // Take the whole body first, as a server reading the request would: the
                // callee may answer without reading it, and the caller's writes must not
                // then fail on a closed stream.
                use http_body_util::BodyExt;
                let (parts, body) = request.into_parts();
                let bytes = http_body_util::Limited::new(body, MAX_CHAINED_BODY)
                    .collect()
                    .await
                    .map_err(|_| Error::HttpRequestBodySize(Some(MAX_CHAINED_BODY as u64)))?
                    .to_bytes();
                let request = http::Request::from_parts(parts, crate::server::full(bytes));
                match app.invoke_at_depth(&target, request, depth).await {
                    Ok(response) => Ok((response, done)),
                    Err(e) => {
                        tracing::warn!(component = %target, error = %e, "chained request failed");
                        let (status, code) = e.status_and_code();
                        Ok((crate::server::json_error(status, code, &e.to_string()), done))
                    }
                }
            });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}
