//! The HTTP front door: Spin's health route, routing to components, the request-body limit
//! (413 before the body is read), admission ([`crate::admission`]; overload answers 503 +
//! Retry-After at once), request metrics and logs. Chained requests from components
//! ([`Dispatch`]) go through the same admission and metrics, in their depth's pool. Each
//! request carries a [`RequestRecord`] (CPU, bytes, spans, the access log line:
//! [`crate::telemetry`]). [`serve`] (in [`crate::accept`]) is the accept loop.

use crate::admission::{self, Admission, AdmissionLimits, Admitted};
use crate::app::App;
use crate::metrics::Metrics;
use crate::outbound::{Dispatch, DispatchFuture};
use crate::response::{full, json_error, overloaded, Body, Response};
use crate::telemetry::cpu::Metered;
use crate::telemetry::{
    body::counted, trace::parse_traceparent, RequestRecord, Telemetry, Tracing,
};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::Request;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

pub use crate::accept::serve;

/// The host's default body limit: the components' image limit
/// ([`spinfer_api::DEFAULT_MAX_BODY`], 40 MiB) plus room for a multipart envelope or an OIP
/// request's JSON header, so the component's own 413 (with its message) is what a client
/// meets first.
pub const DEFAULT_MAX_BODY_BYTES: u64 = spinfer_api::DEFAULT_MAX_BODY as u64 + (8 << 20);

/// Admission and body limits of the front door.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub max_concurrency: usize,
    pub max_queue: usize,
    pub queue_timeout: Duration,
    pub max_body_bytes: u64,
    /// Longest the host waits for a body it reads itself (chunked uploads, rejected requests).
    pub body_timeout: Duration,
}

/// Shared server state.
pub struct Server {
    pub app: App,
    pub limits: ServerLimits,
    admission: Admission,
    telemetry: Arc<Telemetry>,
    me: Weak<Server>,
}

impl Server {
    pub fn new(app: App, limits: ServerLimits) -> Arc<Self> {
        Self::with_tracing(app, limits, None)
    }

    /// [`Server::new`], exporting spans through `tracing` when given.
    pub fn with_tracing(app: App, limits: ServerLimits, tracing: Option<Tracing>) -> Arc<Self> {
        let telemetry = Arc::new(Telemetry { metrics: app.metrics().clone(), tracing });
        let admission = Admission::new(AdmissionLimits {
            max_concurrency: limits.max_concurrency,
            max_queue: limits.max_queue,
            queue_timeout: limits.queue_timeout,
        });
        Arc::new_cyclic(|me| Self { app, limits, admission, telemetry, me: me.clone() })
    }

    pub fn metrics(&self) -> &Metrics {
        self.app.metrics()
    }

    /// Spans not yet exported are sent (at exit: [`serve`] does it after the drain).
    pub fn flush_telemetry(&self) {
        if let Some(t) = &self.telemetry.tracing {
            t.shutdown();
        }
    }

