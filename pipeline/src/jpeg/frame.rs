//! The facts every stage of the reduced-scale decoder shares, and nothing else: the frame
//! (size, components, sampling factors, MCU layout), the zig-zag order and the error type.
//! It sits at the bottom of the module graph so that the stages above it — markers →
//! scans → coefficients → IDCT → planes → colour — each import it and never each other
//! backwards.

/// Why a JPEG cannot be decoded here (the caller then falls back to the general decoder,
/// which names what is wrong with bad data).
pub type Error = &'static str;

/// Natural (row-major) index of the k-th coefficient in zig-zag order.
pub const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// One component of the frame header.
pub struct Component {
    pub id: u8,
    pub h: usize,
    pub v: usize,
    /// Quantisation table id.
    pub tq: usize,
}

/// A frame header the reduced decoder takes: 8-bit, one or three components.
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub progressive: bool,
    pub components: Vec<Component>,
}

impl Frame {
    /// Sampling factors as the MCU layout uses them (a one-component frame is never
    /// interleaved: one block per MCU, whatever its factors say).
    pub fn factors(&self) -> Vec<(usize, usize)> {
        let single = self.components.len() == 1;
        self.components.iter().map(|c| if single { (1, 1) } else { (c.h, c.v) }).collect()
    }

    pub fn max_factors(&self) -> (usize, usize) {
        let f = self.factors();
        (f.iter().map(|f| f.0).max().unwrap_or(1), f.iter().map(|f| f.1).max().unwrap_or(1))
    }

    /// MCUs across and down.
    pub fn mcus(&self) -> (usize, usize) {
        let (hmax, vmax) = self.max_factors();
        (self.width.div_ceil(8 * hmax), self.height.div_ceil(8 * vmax))
    }

    /// Blocks across and down of component `c` in a scan of that component alone (the
    /// blocks that cover its own samples, not the MCU padding).
    pub fn own_blocks(&self, c: usize) -> (usize, usize) {
        let (hmax, vmax) = self.max_factors();
        let (h, v) = self.factors()[c];
        ((self.width * h).div_ceil(hmax).div_ceil(8), (self.height * v).div_ceil(vmax).div_ceil(8))
    }
}
