//! The HTTP front door: admission control (a concurrency limit with a bounded queue;
//! overload answers 503 + Retry-After at once), the request-body limit (413 before the
//! body is read), Spin's health route, routing to components, JSON errors, metrics and
//! per-request logs. Also the admin listener with `/metrics`.

use crate::metrics::Metrics;
use crate::runtime::App;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

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
    pub app: Arc<App>,
    pub limits: ServerLimits,
    slots: Semaphore,
    queued: AtomicUsize,
}

/// A JSON error response `{"error":{"code":…,"message":…}}`.
pub fn json_error(status: u16, code: &str, message: &str) -> Response<HyperOutgoingBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body))
        .expect("static response parts are valid")
}

/// A complete in-memory body.
pub(crate) fn full(body: impl Into<Bytes>) -> HyperOutgoingBody {
    Full::new(body.into()).map_err(|never| match never {}).boxed_unsync()
}

enum Admission<'a> {
    Admitted(SemaphorePermit<'a>),
    Busy(&'static str),
}

impl Server {
    pub fn new(app: Arc<App>, limits: ServerLimits) -> Arc<Self> {
        Arc::new(Self {
            slots: Semaphore::new(limits.max_concurrency.max(1)),
            queued: AtomicUsize::new(0),
            app,
            limits,
        })
    }

    fn metrics(&self) -> &Metrics {
        &self.app.metrics
    }

    async fn admit(&self) -> Admission<'_> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Admission::Admitted(permit);
        }
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.limits.max_queue {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Admission::Busy("the request queue is full");
        }
        self.metrics().queue_delta(1);
        let waited = tokio::time::timeout(self.limits.queue_timeout, self.slots.acquire()).await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        self.metrics().queue_delta(-1);
        match waited {
            Ok(Ok(permit)) => Admission::Admitted(permit),
            _ => Admission::Busy("no capacity freed up while queued"),
        }
    }

    /// Handle one request from a client.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<HyperOutgoingBody>, std::convert::Infallible> {
        let start = Instant::now();
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        let (component, response) = self.dispatch(req).await;
        let status = response.status().as_u16();
        let seconds = start.elapsed().as_secs_f64();
        self.metrics().request_done(component.as_deref().unwrap_or("-"), status, seconds);
        tracing::info!(%method, %path, component = component.as_deref().unwrap_or("-"), status, ms = seconds * 1e3, "request");
        Ok(response)
    }

    async fn dispatch(
        &self,
        req: Request<Incoming>,
    ) -> (Option<String>, Response<HyperOutgoingBody>) {
        let path = req.uri().path();
        if path == "/.well-known/spin/health" {
            return (None, Response::new(full("OK")));
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
                return (Some(component), json_error(413, "body_too_large", &msg));
            }
        }
        let _permit = match self.admit().await {
            Admission::Admitted(p) => p,
            Admission::Busy(why) => {
                self.metrics().rejected();
                // Read (and drop) the body first, within the limit: answering before the
                // client has sent it makes the connection close under the client, which
                // it sees as a reset instead of a clean 503 it can retry.
                let drain =
                    Limited::new(req.into_body(), self.limits.max_body_bytes as usize).collect();
                let _ = tokio::time::timeout(
                    self.limits.body_timeout.min(Duration::from_secs(5)),
                    drain,
                )
                .await;
                let mut r =
                    json_error(503, "overloaded", &format!("server busy: {why}; retry shortly"));
                r.headers_mut().insert("retry-after", "1".parse().expect("valid header"));
                return (Some(component), r);
            }
        };
        self.metrics().in_flight_delta(1);
        let response = self.run(&component, req).await;
        self.metrics().in_flight_delta(-1);
        (Some(component), response)
    }

    async fn run(&self, component: &str, req: Request<Incoming>) -> Response<HyperOutgoingBody> {
        let (parts, body) = req.into_parts();
        let req = if parts.headers.contains_key(hyper::header::CONTENT_LENGTH) {
            // Declared and within the limit: stream it to the component.
            Request::from_parts(parts, body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync())
        } else {
            // No declared length (chunked): read at most the limit, then hand it over.
            let collect = Limited::new(body, self.limits.max_body_bytes as usize).collect();
            let Ok(collected) = tokio::time::timeout(self.limits.body_timeout, collect).await
            else {
                return json_error(408, "body_timeout", "the request body did not arrive in time");
            };
            match collected {
                Ok(collected) => Request::from_parts(parts, full(collected.to_bytes())),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    let msg = format!(
                        "body is over the host limit of {} bytes",
                        self.limits.max_body_bytes
                    );
                    return json_error(413, "body_too_large", &msg);
                }
                Err(e) => {
                    return json_error(
                        400,
                        "body_read_failed",
                        &format!("could not read the body: {e}"),
                    )
                }
            }
        };
        match self.app.invoke(component, req).await {
            Ok(response) => response,
            Err(e) => {
                let (status, code) = e.status_and_code();
                tracing::warn!(component, error = %e, "request failed");
                json_error(status, code, &e.to_string())
            }
        }
    }
}

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers().get(hyper::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// `/metrics` on the admin listener.
pub async fn admin(
    metrics: Arc<Metrics>,
    req: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>, std::convert::Infallible> {
    Ok(match req.uri().path() {
        "/metrics" => Response::builder()
            .header("content-type", "text/plain; version=0.0.4")
            .body(full(metrics.render()))
            .expect("valid response"),
        _ => {
            let mut r = json_error(404, "not_found", "the admin listener serves /metrics");
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    })
}
