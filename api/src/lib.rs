//! spinfer's API contract and the HTTP conventions its Spin components share.
//!
//! - [`address`]: which IP addresses are internal (the host and frontend both check).
//! - [`contract`]: the JSON bodies as serde types ([`ClassifyResponse`], [`Prediction`],
//!   [`ModelsResponse`], [`ErrorBody`], …), for the components, the host and the tests.
//! - [`http`] (feature `http`, on by default; needs `spin-sdk`): JSON responses, the
//!   uniform error answer, a body reader that stops at the limit.
//!
//! No image code here: the pipeline stays in classify.

pub mod address;
pub mod contract;
#[cfg(feature = "http")]
pub mod http;

pub use contract::*;
#[cfg(feature = "http")]
pub use http::{header, json, read_body, ApiError};

/// The one definition of how large an image may be (40 MiB: a 200 MP phone JPEG is 20–40
/// MiB; an OIP JSON request of 8 FP32 tensors ~24 MB): classify's body limit unless its
/// `SPINFER_MAX_BODY_BYTES` overrides it, frontend's upload and fetch limit, the base of the
/// host's own limit (above it), and what the page shows and checks (`/api/models` reports
/// the limit in force as [`RequestLimits`]).
pub const DEFAULT_MAX_BODY: usize = 40 * 1024 * 1024;
