//! Reduced-size inverse DCT: an 8×8 block of coefficients straight to an N×N block of
//! pixels (N = 1, 2, 4) — the DCT-domain downscale of libjpeg's `scale_denom`. Each output
//! pixel is the exact mean of the full 8-point IDCT over its (8/N)×(8/N) square (a box
//! filter), computed without the full IDCT: averaging is linear, so it folds into the
//! basis. For N = 1 only the DC term survives (the block mean is DC / 8).
//!
//! Dequantisation and the row pass are fused into entropy decoding: each non-zero
//! coefficient, as it is decoded, adds `value · A[u]` to its row's accumulator
//! ([`Rows::add`]), so no 64-entry block is ever zeroed, filled or scanned; the column
//! pass ([`Rows::finish`]) then combines the eight rows. Coefficients arrive in zig-zag
//! order, which visits each row's columns in increasing order, so every accumulator sums
//! the same non-zero terms in the same order as a dense row-by-row pass: the same f32 bits
//! (zero terms, skipped or added, change nothing but the sign of a zero). A block with
//! only its DC is one value ([`Rows::finish_dc`]).

use super::frame::ZIGZAG;

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

/// The ⅛-scale pixel of a block whose dequantised DC is `dc`.
#[inline(always)]
pub fn dc_pixel(dc: i32) -> u8 {
    clamp(dc as f32 / 8.0)
}

#[inline(always)]
fn clamp(v: f32) -> u8 {
    (v + 128.5).clamp(0.0, 255.0) as u8
}

/// The row accumulators of one block on its way to N×N pixels (N = 2 or 4). Rows are
/// four f32 lanes whatever N (lanes past N stay zero), one SIMD register each. The column
/// pass runs over all eight rows, straight-line: rows that received nothing are zero and
/// add nothing, and no per-coefficient bookkeeping of which rows were touched is needed.
pub struct Rows<const N: usize> {
    /// `A[u]`, lanes past N zero.
    basis: [F32x4; 8],
    /// `A[v][j]` in every lane: the column pass's weights.
    weights: [[F32x4; 8]; N],
    /// `A[0][0]`, for DC-only blocks.
    a00: f32,
    tmp: [F32x4; 8],
}

impl<const N: usize> Default for Rows<N> {
    fn default() -> Self {
        let a = basis::<N>();
        let basis = a.map(|row| {
            let mut lanes = [0f32; 4];
            lanes[..N].copy_from_slice(&row);
            F32x4::from(lanes)
        });
        let weights = core::array::from_fn(|j| core::array::from_fn(|v| F32x4::splat(a[v][j])));
        Rows { basis, weights, a00: a[0][0], tmp: [F32x4::zero(); 8] }
    }
}

impl<const N: usize> Rows<N> {
    /// Add the dequantised coefficient `value` at zig-zag position `k` (non-zero values,
    /// in increasing `k` within the block). A row's first term lands on +0: 0 + x = x.
    #[inline(always)]
    pub fn add(&mut self, k: usize, value: i32) {
        let z = usize::from(ZIGZAG[k & 63]);
        let (v, u) = ((z >> 3) & 7, z & 7);
        self.tmp[v] = self.tmp[v].add(F32x4::splat(value as f32).mul(self.basis[u]));
    }

    /// A block whose only non-zero coefficient is the DC `value` (common: smooth areas,
    /// most chroma blocks): every output pixel is the same, `A[0][0] · (value · A[0][0])`
    /// as the general pass computes it (A[0][i] is the same for every i), so one scalar
    /// conversion and a fill.
    #[inline(always)]
    pub fn finish_dc(&mut self, value: i32, out: &mut [u8], stride: usize) {
        let a00 = self.a00;
        let p = clamp(a00 * (value as f32 * a00));
        for j in 0..N {
            out[j * stride..j * stride + N].fill(p);
        }
    }

    /// The column pass: write the N×N pixels to `out` (rows `stride` apart) and clear the
    /// rows for the next block.
    #[inline(always)]
    pub fn finish(&mut self, out: &mut [u8], stride: usize) {
        for (j, weights) in self.weights.iter().enumerate() {
            let mut acc = F32x4::zero();
            for (w, &row) in weights.iter().zip(&self.tmp) {
                acc = acc.add(w.mul(row));
            }
            out[j * stride..j * stride + N].copy_from_slice(&acc.to_pixels()[..N]);
        }
        self.tmp = [F32x4::zero(); 8];
    }
}

