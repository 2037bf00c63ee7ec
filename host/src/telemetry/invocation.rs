//! One component instance run for a request: the account its CPU time is charged to
//! (guest and wasi-nn compute, each compute a span), the dispatcher its chained calls go to,
//! and its span; when the instance's task has ended, its totals are folded into the
//! request's [`RequestRecord`] under its component.

use super::chain::ChainedFrom;
use super::cpu::Account;
use super::record::{lock, RequestRecord};
use crate::outbound::{Caller, Dispatch};
use opentelemetry::trace::{Span as _, SpanContext, SpanKind};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::Span;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

/// One component instance run for a request: the account its CPU is charged to, and
/// the dispatcher its chained calls go to.
#[derive(Clone)]
pub struct Invocation(pub(super) Arc<InvShared>);

pub(super) struct InvShared {
    pub(super) record: RequestRecord,
    pub(super) component: String,
    pub(super) depth: u32,
    pub(super) started: Instant,
    pub(super) span: Option<Mutex<Span>>,
    pub(super) context: Option<SpanContext>,
    pub(super) guest_ns: AtomicU64,
    pub(super) nn_ns: AtomicU64,
    pub(super) nn_wall_ns: AtomicU64,
    pub(super) model: Mutex<Option<String>>,
    pub(super) chain: Arc<ChainedFrom>,
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
