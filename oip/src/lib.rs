//! The Open Inference Protocol v2 (KServe v2 / Triton HTTP/REST) as plain Rust: the JSON
//! bodies as serde types, the binary tensor data extension's framing both ways, and the
//! classification extension's strings. No I/O and no spin-sdk: classify wires it to
//! wasi:http and wasi:nn; everything here is unit-tested on the host (`tests/`).
//!
//! - [`parse_request`]: body + `Inference-Header-Content-Length` → checked inputs
//!   ([`Input::fp32`], [`Input::bytes`]).
//! - [`encode_response`]: outputs → body + header length.
//! - [`OipError`]: why a request is refused, with its status; [`OipErrorBody`] is the
//!   protocol's `{"error": "<message>"}`.

mod encode;
mod error;
mod framing;
mod types;

pub use encode::{classification, encode_response, serialize_bytes, Encoded, Output, OutputData};
pub use error::OipError;
pub use framing::{flag, parse_request, Input, Request};
pub use types::*;

/// The header that carries the JSON part's length when binary tensor data follows.
pub const HEADER_LENGTH: &str = "inference-header-content-length";
