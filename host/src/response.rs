//! Responses the host makes itself: the body type every response has, a complete
//! in-memory body, and the uniform JSON error `{"error":{"code","message"}}`
//! ([`spinfer_api::ErrorBody`], the same contract the components answer with).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use spinfer_api::ErrorBody;

/// The body of every response the host sends (wasmtime-wasi-http's outgoing body).
pub use wasmtime_wasi_http::p2::body::HyperOutgoingBody as Body;

/// A response as the host sends it.
pub type Response = hyper::Response<Body>;

/// A complete in-memory body.
pub fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A JSON error response `{"error":{"code":…,"message":…}}`.
pub fn json_error(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::to_vec(&ErrorBody::new(code, message)).expect("strings serialise");
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body))
        .expect("static response parts are valid")
}

/// 503 + `Retry-After: 1`: no capacity for the request now.
pub fn overloaded(why: &str) -> Response {
    let mut r = json_error(503, "overloaded", &format!("server busy: {why}; retry shortly"));
    r.headers_mut().insert("retry-after", "1".parse().expect("valid header"));
    r
}
