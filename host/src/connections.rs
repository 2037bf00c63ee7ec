//! Connection-level limits at the front door, so slow or idle clients cannot hold the
//! host: a cap on open connections (over it: a 503 JSON answer, then close — served in
//! `server.rs`), a deadline for a request's headers counted from their first byte
//! (slowloris), and an idle keep-alive timeout (no bytes either way and no request in
//! flight → close). Both clocks are kept here, from the bytes the connection reads, rather
//! than by hyper, whose header timeout also runs while a keep-alive connection waits for
//! its next request (one clock for two different waits).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The front door's connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Longest a connection may sit with no bytes either way and no request in flight.
    pub idle_timeout: Duration,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
}

impl From<Expired> for crate::metrics::ConnectionClose {
    fn from(why: Expired) -> Self {
        match why {
            Expired::SlowHeaders => Self::header_timeout,
            Expired::Idle => Self::idle,
        }
    }
}

/// When one connection last moved a byte, and how many of its requests are running.
pub struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    /// When the first byte of a request head arrived (ms since `start`), or `NO_HEAD`.
    head_ms: AtomicU64,
    in_flight: AtomicUsize,
}

const NO_HEAD: u64 = u64::MAX;

/// Why a connection was closed by [`Activity::expired`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expired {
    /// A request's headers took longer than the header timeout.
    SlowHeaders,
    /// No bytes and no request for the idle timeout.
    Idle,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            head_ms: AtomicU64::new(NO_HEAD),
            in_flight: 0.into(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Bytes arrived: with no request running they begin (or continue) a request head.
    fn read_some(&self) {
        self.touch();
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let now = self.now_ms();
            let _ =
                self.head_ms.compare_exchange(NO_HEAD, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// A request started; the guard marks its end.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_ms.store(NO_HEAD, Ordering::Relaxed);
        RequestGuard(self.clone())
    }

    /// Resolves when, with no request running, a request head has taken longer than
    /// `header` since its first byte, or nothing has moved for `idle`.
    pub async fn expired(&self, header: Duration, idle: Duration) -> Expired {
        let tick = (header.min(idle) / 10).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(tick).await;
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                continue;
            }
            let head = self.head_ms.load(Ordering::Relaxed);
            if head != NO_HEAD {
                if self.now_ms().saturating_sub(head) >= header.as_millis() as u64 {
                    return Expired::SlowHeaders;
                }
            } else if self.idle_for() >= idle {
                return Expired::Idle;
            }
        }
    }
}

/// Held while a request on the connection runs.
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that records its activity.
pub struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Tracked {
    pub fn new(stream: TcpStream, activity: Arc<Activity>) -> Self {
        Self { stream, activity }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
