//! The JSON bodies of spinfer's HTTP API, as types: what classify writes, what frontend
//! reads back and extends, and what the tests and clients parse. Plain serde, no Spin and
//! no image code, so any crate (host tests included) can use them.

use serde::{Deserialize, Serialize};

/// `POST /classify` and `POST /api/classify` on success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyResponse {
    /// The model that ran (`?model=`, or the default).
    pub model: String,
    /// The decoded image's size, before resizing.
    pub image: ImageSize,
    /// The top-K classes, most probable first.
    pub predictions: Vec<Prediction>,
    pub timings_ms: Timings,
    /// Added by frontend (`/api/classify`); absent in classify's own answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<FrontendTimings>,
}

/// Width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

/// One class of the top-K.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Output index of the class (ImageNet-1k: 0..1000).
    pub index: usize,
    pub label: String,
    /// Softmax probability.
    pub probability: f32,
}

/// A duration in milliseconds to the microsecond, as every `*_ms` figure of the contract
/// carries it (`1.801`, not `1.8010249999999999`).
pub fn millis(d: std::time::Duration) -> f64 {
    to_the_microsecond(d.as_secs_f64() * 1e3)
}

/// Milliseconds rounded to the microsecond (the host's access log writes its figures so too).
pub fn to_the_microsecond(ms: f64) -> f64 {
    (ms * 1e3).round() / 1e3
}

/// Where classify spent a request, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub decode: f64,
    pub preprocess: f64,
    pub inference: f64,
    pub total: f64,
}

/// Frontend's own time around the call to classify, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrontendTimings {
    pub total_ms: f64,
    /// Time fetching the image for a `{"url":…}` request; `null` for uploads.
    pub fetch_ms: Option<f64>,
}

/// `GET /classify/models` and `GET /api/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelsResponse {
    pub models: Vec<ModelInfo>,
    /// What a request may carry: classify's limits in force (from `/api/models`, the
    /// page's own upload limit where that is lower). The page sizes its checks by these.
    pub limits: RequestLimits,
}

/// The limits a request meets, as `/classify/models` and `/api/models` report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLimits {
    /// Largest request body (an image, or an OIP request), bytes; more gets 413.
    pub max_body_bytes: u64,
    /// Most pixels decoded (baseline JPEG counted at its reduced decode scale); more: 422.
    pub max_pixels: u64,
    /// Most pixels an image may declare in its header; more: 422.
    pub max_header_pixels: u64,
}

/// One model classify serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    /// The model used without `?model=`.
    pub default: bool,
    /// NCHW input shape.
    pub input_shape: [u32; 4],
    /// Number of class labels (compiled into classify with the model's spec).
    pub labels: usize,
}

/// `GET /classify/healthz` when the default graph loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthResponse {
    pub status: String,
    pub model: String,
}

/// Every error answer, from the components and from the host: `{"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable machine-readable `code` (docs/api.md's error table) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error: ErrorDetail { code: code.into(), message: message.into() } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn milliseconds_are_written_to_the_microsecond() {
        let t = Timings {
            decode: millis(Duration::from_nanos(1_801_025)),
            preprocess: millis(Duration::from_nanos(996_831)),
            inference: millis(Duration::from_nanos(13_777_664)),
            total: millis(Duration::from_nanos(16_688_077)),
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"decode":1.801,"preprocess":0.997,"inference":13.778,"total":16.688}"#
        );
    }
}
