//! The HTTP front door: Spin's health route, routing to components, the request-body limit
//! (413 before the body is read), admission ([`crate::admission`]; overload answers 503 +
//! Retry-After at once), request metrics and logs. Chained requests from components
//! ([`Dispatch`]) go through the same admission and metrics, in their depth's pool.
//! [`serve`] is the accept loop, with the connection limits ([`crate::connections`]) and
//! the drain on SIGINT/SIGTERM.

use crate::admission::{Admission, AdmissionLimits, Admitted};
use crate::app::App;
use crate::connections::{Activity, ConnectionLimits, Tracked};
use crate::metrics::Metrics;
use crate::outbound::{Caller, Dispatch, DispatchFuture};
use crate::response::{full, json_error, overloaded, Body, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

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
    me: Weak<Server>,
}

impl Server {
    pub fn new(app: App, limits: ServerLimits) -> Arc<Self> {
        let admission = Admission::new(AdmissionLimits {
            max_concurrency: limits.max_concurrency,
            max_queue: limits.max_queue,
            queue_timeout: limits.queue_timeout,
        });
        Arc::new_cyclic(|me| Self { app, limits, admission, me: me.clone() })
    }

    pub fn metrics(&self) -> &Metrics {
        self.app.metrics()
    }

    /// The caller of an instance running `depth` calls deep: chained calls come back here.
    fn caller(&self, depth: u32) -> Caller {
        let dispatch: Weak<dyn Dispatch> = self.me.clone();
        Caller { dispatch, depth }
    }

    /// Handle one request from a client.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response, std::convert::Infallible> {
        let start = Instant::now();
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        let (component, response) = self.route(req).await;
        let status = response.status().as_u16();
        let seconds = start.elapsed().as_secs_f64();
        self.metrics().request_done(component.as_deref().unwrap_or("-"), status, seconds);
        let name = component.as_deref().unwrap_or("-");
        tracing::info!(%method, %path, component = name, status, ms = seconds * 1e3, "request");
        Ok(response)
    }

    async fn route(&self, req: Request<Incoming>) -> (Option<String>, Response) {
        let path = req.uri().path();
        if path == "/.well-known/spin/health" {
            return (None, hyper::Response::new(full("OK")));
        }
        let Some(component) = self.app.router.route(path).map(str::to_owned) else {
            return (None, json_error(404, "not_found", &format!("no route matches {path}")));
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
        let _permit = match self.admission.admit(0, self.metrics()).await {
            Admitted::Yes(p) => p,
            Admitted::Busy(why) => {
                self.metrics().rejected();
                // Read (and drop) the body first, within the limit: answering before the
                // client has sent it makes the connection close under the client, which
                // it sees as a reset instead of a clean 503 it can retry.
                discard(req.into_body(), self.limits.max_body_bytes, self.linger()).await;
                return (Some(component), overloaded(why));
            }
        };
        self.metrics().in_flight_delta(1);
        let response = self.run(&component, req).await;
        self.metrics().in_flight_delta(-1);
        (Some(component), response)
    }

    /// How long an early answer waits for the body it refuses to arrive.
    fn linger(&self) -> Duration {
        self.limits.body_timeout.min(Duration::from_secs(5))
    }

    async fn run(&self, component: &str, req: Request<Incoming>) -> Response {
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
            Ok(collected) => Request::from_parts(parts, full(collected.to_bytes())),
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
        self.invoke(component, req, 0).await
    }

    /// Run `req` on `component` at `depth`; a failure becomes its JSON answer.
    async fn invoke(&self, component: &str, req: Request<Body>, depth: u32) -> Response {
        match self.app.invoke(component, req, self.caller(depth)).await {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(component, depth, error = %e, "request failed");
                e.into_response()
            }
        }
    }

    /// A request chained from another component: admitted from its depth's pool, counted
    /// under the component it runs like a direct request.
    async fn chained(&self, component: String, req: Request<Body>, depth: u32) -> Response {
        let start = Instant::now();
        let response = match self.admission.admit(depth, self.metrics()).await {
            Admitted::Yes(_permit) => {
                self.metrics().in_flight_delta(1);
                let response = self.invoke(&component, req, depth).await;
                self.metrics().in_flight_delta(-1);
                response
            }
            Admitted::Busy(why) => {
                self.metrics().rejected();
                overloaded(why)
            }
        };
        let status = response.status().as_u16();
        let seconds = start.elapsed().as_secs_f64();
        self.metrics().request_done(&component, status, seconds);
        tracing::info!(%component, depth, status, ms = seconds * 1e3, "chained request");
        response
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

/// Accept connections on `listener` until SIGINT/SIGTERM, then stop accepting and drain
/// in-flight requests (30 s at most).
pub async fn serve(
    listener: TcpListener,
    server: Arc<Server>,
    limits: ConnectionLimits,
) -> anyhow::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let mut builder = hyper::server::conn::http1::Builder::new();
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
                    // Over the cap: read one request (within the header timeout), answer
                    // 503 + Retry-After, close. The connection holds no slot meanwhile.
                    let refuse = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(overloaded("too many open connections"))
                    });
                    let conn = builder.keep_alive(false).serve_connection(TokioIo::new(stream), refuse);
                    tokio::spawn(async move { let _ = conn.await; });
                    continue;
                };
                let activity = Activity::new();
                let (server, seen) = (server.clone(), activity.clone());
                let service = hyper::service::service_fn(move |req| {
                    let running = seen.request();
                    let server = server.clone();
                    async move {
                        let response = server.handle(req).await;
                        drop(running);
                        response
                    }
                });
                let io = TokioIo::new(Tracked::new(stream, activity.clone()));
                let conn = graceful.watch(builder.keep_alive(true).serve_connection(io, service));
                let (header, idle) = (limits.header_timeout, limits.idle_timeout);
                tokio::spawn(async move {
                    tokio::select! {
                        _ = conn => {}
                        why = activity.expired(header, idle) => tracing::debug!(?why, "closing a connection"),
                    }
                    drop(permit);
                });
            }
            signal = &mut shutdown => {
                let in_flight = server.metrics().in_flight();
                tracing::info!(signal, in_flight, "shutting down: draining in-flight requests");
                break;
            }
        }
    }
    drop(listener);
    match tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await {
        Ok(()) => tracing::info!("drained; bye"),
        Err(_) => tracing::warn!("drain timed out after 30 s; exiting"),
    }
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
