//! Getting spans out without ever holding up a request: a bounded queue in front of one
//! exporter thread, and the OTLP/HTTP transport it uses.
//!
//! [`BoundedBatch`] is the span processor: ending a span only tries to put it on a
//! bounded channel (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048); when the queue is full the
//! span is dropped and counted (`spinfer_trace_spans_dropped_total`) — a slow or dead
//! collector costs a request one failed `try_send`, never a wait. The SDK's own batch
//! processor drops the same way but keeps the count private, hence this one. Its thread
//! sends a batch every `OTEL_BSP_SCHEDULE_DELAY` ms or `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
//! spans through `opentelemetry-otlp`'s HTTP/protobuf exporter, whose requests go through
//! [`OtlpHttp`]: hyper over the host's tokio runtime (the crate's own hyper client needs a
//! tokio context its exporter thread does not have, and its reqwest one would add a second
//! HTTP stack and runtime to the build).

use crate::metrics::Metrics;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queue and batch sizes (the `OTEL_BSP_*` variables).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLimits {
    pub max_queue: usize,
    pub max_batch: usize,
    pub delay: Duration,
}

enum Msg {
    Span(Box<SpanData>),
    Shutdown(SyncSender<()>),
}

/// The span processor: a bounded queue and one exporter thread.
#[derive(Debug)]
pub struct BoundedBatch {
    queue: SyncSender<Msg>,
    metrics: Arc<Metrics>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl BoundedBatch {
    /// Start the exporter thread; `runtime` drives the exporter's HTTP requests.
    pub fn start<E: SpanExporter + 'static>(
        exporter: E,
        limits: BatchLimits,
        metrics: Arc<Metrics>,
        runtime: tokio::runtime::Handle,
    ) -> std::io::Result<Self> {
        let (queue, rx) = sync_channel(limits.max_queue.max(1));
        let m = metrics.clone();
        let worker = std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || export_loop(exporter, rx, limits, &m, &runtime))?;
        Ok(Self { queue, metrics, worker: Mutex::new(Some(worker)) })
    }
}

impl SpanProcessor for BoundedBatch {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        match self.queue.try_send(Msg::Span(Box::new(span))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics.spans_dropped(1)
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Export what is queued (within `timeout`), then stop the thread.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let Some(worker) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(());
        };
        let (ack, done) = sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut msg = Msg::Shutdown(ack);
        // The queue may be full: retry until the worker makes room or time runs out.
        loop {
            match self.queue.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return Ok(()),
            }
        }
        if done.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok() {
            let _ = worker.join();
        }
        Ok(())
    }
}

fn export_loop<E: SpanExporter>(
    exporter: E,
    rx: Receiver<Msg>,
    limits: BatchLimits,
    metrics: &Metrics,
    runtime: &tokio::runtime::Handle,
) {
    let mut batch = Vec::with_capacity(limits.max_batch);
    let mut due = Instant::now() + limits.delay;
    let mut warned = false;
    let mut send = |batch: &mut Vec<SpanData>| {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        match runtime.block_on(exporter.export(std::mem::take(batch))) {
            Ok(()) => metrics.spans_exported(n),
            Err(e) => {
                metrics.export_failed();
                if !std::mem::replace(&mut warned, true) {
                    tracing::warn!(error = %e, spans = n,
                        "OTLP export failed; spans are dropped (counted in /metrics, this is logged once)");
                }
            }
        }
    };
    loop {
        match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok(Msg::Span(span)) => {
                batch.push(*span);
                if batch.len() >= limits.max_batch {
                    send(&mut batch);
                    due = Instant::now() + limits.delay;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                send(&mut batch);
                due = Instant::now() + limits.delay;
            }
            Ok(Msg::Shutdown(ack)) => {
                send(&mut batch);
                let _ = ack.send(());
                return;
            }
            Err(RecvTimeoutError::Disconnected) => return send(&mut batch),
        }
    }
}

/// The OTLP exporter's HTTP transport: one HTTP/1.1 request per batch over a fresh
/// connection (a batch leaves every few seconds at most), `http://` endpoints only.
#[derive(Debug)]
pub struct OtlpHttp {
    pub timeout: Duration,
}

/// The largest collector answer read back.
const MAX_ANSWER: usize = 1 << 20;

#[async_trait::async_trait]
impl HttpClient for OtlpHttp {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let send = async {
            let (mut parts, body) = request.into_parts();
            let host = parts.uri.host().ok_or("the OTLP endpoint has no host")?.to_owned();
            let port = parts.uri.port_u16().unwrap_or(80);
            let authority = parts.uri.authority().map(|a| a.to_string()).unwrap_or_default();
            parts.headers.insert(hyper::header::HOST, authority.parse()?);
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
            parts.uri = path.parse()?;
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let answer =
                sender.send_request(hyper::Request::from_parts(parts, Full::new(body))).await?;
            let (parts, body) = answer.into_parts();
            let bytes = Limited::new(body, MAX_ANSWER).collect().await?.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, bytes))
        };
        tokio::time::timeout(self.timeout, send).await.map_err(|_| "OTLP export timed out")?
    }
}
