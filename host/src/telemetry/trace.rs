//! OpenTelemetry tracing, configured as Spin configures it: on when
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (`/v1/traces` appended) is set, OTLP over HTTP with protobuf bodies. The variables come
//! as a map — the process environment for `spinfer up`, the container's for the shim.
//! Also here: the W3C `traceparent` header, read from clients and written on chained calls.

use super::export::{BatchLimits, BoundedBatch, OtlpHttp};
use crate::metrics::Metrics;
use anyhow::{bail, Context as _};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, Tracer};
use opentelemetry_sdk::Resource;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The tracer, and the provider to flush at exit.
pub struct Tracing {
    tracer: Tracer,
    provider: SdkTracerProvider,
    /// Where spans go, for the start-up log.
    pub endpoint: String,
}

/// What the `OTEL_*` variables ask for; `None` from [`TraceConfig::from_env`]: no tracing.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    pub endpoint: String,
    pub headers: HashMap<String, String>,
    pub timeout: Duration,
    pub service_name: String,
    pub batch: BatchLimits,
}

impl TraceConfig {
    /// Read the OpenTelemetry variables of `env` (signal-specific before generic).
    pub fn from_env(env: &BTreeMap<String, String>) -> anyhow::Result<Option<Self>> {
        let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let either = |traces: &str, generic: &str| get(traces).or_else(|| get(generic));
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || get("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none")
        {
            return Ok(None);
        }
        let endpoint =
            match (get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
                (Some(e), _) => e.to_owned(),
                (None, Some(e)) => format!("{}/v1/traces", e.trim_end_matches('/')),
                (None, None) => return Ok(None),
            };
        if !endpoint.starts_with("http://") {
            bail!(
                "OTLP endpoint {endpoint:?}: spinfer exports to http:// endpoints only (run a \
                 collector beside it for TLS)"
            );
        }
        let protocol = either("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
        if let Some(p) = protocol.filter(|p| *p != "http/protobuf") {
            bail!("OTEL_EXPORTER_OTLP_PROTOCOL={p:?}: spinfer exports OTLP as http/protobuf only");
        }
        let number = |k: &str, default: u64| -> anyhow::Result<u64> {
            get(k).map_or(Ok(default), |v| {
                v.parse().with_context(|| format!("{k}={v:?} is not a number"))
            })
        };
        let timeout_ms =
            match either("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT") {
                Some(v) => {
                    v.parse().with_context(|| format!("OTLP timeout {v:?} is not milliseconds"))?
                }
                None => 10_000,
            };
        let headers = either("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
            .map(parse_headers)
            .unwrap_or_default();
        let max_queue = number("OTEL_BSP_MAX_QUEUE_SIZE", 2048)? as usize;
        Ok(Some(Self {
            endpoint,
            headers,
            timeout: Duration::from_millis(timeout_ms),
            service_name: get("OTEL_SERVICE_NAME").unwrap_or("spinfer").to_owned(),
            batch: BatchLimits {
                max_queue,
                max_batch: (number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)? as usize)
                    .clamp(1, max_queue.max(1)),
                delay: Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY", 5000)?),
            },
        }))
    }
}

/// `k1=v1,k2=v2`, as the OTEL_EXPORTER_OTLP_HEADERS variables write headers.
fn parse_headers(s: &str) -> HashMap<String, String> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

impl Tracing {
    /// Start the exporter for `cfg`; `runtime` drives its HTTP requests.
    pub fn start(
        cfg: &TraceConfig,
        metrics: Arc<Metrics>,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<Self> {
        let resource =
            Resource::builder_empty().with_service_name(cfg.service_name.clone()).build();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(cfg.endpoint.clone())
            .with_timeout(cfg.timeout)
            .with_headers(cfg.headers.clone())
            .with_http_client(OtlpHttp { timeout: cfg.timeout })
            .build()
            .context("building the OTLP span exporter")?;
        opentelemetry_sdk::trace::SpanExporter::set_resource(&mut exporter, &resource);
        let processor = BoundedBatch::start(exporter, cfg.batch, metrics, runtime)
            .context("starting the OTLP export thread")?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("spinfer");
        Ok(Self { tracer, provider, endpoint: cfg.endpoint.clone() })
    }

    /// Tracing as the `OTEL_*` variables of `env` ask for (`None`: not asked for), its
    /// exporter driven by the current tokio runtime. For `spinfer up` and the shim alike.
    pub fn from_env(
        env: &BTreeMap<String, String>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(cfg) = TraceConfig::from_env(env)? else { return Ok(None) };
        let tracing = Self::start(&cfg, metrics, tokio::runtime::Handle::current())?;
        tracing::info!(endpoint = %cfg.endpoint, service = %cfg.service_name, "OpenTelemetry traces on (OTLP/HTTP protobuf)");
        Ok(Some(tracing))
    }

    /// Start a span named `name` under `parent` (none: a new trace), at `start`.
    pub fn span(
        &self,
        name: String,
        kind: opentelemetry::trace::SpanKind,
        parent: Option<&SpanContext>,
        start: SystemTime,
        attributes: Vec<KeyValue>,
    ) -> Span {
        let cx = match parent {
            Some(p) => Context::new().with_remote_span_context(p.clone()),
            None => Context::new(),
        };
        self.tracer
            .span_builder(name)
            .with_kind(kind)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &cx)
    }

    /// Export what is queued, within a few seconds (at exit).
    pub fn shutdown(&self) {
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(5));
    }
}

/// The span context of a W3C `traceparent` header (`00-<trace>-<span>-<flags>`), if valid.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if version.len() != 2
        || !hex(version, 2)
        || version == "ff"
        || !hex(trace, 32)
        || !hex(span, 16)
        || !hex(flags, 2)
    {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let trace = TraceId::from_hex(trace).ok().filter(|t| *t != TraceId::INVALID)?;
    let span = SpanId::from_hex(span).ok().filter(|s| *s != SpanId::INVALID)?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & 1);
    Some(SpanContext::new(trace, span, flags, true, TraceState::default()))
}

/// The `traceparent` header value for `cx`.
pub fn traceparent(cx: &SpanContext) -> String {
    format!("00-{}-{}-{:02x}", cx.trace_id(), cx.span_id(), cx.trace_flags().to_u8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_refuses_malformed_headers() {
        let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parse_traceparent(v).unwrap();
        assert!(cx.is_sampled() && cx.is_remote());
        assert_eq!(traceparent(&cx), v);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn configuration_follows_the_otel_variables() {
        let env =
            |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(TraceConfig::from_env(&env(&[])).unwrap(), None);
        let c = TraceConfig::from_env(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.endpoint.as_str(), c.service_name.as_str()),
            ("http://c:4318/v1/traces", "spinfer")
        );
        let c = TraceConfig::from_env(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9/x"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1, b = 2"),
            ("OTEL_SERVICE_NAME", "demo"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((c.endpoint.as_str(), c.service_name.as_str()), ("http://t:9/x", "demo"));
        assert_eq!((c.headers["b"].as_str(), c.batch.max_queue, c.batch.max_batch), ("2", 10, 10));
        let off =
            env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_SDK_DISABLED", "true")]);
        assert_eq!(TraceConfig::from_env(&off).unwrap(), None);
        let grpc = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert!(TraceConfig::from_env(&grpc).unwrap_err().to_string().contains("http/protobuf"));
        let tls = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318")]);
        assert!(TraceConfig::from_env(&tls).is_err());
    }
}
