//! The admin listener (`--admin-listen`; the shim's `SPINFER_ADMIN_LISTEN`): `/metrics`
//! (OpenMetrics text, which Prometheus asks for and parses), and Spin's health route;
//! nothing else. Kept off the app's listener so it can stay private.

use crate::metrics::{Metrics, CONTENT_TYPE};
use crate::response::{full, json_error, Response};
use anyhow::Context as _;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Answer one admin request.
pub async fn handle(
    metrics: Arc<Metrics>,
    req: Request<Incoming>,
) -> Result<Response, std::convert::Infallible> {
    Ok(match req.uri().path() {
        "/metrics" => hyper::Response::builder()
            .header("content-type", CONTENT_TYPE)
            .body(full(metrics.render()))
            .expect("valid response"),
        "/.well-known/spin/health" => hyper::Response::new(full("OK")),
        _ => json_error(404, "not_found", "the admin listener serves /metrics"),
    })
}

/// The shim's admin listener: on `SPINFER_ADMIN_LISTEN` from the container's environment
/// (`none`: off; a bind failure there is an error), else on [`SHIM_DEFAULT`] — where a
/// bind failure (the port taken, e.g. a container on the host's network) only warns: the
/// app is served either way. The bound address, if any.
pub async fn start_from_env(
    env: &BTreeMap<String, String>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Option<SocketAddr>> {
    let addr = match env.get("SPINFER_ADMIN_LISTEN").map(|v| v.trim()) {
        Some("none") => return Ok(None),
        Some(v) => {
            let addr = v
                .parse()
                .with_context(|| format!("SPINFER_ADMIN_LISTEN={v:?} is not host:port"))?;
            return start(addr, metrics).await.map(Some);
        }
        None => SHIM_DEFAULT.parse().expect("a valid address"),
    };
    match start(addr, metrics).await {
        Ok(local) => Ok(Some(local)),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no /metrics (set SPINFER_ADMIN_LISTEN to choose a port)");
            Ok(None)
        }
    }
}

/// The shim's admin address unless told otherwise: every interface of the pod, on the
/// port OpenTelemetry's Prometheus exporter uses.
pub const SHIM_DEFAULT: &str = "0.0.0.0:9464";

/// Bind `addr` and serve the admin listener on it in the background; the bound address.
pub async fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    let listener =
        TcpListener::bind(addr).await.with_context(|| format!("binding admin listener {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "admin listener (/metrics)");
    tokio::spawn(serve(listener, metrics));
    Ok(local)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(value: &str) -> BTreeMap<String, String> {
        [("SPINFER_ADMIN_LISTEN".to_owned(), value.to_owned())].into()
    }

    /// The shim's admin listener as the container's environment sets it: an address is
    /// served (`/metrics` answers), `none` is off, anything else is refused by name.
    #[tokio::test]
    async fn the_shim_admin_address_comes_from_the_environment() {
        let metrics = Arc::new(Metrics::default());
        let addr = start_from_env(&env("127.0.0.1:0"), metrics.clone()).await.unwrap().unwrap();
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("# EOF"), "{answer}");
        assert_eq!(start_from_env(&env("none"), metrics.clone()).await.unwrap(), None);
        let e = start_from_env(&env("port 9464"), metrics).await.unwrap_err();
        assert!(e.to_string().contains("SPINFER_ADMIN_LISTEN"), "{e}");
    }
}
