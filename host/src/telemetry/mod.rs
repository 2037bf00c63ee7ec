//! What the host tells an operator about each request beyond the counters: the CPU time
//! it used in each component ([`cpu`]: per-poll thread CPU time and per-compute time,
//! never counted twice), its record from first byte to last ([`record`]: the access log
//! line with CPU and trace id, the per-request metrics; [`invocation`]: one instance run
//! of it), and OpenTelemetry traces
//! ([`trace`]: OTLP/HTTP configured from the `OTEL_*` variables, [`export`]: a bounded
//! queue that drops and counts rather than wait, [`chain`]: spans and `traceparent` across
//! chained calls). [`body`] counts response bytes.

pub mod body;
pub mod chain;
pub mod cpu;
pub mod export;
pub mod invocation;
pub mod record;
pub mod trace;

pub use invocation::Invocation;
pub use record::{RequestRecord, Telemetry};
pub use trace::{TraceConfig, Tracing};
