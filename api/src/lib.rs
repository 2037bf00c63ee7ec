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

/// Default request-body limit of the components (10 MiB): classify's body limit unless
/// `SPINFER_MAX_BODY_BYTES` overrides it, and frontend's upload and fetch limit.
pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
