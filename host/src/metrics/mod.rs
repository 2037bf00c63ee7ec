//! The host's metrics, kept and rendered by the `prometheus-client` crate (OpenMetrics
//! text on the admin listener's `/metrics`): requests by component and status, latency,
//! admission (queue depth and wait, rejections by reason), instances, connection closes,
//! and per request — observed when the request has finished, labelled by component and by
//! the model the request computed — time in each component, wasi-nn compute, body bytes
//! and CPU time ([`crate::telemetry`] measures them). docs/observability.md has one row
//! per series; `scripts/check_metrics_table.py` holds that table and [`names`] together.

mod labels;

use labels::{Component, ComponentModel, ComponentStatus, CpuKind, Model, Reason, Rejection};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry, Unit};
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

/// Body sizes: 256 B … 16 MiB, ×4.
fn bytes() -> Histogram {
    Histogram::new(exponential_buckets(256.0, 4.0, 9))
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
    pub nn_compute: f64,
    pub request_bytes: u64,
    pub response_bytes: u64,
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

/// Registers families under the names a scrape shows: the crate appends `_total` to
/// counters and the unit to a family registered with one, so both are taken off here.
struct Names<'a>(&'a mut Registry);

impl Names<'_> {
    fn add(&mut self, exposed: &str, help: &str, metric: impl Metric) {
        for (suffix, unit) in [("_seconds", Unit::Seconds), ("_bytes", Unit::Bytes)] {
            if let Some(base) = exposed.strip_suffix(suffix) {
                return self.0.register_with_unit(base, help, unit, metric);
            }
        }
        self.0.register(exposed.strip_suffix("_total").unwrap_or(exposed), help, metric);
    }
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
    fn register(&mut self) {
        let mut r = Names(&mut self.registry);
        // Today's series, as before the move to prometheus-client.
        r.add("spinfer_requests_total", "HTTP requests by component and status (chained calls count under the component they run).", self.requests.clone());
        r.add(
            "spinfer_request_duration_seconds",
            "Time to the response head, by component.",
            self.latency.clone(),
        );
        r.add(
            "spinfer_inference_duration_seconds",
            "Wall time of each wasi-nn compute, by model.",
            self.inference.clone(),
        );
        r.add(
            "spinfer_queue_depth",
            "Requests waiting for an admission slot.",
            self.queued.clone(),
        );
        r.add("spinfer_in_flight", "Requests being handled.", self.in_flight.clone());
        r.add("spinfer_instances", "Live component instances.", self.instances.clone());
        r.add(
            "spinfer_rejected_total",
            "Requests answered 503 by admission (all reasons).",
            self.rejected.clone(),
        );
        // Admission, instances, connections.
        r.add("spinfer_admission_rejections_total", "Requests answered 503 by admission, by component and reason (queue_full, queue_timeout).", self.rejections.clone());
        r.add(
            "spinfer_component_instances",
            "Live instances by component.",
            self.component_instances.clone(),
        );
        r.add(
            "spinfer_instances_started_total",
            "Instances created, by component (one per request).",
            self.instances_started.clone(),
        );
        r.add(
            "spinfer_connections_closed_total",
            "Connections the host closed, by reason (header_timeout, idle, cap).",
            self.connection_closes.clone(),
        );
        // Per finished request, per component and model.
        r.add(
            "spinfer_queue_wait_seconds",
            "Time waiting for an admission slot, per request, by component and model.",
            self.queue_wait.clone(),
        );
        r.add(
            "spinfer_component_duration_seconds",
            "Time in the component (instantiate to return), per request, by component and model.",
            self.in_component.clone(),
        );
        r.add(
            "spinfer_wasi_nn_compute_seconds",
            "Wall time in wasi-nn compute, per request, by component and model.",
            self.nn_compute.clone(),
        );
        r.add(
            "spinfer_request_body_bytes",
            "Request body size, by component and model.",
            self.request_bytes.clone(),
        );
        r.add(
            "spinfer_response_body_bytes",
            "Response body size, by component and model.",
            self.response_bytes.clone(),
        );
        r.add("spinfer_request_cpu_seconds", "CPU time a request used in a component (guest + wasi-nn compute), by component and model.", self.request_cpu.clone());
        r.add(
            "spinfer_cpu_seconds_total",
            "CPU time of requests, by component, model and kind (guest, wasi_nn).",
            self.cpu.clone(),
        );
        // The trace exporter.
        r.add(
            "spinfer_trace_spans_exported_total",
            "Spans the OTLP exporter delivered.",
            self.spans_exported.clone(),
        );
        r.add(
            "spinfer_trace_spans_dropped_total",
            "Spans dropped because the export queue was full.",
            self.spans_dropped.clone(),
        );
        r.add(
            "spinfer_trace_export_errors_total",
            "OTLP export batches that failed (their spans are lost).",
            self.export_errors.clone(),
        );
    }

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
        self.request_cpu.get_or_create(&l).observe(u.guest_cpu + u.nn_cpu);
        for (kind, seconds) in [("guest", u.guest_cpu), ("wasi_nn", u.nn_cpu)] {
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
