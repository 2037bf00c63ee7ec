//! RGB8 image → model input: resize the short side to 256 (triangle filter, Pillow's
//! antialiased bilinear), centre-crop 224×224, normalise per model in f32 arithmetic
//! exactly as the reference (`../shared/model/tools/preprocess.py`), NCHW layout.

use crate::models::{ModelSpec, Normalisation};
use image::{imageops, imageops::FilterType, RgbImage};

const RESIZE: u32 = 256;
const CROP: u32 = 224;

/// Resize so the shorter side is 256 and the longer `floor(long * 256 / short)`.
/// Ties (square images) count the width as the short side, like the reference.
pub fn resize_short_side(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = if w <= h {
        (RESIZE, (u64::from(h) * u64::from(RESIZE) / u64::from(w)) as u32)
    } else {
        ((u64::from(w) * u64::from(RESIZE) / u64::from(h)) as u32, RESIZE)
    };
    if (nw, nh) == (w, h) {
        return img.clone();
    }
    imageops::resize(img, nw, nh, FilterType::Triangle)
}

/// Centre 224×224 crop with `left = (w-224)/2`, `top = (h-224)/2` (floor).
pub fn center_crop_224(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let (left, top) = (w.saturating_sub(CROP) / 2, h.saturating_sub(CROP) / 2);
    imageops::crop_imm(img, left, top, CROP.min(w), CROP.min(h)).to_image()
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
    normalise_nchw(&center_crop_224(&resize_short_side(img)), model.normalisation)
}

/// Little-endian bytes of a tensor, as wasi-nn's `tensor-data` wants them.
pub fn tensor_le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_matches_the_reference_rule() {
        let wide = RgbImage::new(640, 480);
        assert_eq!(resize_short_side(&wide).dimensions(), (341, 256));
        let tall = RgbImage::new(300, 451);
        assert_eq!(resize_short_side(&tall).dimensions(), (256, 384));
        let square = RgbImage::new(256, 256);
        assert_eq!(center_crop_224(&resize_short_side(&square)).dimensions(), (224, 224));
    }

    #[test]
    fn crop_is_centred_with_floor() {
        let img = RgbImage::from_fn(227, 225, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let crop = center_crop_224(&img);
        assert_eq!(crop.get_pixel(0, 0).0, [1, 0, 0]);
    }

    #[test]
    fn layout_is_planar() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([255, 0, 127]));
        let t = normalise_nchw(&img, Normalisation::Affine { centre: 127.0, scale: 128.0 });
        assert_eq!(t, vec![1.0, 1.0, -127.0 / 128.0, -127.0 / 128.0, 0.0, 0.0]);
    }
}
