//! The entropy-coded bytes of a scan as a stream of bits, MSB first: undoes the 0xFF00
//! byte stuffing, stops at markers (past one it reads zero bits, as libjpeg does) and
//! checks restart markers. Every symbol of every block comes through here, so the buffer
//! is 64 bits wide and is refilled with one unaligned 8-byte load whenever those 8 bytes
//! hold no 0xFF (all but ~3 % of refills on photo data), which tops it up to 56–63 bits:
//! enough for any two codes with their extra bits, so decoders check the level once per
//! symbol, not once per bit.
//!
//! The reader is `Copy`, and its rare slow paths take it by value and hand it back, so the
//! hot loops that use it never pass its address to a function that is not inlined: it
//! stays in registers (in Wasm: locals) instead of a stack slot in linear memory.

use super::frame::Error;

/// Bits a caller may take after [`Bits::refill`] without checking: one Huffman code (≤ 16
/// bits) and its extra bits (≤ 15).
pub const SYMBOL_BITS: u32 = 32;

#[derive(Clone, Copy)]
pub struct Bits<'a> {
    data: &'a [u8],
    /// Next byte of `data` not yet in `buf`.
    pos: usize,
    /// The next bits, left-aligned. Bits past the first `n` are either zero or the true
    /// bits that follow (a word load ORs in more than it counts), so OR-ing the same bytes
    /// in again is harmless.
    buf: u64,
    /// Valid bits in `buf`.
    n: u32,
    /// Reached a marker or the end of the data: only zero bits from here on.
    marker: bool,
    /// Zero bytes fed since then.
    filled: u32,
}

impl<'a> Bits<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0, buf: 0, n: 0, marker: false, filled: 0 }
    }

    /// Top up to at least 56 bits when fewer than [`SYMBOL_BITS`] are left.
    #[inline(always)]
    pub fn ensure(&mut self) {
        if self.n < SYMBOL_BITS {
            self.refill();
        }
    }

    /// Top up to at least 56 bits (n < 64 on entry).
    #[inline(always)]
    pub fn refill(&mut self) {
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let word = u64::from_be_bytes(chunk.try_into().unwrap_or_default());
            // No byte equal to 0xFF: no zero byte in !word (the usual has-zero test).
            if (!word).wrapping_sub(0x0101_0101_0101_0101) & word & 0x8080_8080_8080_8080 == 0 {
                self.buf |= word >> self.n;
                self.pos += ((63 - self.n) >> 3) as usize;
                self.n |= 56;
                return;
            }
        }
        *self = self.refill_bytes();
    }

    /// Byte by byte, near stuffed bytes, markers and the end of the data.
    #[inline(never)]
    fn refill_bytes(mut self) -> Self {
        while self.n <= 56 {
            let byte = if self.marker {
                self.filled += 1;
                0
            } else {
                match self.data.get(self.pos) {
                    None => {
                        self.marker = true;
                        0
                    }
                    Some(&0xFF) => match self.data.get(self.pos + 1) {
                        Some(&0x00) => {
                            self.pos += 2;
                            0xFF
                        }
                        _ => {
                            self.marker = true; // a marker: stay in front of it
                            0
                        }
                    },
                    Some(&b) => {
                        self.pos += 1;
                        b
                    }
                }
            };
            self.buf |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
        self
    }

    /// The next `count` (1..=32) bits, not consumed. Needs `count` bits buffered.
    #[inline(always)]
    pub fn peek(&self, count: u32) -> usize {
        (self.buf >> (64 - count)) as usize
    }

    /// Drop `count` bits (at most the buffered ones).
    #[inline(always)]
    pub fn consume(&mut self, count: u32) {
        debug_assert!(count <= self.n);
        self.buf <<= count;
        self.n -= count;
    }

    /// Read `count` (0..=16) bits as an unsigned number; they must be buffered.
    #[inline(always)]
    pub fn take(&mut self, count: u32) -> u32 {
        // Shifting by 64 - 0 would overflow: read one more bit and drop it.
        let v = ((self.buf >> 1) >> (63 - count)) as u32;
        self.consume(count);
        v
    }

    /// Read `count` (0..=16) bits as a signed coefficient (T.81 F.2.2.1 EXTEND); they
    /// must be buffered.
    #[inline(always)]
    pub fn signed(&mut self, count: u32) -> i32 {
        extend(self.take(count) as i32, count)
    }

    /// Read one bit (refinement passes read one per coefficient).
    #[inline(always)]
    pub fn bit(&mut self) -> bool {
        if self.n == 0 {
            self.refill();
        }
        let set = self.buf >> 63 == 1;
        self.consume(1);
        set
    }

    /// Where the first marker after the data read so far starts (stuffed bytes and
    /// restart markers skipped): the end of this scan.
    pub fn next_marker(self) -> usize {
        let mut at = self.pos;
        while at + 1 < self.data.len() {
            if self.data[at] == 0xFF && !matches!(self.data[at + 1], 0x00 | 0xD0..=0xD7 | 0xFF) {
                return at;
            }
            at += 1;
        }
        self.data.len()
    }

    /// Whether decoding has gone well past the end of the entropy-coded data: the scan
    /// ended early (a legitimate reader stops within a few bytes of zero fill).
    pub fn overrun(&self) -> bool {
        self.filled > 64
    }

    /// At a restart interval's end: drop the buffered bits and expect RSTn here.
    #[inline(never)]
    pub fn restart(self, expected: u8) -> Result<Self, Error> {
        // Bytes taken into the buffer but not consumed are padding; the marker follows.
        let mut at = self.pos;
        while self.data.get(at) == Some(&0xFF) && self.data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if self.data.get(at..at + 2) != Some(&[0xFF, 0xD0 + expected]) {
            return Err("restart marker missing or out of order");
        }
        Ok(Bits { data: self.data, pos: at + 2, buf: 0, n: 0, marker: false, filled: 0 })
    }
}

