//! One client request, followed to its end: the components it ran (chained calls
//! included), what each cost — admission wait, time in the component, guest and wasi-nn
//! CPU, compute time, body bytes — its spans, and, once everything that belongs to it has
//! finished (the response body sent and every instance's task ended, whichever is last),
//! the access log line and the per-request metrics. "Finished" is the drop of the last
//! handle: the response body, each [`Invocation`] and the server's frame each hold one.

use super::chain::ChainedFrom;
use super::cpu::Account;
use super::invocation::{InvShared, Invocation};
use super::trace::{parse_traceparent, Tracing};
use crate::metrics::{Metrics, Usage};
use crate::outbound::Dispatch;
use opentelemetry::trace::{Span as _, SpanContext, SpanKind};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::Span;
use spinfer_api::{millis, to_the_microsecond};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

/// What the server's telemetry shares: the metrics, and the tracer when tracing is on.
pub struct Telemetry {
    pub metrics: Arc<Metrics>,
    pub tracing: Option<Tracing>,
}

/// A handle on one client request's record (cheap to clone).
#[derive(Clone)]
pub struct RequestRecord(pub(super) Arc<Shared>);

pub(super) struct Shared {
    telemetry: Arc<Telemetry>,
    method: String,
    path: String,
    /// The trace this request belongs to: its root span's, or the client's when not tracing.
    trace: Option<SpanContext>,
    root: Option<Mutex<Span>>,
    pub(super) state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    component: Option<String>,
    status: u16,
    head: Duration,
    pub(super) model: Option<String>,
    pub(super) usage: BTreeMap<String, Usage>,
    /// Host CPU time before the request was routed.
    front_door_ns: u64,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RequestRecord {
    /// A request from a client: `traceparent` is the client's header, if any.
    pub fn start(
        telemetry: &Arc<Telemetry>,
        method: &str,
        path: &str,
        traceparent: Option<&str>,
    ) -> Self {
        let client = traceparent.and_then(parse_traceparent);
        let root = telemetry.tracing.as_ref().map(|t| {
            let attributes = vec![
                KeyValue::new("http.request.method", method.to_owned()),
                KeyValue::new("url.path", path.to_owned()),
            ];
            t.span(
                format!("{method} {path}"),
                SpanKind::Server,
                client.as_ref(),
                SystemTime::now(),
                attributes,
            )
        });
        let trace = root.as_ref().map(|s| s.span_context().clone()).or(client);
        Self(Arc::new(Shared {
            telemetry: telemetry.clone(),
            method: method.to_owned(),
            path: path.to_owned(),
            trace,
            root: root.map(Mutex::new),
            state: Mutex::new(State::default()),
        }))
    }

    /// The record a chained request carries (set by [`ChainedFrom`]), or a new one.
    pub fn of_chained(
        telemetry: &Arc<Telemetry>,
        req: &http::Request<crate::response::Body>,
    ) -> Self {
        req.extensions().get::<Self>().cloned().unwrap_or_else(|| {
            let tp = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
            Self::start(telemetry, req.method().as_str(), req.uri().path(), tp)
        })
    }

    /// The trace id, for the access log.
    pub fn trace_id(&self) -> Option<String> {
        self.0.trace.as_ref().map(|c| c.trace_id().to_string())
    }

    /// The span a component run at depth 0 hangs under.
    fn root_context(&self) -> Option<SpanContext> {
        self.0
            .root
            .as_ref()
            .map(|s| lock(s).span_context().clone())
            .or_else(|| self.0.trace.clone())
    }

    pub(super) fn tracing(&self) -> Option<&Tracing> {
        self.0.telemetry.tracing.as_ref()
    }

    fn usage(&self, component: &str, f: impl FnOnce(&mut Usage)) {
        f(lock(&self.0.state).usage.entry(component.to_owned()).or_default());
    }

    /// Where the host's own work for this request is charged ([`super::cpu::Metered`]):
    /// to `component`, or — at the front door, before routing — to the component the
    /// request is routed to (`-` when none).
    pub fn host_account(&self, component: Option<&str>) -> Arc<dyn Account> {
        Arc::new(HostWork { record: self.clone(), component: component.map(str::to_owned) })
    }

    pub fn queue_wait(&self, component: &str, waited: Duration) {
        self.usage(component, |u| u.queue_wait += waited.as_secs_f64());
    }

    pub fn request_bytes(&self, component: &str, n: u64) {
        self.usage(component, |u| u.request_bytes += n);
    }

    pub fn response_bytes(&self, component: &str, n: u64) {
        self.usage(component, |u| u.response_bytes += n);
    }

    /// The answer's head went out: status, the component that answered (if routed), and
    /// the time to the head (the access log's `ms`).
    pub fn answered(&self, component: Option<&str>, status: u16, head: Duration) {
        let mut s = lock(&self.0.state);
        (s.component, s.status, s.head) = (component.map(str::to_owned), status, head);
    }

    /// A new instance of `component` at `depth` for this request, whose chained calls go to
    /// `server`; `parent`: the span it hangs under (the caller's, from `traceparent`), or
    /// the request's root span when `None`.
    pub fn invocation(
        &self,
        component: &str,
        depth: u32,
        parent: Option<SpanContext>,
        server: Weak<dyn Dispatch>,
    ) -> Invocation {
        let parent = parent.or_else(|| self.root_context());
        let span = self.tracing().map(|t| {
            let attributes = vec![
                KeyValue::new("spinfer.component", component.to_owned()),
                KeyValue::new("spinfer.depth", depth as i64),
            ];
            t.span(
                format!("component {component}"),
                SpanKind::Internal,
                parent.as_ref(),
                SystemTime::now(),
                attributes,
            )
        });
        let context = span.as_ref().map(|s| s.span_context().clone()).or(parent);
        let chain = Arc::new(ChainedFrom { server, record: self.clone(), parent: context.clone() });
        Invocation(Arc::new(InvShared {
            record: self.clone(),
            component: component.to_owned(),
            depth,
            started: Instant::now(),
            span: span.map(Mutex::new),
            context,
            guest_ns: AtomicU64::new(0),
            nn_ns: AtomicU64::new(0),
            nn_wall_ns: AtomicU64::new(0),
            model: Mutex::new(None),
            chain,
        }))
    }
}

/// The host's work for a request, as a CPU account.
struct HostWork {
    record: RequestRecord,
    component: Option<String>,
}

impl Account for HostWork {
    fn guest(&self, ns: u64) {
        let mut s = lock(&self.record.0.state);
        let component = self.component.as_ref().or(s.component.as_ref()).cloned();
        match component {
            Some(c) => s.usage.entry(c).or_default().host_cpu += ns as f64 / 1e9,
            None => s.front_door_ns += ns,
        }
    }

