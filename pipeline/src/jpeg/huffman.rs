//! Canonical Huffman tables (ITU T.81 Annex C) and the symbol-level decoding the scan
//! decoders share. Each table is expanded into three lookups indexed by the next
//! [`LUT_BITS`] bits of the stream, so that nearly every symbol costs one load and one
//! shift, with no branch per bit:
//! - `fast`: the whole coefficient — code *and* its extra bits — when both fit: the DC
//!   difference, or an AC run and value (what the ½- and ¼-scale IDCTs need);
//! - `skip`: an AC symbol's total length (code + extra bits) and how far it moves along
//!   the block, for the ⅛ scale, which must step over every AC coefficient but uses none;
//! - `lut`: the symbol alone, for codes whose extra bits do not fit;
//!
//! and codes longer than `LUT_BITS` fall back to the canonical `maxcode` search.

use super::bits::{extend, Bits};
use super::frame::Error;

/// Bits of lookahead the tables are indexed by.
pub const LUT_BITS: u32 = 10;
const LUT_SIZE: usize = 1 << LUT_BITS;

/// One coefficient decoded from a prefix: `value` after `run` zeros, `len` bits in all
/// (code + extra bits); `len` 0: not decodable from the prefix alone. For AC tables an
/// end of block is `run` [`Fast::END`], and a run of sixteen zeros is run 15, value 0.
/// Packed in one word (value, run, len from the top), so a lookup is one load.
#[derive(Clone, Copy, Default)]
pub struct Fast(u32);

impl Fast {
    pub const END: u32 = 64;

    fn new(value: i32, run: u8, len: u32) -> Self {
        Fast((value as u32) << 16 | u32::from(run) << 8 | len)
    }

    #[inline(always)]
    pub fn len(self) -> u32 {
        self.0 & 0xFF
    }

    #[inline(always)]
    pub fn run(self) -> u32 {
        (self.0 >> 8) & 0xFF
    }

    #[inline(always)]
    pub fn value(self) -> i32 {
        self.0 as i32 >> 16
    }
}

/// A `skip` entry: low byte the symbol's total length (0: slow path), high byte how many
/// positions it advances (run + 1, or 16), or [`SKIP_END`] for an end of block.
const SKIP_END: u16 = 0xFF;

/// Bits of lookahead of the multi-symbol skip table: as many whole AC symbols (codes and
/// extra bits) as fit in them, stepped over in one lookup. A photo's AC symbols average
/// about 5 bits at ⅛ scale's typical qualities, so one lookup takes two or more.
const MULTI_BITS: u32 = 12;

/// Whether a table codes DC differences (symbol = size) or AC run/size pairs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Dc,
    Ac,
}

pub struct Table {
    /// `(code length << 8) | symbol` for codes of at most LUT_BITS bits, 0 otherwise.
    lut: Box<[u16; LUT_SIZE]>,
    fast: Box<[Fast; LUT_SIZE]>,
    skip: Box<[u16; LUT_SIZE]>,
    /// For skipping, whole AC symbols in the next MULTI_BITS bits: bits 0–3 their total
    /// length (0: none fits, take one symbol the other way), bit 4 whether the last is an
    /// end of block, bits 5+ how many positions the others advance. Built only for the ⅛
    /// scale (`Table::new`'s `for_skipping`).
    multi: Option<Box<[u16; 1 << MULTI_BITS]>>,
    /// Largest code of each length (-1 when none), lengths 1..=16; [17] a sentinel.
    maxcode: [i32; 18],
    /// Index into `values` of the first code of each length, minus that code.
    delta: [i32; 17],
    values: Vec<u8>,
}

fn boxed<T: Copy, const N: usize>(fill: T) -> Box<[T; N]> {
    vec![fill; N].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!())
}

