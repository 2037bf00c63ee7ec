//! The name every family is exposed under, with its help text: the list
//! docs/observability.md's table is checked against (`scripts/check_metrics_table.py`).

use super::Metrics;
use prometheus_client::registry::{Metric, Registry, Unit};

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

impl Metrics {
    pub(super) fn register(&mut self) {
        let mut r = Names(&mut self.registry);
        // Today's series, as before the move to prometheus-client.
        r.add("spinfer_requests_total", "HTTP requests by component and status (chained calls count under the component they run)", self.requests.clone());
        r.add(
            "spinfer_request_duration_seconds",
            "Time to the response head, by component",
            self.latency.clone(),
        );
        r.add(
            "spinfer_inference_duration_seconds",
            "Wall time of each wasi-nn compute, by model",
            self.inference.clone(),
        );
        r.add("spinfer_queue_depth", "Requests waiting for an admission slot", self.queued.clone());
        r.add("spinfer_in_flight", "Requests being handled", self.in_flight.clone());
        r.add("spinfer_instances", "Live component instances", self.instances.clone());
        r.add(
            "spinfer_rejected_total",
            "Requests answered 503 by admission (all reasons)",
            self.rejected.clone(),
        );
        // Admission, instances, connections.
        r.add("spinfer_admission_rejections_total", "Requests answered 503 by admission, by component and reason (queue_full, queue_timeout)", self.rejections.clone());
        r.add(
            "spinfer_component_instances",
            "Live instances by component",
            self.component_instances.clone(),
        );
        r.add(
            "spinfer_instances_started_total",
            "Instances created, by component (one per request)",
            self.instances_started.clone(),
        );
        r.add(
            "spinfer_connections_closed_total",
            "Connections the host closed, by reason (header_timeout, idle, cap)",
            self.connection_closes.clone(),
        );
        // Per finished request, per component and model.
        r.add(
            "spinfer_queue_wait_seconds",
            "Time waiting for an admission slot, per request, by component and model",
            self.queue_wait.clone(),
        );
        r.add(
            "spinfer_component_duration_seconds",
            "Time in the component (instantiate to return), per request, by component and model",
            self.in_component.clone(),
        );
        r.add(
            "spinfer_wasi_nn_compute_seconds",
            "Wall time in wasi-nn compute, per request, by component and model",
            self.nn_compute.clone(),
        );
        r.add(
            "spinfer_request_body_bytes",
            "Request body size, by component and model",
            self.request_bytes.clone(),
        );
        r.add(
            "spinfer_response_body_bytes",
            "Response body size, by component and model",
            self.response_bytes.clone(),
        );
        r.add("spinfer_request_cpu_seconds", "CPU time a request used in a component (guest, wasi-nn compute, host), by component and model", self.request_cpu.clone());
        r.add(
            "spinfer_cpu_seconds_total",
            "CPU time of requests, by component, model and kind (guest, wasi_nn, host)",
            self.cpu.clone(),
        );
        // The trace exporter.
        r.add(
            "spinfer_trace_spans_exported_total",
            "Spans the OTLP exporter delivered",
            self.spans_exported.clone(),
        );
        r.add(
            "spinfer_trace_spans_dropped_total",
            "Spans dropped because the export queue was full",
            self.spans_dropped.clone(),
        );
        r.add(
            "spinfer_trace_export_errors_total",
            "OTLP export batches that failed (their spans are lost)",
            self.export_errors.clone(),
        );
    }
}
