//! Pillow's `Image.resize(..., BILINEAR)` for 8-bit RGB, re-implemented so the crop the
//! model sees is the reference's crop: the same antialiased triangle coefficients, the
//! same 22-bit fixed-point arithmetic, the same horizontal-then-vertical passes with
//! rounding to u8 in between. Each output pixel depends only on its own coefficients,
//! so computing just the 224×224 centre window gives exactly the pixels a full resize
//! followed by a crop would — at about half the work.

use image::RgbImage;

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per-output-pixel source window and fixed-point weights along one axis.
struct Axis {
    /// For each output index in the window: first source index and tap count.
    bounds: Vec<(usize, usize)>,
    /// `ksize` weights per output index.
    weights: Vec<i32>,
    ksize: usize,
}

/// Coefficients for resizing `in_size` → `out_size`, for outputs `first..first+count`.
fn axis(in_size: usize, out_size: usize, first: usize, count: usize) -> Axis {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // bilinear support 1.0, widened when downscaling
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(count);
    let mut weights = vec![0i32; count * ksize];
    let mut k = vec![0f64; ksize];
    for (i, xx) in (first..first + count).enumerate() {
        let center = (xx as f64 + 0.5) * scale;
        let xmin = ((center - support + 0.5) as i64).max(0) as usize; // C's (int) truncation
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
        let mut total = 0.0;
        for (x, w) in k.iter_mut().enumerate().take(xmax) {
            let t = ((x + xmin) as f64 - center + 0.5) / filterscale;
            *w = (1.0 - t.abs()).max(0.0);
            total += *w;
        }
        for x in 0..xmax {
            let w = if total != 0.0 { k[x] / total } else { k[x] };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            weights[i * ksize + x] =
                if w < 0.0 { (fixed - 0.5) as i32 } else { (fixed + 0.5) as i32 };
        }
        bounds.push((xmin, xmax));
    }
    Axis { bounds, weights, ksize }
}

/// One row of the horizontal pass: each output pixel is its taps' weighted sum.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn horizontal_row(_rest: &[u8], src_row: &[u8], h: &Axis, out_row: &mut [u8]) {
    let half = 1i32 << (PRECISION_BITS - 1);
    let taps = h.weights.chunks_exact(h.ksize);
    for ((out, &(xmin, n)), taps) in out_row.chunks_exact_mut(3).zip(&h.bounds).zip(taps) {
        let (mut r, mut g, mut b) = (half, half, half);
        for (p, &w) in src_row[xmin * 3..(xmin + n) * 3].chunks_exact(3).zip(taps) {
            r += i32::from(p[0]) * w;
            g += i32::from(p[1]) * w;
            b += i32::from(p[2]) * w;
        }
        out.copy_from_slice(&[clip8(r), clip8(g), clip8(b)]);
    }
}

