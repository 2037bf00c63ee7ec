//! Prometheus text metrics for the admin listener: requests by component and status,
//! a latency histogram per component, inference time per model, queue depth, and
//! live instances. Plain atomics and one mutex-guarded map; no metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Histogram bucket upper bounds, seconds.
const BUCKETS: [f64; 12] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            self.counts[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(self.counts) {
            cumulative += c;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Tables {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    inference: BTreeMap<String, Histogram>,
}

/// All host metrics.
#[derive(Default)]
pub struct Metrics {
    tables: Mutex<Tables>,
    queued: AtomicI64,
    in_flight: AtomicI64,
    instances: AtomicI64,
    rejected: AtomicU64,
}

impl Metrics {
    pub fn request_done(&self, component: &str, status: u16, seconds: f64) {
        let mut t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        *t.requests.entry((component.to_owned(), status)).or_default() += 1;
        t.latency.entry(component.to_owned()).or_default().observe(seconds);
    }

    pub fn inference_done(&self, model: &str, seconds: f64) {
        let mut t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        t.inference.entry(model.to_owned()).or_default().observe(seconds);
    }

    pub fn queue_delta(&self, d: i64) {
        self.queued.fetch_add(d, Ordering::Relaxed);
    }

    pub fn in_flight_delta(&self, d: i64) {
        self.in_flight.fetch_add(d, Ordering::Relaxed);
    }

    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn instance_started(&self) {
        self.instances.fetch_add(1, Ordering::Relaxed);
    }

    pub fn instance_finished(&self) {
        self.instances.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP spinfer_requests_total HTTP requests by component and status.\n\
             # TYPE spinfer_requests_total counter\n",
        );
        for ((c, s), n) in &t.requests {
            let _ = writeln!(out, "spinfer_requests_total{{component=\"{c}\",status=\"{s}\"}} {n}");
        }
        out.push_str(
            "# HELP spinfer_request_duration_seconds Request latency by component.\n\
             # TYPE spinfer_request_duration_seconds histogram\n",
        );
        for (c, h) in &t.latency {
            h.render(&mut out, "spinfer_request_duration_seconds", &format!("component=\"{c}\""));
        }
        out.push_str(
            "# HELP spinfer_inference_duration_seconds wasi-nn compute time by model.\n\
             # TYPE spinfer_inference_duration_seconds histogram\n",
        );
        for (m, h) in &t.inference {
            h.render(&mut out, "spinfer_inference_duration_seconds", &format!("model=\"{m}\""));
        }
        for (name, help, kind, v) in [
            (
                "spinfer_queue_depth",
                "Requests waiting for a concurrency slot.",
                "gauge",
                self.queued.load(Ordering::Relaxed),
            ),
            (
                "spinfer_in_flight",
                "Requests being handled.",
                "gauge",
                self.in_flight.load(Ordering::Relaxed),
            ),
            (
                "spinfer_instances",
                "Live component instances.",
                "gauge",
                self.instances.load(Ordering::Relaxed),
            ),
            (
                "spinfer_rejected_total",
                "Requests answered 503 because the queue was full.",
                "counter",
                self.rejected.load(Ordering::Relaxed) as i64,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        out
    }
}
