//! RGB8 image → model input: resize the short side to 256 with Pillow's antialiased
//! bilinear filter (bit-exact, see [`crate::resample`]), centre-crop 224×224, normalise
//! per model in f32 arithmetic exactly as the reference
//! (`../shared/model/tools/preprocess.py`), NCHW layout.
//!
//! The geometry always comes from the full upright image size, also when a JPEG was
//! decoded at reduced scale: the smaller image is resized to the same 256-short-side size
//! and cropped at the same place, so both paths crop the same part of the photo.

use crate::decode::Decoded;
use crate::geometry::{geometry, CROP};
use crate::models::{ModelSpec, Normalisation};
use crate::resample::resize_window;
use image::RgbImage;

/// The 224×224 crop of the resized image, computing only the pixels it keeps.
pub fn resize_and_crop(img: &RgbImage) -> RgbImage {
    crop_of(img, img.width(), img.height())
}

/// The 224×224 crop of `img` standing for a `full_w × full_h` image (a reduced-scale
/// decode): the same resized size and crop window as the full image would get.
fn crop_of(img: &RgbImage, full_w: u32, full_h: u32) -> RgbImage {
    let (nw, nh, left, top) = geometry(full_w, full_h);
    resize_window(img, nw, nh, left, top, CROP, CROP)
}

/// Per channel, the normalised value of each of the 256 pixel values, computed with the
/// reference's f32 expression: a table lookup gives the same bits as the expression.
fn lut(norm: Normalisation) -> [[f32; 256]; 3] {
    let mut table = [[0f32; 256]; 3];
    for (c, row) in table.iter_mut().enumerate() {
        for (v, out) in row.iter_mut().enumerate() {
            let p = v as f32;
            *out = match norm {
                Normalisation::MeanStd { mean, std } => (p / 255.0 - mean[c]) / std[c],
                Normalisation::Affine { centre, scale } => (p - centre) / scale,
            };
        }
    }
    table
}

/// Normalise a crop into a planar NCHW f32 tensor (R plane, G plane, B plane).
pub fn normalise_nchw(crop: &RgbImage, norm: Normalisation) -> Vec<f32> {
    let table = lut(norm);
    let plane = (crop.width() * crop.height()) as usize;
    let mut out = vec![0f32; 3 * plane];
    let (r, gb) = out.split_at_mut(plane);
    let (g, b) = gb.split_at_mut(plane);
    for (i, px) in crop.as_raw().chunks_exact(3).enumerate() {
        r[i] = table[0][usize::from(px[0])];
        g[i] = table[1][usize::from(px[1])];
        b[i] = table[2][usize::from(px[2])];
    }
    out
}

/// The full geometry + normalisation for one model.
pub fn to_model_input(img: &RgbImage, model: &ModelSpec) -> Vec<f32> {
    normalise_nchw(&resize_and_crop(img), model.normalisation)
}

/// A decoded image (full or reduced scale) → the model's input as wasi-nn `tensor-data`
/// (little-endian f32, NCHW): crop, then normalise straight into bytes.
pub fn model_input_bytes(decoded: &Decoded, model: &ModelSpec) -> Vec<u8> {
    let crop = crop_of(&decoded.image, decoded.width, decoded.height);
    let table = lut(model.normalisation);
    let plane = (CROP * CROP) as usize;
    let mut out = vec![0u8; 3 * plane * 4];
    let (r, gb) = out.split_at_mut(plane * 4);
    let (g, b) = gb.split_at_mut(plane * 4);
    let planes = [r, g, b];
    for (c, dst) in planes.into_iter().enumerate() {
        for (px, bytes) in crop.as_raw().chunks_exact(3).zip(dst.chunks_exact_mut(4)) {
            bytes.copy_from_slice(&table[c][usize::from(px[c])].to_le_bytes());
        }
    }
    out
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
    fn fused_bytes_equal_normalise_then_serialise() {
        let img = RgbImage::from_fn(300, 451, |x, y| image::Rgb([x as u8, y as u8, (x ^ y) as u8]));
        let model = &crate::MODELS[0];
        let decoded = Decoded { image: img.clone(), width: 300, height: 451 };
        assert_eq!(
            model_input_bytes(&decoded, model),
            tensor_le_bytes(&to_model_input(&img, model))
        );
    }

    #[test]
    fn layout_is_planar() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([255, 0, 127]));
        let t = normalise_nchw(&img, Normalisation::Affine { centre: 127.0, scale: 128.0 });
        assert_eq!(t, vec![1.0, 1.0, -127.0 / 128.0, -127.0 / 128.0, 0.0, 0.0]);
    }
}