    fn compute(&self, _: &str, _: u64, _: Duration, _: SystemTime) {}
}

impl Drop for Shared {
    fn drop(&mut self) {
        let mut s = std::mem::take(&mut *lock(&self.state));
        let front = std::mem::take(&mut s.front_door_ns) as f64 / 1e9;
        if let Some(c) = s.component.clone().filter(|_| front > 0.0) {
            s.usage.entry(c).or_default().host_cpu += front;
        }
        let model = s.model.as_deref().unwrap_or("none");
        let mut cpu = 0.0;
        let mut by_component = String::new();
        for (component, u) in &s.usage {
            self.telemetry.metrics.component_usage(component, model, u);
            let ms = u.cpu() * 1e3;
            cpu += ms;
            by_component +=
                &format!("{}{component}={ms:.3}", if by_component.is_empty() { "" } else { "," });
        }
        let (request_bytes, response_bytes) =
            s.usage.values().fold((0, 0), |(a, b), u| (a + u.request_bytes, b + u.response_bytes));
        let trace_id = self.trace.as_ref().map(|c| c.trace_id().to_string()).unwrap_or_default();
        tracing::info!(
            method = %self.method, path = %self.path, component = s.component.as_deref().unwrap_or("-"),
            // To the microsecond, as the API's timings (`ms=0.022`, not
            // `ms=0.021721999999999998`); the span and the metrics keep the full value.
            status = s.status, ms = millis(s.head), cpu_ms = to_the_microsecond(cpu),
            cpu_by_component = %by_component,
            model, request_bytes, response_bytes, trace_id = %trace_id, "request"
        );
        if let Some(root) = &self.root {
            let mut root = lock(root);
            root.set_attribute(KeyValue::new("http.response.status_code", s.status as i64));
            root.set_attribute(KeyValue::new("spinfer.model", model.to_owned()));
            root.set_attribute(KeyValue::new("spinfer.cpu_ms", cpu));
            if let Some(c) = s.component {
                root.set_attribute(KeyValue::new("spinfer.component", c));
            }
            if s.status >= 500 {
                root.set_status(opentelemetry::trace::Status::error(format!("HTTP {}", s.status)));
            }
            root.end();
        }
    }
}
