//! Image bytes → decoded RGB → the model's input tensor, as classify serves
//! `POST /classify` (pipeline's decode_for_resize with the production resize and header
//! cap, then model_input_bytes). Every outcome must be Ok or a typed PipelineError with
//! a 4xx status: never a panic, a hang or unbounded memory. The decoded-pixel cap is
//! 1 MP instead of 40 MP, so that a few-byte header cannot make every run decode tens of
//! megapixels of nothing (the cap itself is tested in pipeline/tests/limits.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spinfer_pipeline::{decode_for_resize, model_input_bytes, DecodeLimits, MODELS, RESIZE};

const LIMITS: DecodeLimits = DecodeLimits { max_pixels: 1_000_000, max_header_pixels: 200_000_000 };

fuzz_target!(|data: &[u8]| {
    match decode_for_resize(data, LIMITS, RESIZE) {
        Ok(decoded) => {
            assert!(decoded.image.width() > 0 && decoded.image.height() > 0);
            let input = model_input_bytes(&decoded, &MODELS[0]);
            assert_eq!(input.len(), 3 * 224 * 224 * 4);
        }
        Err(e) => {
            let status = e.status();
            assert!((400..500).contains(&status), "{e:?} answers {status}");
        }
    }
});
