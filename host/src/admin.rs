//! The admin listener (`--admin-listen`): `/metrics` in Prometheus text, and Spin's
//! health route; nothing else. Kept off the app's listener so it can stay private.

use crate::metrics::Metrics;
use crate::response::{full, json_error, Response};
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Answer one admin request.
pub async fn handle(
    metrics: Arc<Metrics>,
    req: Request<Incoming>,
) -> Result<Response, std::convert::Infallible> {
    Ok(match req.uri().path() {
        "/metrics" => hyper::Response::builder()
            .header("content-type", "text/plain; version=0.0.4")
            .body(full(metrics.render()))
            .expect("valid response"),
        "/.well-known/spin/health" => hyper::Response::new(full("OK")),
        _ => json_error(404, "not_found", "the admin listener serves /metrics"),
    })
}

/// Serve the admin listener forever.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let metrics = metrics.clone();
        let service = hyper::service::service_fn(move |req| handle(metrics.clone(), req));
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service),
        );
    }
}
