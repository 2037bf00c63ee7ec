//! Reduced-size inverse DCT: an 8×8 block of coefficients straight to an N×N block of
//! pixels (N = 1, 2, 4) — the DCT-domain downscale of libjpeg's `scale_denom`. Each output
//! pixel is the exact mean of the full 8-point IDCT over its (8/N)×(8/N) square (a box
//! filter), computed without the full IDCT: averaging is linear, so it folds into the
//! basis. For N = 1 only the DC term survives (the block mean is DC / 8).

use std::sync::OnceLock;

/// `A[u][i]` = mean over x in square i of C(u)/2 · cos((2x+1)uπ/16), C(0) = 1/√2: a row
/// and a column pass with it give the mean of (1/4)·ΣΣ C(u)C(v)·F(u,v)·cos·cos.
fn basis<const N: usize>() -> [[f32; N]; 8] {
    let mut a = [[0f32; N]; 8];
    let k = 8 / N;
    for (u, row) in a.iter_mut().enumerate() {
        let c = if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
        for (i, out) in row.iter_mut().enumerate() {
            let sum: f64 = (i * k..(i + 1) * k)
                .map(|x| ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos())
                .sum();
            *out = (c * sum / (2.0 * k as f64)) as f32;
        }
    }
    a
}

fn basis2() -> &'static [[f32; 2]; 8] {
    static TABLE: OnceLock<[[f32; 2]; 8]> = OnceLock::new();
    TABLE.get_or_init(basis::<2>)
}

fn basis4() -> &'static [[f32; 4]; 8] {
    static TABLE: OnceLock<[[f32; 4]; 8]> = OnceLock::new();
    TABLE.get_or_init(basis::<4>)
}

/// Rows and columns of the 8×8 block holding the coefficients up to zig-zag index k.
const EXTENT: [(u8, u8); 64] = {
    let mut out = [(0u8, 0u8); 64];
    let (mut rows, mut cols, mut k) = (0u8, 0u8, 0);
    while k < 64 {
        let z = super::decoder::ZIGZAG[k];
        if (z / 8) as u8 + 1 > rows {
            rows = (z / 8) as u8 + 1;
        }
        if (z % 8) as u8 + 1 > cols {
            cols = (z % 8) as u8 + 1;
        }
        out[k] = (rows, cols);
        k += 1;
    }
    out
};

/// Dequantised coefficients `coef` (natural order, 8×8), of which none past zig-zag
/// index `last` is non-zero, → `n`×`n` pixels written to `out` rows of `stride` bytes.
pub fn idct_scaled(coef: &[i32; 64], last: usize, n: usize, out: &mut [u8], stride: usize) {
    let (rows, cols) = EXTENT[last.min(63)];
    let extent = (usize::from(rows), usize::from(cols));
    match n {
        1 => out[0] = clamp(coef[0] as f32 / 8.0),
        2 => idct_box(coef, extent, basis2(), out, stride),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        _ => simd::idct_box4(coef, extent, basis4(), out, stride),
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        _ => idct_box(coef, extent, basis4(), out, stride),
    }
}

