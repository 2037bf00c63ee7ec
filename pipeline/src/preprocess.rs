//! RGB8 image → model input: resize the short side to 256 with Pillow's antialiased
//! bilinear filter (bit-exact, see [`crate::resample`]), centre-crop 224×224, normalise
//! per model in f32 arithmetic exactly as the reference
//! (`../shared/model/tools/preprocess.py`), NCHW layout.

use crate::models::{ModelSpec, Normalisation};
use crate::resample::resize_window;
use image::RgbImage;

const RESIZE: u32 = 256;
const CROP: u32 = 224;

/// The reference geometry for a `w × h` image: resized size (short side 256, long side
/// `floor(long * 256 / short)`, ties counting the width as short) and the crop origin
/// `left = (w'-224)/2`, `top = (h'-224)/2`, floored.
pub fn geometry(w: u32, h: u32) -> (u32, u32, u32, u32) {
    let (nw, nh) = if w <= h {
        (RESIZE, (u64::from(h) * u64::from(RESIZE) / u64::from(w)) as u32)
    } else {
        ((u64::from(w) * u64::from(RESIZE) / u64::from(h)) as u32, RESIZE)
    };
    (nw, nh, (nw - CROP) / 2, (nh - CROP) / 2)
}

/// The 224×224 crop of the resized image, computing only the pixels it keeps.
pub fn resize_and_crop(img: &RgbImage) -> RgbImage {
    let (nw, nh, left, top) = geometry(img.width(), img.height());
    resize_window(img, nw, nh, left, top, CROP, CROP)
}

/// Normalise a crop into a planar NCHW f32 tensor (R plane, G plane, B plane).
pub fn normalise_nchw(crop: &RgbImage, norm: Normalisation) -> Vec<f32> {
    let plane = (crop.width() * crop.height()) as usize;
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in crop.pixels().enumerate() {
        for c in 0..3 {
            let p = f32::from(px.0[c]);
            out[c * plane + i] = match norm {
                Normalisation::MeanStd { mean, std } => (p / 255.0 - mean[c]) / std[c],
                Normalisation::Affine { centre, scale } => (p - centre) / scale,
            };
        }
    }
    out
}

/// The full geometry + normalisation for one model.
pub fn to_model_input(img: &RgbImage, model: &ModelSpec) -> Vec<f32> {
    normalise_nchw(&resize_and_crop(img), model.normalisation)
}

/// Little-endian bytes of a tensor, as wasi-nn's `tensor-data` wants them.
pub fn tensor_le_bytes(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 4);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The inverse of [`tensor_le_bytes`]: f32 values from wasi-nn `tensor-data` (a trailing
/// partial value is ignored; callers check the length against the dimensions).
pub fn f32s_from_le_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_matches_the_reference_rule() {
        assert_eq!(geometry(640, 480), (341, 256, 58, 16));
        assert_eq!(geometry(300, 451), (256, 384, 16, 80));
        assert_eq!(geometry(256, 256), (256, 256, 16, 16));
        assert_eq!(resize_and_crop(&RgbImage::new(300, 451)).dimensions(), (224, 224));
    }

    #[test]
    fn layout_is_planar() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([255, 0, 127]));
        let t = normalise_nchw(&img, Normalisation::Affine { centre: 127.0, scale: 128.0 });
        assert_eq!(t, vec![1.0, 1.0, -127.0 / 128.0, -127.0 / 128.0, 0.0, 0.0]);
    }
}
