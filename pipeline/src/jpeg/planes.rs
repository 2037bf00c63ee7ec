//! Component planes at the reduced size: where the IDCT writes each block's N×N pixels
//! and where colour conversion reads them. Padded to whole MCUs, so a block never needs a
//! bounds case at the right or bottom edge.

use super::frame::Frame;

pub struct Plane {
    pub pixels: Vec<u8>,
    /// Bytes from one row to the next.
    pub stride: usize,
}

impl Plane {
    /// The `n`×`n` pixels of the block at block column `bx`, row `by`.
    #[inline(always)]
    pub fn block(&mut self, bx: usize, by: usize, n: usize) -> &mut [u8] {
        let at = by * n * self.stride + bx * n;
        &mut self.pixels[at..]
    }
}

/// Empty planes for `frame` at `n`/8 scale.
pub fn planes(frame: &Frame, n: usize) -> Vec<Plane> {
    let (mcux, mcuy) = frame.mcus();
    frame
        .factors()
        .iter()
        .map(|&(h, v)| Plane {
            pixels: vec![0u8; mcux * h * n * mcuy * v * n],
            stride: mcux * h * n,
        })
        .collect()
}