/// The same with Wasm SIMD: a pixel's R, G, B (and one ignored byte) as i32x4 lanes, one
/// multiply-add per tap; the same integer sums as the scalar row, so the same bytes.
/// `rest` is the image from this row on: reading the 4th byte of the last pixel of a row
/// needs the next row's first byte (the very last pixel of the image goes scalar).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn horizontal_row(rest: &[u8], src_row: &[u8], h: &Axis, out_row: &mut [u8]) {
    use core::arch::wasm32::*;
    let half = i32x4_splat(1i32 << (PRECISION_BITS - 1));
    let taps = h.weights.chunks_exact(h.ksize);
    for ((out, &(xmin, n)), taps) in out_row.chunks_exact_mut(3).zip(&h.bounds).zip(taps) {
        if (xmin + n) * 3 + 1 > rest.len() {
            let (mut r, mut g, mut b) = (0i32, 0i32, 0i32);
            for (p, &w) in src_row[xmin * 3..(xmin + n) * 3].chunks_exact(3).zip(taps) {
                (r, g, b) =
                    (r + i32::from(p[0]) * w, g + i32::from(p[1]) * w, b + i32::from(p[2]) * w);
            }
            let half = 1i32 << (PRECISION_BITS - 1);
            out.copy_from_slice(&[clip8(r + half), clip8(g + half), clip8(b + half)]);
            continue;
        }
        let mut acc = half;
        for (t, &w) in taps[..n].iter().enumerate() {
            let at = (xmin + t) * 3;
            let word = u32::from_le_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]]);
            let px = u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(u32x4_splat(word)));
            acc = i32x4_add(acc, i32x4_mul(px, i32x4_splat(w)));
        }
        let shifted = i32x4_shr(acc, PRECISION_BITS);
        let bytes = u8x16_narrow_i16x8(i16x8_narrow_i32x4(shifted, shifted), i16x8_splat(0));
        let word = (i32x4_extract_lane::<0>(bytes) as u32).to_le_bytes();
        out.copy_from_slice(&word[..3]);
    }
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resize `img` to `out_w × out_h` and return only the window at `(left, top)` of size
/// `win_w × win_h` — pixel-identical to Pillow's resize followed by crop.
pub fn resize_window(
    img: &RgbImage,
    out_w: u32,
    out_h: u32,
    left: u32,
    top: u32,
    win_w: u32,
    win_h: u32,
) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let h = axis(in_w, out_w as usize, left as usize, win_w as usize);
    let v = axis(in_h, out_h as usize, top as usize, win_h as usize);
    // Source rows the vertical pass reads.
    let row0 = v.bounds.iter().map(|b| b.0).min().unwrap_or(0);
    let row1 = v.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
    let need_h = out_w as usize != in_w;
    let need_v = out_h as usize != in_h;

    // Horizontal pass over the needed rows (or a plain column slice when width is kept).
    let tw = win_w as usize;
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut temp = vec![0u8; (row1 - row0) * tw * 3];
    for (y, out_row) in (row0..row1).zip(temp.chunks_exact_mut(tw * 3)) {
        let src_row = &src[y * in_w * 3..(y + 1) * in_w * 3];
        if !need_h {
            out_row.copy_from_slice(&src_row[left as usize * 3..(left as usize + tw) * 3]);
            continue;
        }
        horizontal_row(&src[y * in_w * 3..], src_row, &h, out_row);
    }

    // Vertical pass, a whole row at a time so the inner loop runs over contiguous bytes
    // (and vectorises); the sums are integers, so their order changes no bit.
    let mut out = RgbImage::new(win_w, win_h);
    let dst: &mut [u8] = &mut out;
    let mut acc = vec![0i32; tw * 3];
    let rows = dst.chunks_exact_mut(tw * 3).zip(&v.bounds).zip(v.weights.chunks_exact(v.ksize));
    for (j, ((out_row, &(ymin, n)), taps)) in rows.enumerate() {
        if !need_v {
            let ty = top as usize + j - row0;
            out_row.copy_from_slice(&temp[ty * tw * 3..(ty + 1) * tw * 3]);
            continue;
        }
        acc.fill(half);
        for (t, &w) in taps[..n].iter().enumerate() {
            let row = &temp[(ymin - row0 + t) * tw * 3..(ymin - row0 + t + 1) * tw * 3];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += i32::from(p) * w;
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_size_is_a_plain_crop() {
        let img = RgbImage::from_fn(10, 8, |x, y| image::Rgb([x as u8, y as u8, 9]));
        let win = resize_window(&img, 10, 8, 2, 1, 5, 4);
        assert_eq!(win.get_pixel(0, 0).0, [2, 1, 9]);
        assert_eq!(win.get_pixel(4, 3).0, [6, 4, 9]);
    }

    #[test]
    fn flat_images_stay_flat() {
        let img = RgbImage::from_pixel(640, 480, image::Rgb([200, 10, 77]));
        let win = resize_window(&img, 341, 256, 58, 16, 224, 224);
        assert!(win.pixels().all(|p| p.0 == [200, 10, 77]));
    }

    #[test]
    fn window_equals_full_resize_then_crop() {
        let img = RgbImage::from_fn(97, 61, |x, y| {
            image::Rgb([(x * 7 + y) as u8, (y * 13) as u8, (x ^ y) as u8])
        });
        let full = resize_window(&img, 40, 25, 0, 0, 40, 25);
        let win = resize_window(&img, 40, 25, 9, 4, 20, 15);
        for y in 0..15 {
            for x in 0..20 {
                assert_eq!(win.get_pixel(x, y), full.get_pixel(x + 9, y + 4));
            }
        }
    }
}