/// The ½-scale box IDCT with Wasm SIMD: each row of four outputs is one f32x4. The same
/// additions in the same order as [`idct_box`], lane by lane, so the same bits.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    pub fn idct_box4(
        coef: &[i32; 64],
        (rows, cols): (usize, usize),
        a: &[[f32; 4]; 8],
        out: &mut [u8],
        stride: usize,
    ) {
        let basis: [v128; 8] = core::array::from_fn(|u| f32x4(a[u][0], a[u][1], a[u][2], a[u][3]));
        let mut tmp = [f32x4_splat(0.0); 8];
        for (v, row) in coef.chunks_exact(8).take(rows).enumerate() {
            let mut acc = f32x4_splat(0.0);
            for (&f, &b) in row[..cols].iter().zip(&basis) {
                acc = f32x4_add(acc, f32x4_mul(f32x4_splat(f as f32), b));
            }
            tmp[v] = acc;
        }
        let (lo, hi, half) = (f32x4_splat(0.0), f32x4_splat(255.0), f32x4_splat(128.5));
        for j in 0..4 {
            let mut acc = f32x4_splat(0.0);
            for v in 0..rows {
                acc = f32x4_add(acc, f32x4_mul(f32x4_splat(a[v][j]), tmp[v]));
            }
            let clamped = f32x4_pmin(hi, f32x4_pmax(lo, f32x4_add(acc, half)));
            let ints = i32x4_trunc_sat_f32x4(clamped);
            let bytes = u8x16_narrow_i16x8(i16x8_narrow_i32x4(ints, ints), i16x8_splat(0));
            let word = i32x4_extract_lane::<0>(bytes).to_le_bytes();
            out[j * stride..j * stride + 4].copy_from_slice(&word);
        }
    }
}

fn idct_box<const N: usize>(
    coef: &[i32; 64],
    (rows, cols): (usize, usize),
    a: &[[f32; N]; 8],
    out: &mut [u8],
    stride: usize,
) {
    // Rows: tmp[v][i] = Σu F[v][u] · A[u][i], over the rows and columns that can be
    // non-zero (for most blocks a few of each).
    let mut tmp = [[0f32; N]; 8];
    for (v, row) in coef.chunks_exact(8).take(rows).enumerate() {
        let acc = &mut tmp[v];
        for (&f, basis) in row[..cols].iter().zip(a) {
            let f = f as f32;
            for i in 0..N {
                acc[i] += f * basis[i];
            }
        }
    }
    // Columns: out[j][i] = Σv A[v][j] · tmp[v][i].
    for j in 0..N {
        let mut acc = [0f32; N];
        for v in 0..rows {
            let w = a[v][j];
            for i in 0..N {
                acc[i] += w * tmp[v][i];
            }
        }
        for (o, &x) in out[j * stride..j * stride + N].iter_mut().zip(&acc) {
            *o = clamp(x);
        }
    }
}

#[inline]
fn clamp(v: f32) -> u8 {
    (v + 128.5).clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full 8-point forward DCT (T.81 A.3.3) of an 8×8 block, level-shifted.
    fn fdct(pixels: &[f64; 64]) -> [i32; 64] {
        let mut out = [0i32; 64];
        for v in 0..8 {
            for u in 0..8 {
                let (cu, cv) = (
                    if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 },
                    if v == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 },
                );
                let mut s = 0.0;
                for y in 0..8 {
                    for x in 0..8 {
                        s += (pixels[y * 8 + x] - 128.0)
                            * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()
                            * ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                out[v * 8 + u] = (cu * cv * s / 4.0).round() as i32;
            }
        }
        out
    }

    #[test]
    fn reduced_blocks_are_the_block_averaged_down() {
        // A steep ramp with a ripple: the N×N output is the mean of each (8/N)² square.
        let mut px = [0f64; 64];
        for y in 0..8 {
            for x in 0..8 {
                px[y * 8 + x] =
                    60.0 + 10.0 * x as f64 + 6.0 * y as f64 + 9.0 * ((x * y) as f64).sin();
            }
        }
        let coef = fdct(&px);
        for n in [1usize, 2, 4] {
            let mut out = vec![0u8; n * n];
            idct_scaled(&coef, 63, n, &mut out, n);
            let k = 8 / n;
            for j in 0..n {
                for i in 0..n {
                    let mean: f64 = (0..k)
                        .flat_map(|dy| (0..k).map(move |dx| (dx, dy)))
                        .map(|(dx, dy)| px[(j * k + dy) * 8 + i * k + dx])
                        .sum::<f64>()
                        / (k * k) as f64;
                    let got = f64::from(out[j * n + i]);
                    assert!((got - mean).abs() <= 1.0, "n={n} ({i},{j}): {got} vs {mean}");
                }
            }
        }
    }
}
