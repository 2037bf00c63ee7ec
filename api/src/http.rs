//! HTTP conventions of the components (spin-sdk): JSON responses, the uniform error body
//! `{"error":{"code":…,"message":…}}` ([`ErrorBody`]), and a body reader that stops at
//! the limit instead of buffering an unbounded upload.

use crate::ErrorBody;
use serde::Serialize;
use spin_sdk::http::{IncomingRequest, Response};
use wasi::io::streams::StreamError;

/// An error answer: status code, stable code, human message.
#[derive(Debug)]
pub struct ApiError {
    status: u16,
    code: &'static str,
    message: String,
    allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), allow: None }
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(405, "method_not_allowed", format!("use {allow} on this route"))
        }
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn into_response(self) -> Response {
        let mut response = json(self.status, &ErrorBody::new(self.code, self.message));
        if let Some(allow) = self.allow {
            response.set_header("allow", allow);
        }
        response
    }
}

/// The first value of a request header, as text.
pub fn header(req: &IncomingRequest, name: &str) -> Option<String> {
    req.headers().get(name).first().map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A JSON response with the given status.
pub fn json(status: u16, value: &impl Serialize) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(value).unwrap_or_default())
        .build()
}

/// Read the whole body, answering 413 as soon as it is known to exceed `limit`
/// (from Content-Length before reading, or while reading).
/// An empty body is an error: every route that reads one needs content.
///
/// Each read asks for all that may still fit, so a body the host already holds (spinfer
/// reads it before the instance starts) crosses into the instance in one call and one
/// copy, instead of spin-sdk's 16 KiB chunks appended to a second buffer.
pub fn read_body(req: IncomingRequest, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = |n: String| {
        ApiError::new(
            413,
            "body_too_large",
            format!("body is {n} bytes, over the limit of {limit} bytes"),
        )
    };
    let failed = |why: String| {
        ApiError::new(400, "body_read_failed", format!("could not read the body: {why}"))
    };
    let declared = header(&req, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > limit as u64) {
        return Err(too_large(n.to_string()));
    }
    let incoming = req.consume().map_err(|()| failed("it was already taken".into()))?;
    let stream = incoming.stream().map_err(|()| failed("it has no stream".into()))?;
    let mut body: Vec<u8> = Vec::new();
    loop {
        // One byte more than fits, so an oversize body shows itself without reading it all.
        let room = (limit + 1).saturating_sub(body.len()) as u64;
        match stream.blocking_read(room) {
            Ok(chunk) if body.is_empty() => body = chunk,
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => return Err(failed(e.to_debug_string())),
        }
        if body.len() > limit {
            return Err(too_large(format!("at least {}", body.len())));
        }
    }
    drop(stream);
    drop(incoming);
    if body.is_empty() {
        // The same answer as the pipeline's `EmptyBody` (400 empty_body).
        return Err(ApiError::new(
            400,
            "empty_body",
            "request body is empty: send the image bytes as the body",
        ));
    }
    Ok(body)
}