/// T.81 F.2.2.1 EXTEND: `count` bits `v` as a signed difference.
#[inline(always)]
pub fn extend(v: i32, count: u32) -> i32 {
    // Top bit clear: negative, v - (2^count - 1). Branch-free: the mask is all ones
    // when the top bit is clear.
    if count == 0 {
        return 0;
    }
    let negative = ((v >> (count - 1)) & 1) ^ 1;
    v - ((negative << count) - negative)
}

/// Tests' input: the bits of `stream` ('0'/'1', zero-padded to whole bytes), then `tail`.
#[cfg(test)]
pub fn from_bit_string(stream: &str, tail: &[u8]) -> Vec<u8> {
    let padded = format!("{stream:0<width$}", width = stream.len().div_ceil(8) * 8);
    let bytes = padded
        .as_bytes()
        .chunks(8)
        .map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b == b'1')));
    bytes.chain(tail.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_matches_t81() {
        for count in 1..=15u32 {
            for v in 0..(1i32 << count) {
                let want = if v < 1 << (count - 1) { v - (1 << count) + 1 } else { v };
                assert_eq!(extend(v, count), want, "{v} in {count} bits");
            }
        }
        assert_eq!(extend(0, 0), 0);
    }

    #[test]
    fn stuffed_bytes_markers_and_zero_fill() {
        let data = [0xFF, 0x00, 0x80, 0xFF, 0xD9];
        let mut bits = Bits::new(&data);
        bits.ensure();
        assert_eq!(bits.signed(8), 255);
        assert_eq!(bits.signed(1), 1);
        assert_eq!(bits.signed(3), -7); // 000 → -(2^3 - 1)
        assert!(bits.marker);
        // Past the marker: zeros, and the overrun is noticed after 64 bytes of them.
        for _ in 0..80 {
            bits.ensure();
            assert_eq!(bits.take(16), 0);
            bits.ensure();
            assert_eq!(bits.take(16), 0);
        }
        assert!(bits.overrun());
        assert_eq!(bits.next_marker(), 3);
    }

    #[test]
    fn word_refills_agree_with_byte_refills_across_stuffing() {
        // A stream mixing plain runs (word loads) and stuffed 0xFF bytes (byte loads),
        // read in odd-sized pieces: the same bits as reading the unstuffed bytes one by one.
        let plain: Vec<u8> = (0..400u32).map(|i| (i * 37 % 251) as u8).collect();
        let mut stuffed = Vec::new();
        let mut unstuffed = Vec::new();
        for (i, &b) in plain.iter().enumerate() {
            let b = if i % 29 == 7 { 0xFF } else { b };
            stuffed.push(b);
            unstuffed.push(b);
            if b == 0xFF {
                stuffed.push(0x00);
            }
        }
        let mut bits = Bits::new(&stuffed);
        let mut want = unstuffed.iter().flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1));
        let mut sizes = [3u32, 11, 1, 16, 7, 5, 13].iter().cycle();
        let mut read = 0;
        while read + 16 <= unstuffed.len() * 8 {
            let size = *sizes.next().unwrap();
            bits.ensure();
            let got = bits.take(size);
            let expected =
                (0..size).fold(0u32, |acc, _| (acc << 1) | u32::from(want.next().unwrap()));
            assert_eq!(got, expected, "{size} bits at bit {read}");
            read += size as usize;
        }
    }

    #[test]
    fn restart_markers_must_come_in_order() {
        // One byte of data, RST0, one byte, RST2 where RST1 is due.
        let data = [0xAB, 0xFF, 0xD0, 0xCD, 0xFF, 0xD2];
        let mut bits = Bits::new(&data);
        bits.ensure();
        assert_eq!(bits.take(8), 0xAB);
        let mut bits = bits.restart(0).unwrap();
        bits.ensure();
        assert_eq!(bits.take(8), 0xCD);
        assert!(bits.restart(1).is_err());
        // Fill bytes before a marker are allowed.
        let mut bits = Bits::new(&[0xFF, 0xFF, 0xFF, 0xD3, 0x12]).restart(3).unwrap();
        bits.ensure();
        assert_eq!(bits.take(8), 0x12);
    }
}
