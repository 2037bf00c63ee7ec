//! The Task service's `stats`: a container's cgroup figures (`spinfer-cgroup-stats`, v1
//! and v2) as containerd's cgroup v1 `Metrics` message — the form runwasi answers in and
//! containerd's CRI turns into `ContainerStats` (CPU `usage_core_nano_seconds`, memory
//! working set = usage − inactive file), which the kubelet, `kubectl top` and the HPA read.
//! Installed through the hook of shim/vendor/containerd-shimkit (SPINFER-PATCH.md).

use containerd_shim_protos::cgroups::metrics::{
    CPUStat, CPUUsage, MemoryEntry, MemoryStat, Metrics, PidsStat, Throttle,
};
use protobuf::well_known_types::any::Any;
use protobuf::{Message, MessageField, MessageFull};
use spinfer_cgroup_stats::Stats;

/// Answer `stats` with [`collect`] from now on (before the shim runs).
pub fn install() {
    containerd_shimkit::set_metrics_collector(collect);
}

/// The figures of the container whose process is `pid`.
fn collect(pid: u32) -> anyhow::Result<Any> {
    let stats = spinfer_cgroup_stats::read(pid)?;
    let metrics = to_metrics(&stats);
    Ok(Any {
        type_url: Metrics::descriptor().full_name().to_owned(),
        value: metrics.write_to_bytes()?,
        ..Default::default()
    })
}

fn to_metrics(s: &Stats) -> Metrics {
    let mut m = Metrics::new();
    m.cpu = MessageField::some(CPUStat {
        usage: MessageField::some(CPUUsage {
            total: s.cpu.usage_ns,
            kernel: s.cpu.kernel_ns,
            user: s.cpu.user_ns,
            ..Default::default()
        }),
        throttling: MessageField::some(Throttle {
            periods: s.cpu.periods,
            throttled_periods: s.cpu.throttled_periods,
            throttled_time: s.cpu.throttled_ns,
            ..Default::default()
        }),
        ..Default::default()
    });
    if let Some(mem) = &s.memory {
        m.memory = MessageField::some(MemoryStat {
            cache: mem.cache,
            rss: mem.rss,
            pg_fault: mem.pgfault,
            pg_maj_fault: mem.pgmajfault,
            inactive_file: mem.inactive_file,
            total_cache: mem.cache,
            total_rss: mem.rss,
            total_pg_fault: mem.pgfault,
            total_pg_maj_fault: mem.pgmajfault,
            total_inactive_file: mem.inactive_file,
            usage: MessageField::some(MemoryEntry {
                usage: mem.usage,
                limit: mem.limit.unwrap_or(0),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    if let Some(p) = &s.pids {
        m.pids = MessageField::some(PidsStat {
            current: p.current,
            limit: p.limit.unwrap_or(0),
            ..Default::default()
        });
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use spinfer_cgroup_stats::{Cpu, Memory, Version};

    #[test]
    fn figures_land_where_containerds_cri_reads_them() {
        let s = Stats {
            version: Version::V1,
            cpu: Cpu { usage_ns: 2_490_000_000, ..Default::default() },
            memory: Some(Memory { usage: 80, inactive_file: 4, limit: None, ..Default::default() }),
            pids: None,
        };
        let m = Metrics::parse_from_bytes(&to_metrics(&s).write_to_bytes().unwrap()).unwrap();
        assert_eq!(m.cpu.usage.total, 2_490_000_000);
        assert_eq!((m.memory.usage.usage, m.memory.total_inactive_file), (80, 4));
        assert_eq!(Metrics::descriptor().full_name(), "io.containerd.cgroups.v1.Metrics");
    }
}