impl Table {
    /// Build from a DHT segment's 16 counts and the symbols that follow them;
    /// `for_skipping`: also the multi-symbol table for stepping over AC coefficients.
    pub fn new(
        counts: &[u8; 16],
        values: &[u8],
        class: Class,
        for_skipping: bool,
    ) -> Result<Table, Error> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || total > values.len() {
            return Err("Huffman table has more codes than symbols");
        }
        let mut lut: Box<[u16; LUT_SIZE]> = boxed(0);
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
                    lut[first..first + (1 << shift)]
                        .fill(((len as u16) << 8) | u16::from(values[k]));
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
        let mut fast: Box<[Fast; LUT_SIZE]> = boxed(Fast::default());
        let mut skip: Box<[u16; LUT_SIZE]> = boxed(0);
        for (prefix, &entry) in lut.iter().enumerate() {
            let code_len = u32::from(entry >> 8);
            if code_len == 0 {
                continue;
            }
            let symbol = entry as u8;
            let (run, size) = match class {
                Class::Dc => (0, u32::from(symbol)),
                Class::Ac => (symbol >> 4, u32::from(symbol & 15)),
            };
            if class == Class::Ac {
                skip[prefix] = match (run, size) {
                    (0, 0) => (SKIP_END << 8) | code_len as u16,
                    (15, 0) => (16 << 8) | code_len as u16,
                    (_, 0) => 0, // not a valid AC symbol; the slow path reports it
                    _ => (u16::from(run + 1) << 8) | (code_len + size) as u16,
                };
            }
            if code_len + size > LUT_BITS || (class == Class::Dc && size > 11) {
                continue;
            }
            let len = code_len + size;
            fast[prefix] = match (class, run, size) {
                (Class::Dc, _, 0) => Fast::new(0, 0, len),
                (Class::Ac, 0, 0) => Fast::new(0, Fast::END as u8, len),
                (Class::Ac, 15, 0) => Fast::new(0, 15, len),
                (Class::Ac, _, 0) => continue,
                _ => {
                    let bits = (prefix >> (LUT_BITS - code_len - size)) as i32 & ((1 << size) - 1);
                    Fast::new(extend(bits, size), run, len)
                }
            };
        }
        let multi = (for_skipping && class == Class::Ac).then(|| multi_table(&lut));
        Ok(Table { lut, fast, skip, multi, maxcode, delta, values: values[..total].to_vec() })
    }

    /// The coefficient at the reader's position, consumed when `len` ≠ 0 (needs
    /// [`super::bits::SYMBOL_BITS`] buffered, as every method here).
    #[inline(always)]
    pub fn fast(&self, bits: &mut Bits) -> Fast {
        let step = self.fast[bits.peek(LUT_BITS)];
        bits.consume(step.len());
        step
    }

    /// The coefficient at the reader's position, not consumed.
    #[inline(always)]
    pub fn peek_fast(&self, bits: &Bits) -> Fast {
        self.fast[bits.peek(LUT_BITS)]
    }

    /// Decode one symbol.
    #[inline(always)]
    pub fn symbol(&self, bits: &mut Bits) -> Result<u8, Error> {
        let entry = self.lut[bits.peek(LUT_BITS)];
        if entry != 0 {
            bits.consume(u32::from(entry >> 8));
            return Ok(entry as u8);
        }
        let (len, symbol) = self.long_symbol(*bits)?;
        bits.consume(len);
        Ok(symbol)
    }

    /// A code longer than LUT_BITS: its length and symbol (the reader by value, so that
    /// the caller's stays in registers).
    #[inline(never)]
    fn long_symbol(&self, bits: Bits) -> Result<(u32, u8), Error> {
        let prefix = bits.peek(16) as i32;
        for len in LUT_BITS + 1..=16 {
            let code = prefix >> (16 - len);
            if code <= self.maxcode[len as usize] {
                let index = (code + self.delta[len as usize]) as usize;
                return Ok((len, *self.values.get(index).ok_or("bad Huffman code")?));
            }
        }
        Err("bad Huffman code")
    }

    /// A DC difference (this is a DC table).
    #[inline(always)]
    pub fn dc_diff(&self, bits: &mut Bits) -> Result<i32, Error> {
        let step = self.fast(bits);
        if step.len() != 0 {
            return Ok(step.value());
        }
        let size = u32::from(self.symbol(bits)?);
        if size > 11 {
            return Err("DC difference too large");
        }
        Ok(bits.signed(size))
    }

    /// Step over the AC coefficients of one block (an AC table built `for_skipping`),
    /// reading every code and dropping its extra bits unread: the ⅛ scale uses only the
    /// DC. Several symbols per lookup while they stay inside the block; one at a time near
    /// its end (where the 64th coefficient or an error must be noticed exactly).
    #[inline(always)]
    pub fn skip_ac(&self, bits: &mut Bits) -> Result<(), Error> {
        let multi = self.multi.as_deref().ok_or("no skip table")?;
        let mut k = 1u32;
        loop {
            bits.ensure();
            let group = u32::from(multi[bits.peek(MULTI_BITS)]);
            let (eob, advance) = ((group >> 4) & 1, group >> 5);
            if group != 0 && k + advance + eob <= 64 {
                bits.consume(group & 15);
                k += advance;
                if eob != 0 || k == 64 {
                    return Ok(());
                }
                continue;
            }
            let entry = self.skip[bits.peek(LUT_BITS)];
            let advance = u32::from(entry >> 8);
            if entry == 0 {
                // A code longer than the lookahead (or an invalid symbol).
                let rs = self.symbol(bits)?;
                let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
                if size == 0 && run != 15 {
                    return Ok(()); // end of block
                }
                bits.consume(size);
                k += if size == 0 { 16 } else { run + 1 };
            } else {
                bits.consume(u32::from(entry & 0xFF));
                if advance == u32::from(SKIP_END) {
                    return Ok(());
                }
                k += advance;
            }
            if k >= 64 {
                return if k == 64 { Ok(()) } else { Err("coefficient index past 63") };
            }
        }
    }
}

