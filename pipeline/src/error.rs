//! Typed pipeline errors. The HTTP layer branches on them to pick a status code and a
//! stable machine-readable `code`, so each variant says which it maps to.

use thiserror::Error;

/// Everything that can go wrong between request bytes and a prediction list.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum PipelineError {
    #[error("request body is empty: send the image bytes as the body")]
    EmptyBody,
    #[error("body is not an image: its first bytes match no known image format")]
    NotAnImage,
    #[error("image format {0} is not supported (use JPEG, PNG, WebP, GIF or BMP)")]
    UnsupportedFormat(String),
    #[error("could not decode the {format} image: {reason}")]
    Decode { format: String, reason: String },
    #[error("image is {width}x{height} = {pixels} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, pixels: u64, limit: u64 },
    #[error("image is too large to decode: {0}")]
    TooLarge(String),
}

impl PipelineError {
    /// HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::EmptyBody | Self::NotAnImage | Self::Decode { .. } => 400,
            Self::UnsupportedFormat(_) => 415,
            Self::TooManyPixels { .. } | Self::TooLarge(_) => 422,
        }
    }

    /// Stable error code for the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyBody => "empty_body",
            Self::NotAnImage => "not_an_image",
            Self::UnsupportedFormat(_) => "unsupported_format",
            Self::Decode { .. } => "decode_failed",
            Self::TooManyPixels { .. } | Self::TooLarge(_) => "image_too_large",
        }
    }
}
