//! One client request, followed to its end: the components it ran (chained calls
//! included), what each cost — admission wait, time in the component, guest and wasi-nn
//! CPU, compute time, body bytes — its spans, and, once everything that belongs to it has
//! finished (the response body sent and every instance's task ended, whichever is last),
//! the access log line and the per-request metrics. "Finished" is the drop of the last
//! handle: the response body, each [`Invocation`] and the server's frame each hold one.

use super::chain::ChainedFrom;
use super::cpu::Account;
use super::trace::{parse_traceparent, Tracing};
use crate::metrics::{Metrics, Usage};
use crate::outbound::{Caller, Dispatch};
use opentelemetry::trace::{Span as _, SpanContext, SpanKind};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::Span;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

/// What the server's telemetry shares: the metrics, and the tracer when tracing is on.
pub struct Telemetry {
    pub metrics: Arc<Metrics>,
    pub tracing: Option<Tracing>,
}

/// A handle on one client request's record (cheap to clone).
#[derive(Clone)]
pub struct RequestRecord(Arc<Shared>);

struct Shared {
    telemetry: Arc<Telemetry>,
    method: String,
    path: String,
    /// The trace this request belongs to: its root span's, or the client's when not tracing.
    trace: Option<SpanContext>,
    root: Option<Mutex<Span>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    component: Option<String>,
    status: u16,
    head: Duration,
    model: Option<String>,
    usage: BTreeMap<String, Usage>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

impl Drop for Shared {
    fn drop(&mut self) {
        let s = std::mem::take(&mut *lock(&self.state));
        let model = s.model.as_deref().unwrap_or("none");
        let mut cpu = 0.0;
        let mut by_component = String::new();
        for (component, u) in &s.usage {
            self.telemetry.metrics.component_usage(component, model, u);
            let ms = (u.guest_cpu + u.nn_cpu) * 1e3;
            cpu += ms;
            by_component +=
                &format!("{}{component}={ms:.3}", if by_component.is_empty() { "" } else { "," });
        }
        let (request_bytes, response_bytes) =
            s.usage.values().fold((0, 0), |(a, b), u| (a + u.request_bytes, b + u.response_bytes));
        let trace_id = self.trace.as_ref().map(|c| c.trace_id().to_string()).unwrap_or_default();
        tracing::info!(
            method = %self.method, path = %self.path, component = s.component.as_deref().unwrap_or("-"),
            status = s.status, ms = s.head.as_secs_f64() * 1e3, cpu_ms = cpu, cpu_by_component = %by_component,
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

/// One component instance run for a request: the account its CPU is charged to, and
/// the dispatcher its chained calls go to.
#[derive(Clone)]
pub struct Invocation(Arc<InvShared>);

struct InvShared {
    record: RequestRecord,
    component: String,
    depth: u32,
    started: Instant,
    span: Option<Mutex<Span>>,
    context: Option<SpanContext>,
    guest_ns: AtomicU64,
    nn_ns: AtomicU64,
    nn_wall_ns: AtomicU64,
    model: Mutex<Option<String>>,
    chain: Arc<ChainedFrom>,
}

impl Invocation {
    /// Where the instance's CPU time is charged (for [`super::cpu::Metered`]).
    pub fn account(&self) -> Arc<dyn Account> {
        self.0.clone()
    }

    /// The instance's caller: its chained calls come back through this invocation, which
    /// adds the trace context and this request's record.
    pub fn caller(&self) -> Caller {
        let dispatch: Weak<dyn Dispatch> = Arc::downgrade(&self.0.chain) as Weak<ChainedFrom>;
        Caller { dispatch, depth: self.0.depth }
    }

    pub fn record(&self) -> &RequestRecord {
        &self.0.record
    }

    /// The status the component answered (or the host for it), on its span.
    pub fn answered(&self, status: u16) {
        if let Some(span) = &self.0.span {
            let mut span = lock(span);
            span.set_attribute(KeyValue::new("http.response.status_code", status as i64));
            if status >= 500 {
                span.set_status(opentelemetry::trace::Status::error(format!("HTTP {status}")));
            }
        }
    }
}

impl Account for InvShared {
    fn guest(&self, ns: u64) {
        self.guest_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn compute(&self, model: &str, cpu_ns: u64, wall: Duration, started: SystemTime) {
        self.nn_ns.fetch_add(cpu_ns, Ordering::Relaxed);
        self.nn_wall_ns.fetch_add(wall.as_nanos() as u64, Ordering::Relaxed);
        lock(&self.model).get_or_insert_with(|| model.to_owned());
        if let Some(t) = self.record.tracing() {
            let attributes = vec![
                KeyValue::new("spinfer.model", model.to_owned()),
                KeyValue::new("spinfer.cpu_ms", cpu_ns as f64 / 1e6),
            ];
            let mut span = t.span(
                "wasi-nn compute".into(),
                SpanKind::Internal,
                self.context.as_ref(),
                started,
                attributes,
            );
            span.end_with_timestamp(started + wall);
        }
    }
}

impl Drop for InvShared {
    fn drop(&mut self) {
        let seconds = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e9;
        let (guest, nn, nn_wall) =
            (seconds(&self.guest_ns), seconds(&self.nn_ns), seconds(&self.nn_wall_ns));
        let model = lock(&self.model).take();
        let mut s = lock(&self.record.0.state);
        if s.model.is_none() {
            s.model = model.clone();
        }
        let u = s.usage.entry(self.component.clone()).or_default();
        u.guest_cpu += guest;
        u.nn_cpu += nn;
        u.nn_compute += nn_wall;
        u.in_component += self.started.elapsed().as_secs_f64();
        drop(s);
        if let Some(span) = &self.span {
            let mut span = lock(span);
            span.set_attribute(KeyValue::new("spinfer.cpu_ms", (guest + nn) * 1e3));
            if let Some(m) = model {
                span.set_attribute(KeyValue::new("spinfer.model", m));
            }
            span.end();
        }
    }
}
