//! Fetching an image by URL for the page, safely: http/https only, no credentials in
//! the URL, no loopback/private/link-local/`*.spin.internal` targets unless the
//! operator lists the host in `fetch_allow_hosts`, connect/first-byte/between-bytes
//! timeouts plus an overall deadline, a size cap, and an `image/*` content type.
//! The policy half is pure and unit-tested; the fetch uses wasi:http directly.

use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A URL the policy accepted.
#[derive(Debug, PartialEq)]
pub struct Target {
    pub https: bool,
    pub authority: String,
    pub host: String,
    pub path: String,
}

/// Why a URL or its fetch was refused, with status and stable code.
#[derive(Debug, PartialEq)]
pub struct FetchError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

fn fail(status: u16, code: &'static str, message: impl Into<String>) -> FetchError {
    FetchError { status, code, message: message.into() }
}

/// Check `url` against the policy; `allow` lists `host` or `host:port` entries that may
/// be private (e.g. a test server on loopback).
pub fn check_url(url: &str, allow: &[String]) -> Result<Target, FetchError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| fail(400, "bad_url", format!("{url:?} is not an absolute URL")))?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        other => {
            return Err(fail(
                400,
                "bad_url_scheme",
                format!("scheme {other:?} is not allowed (http or https only)"),
            ))
        }
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = (&rest[..end], &rest[end..]);
    if authority.is_empty() || authority.contains('@') {
        return Err(fail(400, "bad_url", "URL needs a host and must not carry credentials"));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or("").to_owned(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_owned(),
    }
    .to_ascii_lowercase();
    let path = path.split('#').next().unwrap_or("");
    let target = Target {
        https,
        authority: authority.to_ascii_lowercase(),
        host: host.clone(),
        path: if path.is_empty() { "/".into() } else { path.into() },
    };
    let listed = allow
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&target.authority) || a.eq_ignore_ascii_case(&host));
    if !listed && is_private(&host) {
        return Err(fail(403, "forbidden_address", format!("fetching from {host} is not allowed (loopback, private, link-local or internal address)")));
    }
    Ok(target)
}

fn is_private(host: &str) -> bool {
    if host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".spin.internal")
        || host.ends_with(".internal")
    {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(spinfer_api::address::is_forbidden)
}

/// Limits of one fetch.
pub struct FetchLimits {
    pub max_bytes: usize,
    pub deadline: Duration,
}

/// GET the target; return the body if it is an image within the limits.
pub fn fetch(target: &Target, limits: &FetchLimits) -> Result<Vec<u8>, FetchError> {
    use wasi::http::types::{ErrorCode, Fields, Method, OutgoingRequest, RequestOptions, Scheme};
    use wasi::io::streams::StreamError;
    let started = Instant::now();
    // The host refuses, after DNS, any connection to an internal address this check's
    // string test missed (e.g. `http://2130706433/`): the same answer as the check's.
    let unreachable = |e: ErrorCode| match e {
        ErrorCode::DestinationIpProhibited => fail(
            403,
            "forbidden_address",
            format!(
                "fetching from {} is not allowed: it resolves to an internal address",
                target.host
            ),
        ),
        e => fail(502, "fetch_failed", format!("could not fetch the URL: {e:?}")),
    };
    let headers = Fields::new();
    let _ = headers.append(&"accept".to_string(), &b"image/*".to_vec());
    let req = OutgoingRequest::new(headers);
    let _ = req.set_method(&Method::Get);
    let _ = req.set_scheme(Some(if target.https { &Scheme::Https } else { &Scheme::Http }));
    let _ = req.set_authority(Some(&target.authority));
    let _ = req.set_path_with_query(Some(&target.path));
    let options = RequestOptions::new();
    let nanos = |d: Duration| d.as_nanos() as u64;
    let _ = options.set_connect_timeout(Some(nanos(limits.deadline / 2)));
    let _ = options.set_first_byte_timeout(Some(nanos(limits.deadline)));
    let _ = options.set_between_bytes_timeout(Some(nanos(limits.deadline / 2)));
    let pending = wasi::http::outgoing_handler::handle(req, Some(options)).map_err(unreachable)?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(unreachable(e)),
        _ => return Err(fail(502, "fetch_failed", "the URL fetch did not complete")),
    };
    let status = response.status();
    if !(200..300).contains(&status) {
        return Err(fail(502, "fetch_bad_status", format!("the URL answered HTTP {status}")));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(&name.to_string())
            .first()
            .map(|v| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
    };
    let ctype = header("content-type").unwrap_or_default();
    if !ctype.starts_with("image/") {
        return Err(fail(
            415,
            "fetch_not_image",
            format!("the URL returned content-type {ctype:?}, not an image"),
        ));
    }
    if let Some(len) = header("content-length").and_then(|l| l.parse::<u64>().ok()) {
        if len > limits.max_bytes as u64 {
            return Err(too_big(limits.max_bytes));
        }
    }
    let body =
        response.consume().map_err(|_| fail(502, "fetch_failed", "response body unavailable"))?;
    let stream =
        body.stream().map_err(|_| fail(502, "fetch_failed", "response body unavailable"))?;
    let mut bytes = Vec::new();
    loop {
        if started.elapsed() > limits.deadline {
            return Err(fail(
                504,
                "fetch_timeout",
                format!("the URL took longer than {:?}", limits.deadline),
            ));
        }
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > limits.max_bytes {
                    return Err(too_big(limits.max_bytes));
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(fail(
                    502,
                    "fetch_failed",
                    format!("reading the URL's body failed: {}", e.to_debug_string()),
                ))
            }
        }
    }
    Ok(bytes)
}

fn too_big(max: usize) -> FetchError {
    fail(413, "fetch_too_large", format!("the image at the URL is over the {max}-byte limit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_shapes() {
        assert_eq!(check_url("ftp://x/y.jpg", &[]).unwrap_err().code, "bad_url_scheme");
        assert_eq!(check_url("file:///etc/passwd", &[]).unwrap_err().code, "bad_url_scheme");
        assert_eq!(check_url("cat.jpg", &[]).unwrap_err().code, "bad_url");
        assert_eq!(check_url("http://user:pw@example.com/", &[]).unwrap_err().code, "bad_url");
        let t = check_url("HTTPS://Example.com:8443/a/b.jpg?x=1#frag", &[]).unwrap();
        assert_eq!(
            (t.https, t.authority.as_str(), t.host.as_str(), t.path.as_str()),
            (true, "example.com:8443", "example.com", "/a/b.jpg?x=1")
        );
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1/",
            "http://localhost:8080/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.5.5/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::2]/",
            "http://0.0.0.0/",
            "http://classify.spin.internal/classify",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert_eq!(check_url(url, &[]).unwrap_err().code, "forbidden_address", "{url}");
        }
        assert!(check_url("http://127.0.0.1:8123/cat.jpg", &["127.0.0.1:8123".into()]).is_ok());
        assert!(check_url("http://127.0.0.1:9999/cat.jpg", &["127.0.0.1:8123".into()]).is_err());
        assert!(check_url("http://93.184.216.34/", &[]).is_ok());
    }
}
