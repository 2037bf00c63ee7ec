//! spinfer's own client for components' outgoing HTTP (everything not `*.spin.internal`):
//! resolve the host (or take the operator's `--resolve` answer), refuse the whole request
//! if any address is forbidden and the host is not allowed to be private by name, then
//! connect to one of exactly those checked addresses — never resolve again, so a DNS
//! answer that changes between check and connect (rebinding) cannot swap the target.
//! TLS verifies the certificate against the name in the URL, as wasmtime-wasi-http does;
//! the request's connect, first-byte and between-bytes timeouts apply as there.

use super::address::AddressPolicy;
use http_body_util::BodyExt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// The response and the future that finishes the connection's I/O.
pub type Sent = (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>);

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Send `request` under `policy`.
pub async fn send(
    policy: Arc<AddressPolicy>,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<Sent, Error> {
    let uri = request.uri().clone();
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let connect_timeout = options.and_then(|o| o.connect_timeout).unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options.and_then(|o| o.first_byte_timeout).unwrap_or(DEFAULT_TIMEOUT);
    let between_bytes = options.and_then(|o| o.between_bytes_timeout).unwrap_or(DEFAULT_TIMEOUT);

    let addrs = tokio::time::timeout(connect_timeout, resolve(&policy, &host, port))
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
    if let Some(bad) = addrs.iter().find(|a| !policy.permits(&host, port, a.ip())) {
        tracing::warn!(%host, port, address = %bad.ip(), "outbound connection refused: forbidden address");
        return Err(Error::DestinationIpProhibited);
    }
    let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(&addrs[..]))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(|_| Error::ConnectionRefused)?;
    let io: Box<dyn Io> =
        if https { Box::new(tls(stream, &host).await?) } else { Box::new(stream) };
    let io = hyper_util::rt::TokioIo::new(io);
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(io),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)?
    .map_err(Error::from)?;
    // The connection's I/O runs on its own task; the returned future reports its end.
    let conn = tokio::spawn(conn);
    // Origin form on the wire: the authority travels in the Host header.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(Error::from)?;
    let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async move {
        match conn.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::from(e)),
            Err(_) => Err(Error::InternalError(Some("connection task ended".into()))),
        }
    });
    let response = response.map(|body| {
        let sleep = Box::pin(tokio::time::sleep(between_bytes));
        BetweenBytes { body, limit: between_bytes, sleep }.boxed_unsync()
    });
    Ok((response, done))
}

/// A response body that fails when no frame arrives within `limit` of the last one.
struct BetweenBytes {
    body: hyper::body::Incoming,
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for BetweenBytes {
    type Data = bytes::Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.sleep.as_mut().reset(tokio::time::Instant::now() + this.limit);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
}

/// A plain or TLS stream.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// The addresses to try: `--resolve`'s, the literal's, or DNS's.
async fn resolve(policy: &AddressPolicy, host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    if let Some(fixed) = policy.fixed(host, port) {
        return Ok(fixed.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let dns_error = || Error::DnsError { rcode: Some("address not found".into()), info_code: None };
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((host, port)).await.map_err(|_| dns_error())?.collect();
    if addrs.is_empty() {
        return Err(dns_error());
    }
    Ok(addrs)
}

async fn tls(
    stream: TcpStream,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
    let config =
        rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| Error::TlsCertificateError)?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(Error::Tls)
}
