//! spinfer's own reduced-scale JPEG decoder (pipeline/src/jpeg: baseline and progressive)
//! at ½, ¼ and ⅛ scale, whatever the frame size (classify only takes this path for large
//! photos, which a fuzzer rarely writes). The first byte picks the scale; the rest is the
//! JPEG. The frame is bounded first as decode() bounds it, so memory stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spinfer_pipeline::jpeg;

/// Pixels the fuzzer may make the decoder hold (classify's 40 MP cap, scaled down to
/// keep each run fast: the cap itself is tested in pipeline/tests/limits.rs).
const MAX_PIXELS: u64 = 4_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let eighths = [1, 2, 4][usize::from(pick % 3)];
    let Some(frame) = jpeg::frame_header(bytes) else { return };
    if !frame.scalable() || u64::from(frame.width) * u64::from(frame.height) > MAX_PIXELS {
        return;
    }
    if let Ok(image) = jpeg::decode_reduced(bytes, eighths) {
        let (w, h) = (jpeg::scaled(frame.width, eighths), jpeg::scaled(frame.height, eighths));
        // Upright: EXIF orientation may swap the sides.
        let dims = image.dimensions();
        assert!(dims == (w, h) || dims == (h, w), "{dims:?} for a {w}×{h} output");
    }
});
