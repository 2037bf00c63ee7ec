//! The accept loop of the app listener: HTTP/1.1 keep-alive connections under the
//! connection limits ([`crate::connections`]: a cap answered 503 + close, the header and
//! idle timeouts; every close counted in `/metrics` by reason), and the drain on
//! SIGINT/SIGTERM (30 s at most), after which queued spans are sent.

use crate::connections::{Activity, ConnectionLimits, Tracked};
use crate::metrics::ConnectionClose;
use crate::response::overloaded;
use crate::server::Server;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Accept connections on `listener` until SIGINT/SIGTERM, then stop accepting and drain
/// in-flight requests (30 s at most).
pub async fn serve(
    listener: TcpListener,
    server: Arc<Server>,
    limits: ConnectionLimits,
) -> anyhow::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let mut builder = hyper::server::conn::http1::Builder::new();
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
                    // Over the cap: read one request (within the header timeout), answer
                    // 503 + Retry-After, close. The connection holds no slot meanwhile.
                    let refuse = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(overloaded("too many open connections"))
                    });
                    let conn = builder.keep_alive(false).serve_connection(TokioIo::new(stream), refuse);
                    server.metrics().connection_closed(ConnectionClose::cap);
                    tokio::spawn(async move { let _ = conn.await; });
                    continue;
                };
                let activity = Activity::new();
                let (handler, seen) = (server.clone(), activity.clone());
                let service = hyper::service::service_fn(move |req| {
                    let running = seen.request();
                    let server = handler.clone();
                    async move {
                        let response = server.handle(req).await;
                        drop(running);
                        response
                    }
                });
                let io = TokioIo::new(Tracked::new(stream, activity.clone()));
                let conn = graceful.watch(builder.keep_alive(true).serve_connection(io, service));
                let (header, idle) = (limits.header_timeout, limits.idle_timeout);
                let watchdog = server.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = conn => {}
                        why = activity.expired(header, idle) => {
                            tracing::debug!(?why, "closing a connection");
                            watchdog.metrics().connection_closed(why.into());
                        }
                    }
                    drop(permit);
                });
            }
            signal = &mut shutdown => {
                let in_flight = server.metrics().in_flight();
                tracing::info!(signal, in_flight, "shutting down: draining in-flight requests");
                break;
            }
        }
    }
    drop(listener);
    match tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await {
        Ok(()) => tracing::info!("drained; bye"),
        Err(_) => tracing::warn!("drain timed out after 30 s; exiting"),
    }
    server.flush_telemetry();
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
