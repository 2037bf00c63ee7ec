//! The host's metrics, kept and rendered by the `prometheus-client` crate (OpenMetrics
//! text on the admin listener's `/metrics`): requests by component and status, latency,
//! admission (queue depth and wait, rejections by reason), instances, connection closes,
//! and per request — observed when the request has finished, labelled by component and by
//! the model the request computed — time in each component, wasi-nn compute, body bytes
//! and CPU time ([`crate::telemetry`] measures them). docs/observability.md has one row
//! per series; `scripts/check_metrics_table.py` holds that table and `names.rs` together.

mod labels;
mod names;

use labels::{Component, ComponentModel, ComponentStatus, CpuKind, Model, Reason, Rejection};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

pub use labels::{ConnectionClose, Rejected};

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency and CPU histogram bucket upper bounds, seconds.
const SECONDS: [f64; 12] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

fn seconds() -> Histogram {
    Histogram::new(SECONDS)
}

/// Body sizes: 256 B … 64 MiB, ×4 (above the host's 48 MiB body limit).
fn bytes() -> Histogram {
    Histogram::new(exponential_buckets(256.0, 4.0, 10))
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;
type FloatCounter = Counter<f64, AtomicU64>;

fn histograms<L: Clone + std::hash::Hash + Eq>(make: fn() -> Histogram) -> Histograms<L> {
    Family::new_with_constructor(make)
}

/// What one finished request cost one component (see [`Metrics::component_usage`]).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Usage {
    pub queue_wait: f64,
    pub in_component: f64,
    pub guest_cpu: f64,
    pub nn_cpu: f64,
    /// The host's own work for the request: routing, admission, reading the body, chaining.
    pub host_cpu: f64,
    pub nn_compute: f64,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

impl Usage {
    /// All the CPU time: guest, wasi-nn compute and the host's work for the request.
    pub fn cpu(&self) -> f64 {
        self.guest_cpu + self.nn_cpu + self.host_cpu
    }
}

/// All host metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<ComponentStatus, Counter>,
    latency: Histograms<Component>,
    inference: Histograms<Model>,
    queued: Gauge,
    in_flight: Gauge,
    instances: Gauge,
    component_instances: Family<Component, Gauge>,
    instances_started: Family<Component, Counter>,
    rejected: Counter,
    rejections: Family<Rejection, Counter>,
    connection_closes: Family<Reason, Counter>,
    queue_wait: Histograms<ComponentModel>,
    in_component: Histograms<ComponentModel>,
    nn_compute: Histograms<ComponentModel>,
    request_bytes: Histograms<ComponentModel>,
    response_bytes: Histograms<ComponentModel>,
    request_cpu: Histograms<ComponentModel>,
    cpu: Family<CpuKind, FloatCounter>,
    spans_exported: Counter,
    spans_dropped: Counter,
    export_errors: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            requests: Family::default(),
            latency: histograms(seconds),
            inference: histograms(seconds),
            queued: Gauge::default(),
            in_flight: Gauge::default(),
            instances: Gauge::default(),
            component_instances: Family::default(),
            instances_started: Family::default(),
            rejected: Counter::default(),
            rejections: Family::default(),
            connection_closes: Family::default(),
            queue_wait: histograms(seconds),
            in_component: histograms(seconds),
            nn_compute: histograms(seconds),
            request_bytes: histograms(bytes),
            response_bytes: histograms(bytes),
            request_cpu: histograms(seconds),
            cpu: Family::default(),
            spans_exported: Counter::default(),
            spans_dropped: Counter::default(),
            export_errors: Counter::default(),
        };
        m.register();
        m
    }
}

impl Metrics {
    pub fn request_done(&self, component: &str, status: u16, seconds: f64) {
        let component = component.to_owned();
        self.requests
            .get_or_create(&ComponentStatus { component: component.clone(), status })
            .inc();
        self.latency.get_or_create(&Component { component }).observe(seconds);
    }

    pub fn inference_done(&self, model: &str, seconds: f64) {
        self.inference.get_or_create(&Model { model: model.to_owned() }).observe(seconds);
    }

    pub fn queue_delta(&self, d: i64) {
        self.queued.inc_by(d);
    }

    pub fn in_flight_delta(&self, d: i64) {
        self.in_flight.inc_by(d);
    }

    /// A request answered 503 by admission.
    pub fn rejected(&self, component: &str, why: Rejected) {
        self.rejected.inc();
        let labels = Rejection { component: component.to_owned(), reason: why };
        self.rejections.get_or_create(&labels).inc();
    }

    pub fn connection_closed(&self, why: ConnectionClose) {
        self.connection_closes.get_or_create(&Reason { reason: why }).inc();
    }

    pub fn instance_started(&self, component: &str) {
        let c = Component { component: component.to_owned() };
        self.instances.inc();
        self.component_instances.get_or_create(&c).inc();
        self.instances_started.get_or_create(&c).inc();
    }

    pub fn instance_finished(&self, component: &str) {
        self.instances.dec();
        self.component_instances
            .get_or_create(&Component { component: component.to_owned() })
            .dec();
    }

    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// One finished request's cost in one component, under the model it computed.
    pub fn component_usage(&self, component: &str, model: &str, u: &Usage) {
        let l = ComponentModel { component: component.to_owned(), model: model.to_owned() };
        self.queue_wait.get_or_create(&l).observe(u.queue_wait);
        self.in_component.get_or_create(&l).observe(u.in_component);
        self.nn_compute.get_or_create(&l).observe(u.nn_compute);
        self.request_bytes.get_or_create(&l).observe(u.request_bytes as f64);
        self.response_bytes.get_or_create(&l).observe(u.response_bytes as f64);
        self.request_cpu.get_or_create(&l).observe(u.cpu());
        for (kind, seconds) in [("guest", u.guest_cpu), ("wasi_nn", u.nn_cpu), ("host", u.host_cpu)]
        {
            let k = CpuKind { component: l.component.clone(), model: l.model.clone(), kind };
            self.cpu.get_or_create(&k).inc_by(seconds);
        }
    }

    pub fn spans_exported(&self, n: u64) {
        self.spans_exported.inc_by(n);
    }

    pub fn spans_dropped(&self, n: u64) {
        self.spans_dropped.inc_by(n);
    }

    pub fn export_failed(&self) {
        self.export_errors.inc();
    }

    /// OpenMetrics text ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests;
