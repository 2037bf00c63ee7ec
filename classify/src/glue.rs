//! Where the HTTP contract (`spinfer-api`, which knows no image code) meets the pipeline:
//! pipeline errors become API errors with the status and code each variant names, and
//! the decode limits come from the component's environment.

use spin_sdk::http::Response;
use spinfer_pipeline::{DecodeLimits, PipelineError};

/// An error answer of classify: [`spinfer_api::ApiError`], also made from a
/// [`PipelineError`] (so `?` works on both).
#[derive(Debug)]
pub struct ApiError(spinfer_api::ApiError);

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self(spinfer_api::ApiError::new(status, code, message))
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self(spinfer_api::ApiError::method_not_allowed(allow))
    }

    pub fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<spinfer_api::ApiError> for ApiError {
    fn from(e: spinfer_api::ApiError) -> Self {
        Self(e)
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        Self::new(e.status(), e.code(), e.to_string())
    }
}

/// Per-request limits, from the component's environment (spin.toml `environment`).
pub struct Limits {
    pub max_body_bytes: usize,
    pub decode: DecodeLimits,
}

impl Limits {
    /// As `/classify/models` reports them.
    pub fn reported(&self) -> spinfer_api::RequestLimits {
        spinfer_api::RequestLimits {
            max_body_bytes: self.max_body_bytes as u64,
            max_pixels: self.decode.max_pixels,
            max_header_pixels: self.decode.max_header_pixels,
        }
    }

    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok());
        Self {
            max_body_bytes: var("SPINFER_MAX_BODY_BYTES")
                .map_or(spinfer_api::DEFAULT_MAX_BODY, |v| v as usize),
            decode: DecodeLimits {
                max_pixels: var("SPINFER_MAX_PIXELS").unwrap_or(DecodeLimits::default().max_pixels),
                max_header_pixels: var("SPINFER_MAX_HEADER_PIXELS")
                    .unwrap_or(DecodeLimits::default().max_header_pixels),
            },
        }
    }
}
