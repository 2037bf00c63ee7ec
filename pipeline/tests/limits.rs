//! Decompression bombs are refused from the header, before a pixel is decoded.

use spinfer_pipeline::{decode_rgb8, DecodeLimits, PipelineError};

#[test]
fn bomb_header_is_rejected_without_decoding() {
    // A valid PNG header claiming 100000 × 100000 pixels, with no image data at all.
    let png = spinfer_testing::images::png_claiming(100_000, 100_000);
    let err = decode_rgb8(&png, DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PipelineError::TooManyPixels { pixels: 10_000_000_000, .. }), "{err:?}");
}