/// Four f32 lanes: Wasm SIMD, or plain arrays that native compilers vectorise — the same
/// IEEE multiplications and additions lane by lane (no fused multiply-add), so the same
/// bits.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct F32x4(v128);

    impl F32x4 {
        #[inline(always)]
        pub fn zero() -> Self {
            F32x4(f32x4_splat(0.0))
        }
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            F32x4(f32x4_splat(v))
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            F32x4(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            F32x4(f32x4_mul(self.0, o.0))
        }
        /// `clamp(x + 128.5, 0, 255)` truncated, per lane. Not with `trunc_sat` (whose
        /// NaN and overflow cases cost a dozen x86 instructions): the clamped value is
        /// floored and added to 2^23, which puts the integer 0..=255 in the low byte of
        /// each lane's bits, exactly.
        #[inline(always)]
        pub fn to_pixels(self) -> [u8; 4] {
            let x = f32x4_add(self.0, f32x4_splat(128.5));
            let clamped = f32x4_pmin(f32x4_splat(255.0), f32x4_pmax(f32x4_splat(0.0), x));
            let biased = f32x4_add(f32x4_floor(clamped), f32x4_splat(8_388_608.0));
            let bytes =
                i8x16_shuffle::<0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>(biased, biased);
            i32x4_extract_lane::<0>(bytes).to_le_bytes()
        }
    }

    impl From<[f32; 4]> for F32x4 {
        fn from(l: [f32; 4]) -> Self {
            F32x4(f32x4(l[0], l[1], l[2], l[3]))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    #[derive(Clone, Copy)]
    pub struct F32x4([f32; 4]);

    impl F32x4 {
        #[inline(always)]
        pub fn zero() -> Self {
            F32x4([0.0; 4])
        }
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            F32x4([v; 4])
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            let (a, b) = (self.0, o.0);
            F32x4([a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]])
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            let (a, b) = (self.0, o.0);
            F32x4([a[0] * b[0], a[1] * b[1], a[2] * b[2], a[3] * b[3]])
        }
        /// `clamp(x + 128.5, 0, 255)` truncated, per lane.
        #[inline(always)]
        pub fn to_pixels(self) -> [u8; 4] {
            self.0.map(super::clamp)
        }
    }

    impl From<[f32; 4]> for F32x4 {
        fn from(l: [f32; 4]) -> Self {
            F32x4(l)
        }
    }
}

use lanes::F32x4;

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

    fn reduce<const N: usize>(coef: &[i32; 64]) -> Vec<u8> {
        let mut rows = Rows::<N>::default();
        for (k, &z) in ZIGZAG.iter().enumerate() {
            if coef[usize::from(z)] != 0 {
                rows.add(k, coef[usize::from(z)]);
            }
        }
        let mut out = vec![0u8; N * N];
        rows.finish(&mut out, N);
        out
    }

    /// Today's dense definition: every row, every column up to the extent, in order.
    fn dense<const N: usize>(coef: &[i32; 64]) -> Vec<u8> {
        let a = basis::<N>();
        let mut tmp = [[0f32; N]; 8];
        for (v, row) in coef.chunks_exact(8).enumerate() {
            for (&f, basis) in row.iter().zip(&a) {
                for i in 0..N {
                    tmp[v][i] += f as f32 * basis[i];
                }
            }
        }
        let mut out = vec![0u8; N * N];
        for j in 0..N {
            let mut acc = [0f32; N];
            for v in 0..8 {
                for i in 0..N {
                    acc[i] += a[v][j] * tmp[v][i];
                }
            }
            for i in 0..N {
                out[j * N + i] = clamp(acc[i]);
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
            let out = match n {
                1 => vec![dc_pixel(coef[0])],
                2 => reduce::<2>(&coef),
                _ => reduce::<4>(&coef),
            };
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

    #[test]
    fn sparse_accumulation_gives_the_dense_pass_bits() {
        // Blocks with a few non-zero coefficients anywhere (as photos have), and full ones.
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            seed >> 8
        };
        for case in 0..2000 {
            let mut coef = [0i32; 64];
            let count = if case % 10 == 0 { 64 } else { (next() % 12) as usize };
            for _ in 0..count {
                let z = (next() % 64) as usize;
                coef[z] = (next() % 2001) as i32 - 1000;
            }
            assert_eq!(reduce::<4>(&coef), dense::<4>(&coef), "{coef:?}");
            assert_eq!(reduce::<2>(&coef), dense::<2>(&coef), "{coef:?}");
        }
        assert_eq!(reduce::<4>(&[0; 64]), vec![128; 16]);
    }
}