/// The multi-symbol skip table of an AC code (see [`Table::skip_ac`]) from its `lut`.
fn multi_table(lut: &[u16; LUT_SIZE]) -> Box<[u16; 1 << MULTI_BITS]> {
    let mut multi: Box<[u16; 1 << MULTI_BITS]> = boxed(0);
    for (prefix, slot) in multi.iter_mut().enumerate() {
        let (mut at, mut advance, mut eob) = (0u32, 0u32, 0u32);
        while at < MULTI_BITS && advance < 64 {
            let rest = MULTI_BITS - at;
            // The next LUT_BITS bits from `at` (zeros past the prefix's end).
            let window = (prefix << at) & ((1 << MULTI_BITS) - 1);
            let entry = lut[window >> (MULTI_BITS - LUT_BITS)];
            let code_len = u32::from(entry >> 8);
            let (run, size) = (u32::from(entry as u8 >> 4), u32::from(entry & 15));
            if code_len == 0 || code_len + size > rest || (size == 0 && run != 0 && run != 15) {
                break;
            }
            at += code_len + size;
            if size == 0 && run == 0 {
                eob = 1;
                break;
            }
            advance += if size == 0 { 16 } else { run + 1 };
        }
        if at > 0 {
            *slot = (at | eob << 4 | advance << 5) as u16;
        }
    }
    multi
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jpeg::bits::from_bit_string;

    /// Lengths 2, 2, 3 and one of 12 bits (a long code).
    fn table(values: &[u8], class: Class) -> Table {
        let mut counts = [0u8; 16];
        counts[1] = 2; // 00, 01
        counts[2] = 1; // 100
        counts[11] = 1; // 1010_0000_0000
        Table::new(&counts, values, class, true).unwrap()
    }

    #[test]
    fn codes_short_and_long_decode() {
        let table = table(&[7, 8, 9, 42], Class::Ac);
        // 01 | 100 | 1010_0000_0000 | 00 → bits: 0110 0101 0000 0000 00xx
        let data = [0b0110_0101, 0b0000_0000, 0b0000_0000];
        let mut bits = Bits::new(&data);
        bits.ensure();
        assert_eq!(table.symbol(&mut bits), Ok(8));
        assert_eq!(table.symbol(&mut bits), Ok(9));
        assert_eq!(table.symbol(&mut bits), Ok(42));
        assert_eq!(table.symbol(&mut bits), Ok(7));
    }

    #[test]
    fn a_code_that_is_not_in_the_table_is_an_error() {
        // 1011_1111_1111_1111: longer than every code of its prefix, matches none.
        let table = table(&[7, 8, 9, 42], Class::Ac);
        let mut bits = Bits::new(&[0b1011_1111, 0xFF, 0x00, 0xFF, 0x00]);
        bits.ensure();
        assert_eq!(table.symbol(&mut bits), Err("bad Huffman code"));
    }

    #[test]
    fn overfull_tables_are_refused() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes cannot exist
        assert!(Table::new(&counts, &[1, 2, 3], Class::Ac, false).is_err());
        counts[0] = 1;
        assert!(Table::new(&counts, &[], Class::Ac, false).is_err());
    }

    #[test]
    fn dc_differences_short_long_and_too_large() {
        // Symbols (sizes): 00 → 3, 01 → 0, 100 → 12 (too large), long → 11.
        let table = table(&[3, 0, 12, 11], Class::Dc);
        // 00 101 (+5) | 01 (0) | 1010_0000_0000 + 11 bits 000_0000_0001 (-2046) | 100
        let data = bytes(&["00101", "01", "101000000000", "00000000001", "100"].concat());
        let mut bits = Bits::new(&data);
        bits.ensure();
        assert_eq!(table.dc_diff(&mut bits), Ok(5));
        assert_eq!(table.dc_diff(&mut bits), Ok(0));
        assert_eq!(table.dc_diff(&mut bits), Ok(-2046));
        bits.ensure();
        assert_eq!(table.dc_diff(&mut bits), Err("DC difference too large"));
    }

    /// An AC table: 00 → EOB (0x00), 01 → (run 0, size 1), 100 → ZRL (0xF0), and a
    /// 12-bit code for (run 2, size 3).
    fn ac() -> Table {
        table(&[0x00, 0x01, 0xF0, 0x23], Class::Ac)
    }

    fn bytes(stream: &str) -> Vec<u8> {
        from_bit_string(stream, &[0; 4])
    }

    #[test]
    fn skipping_ac_stops_at_the_end_of_block_or_the_64th_coefficient() {
        let table = ac();
        // ±1 twice, the long code with 3 extra bits, EOB; then a marker bit pattern
        // 01 that must stay unread.
        let data = bytes(&"011010 101000000000101 00 01".replace(' ', ""));
        let mut bits = Bits::new(&data);
        assert_eq!(table.skip_ac(&mut bits), Ok(()));
        bits.ensure();
        assert_eq!(bits.take(2), 0b01);
        // Three ZRLs (48 zeros) and 15 ±1s reach exactly 63 → the block ends, no EOB.
        let full = "100".repeat(3) + &"011".repeat(15) + "11";
        let data = bytes(&full);
        let mut bits = Bits::new(&data);
        assert_eq!(table.skip_ac(&mut bits), Ok(()));
        bits.ensure();
        assert_eq!(bits.take(2), 0b11);
        // Four ZRLs run past coefficient 63.
        let data = bytes(&"100".repeat(4));
        assert_eq!(ac().skip_ac(&mut Bits::new(&data)), Err("coefficient index past 63"));
    }

    #[test]
    fn skipping_stops_exactly_where_each_block_ends() {
        // Random blocks of ±1 (01x), the 12-bit long code with 3 bits, ZRLs (100), ended
        // by EOB (00) or by reaching coefficient 63; each followed by 16 marker bits that
        // must be what the reader holds after the skip — through the multi-symbol lookups
        // and the one-at-a-time path near the block's end alike.
        let table = ac();
        let mut seed = 7u32;
        let mut next = |m: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) % m
        };
        for _ in 0..500 {
            let mut stream = String::new();
            let mut k = 1;
            loop {
                match next(8) {
                    0 if k <= 48 => {
                        stream += "100";
                        k += 16;
                    }
                    1 if k <= 61 => {
                        stream += &format!("101000000000{:03b}", next(8));
                        k += 3;
                    }
                    2 => {
                        stream += "00";
                        break;
                    }
                    _ => {
                        stream += &format!("01{}", next(2));
                        k += 1;
                    }
                }
                if k == 64 {
                    break;
                }
            }
            let marker = next(1 << 16);
            stream += &format!("{marker:016b}");
            let data = bytes(&stream);
            let mut bits = Bits::new(&data);
            assert_eq!(table.skip_ac(&mut bits), Ok(()), "{stream}");
            bits.ensure();
            assert_eq!(bits.take(16), marker, "{stream}");
        }
    }

    #[test]
    fn fast_entries_give_run_value_and_length() {
        let table = ac();
        let data = bytes("01001110000");
        let mut bits = Bits::new(&data);
        bits.ensure();
        let a = table.fast(&mut bits);
        assert_eq!((a.run(), a.value(), a.len()), (0, -1, 3));
        let b = table.fast(&mut bits);
        assert_eq!((b.run(), b.value(), b.len()), (0, 1, 3));
        let z = table.fast(&mut bits);
        assert_eq!((z.run(), z.value(), z.len()), (15, 0, 3));
        let e = table.fast(&mut bits);
        assert_eq!((e.run(), e.len()), (Fast::END, 2));
    }
}
