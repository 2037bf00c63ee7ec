//! Component planes → interleaved 8-bit RGB at the reduced size: chroma upsampling by
//! replication (libjpeg's non-fancy upsampling, what Pillow's draft mode asks for) and the
//! JFIF YCbCr → RGB conversion in 16-bit fixed point (T.871), or greyscale / Adobe RGB
//! copied through. The conversion of one output row is done at once for the whole row;
//! with Wasm SIMD 16 pixels at a time (4:2:0/4:2:2 chroma doubled in registers), with the
//! same integer arithmetic lane by lane as the scalar code, so the same bytes.

use super::frame::{Error, Frame};
use super::planes::Plane;
use image::RgbImage;

/// Fixed-point factors (×65536) of T.871's conversion, and the rounding half.
const CR_R: i32 = 91_881;
const CB_G: i32 = -22_554;
const CR_G: i32 = -46_802;
const CB_B: i32 = 116_130;
const HALF: i32 = 32_768;

/// Planes → upright-less RGB at `n`/8 scale.
pub fn to_rgb(
    frame: &Frame,
    planes: &[Plane],
    n: usize,
    adobe_rgb: bool,
) -> Result<RgbImage, Error> {
    let factors = frame.factors();
    let (hmax, vmax) = frame.max_factors();
    let count = frame.components.len();
    let (out_w, out_h) = ((frame.width * n).div_ceil(8), (frame.height * n).div_ceil(8));
    let mut rgb = vec![0u8; out_w * out_h * 3];
    let ycbcr = count == 3 && !adobe_rgb && frame.components.iter().map(|c| c.id).ne(*b"RGB");
    // A component's row at the output width: the plane's own row when it is at full
    // resolution, else replicated into a scratch row — except 4:2:0/4:2:2 chroma with
    // Wasm SIMD, which is doubled in registers instead.
    let halved = |c: usize| ycbcr && c > 0 && hmax == 2 * factors[c].0 && SIMD;
    let doubled = halved(1) && halved(2);
    let mut scratch = vec![vec![0u8; out_w]; count];
    for (y, out) in rgb.chunks_exact_mut(out_w * 3).enumerate() {
        let mut rows: [&[u8]; 3] = [&[]; 3];
        for (c, scratch) in scratch.iter_mut().enumerate() {
            let (plane, (h, v)) = (&planes[c], factors[c]);
            let line = &plane.pixels[(y * v / vmax) * plane.stride..][..plane.stride];
            rows[c] = if h == hmax {
                &line[..out_w]
            } else if doubled {
                &line[..out_w.div_ceil(2)]
            } else if hmax == 2 * h {
                for (pair, &p) in scratch.chunks_mut(2).zip(line) {
                    pair.fill(p);
                }
                scratch
            } else {
                for (x, p) in scratch.iter_mut().enumerate() {
                    *p = line[x * h / hmax];
                }
                scratch
            };
        }
        match (count, ycbcr) {
            (1, _) => {
                for (px, &l) in out.chunks_exact_mut(3).zip(rows[0]) {
                    px.fill(l);
                }
            }
            (_, true) => ycc_row(rows[0], rows[1], rows[2], doubled, out),
            _ => {
                let pixels = out.chunks_exact_mut(3).zip(rows[0]).zip(rows[1]).zip(rows[2]);
                for (((px, &r), &g), &b) in pixels {
                    px.copy_from_slice(&[r, g, b]);
                }
            }
        }
    }
    RgbImage::from_raw(out_w as u32, out_h as u32, rgb).ok_or("output size")
}

/// One pixel of the conversion: the reference for every faster path.
#[inline(always)]
fn ycc(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
    [
        (y + ((CR_R * cr + HALF) >> 16)).clamp(0, 255) as u8,
        (y + ((CB_G * cb + CR_G * cr + HALF) >> 16)).clamp(0, 255) as u8,
        (y + ((CB_B * cb + HALF) >> 16)).clamp(0, 255) as u8,
    ]
}

