#![doc = include_str!("../README.md")]

pub mod sandbox;
mod vendor;

#[cfg_attr(unix, path = "sys/unix/mod.rs")]
#[cfg_attr(windows, path = "sys/windows/mod.rs")]
pub(crate) mod sys;

pub use containerd_shim::Config;
pub use sandbox::async_utils::AmbientRuntime;
/// spinfer patch (SPINFER-PATCH.md): the Stats RPC's collector.
#[cfg(unix)]
pub use sys::metrics::{MetricsCollector, set_metrics_collector};
pub use vendor::containerd_shim::logger::set_logger_kv;
#[cfg(unix)]
pub use zygote;
