//! The entropy-coded segment of a baseline JPEG: a bit reader over the bytes (undoing
//! the 0xFF00 byte stuffing, stopping at markers) and canonical Huffman tables with a
//! 9-bit lookup for the common short codes. This is where a large photo's decode time
//! goes — every coefficient's code must be read even when the output needs only the DC —
//! so it works on a 64-bit buffer and a slice, with no per-byte calls.

/// Why a scan cannot be decoded here (the caller falls back to the general decoder).
pub type Error = &'static str;

const LUT_BITS: u32 = 9;

/// A Huffman table (ITU T.81 Annex C), decoded with a lookup for codes up to 9 bits.
pub struct Table {
    /// `(length << 8) | symbol` for codes of at most LUT_BITS bits, 0 otherwise.
    lut: Vec<u16>,
    /// For an AC table: each 9-bit prefix that holds a whole coefficient (code and its
    /// extra bits) decoded in one step, see [`Fast`].
    fast: Box<[Fast; 1 << LUT_BITS]>,
    /// Largest code of each length (-1 when none), lengths 1..=16.
    maxcode: [i32; 18],
    /// Index into `values` of the first code of each length, minus that code.
    delta: [i32; 17],
    values: Vec<u8>,
}

impl Table {
    /// Build from a DHT segment's 16 counts and the symbols that follow them.
    pub fn new(counts: &[u8; 16], values: &[u8]) -> Result<Table, Error> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || total > values.len() {
            return Err("Huffman table has more codes than symbols");
        }
        let mut lut = vec![0u16; 1 << LUT_BITS];
        let mut maxcode = [-1i32; 18];
        let mut delta = [0i32; 17];
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            delta[len as usize] = k as i32 - code as i32;
            for _ in 0..n {
                if code >= 1 << len {
                    return Err("Huffman table codes overflow their length");
                }
                if len <= LUT_BITS {
                    let shift = LUT_BITS - len;
                    let first = (code << shift) as usize;
                    let entry = ((len as u16) << 8) | u16::from(values[k]);
                    lut[first..first + (1 << shift)].fill(entry);
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                maxcode[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX; // sentinel: no code is longer than 16 bits
        let mut fast = Box::new([Fast::default(); 1 << LUT_BITS]);
        for (prefix, (slot, &entry)) in fast.iter_mut().zip(&lut).enumerate() {
            *slot = Fast::new(prefix, entry);
        }
        Ok(Table { lut, fast, maxcode, delta, values: values[..total].to_vec() })
    }
}

/// One step of AC decoding from a 9-bit prefix: `len` bits hold the run/size code and the
/// coefficient's extra bits; the coefficient is `value` after `run` zeros. `len` 0: the
/// prefix is too short for that (slow path). End of block is `run` [`Fast::END`]; a run
/// of 16 zeros is run 15 with value 0 (writing a zero where there is one already).
#[derive(Clone, Copy, Default)]
pub struct Fast {
    pub value: i16,
    pub run: u8,
    pub len: u8,
}

impl Fast {
    pub const END: u8 = 64;

    fn new(prefix: usize, entry: u16) -> Fast {
        let code_len = u32::from(entry >> 8);
        let (run, size) = ((entry as u8) >> 4, u32::from(entry & 15));
        if code_len == 0 || code_len + size > LUT_BITS {
            return Fast::default();
        }
        let len = (code_len + size) as u8;
        if size == 0 {
            return match run {
                0 => Fast { value: 0, run: Fast::END, len },
                15 => Fast { value: 0, run: 15, len },
                _ => Fast::default(), // not a valid AC symbol; the slow path reports it
            };
        }
        let bits = (prefix >> (LUT_BITS - code_len - size)) as i32 & ((1 << size) - 1);
        Fast { value: extend(bits, size) as i16, run, len }
    }
}

#[inline]
fn extend(v: i32, count: u32) -> i32 {
    if v < 1 << (count - 1) {
        v - (1 << count) + 1
    } else {
        v
    }
}

/// Reads bits MSB first from entropy-coded data. Past a marker (or the end of the data)
/// it reads zero bits, as libjpeg does; `hit_marker` says that happened.
pub struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    n: u32,
    hit_marker: bool,
    /// Zero bytes fed since a marker or the end of the data.
    filled: u32,
}

impl<'a> Bits<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0, buf: 0, n: 0, hit_marker: false, filled: 0 }
    }

    /// The AC fast-path step at the reader's position, already consumed; `len` 0 when
    /// the slow path must decode it (nothing consumed then).
    #[inline(always)]
    pub fn fast(&mut self, table: &Table) -> Fast {
        if self.n < 16 {
            self.refill();
        }
        let step = table.fast[(self.buf >> (64 - LUT_BITS)) as usize];
        // n ≥ 16 ≥ step.len here.
        self.buf <<= step.len;
        self.n -= u32::from(step.len);
        step
    }

    #[inline(never)]
    fn refill(&mut self) {
        // Fast path: 4 plain bytes (no 0xFF among them) at once.
        if self.n <= 32 && !self.hit_marker {
            if let Some(chunk) = self.data.get(self.pos..self.pos + 4) {
                let word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                // No byte equal to 0xFF (a zero byte in !word, the usual has-zero test).
                if (!word).wrapping_sub(0x0101_0101) & word & 0x8080_8080 == 0 {
                    self.buf |= u64::from(word) << (32 - self.n);
                    self.n += 32;
                    self.pos += 4;
                    return;
                }
            }
        }
        while self.n <= 56 {
            let byte = if self.hit_marker {
                self.filled += 1;
                0
            } else {
                match self.data.get(self.pos) {
                    None => {
                        self.hit_marker = true;
                        0
                    }
                    Some(&0xFF) => match self.data.get(self.pos + 1) {
                        Some(&0x00) => {
                            self.pos += 2;
                            0xFF
                        }
                        _ => {
                            self.hit_marker = true; // a marker: stay in front of it
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
    }

    /// Decode one Huffman symbol.
    #[inline(always)]
    pub fn symbol(&mut self, table: &Table) -> Result<u8, Error> {
        if self.n < 16 {
            self.refill();
        }
        let entry = table.lut[(self.buf >> (64 - LUT_BITS)) as usize];
        if entry != 0 {
            let len = u32::from(entry >> 8);
            self.buf <<= len;
            self.n -= len;
            return Ok(entry as u8);
        }
        let bits = (self.buf >> 48) as i32; // 16 bits
        let mut len = LUT_BITS + 1;
        while len <= 16 {
            let code = bits >> (16 - len);
            if code <= table.maxcode[len as usize] {
                self.buf <<= len;
                self.n -= len;
                let index = (code + table.delta[len as usize]) as usize;
                return table.values.get(index).copied().ok_or("bad Huffman code");
            }
            len += 1;
        }
        Err("bad Huffman code")
    }

    /// Read `count` (0..=16) bits as a signed coefficient (T.81 F.2.2.1 EXTEND).
    #[inline(always)]
    pub fn signed(&mut self, count: u32) -> i32 {
        if count == 0 {
            return 0;
        }
        extend(self.raw(count) as i32, count)
    }

    /// Read one bit (refinement passes read one per coefficient).
    #[inline(always)]
    pub fn bit(&mut self) -> bool {
        if self.n == 0 {
            self.refill();
        }
        let set = self.buf >> 63 == 1;
        self.buf <<= 1;
        self.n -= 1;
        set
    }

    /// Read `count` (0..=16) bits as an unsigned number.
    #[inline(always)]
    pub fn raw(&mut self, count: u32) -> u32 {
        if count == 0 {
            return 0;
        }
        if self.n < count {
            self.refill();
        }
        let v = (self.buf >> (64 - count)) as u32;
        self.buf <<= count;
        self.n -= count;
        v
    }

    /// Where the first marker after the data read so far starts (stuffed bytes and
    /// restart markers skipped): the end of this scan.
    pub fn next_marker(&self) -> usize {
        let mut at = self.pos;
        while at + 1 < self.data.len() {
            if self.data[at] == 0xFF && !matches!(self.data[at + 1], 0x00 | 0xD0..=0xD7 | 0xFF) {
                return at;
            }
            at += 1;
        }
        self.data.len()
    }

    /// Skip `count` (0..=16) bits.
    #[inline(always)]
    pub fn skip(&mut self, count: u32) {
        self.raw(count);
    }

    /// Whether decoding has gone well past the end of the entropy-coded data: the scan
    /// ended early (a legitimate reader stops within a few bytes of zero fill).
    pub fn overrun(&self) -> bool {
        self.filled > 64
    }

    /// At a restart interval's end: drop the buffered bits and expect RSTn here.
    pub fn restart(&mut self, expected: u8) -> Result<(), Error> {
        // Bytes taken into the buffer but not consumed are padding; the marker follows.
        let mut at = self.pos;
        while self.data.get(at) == Some(&0xFF) && self.data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if self.data.get(at..at + 2) != Some(&[0xFF, 0xD0 + expected]) {
            return Err("restart marker missing or out of order");
        }
        self.pos = at + 2;
        self.buf = 0;
        self.n = 0;
        self.hit_marker = false;
        self.filled = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_short_and_long_decode() {
        // Two 1-bit codes would fill the space; use lengths 2, 2, 3, and one of 12 bits.
        let mut counts = [0u8; 16];
        counts[1] = 2; // 00, 01
        counts[2] = 1; // 100
        counts[11] = 1; // 1010_0000_0000
        let table = Table::new(&counts, &[7, 8, 9, 42]).unwrap();
        // 01 | 100 | 1010_0000_0000 | 00 → bits: 0110 0101 0000 0000 00xx
        let data = [0b0110_0101, 0b0000_0000, 0b0000_0000];
        let mut bits = Bits::new(&data);
        assert_eq!(bits.symbol(&table), Ok(8));
        assert_eq!(bits.symbol(&table), Ok(9));
        assert_eq!(bits.symbol(&table), Ok(42));
        assert_eq!(bits.symbol(&table), Ok(7));
    }

    #[test]
    fn stuffed_bytes_and_markers() {
        let data = [0xFF, 0x00, 0x80, 0xFF, 0xD9];
        let mut bits = Bits::new(&data);
        assert_eq!(bits.signed(8), 255);
        assert_eq!(bits.signed(1), 1);
        assert_eq!(bits.signed(3), -7); // 000 → -(2^3 - 1)
        assert!(bits.hit_marker);
    }

    #[test]
    fn overfull_tables_are_refused() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes cannot exist
        assert!(Table::new(&counts, &[1, 2, 3]).is_err());
        counts[0] = 1;
        assert!(Table::new(&counts, &[]).is_err());
    }
}
