use std::sync::OnceLock;

use anyhow::Result;
use containerd_shim::cgroup::collect_metrics;
use containerd_shim::util::convert_to_any;
use protobuf::well_known_types::any::Any;

/// spinfer patch: a collector the shim binary installs in place of `collect_metrics`
/// (containerd-shim 0.8 reads only cgroup v2's `cpu.stat` keys: 0 CPU on v1 nodes).
pub type MetricsCollector = fn(u32) -> Result<Any>;

static COLLECTOR: OnceLock<MetricsCollector> = OnceLock::new();

/// spinfer patch: answer the Task service's `stats` with `collector`; call once, before
/// the shim runs.
pub fn set_metrics_collector(collector: MetricsCollector) {
    let _ = COLLECTOR.set(collector);
}

#[cfg_attr(feature = "tracing", tracing::instrument(level = "Debug"))]
pub fn get_metrics(pid: u32) -> Result<Any> {
    if let Some(collect) = COLLECTOR.get() {
        return collect(pid);
    }
    let metrics = collect_metrics(pid)?;

    let metrics = convert_to_any(Box::new(metrics))?;
    Ok(metrics)
}
