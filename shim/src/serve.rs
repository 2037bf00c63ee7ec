//! Container *start*: spinfer's HTTP server for a [`Prepared`] app on the operator's
//! `SPIN_HTTP_LISTEN_ADDR`, on its own runtime, until containerd's SIGTERM (drain, exit
//! 0), with `/metrics` on the admin address and traces as the `OTEL_*` variables ask
//! (the same library calls as `spinfer up`).

use crate::prepare::Prepared;
use anyhow::Context as _;
use spinfer::{admin, connections, engine, server, telemetry};
use std::time::Duration;

/// Serve on a runtime sized as `spinfer up` sizes it (a wasi-nn compute holds its
/// worker thread), rather than runwasi's ambient one; returns when the server stops.
pub fn run(p: Prepared) -> anyhow::Result<()> {
    let workers = 2 * p.cores + 2;
    std::thread::spawn(move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?;
        rt.block_on(serve(p))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
}

async fn serve(p: Prepared) -> anyhow::Result<()> {
    engine::spawn_epoch_ticker(p.app.engine());
    let max_concurrency = 2 * p.cores;
    let listen = p.env.listen;
    let metrics = p.app.metrics().clone();
    admin::start_from_env(&p.env.telemetry, metrics.clone()).await?;
    let tracing = telemetry::Tracing::from_env(&p.env.telemetry, metrics)?;
    let server = server::Server::with_tracing(
        p.app,
        server::ServerLimits {
            max_concurrency,
            max_queue: 64,
            queue_timeout: Duration::from_secs(2),
            max_body_bytes: server::DEFAULT_MAX_BODY_BYTES,
            body_timeout: Duration::from_secs(30),
        },
        tracing,
    );
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving");
    let limits = connections::ConnectionLimits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 1024,
    };
    server::serve(listener, server, limits).await
}