    /// Handle one request from a client.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response, std::convert::Infallible> {
        let start = Instant::now();
        let traceparent = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
        let record = RequestRecord::start(
            &self.telemetry,
            req.method().as_str(),
            req.uri().path(),
            traceparent,
        );
        let routed = Metered::new(self.route(req, &record), record.host_account(None));
        let (component, response) = routed.await;
        let status = response.status().as_u16();
        let name = component.as_deref().unwrap_or("-");
        self.metrics().request_done(name, status, start.elapsed().as_secs_f64());
        record.answered(component.as_deref(), status, start.elapsed());
        // The access log line and per-request metrics follow once the body is sent.
        let name = name.to_owned();
        Ok(response.map(|b| counted(b, move |n| record.response_bytes(&name, n))))
    }

    async fn route(
        &self,
        req: Request<Incoming>,
        record: &RequestRecord,
    ) -> (Option<String>, Response) {
        let path = req.uri().path();
        // The host's own answers read (and drop) any body first, within the limit, as the
        // early 413 and 503 below do: hyper closes a connection whose request body was
        // left unread, and a keep-alive client's next request would meet a closed socket.
        if path == "/.well-known/spin/health" {
            discard(req.into_body(), self.limits.max_body_bytes, self.linger()).await;
            return (None, hyper::Response::new(full("OK")));
        }
        let Some(component) = self.app.router.route(path).map(str::to_owned) else {
            let answer = json_error(404, "not_found", &format!("no route matches {path}"));
            discard(req.into_body(), self.limits.max_body_bytes, self.linger()).await;
            return (None, answer);
        };
        if let Some(len) = content_length(&req) {
            if len > self.limits.max_body_bytes {
                let msg = format!(
                    "body is {len} bytes, over the host limit of {} bytes",
                    self.limits.max_body_bytes
                );
                // Refused unread, but read (and dropped) before the answer, as for 503
                // below: a client that writes its whole upload first would otherwise meet
                // a reset instead of this 413 (found by `make soak`).
                let max = self.limits.max_body_bytes.saturating_mul(4).max(LINGER_BYTES);
                discard(req.into_body(), max, self.linger()).await;
                return (Some(component), json_error(413, "body_too_large", &msg));
            }
        }
        let queued = Instant::now();
        let _permit = match self.admission.admit(0, self.metrics()).await {
            Admitted::Yes(p) => p,
            Admitted::Busy(why) => {
                self.metrics().rejected(&component, why);
                // Read (and drop) the body first, within the limit: answering before the
                // client has sent it makes the connection close under the client, which
                // it sees as a reset instead of a clean 503 it can retry.
                discard(req.into_body(), self.limits.max_body_bytes, self.linger()).await;
                return (Some(component), overloaded(admission::why(why)));
            }
        };
        record.queue_wait(&component, queued.elapsed());
        self.metrics().in_flight_delta(1);
        let response = self.run(&component, req, record).await;
        self.metrics().in_flight_delta(-1);
        (Some(component), response)
    }

    /// How long an early answer waits for the body it refuses to arrive.
    fn linger(&self) -> Duration {
        self.limits.body_timeout.min(Duration::from_secs(5))
    }

    async fn run(
        &self,
        component: &str,
        req: Request<Incoming>,
        record: &RequestRecord,
    ) -> Response {
        // Read the whole body (at most the limit, within the body deadline) before the
        // instance exists, declared length or chunked alike: the component then reads it
        // from memory in a few calls instead of waking once per network chunk (measured:
        // ~2 ms of a 141 KB upload), and a component that answers before reading all of
        // it (413 from Content-Length) no longer leaves the upload unread under a client
        // that writes everything before it reads.
        let (parts, body) = req.into_parts();
        let collect = Limited::new(body, self.limits.max_body_bytes as usize).collect();
        let Ok(collected) = tokio::time::timeout(self.limits.body_timeout, collect).await else {
            return json_error(408, "body_timeout", "the request body did not arrive in time");
        };
        let req = match collected {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                record.request_bytes(component, bytes.len() as u64);
                Request::from_parts(parts, full(bytes))
            }
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                let msg =
                    format!("body is over the host limit of {} bytes", self.limits.max_body_bytes);
                return json_error(413, "body_too_large", &msg);
            }
            Err(e) => {
                let msg = format!("could not read the body: {e}");
                return json_error(400, "body_read_failed", &msg);
            }
        };
        self.invoke(component, req, 0, record).await
    }

    /// Run `req` on `component` at `depth` for `record`; a failure becomes its JSON answer.
    async fn invoke(
        &self,
        component: &str,
        mut req: Request<Body>,
        depth: u32,
        record: &RequestRecord,
    ) -> Response {
        // The caller's span, from the `traceparent` a chained call carries.
        let parent = (depth > 0)
            .then(|| req.headers().get("traceparent")?.to_str().ok().and_then(parse_traceparent))
            .flatten();
        let invocation = record.invocation(component, depth, parent, self.me.clone());
        let caller = invocation.caller();
        req.extensions_mut().insert(invocation.clone());
        // Setting the instance up (store, WASI context) is charged to it as well.
        let invoked = Metered::new(self.app.invoke(component, req, caller), invocation.account());
        let response = match invoked.await {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(component, depth, error = %e, "request failed");
                e.into_response()
            }
        };
        invocation.answered(response.status().as_u16());
        response
    }

    /// A request chained from another component: admitted from its depth's pool, counted
    /// under the component it runs like a direct request.
    async fn chained(&self, component: String, req: Request<Body>, depth: u32) -> Response {
        let start = Instant::now();
        let record = RequestRecord::of_chained(&self.telemetry, &req);
        let bytes = http_body::Body::size_hint(req.body()).exact().unwrap_or(0);
        record.request_bytes(&component, bytes);
        let work = async {
            match self.admission.admit(depth, self.metrics()).await {
                Admitted::Yes(_permit) => {
                    record.queue_wait(&component, start.elapsed());
                    self.metrics().in_flight_delta(1);
                    let response = self.invoke(&component, req, depth, &record).await;
                    self.metrics().in_flight_delta(-1);
                    response
                }
                Admitted::Busy(why) => {
                    self.metrics().rejected(&component, why);
                    overloaded(admission::why(why))
                }
            }
        };
        let response = Metered::new(work, record.host_account(Some(&component))).await;
        let status = response.status().as_u16();
        let seconds = start.elapsed().as_secs_f64();
        self.metrics().request_done(&component, status, seconds);
        tracing::info!(%component, depth, status, ms = seconds * 1e3, "chained request");
        response.map(|b| counted(b, move |n| record.response_bytes(&component, n)))
    }
}

impl Dispatch for Server {
    fn has_component(&self, id: &str) -> bool {
        self.app.has_component(id)
    }

    fn dispatch(
        self: Arc<Self>,
        component: String,
        request: Request<Body>,
        depth: u32,
    ) -> DispatchFuture {
        Box::pin(async move { self.chained(component, request, depth).await })
    }
}

/// The least an early 413 reads and drops of a body over the host limit before answering.
const LINGER_BYTES: u64 = 64 << 20;

/// Read and drop up to `max` bytes of a body that will not be used, within `wait`, so the
/// answer that refuses it is read by the client rather than cut off by a reset (closing a
/// socket with unread input resets it). Nothing is kept; time and bytes are bounded, so a
/// client that claims a huge body only holds its connection for `wait`.
async fn discard(mut body: Incoming, max: u64, wait: Duration) {
    let read = async {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > max {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(wait, read).await;
}

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers().get(hyper::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}
