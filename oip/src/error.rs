//! Why a request was refused. Each variant knows its HTTP status; the message is what the
//! client shows (tritonclient raises `InferenceServerException` with it).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum OipError {
    /// The body (or its JSON part) is not a valid inference request.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The binary framing does not add up: header length, `binary_data_size`, leftovers.
    #[error("bad binary framing: {0}")]
    Framing(String),
    /// A shape with a negative dimension, or one whose size overflows.
    #[error("bad shape for {name:?}: {reason}")]
    Shape { name: String, reason: String },
    /// Data present but not matching the shape or datatype.
    #[error("bad data for {name:?}: {reason}")]
    Data { name: String, reason: String },
    /// A request the model cannot take (datatype, shape, batch, unknown input or output).
    #[error("{0}")]
    Invalid(String),
    /// The model or version does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is larger than the server takes.
    #[error("{0}")]
    TooLarge(String),
    /// The model cannot run now (wasi:nn failure).
    #[error("{0}")]
    Unavailable(String),
}

impl OipError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_)
            | Self::Framing(_)
            | Self::Shape { .. }
            | Self::Data { .. }
            | Self::Invalid(_) => 400,
            Self::NotFound(_) => 404,
            Self::TooLarge(_) => 413,
            Self::Unavailable(_) => 503,
        }
    }

    pub(crate) fn data(name: &str, reason: impl Into<String>) -> Self {
        Self::Data { name: name.to_owned(), reason: reason.into() }
    }

    /// The protocol's error body for this error.
    pub fn body(&self) -> crate::OipErrorBody {
        crate::OipErrorBody { error: self.to_string() }
    }
}