/// Whether chroma rows are doubled in SIMD registers rather than replicated first.
const SIMD: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// One output row: `y`, `cb` and `cr` at full width or, when `doubled`, the chroma at half
/// width (each sample covers two pixels; only with SIMD).
fn ycc_row(y: &[u8], cb: &[u8], cr: &[u8], doubled: bool, out: &mut [u8]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        let done = simd::ycc_row(y, cb, cr, doubled, out);
        let at = |row: &[u8], x: usize| row[if doubled { x / 2 } else { x }];
        for x in done..y.len() {
            out[3 * x..3 * x + 3].copy_from_slice(&ycc(y[x], at(cb, x), at(cr, x)));
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        debug_assert!(!doubled);
        for (((px, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
            px.copy_from_slice(&ycc(y, cb, cr));
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::{CB_B, CB_G, CR_G, CR_R, HALF};
    use core::arch::wasm32::*;

    #[inline(always)]
    fn load16(s: &[u8]) -> v128 {
        let lo = u64::from_le_bytes(s[..8].try_into().unwrap_or_default());
        let hi = u64::from_le_bytes(s[8..16].try_into().unwrap_or_default());
        u64x2(lo, hi)
    }

    #[inline(always)]
    fn load8(s: &[u8]) -> v128 {
        u64x2(u64::from_le_bytes(s[..8].try_into().unwrap_or_default()), 0)
    }

    #[inline(always)]
    fn store16(out: &mut [u8], v: v128) {
        out[..8].copy_from_slice(&u64x2_extract_lane::<0>(v).to_le_bytes());
        out[8..16].copy_from_slice(&u64x2_extract_lane::<1>(v).to_le_bytes());
    }

    /// `(factor · c + HALF) >> 16` for the four i32 lanes of `c`.
    #[inline(always)]
    fn scaled(c: v128, factor: i32) -> v128 {
        i32x4_shr(i32x4_add(i32x4_mul(c, i32x4_splat(factor)), i32x4_splat(HALF)), 16)
    }

    /// The R, G, B offsets (i16x8) of eight chroma pairs (cb, cr as i16x8, centred).
    #[inline(always)]
    fn offsets(cb: v128, cr: v128) -> (v128, v128, v128) {
        let (cb_lo, cb_hi) = (i32x4_extend_low_i16x8(cb), i32x4_extend_high_i16x8(cb));
        let (cr_lo, cr_hi) = (i32x4_extend_low_i16x8(cr), i32x4_extend_high_i16x8(cr));
        let g = |cb: v128, cr: v128| {
            let sum = i32x4_add(i32x4_mul(cb, i32x4_splat(CB_G)), i32x4_mul(cr, i32x4_splat(CR_G)));
            i32x4_shr(i32x4_add(sum, i32x4_splat(HALF)), 16)
        };
        (
            i16x8_narrow_i32x4(scaled(cr_lo, CR_R), scaled(cr_hi, CR_R)),
            i16x8_narrow_i32x4(g(cb_lo, cr_lo), g(cb_hi, cr_hi)),
            i16x8_narrow_i32x4(scaled(cb_lo, CB_B), scaled(cb_hi, CB_B)),
        )
    }

    /// Chroma bytes → centred i16x8 (low and high halves of 16 samples).
    #[inline(always)]
    fn centred(c: v128) -> (v128, v128) {
        let off = i16x8_splat(128);
        (i16x8_sub(u16x8_extend_low_u8x16(c), off), i16x8_sub(u16x8_extend_high_u8x16(c), off))
    }

    /// Each of eight i16 lanes twice: lanes 0–3 → 0,0,1,1,…; lanes 4–7 likewise.
    #[inline(always)]
    fn double(v: v128) -> (v128, v128) {
        (
            i8x16_shuffle::<0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7>(v, v),
            i8x16_shuffle::<8, 9, 8, 9, 10, 11, 10, 11, 12, 13, 12, 13, 14, 15, 14, 15>(v, v),
        )
    }

    /// 16 pixels' R, G, B (u8x16 each) → 48 interleaved bytes.
    #[inline(always)]
    fn store_rgb(out: &mut [u8], r: v128, g: v128, b: v128) {
        let rg0 = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(r, g);
        let rg1 =
            i8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(r, g);
        let o0 = i8x16_shuffle::<0, 1, 16, 2, 3, 17, 4, 5, 18, 6, 7, 19, 8, 9, 20, 10>(rg0, b);
        let t =
            i8x16_shuffle::<11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 0, 0, 0, 0, 0>(rg0, rg1);
        let o1 = i8x16_shuffle::<0, 21, 1, 2, 22, 3, 4, 23, 5, 6, 24, 7, 8, 25, 9, 10>(t, b);
        let o2 =
            i8x16_shuffle::<26, 6, 7, 27, 8, 9, 28, 10, 11, 29, 12, 13, 30, 14, 15, 31>(rg1, b);
        store16(&mut out[..16], o0);
        store16(&mut out[16..32], o1);
        store16(&mut out[32..48], o2);
    }

    /// Converts whole groups of 16 pixels; returns how many pixels it did.
    pub fn ycc_row(y: &[u8], cb: &[u8], cr: &[u8], doubled: bool, out: &mut [u8]) -> usize {
        let groups = y.len() / 16;
        for g in 0..groups {
            let x = 16 * g;
            let (y_lo, y_hi) =
                (u16x8_extend_low_u8x16(load16(&y[x..])), u16x8_extend_high_u8x16(load16(&y[x..])));
            let ((r_lo, r_hi), (g_lo, g_hi), (b_lo, b_hi)) = if doubled {
                let (cb8, _) = centred(load8(&cb[x / 2..]));
                let (cr8, _) = centred(load8(&cr[x / 2..]));
                let (r, g, b) = offsets(cb8, cr8);
                (double(r), double(g), double(b))
            } else {
                let (cb_lo, cb_hi) = centred(load16(&cb[x..]));
                let (cr_lo, cr_hi) = centred(load16(&cr[x..]));
                let (r0, g0, b0) = offsets(cb_lo, cr_lo);
                let (r1, g1, b1) = offsets(cb_hi, cr_hi);
                ((r0, r1), (g0, g1), (b0, b1))
            };
            let px = |lo, hi| u8x16_narrow_i16x8(i16x8_add(y_lo, lo), i16x8_add(y_hi, hi));
            store_rgb(&mut out[3 * x..3 * x + 48], px(r_lo, r_hi), px(g_lo, g_hi), px(b_lo, b_hi));
        }
        groups * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_matches_t871_at_the_extremes() {
        assert_eq!(ycc(0, 128, 128), [0, 0, 0]);
        assert_eq!(ycc(255, 128, 128), [255, 255, 255]);
        assert_eq!(ycc(76, 85, 255), [254, 0, 0]); // pure red, as JFIF codes it
        assert_eq!(ycc(128, 0, 0), [0, 255, 0]);
        assert_eq!(ycc(128, 255, 255), [255, 0, 255]);
    }

    #[test]
    fn rows_convert_pixel_by_pixel() {
        let y: Vec<u8> = (0..37).map(|i| (i * 7) as u8).collect();
        let cb: Vec<u8> = (0..37).map(|i| (100 + i * 3) as u8).collect();
        let cr: Vec<u8> = (0..37).map(|i| (200 - i * 5) as u8).collect();
        let mut out = vec![0u8; 37 * 3];
        ycc_row(&y, &cb, &cr, false, &mut out);
        for x in 0..37 {
            assert_eq!(out[3 * x..3 * x + 3], ycc(y[x], cb[x], cr[x]), "pixel {x}");
        }
    }
}
