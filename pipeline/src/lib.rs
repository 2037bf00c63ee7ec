//! The image → tensor → top-K pipeline of spinfer's `classify` component, as plain Rust.
//!
//! Nothing here touches HTTP or wasi-nn, so every step unit-tests on the host target
//! against the reference tensors and top-5s in `tests/data/`. The component wires
//! these steps to wasi:http and wasi:nn; this crate owns the maths and the limits.

pub mod decode;
pub mod error;
pub mod geometry;
pub mod jpeg;
pub mod models;
pub mod preprocess;
pub mod resample;
pub mod topk;

/// The `image` crate this pipeline is built on, for callers that encode test images.
pub use image;

pub use decode::{decode_for_resize, decode_full, decode_rgb8, DecodeLimits, Decoded};
pub use error::PipelineError;
pub use geometry::{geometry, resized_size, RESIZE};
pub use models::{find_model, ModelSpec, Normalisation, MODELS};
pub use preprocess::{
    f32s_from_le_bytes, model_input_bytes, normalise_nchw, resize_and_crop, tensor_le_bytes,
    to_model_input,
};
pub use topk::{softmax, top_k, Prediction};
