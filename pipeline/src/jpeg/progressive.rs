//! Progressive JPEG (ITU T.81 G.1.2): a frame's coefficients arrive over several scans —
//! the DC of all components first, then bands of AC coefficients per component, each
//! perhaps first in coarse bits and then refined bit by bit (successive approximation).
//! So, unlike baseline, nothing can be turned into pixels until the last scan: this keeps
//! every block's 64 coefficients (2 bytes each, the reason a progressive photo counts at
//! full size against the decode cap) and runs the reduced IDCT once per block at the end,
//! over the block's non-zero coefficients only (a bit mask per block says which).

use super::bits::Bits;
use super::frame::{Error, Frame};
use super::huffman::{Fast, Table};
use super::idct::{dc_pixel, Rows};
use super::markers::{ScanHeader, Tables};
use super::planes::{planes, Plane};

/// Every block's coefficients, per component, in the frame's MCU layout.
pub struct Coefficients {
    /// Per component: blocks across (MCU layout), and 64 coefficients a block, in zig-zag
    /// order (the order every pass and the IDCT visit them in).
    components: Vec<(usize, Vec<i16>)>,
    /// Per component, per block: which AC coefficients are non-zero, bit k for zig-zag
    /// index k — so a refinement pass and the IDCT visit only those, not all 63 positions
    /// of a block that is mostly zeros.
    nonzero: Vec<Vec<u64>>,
}

/// What one scan adds (T.81 G.1.2: Ss, Se, Ah, Al).
struct Band {
    start: usize,
    end: usize,
    refine: bool,
    shift: u32,
}

/// One component of a scan as the block loop needs it.
struct ScanComponent<'t> {
    index: usize,
    dc: Option<&'t Table>,
    ac: Option<&'t Table>,
}

impl Coefficients {
    pub fn new(frame: &Frame) -> Self {
        let (mcux, mcuy) = frame.mcus();
        let components = frame
            .factors()
            .iter()
            .map(|&(h, v)| (mcux * h, vec![0i16; mcux * h * mcuy * v * 64]))
            .collect::<Vec<_>>();
        let nonzero = components.iter().map(|(_, c)| vec![0u64; c.len() / 64]).collect();
        Coefficients { components, nonzero }
    }

    /// Decode one scan whose entropy-coded data starts at `data[0]`; returns the length
    /// of that data (where the next marker starts).
    pub fn decode_scan(
        &mut self,
        data: &[u8],
        scan: &ScanHeader,
        frame: &Frame,
        tables: &Tables,
        restart_interval: usize,
    ) -> Result<usize, Error> {
        let count = scan.components.len();
        let band =
            Band { start: scan.start, end: scan.end, refine: scan.refine, shift: scan.shift };
        let dc_only = band.start == 0;
        if band.start > band.end
            || band.end > 63
            || (dc_only && band.end != 0)
            || (!dc_only && count != 1)
            || band.shift > 13
            || count == 0
        {
            return Err("bad progressive scan parameters");
        }
        let comps: Vec<ScanComponent> = scan
            .components
            .iter()
            .map(|s| ScanComponent {
                index: s.index,
                dc: tables.dc.get(s.dc).and_then(Option::as_ref),
                ac: tables.ac.get(s.ac).and_then(Option::as_ref),
            })
            .collect();
        let factors = frame.factors();
        let mut bits = Bits::new(data);
        let (mut preds, mut eobrun, mut restarts) = ([0i32; 3], 0usize, 0u8);
        // The units a restart interval counts: MCUs when interleaved, blocks when not.
        let (mcux, mcuy) = frame.mcus();
        let (single_across, single_down) = frame.own_blocks(comps[0].index);
        let unit_count = if count > 1 { mcux * mcuy } else { single_across * single_down };
        let mut left = restart_interval;
        for u in 0..unit_count {
            if restart_interval > 0 {
                if left == 0 {
                    bits = bits.restart(restarts)?;
                    restarts = (restarts + 1) & 7;
                    (preds, eobrun) = ([0; 3], 0);
                    left = restart_interval;
                }
                left -= 1;
            }
            if bits.overrun() {
                return Err("scan data ends early");
            }
            if count == 1 {
                let (c, across) = (&comps[0], self.components[comps[0].index].0);
                let block = (u / single_across) * across + u % single_across;
                self.block(&mut bits, c, block, &band, &mut preds, &mut eobrun)?;
                continue;
            }
            let (mx, my) = (u % mcux, u / mcux);
            for c in &comps {
                let ((h, v), across) = (factors[c.index], self.components[c.index].0);
                for by in 0..v {
                    for bx in 0..h {
                        let block = (my * v + by) * across + mx * h + bx;
                        self.block(&mut bits, c, block, &band, &mut preds, &mut eobrun)?;
                    }
                }
            }
        }
        Ok(bits.next_marker())
    }

    /// One block's part of the scan.
    #[inline(always)]
    fn block(
        &mut self,
        bits: &mut Bits,
        c: &ScanComponent,
        block: usize,
        band: &Band,
        preds: &mut [i32; 3],
        eobrun: &mut usize,
    ) -> Result<(), Error> {
        let coef = self.components[c.index]
            .1
            .get_mut(block * 64..block * 64 + 64)
            .ok_or("block outside the frame")?;
        let mask = &mut self.nonzero[c.index][block];
        bits.ensure();
        if band.start == 0 {
            if band.refine {
                coef[0] |= i16::from(bits.bit()) << band.shift;
            } else {
                let pred = &mut preds[c.index];
                *pred = pred.wrapping_add(c.dc.ok_or("missing DC table")?.dc_diff(bits)?);
                coef[0] = pred.wrapping_mul(1 << band.shift) as i16;
            }
            return Ok(());
        }
        let ac = c.ac.ok_or("missing AC table")?;
        let block = AcBlock { coef, mask, eobrun };
        *bits = if band.refine {
            refine_ac(*bits, ac, band, block)?
        } else {
            first_ac(*bits, ac, band, block)?
        };
        Ok(())
    }

    /// Dequantise and run the reduced IDCT on every block.
    pub fn to_planes(&self, frame: &Frame, tables: &Tables, n: usize) -> Result<Vec<Plane>, Error> {
        let mut out = planes(frame, n);
        for (c, (((across, coefs), masks), plane)) in
            self.components.iter().zip(&self.nonzero).zip(out.iter_mut()).enumerate()
        {
            let q = tables.quant[frame.components[c].tq]
                .as_ref()
                .ok_or("missing quantisation table")?;
            let blocks = coefs.chunks_exact(64).zip(masks).enumerate();
            let stride = plane.stride;
            match n {
                1 => {
                    for (b, (block, _)) in blocks {
                        let dc = i32::from(block[0]).wrapping_mul(q[0]);
                        plane.block(b % across, b / across, 1)[0] = dc_pixel(dc);
                    }
                }
                2 => {
                    let mut rows = Rows::<2>::default();
                    for (b, (block, &mask)) in blocks {
                        let out = plane.block(b % across, b / across, 2);
                        idct_block(&mut rows, block, mask, q, out, stride);
                    }
                }
                _ => {
                    let mut rows = Rows::<4>::default();
                    for (b, (block, &mask)) in blocks {
                        let out = plane.block(b % across, b / across, 4);
                        idct_block(&mut rows, block, mask, q, out, stride);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A block's non-zero coefficients (the DC, then the AC in the mask's zig-zag order),
/// dequantised, through the reduced IDCT into `out`.
#[inline(always)]
fn idct_block<const N: usize>(
    rows: &mut Rows<N>,
    block: &[i16],
    mut mask: u64,
    q: &[i32; 64],
    out: &mut [u8],
    stride: usize,
) {
    let dc = i32::from(block[0]).wrapping_mul(q[0]);
    if mask == 0 {
        rows.finish_dc(dc, out, stride);
        return;
    }
    if dc != 0 {
        rows.add(0, dc);
    }
    while mask != 0 {
        let k = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        let value = i32::from(block[k]).wrapping_mul(q[k]);
        if value != 0 {
            rows.add(k, value);
        }
    }
    rows.finish(out, stride);
}

/// What an AC pass changes for one block: its coefficients, their non-zero mask, and the
/// scan's end-of-band run (blocks left that have nothing more in this band).
struct AcBlock<'a> {
    coef: &'a mut [i16],
    mask: &'a mut u64,
    eobrun: &'a mut usize,
}

/// The first pass over an AC band (T.81 G.1.2.2): run/size codes, end-of-band runs. The
/// reader comes and goes by value (see [`Bits`]).
#[inline(never)] // measured: inlined into the scan loop it runs ~10 % slower
fn first_ac<'a>(
    mut bits: Bits<'a>,
    ac: &Table,
    band: &Band,
    block: AcBlock,
) -> Result<Bits<'a>, Error> {
    let bits = &mut bits;
    let AcBlock { coef, mask, eobrun } = block;
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(*bits);
    }
    let mut k = band.start;
    while k <= band.end {
        bits.ensure();
        // Short codes with their bits in one lookup (end-of-band runs take the slow path).
        let step = ac.fast(bits);
        if step.len() != 0 {
            if step.run() == Fast::END {
                break;
            }
            k += step.run() as usize;
            if k > 63 {
                return Err("coefficient index past 63");
            }
            let v = step.value().wrapping_mul(1 << band.shift) as i16;
            coef[k] = v;
            *mask |= u64::from(v != 0) << k;
            k += 1;
            continue;
        }
        let rs = ac.symbol(bits)?;
        let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run < 15 {
                *eobrun = (1usize << run) - 1 + bits.take(run) as usize;
                break;
            }
            k += 16;
            continue;
        }
        k += run as usize;
        if k > 63 {
            return Err("coefficient index past 63");
        }
        let v = bits.signed(size).wrapping_mul(1 << band.shift) as i16;
        coef[k] = v;
        *mask |= u64::from(v != 0) << k;
        k += 1;
    }
    Ok(*bits)
}

/// A refinement pass over an AC band (T.81 G.1.2.3): one more bit for every coefficient
/// already non-zero, and new coefficients of ±1 (at this bit) placed among the zeros.
#[inline(never)]
fn refine_ac<'a>(
    mut bits: Bits<'a>,
    ac: &Table,
    band: &Band,
    block: AcBlock,
) -> Result<Bits<'a>, Error> {
    let bits = &mut bits;
    let AcBlock { coef, mask, eobrun } = block;
    let bit = 1i16 << band.shift;
    // Bits k..=end of the band; the coefficients are visited through the non-zero mask, so
    // a block costs its symbols and its non-zero coefficients, not 63 positions.
    // (Two shifts, each under 64, so k = 64 gives no bits without a branch.)
    let band_mask = u64::MAX >> (63 - band.end);
    let band_from = |k: usize| band_mask & ((u64::MAX << (k >> 1)) << (k - (k >> 1)));
    let refine_all = |bits: &mut Bits, coef: &mut [i16], positions| {
        refine_all(bits, coef, positions, bit);
    };
    if *eobrun > 0 {
        *eobrun -= 1;
        refine_all(bits, coef, *mask & band_from(band.start));
        return Ok(*bits);
    }
    let mut k = band.start;
    while k <= band.end {
        bits.ensure();
        // Most symbols are (run, 1) with their sign bit, or an EOB: one fast lookup.
        let step = ac.fast(bits);
        let (run, size, mut value) = if step.len() == 0 {
            let rs = ac.symbol(bits)?;
            (u32::from(rs >> 4), u32::from(rs & 15), 0i16)
        } else if step.run() == Fast::END {
            (0, 0, 0)
        } else if step.value() == 0 {
            (15, 0, 0)
        } else if step.value().abs() != 1 {
            return Err("refinement coefficient larger than one bit");
        } else {
            (step.run(), 0x10, if step.value() > 0 { bit } else { -bit })
        };
        if size == 0 {
            if run < 15 {
                // End of band: the rest of this block only gets its refinement bits.
                *eobrun = (1usize << run) - 1 + bits.take(run) as usize;
                refine_all(bits, coef, *mask & band_from(k));
                break;
            }
            // run 15, size 0: sixteen zeros (the 16th "placed" as 0).
        } else if size == 1 {
            value = if bits.take(1) != 0 { bit } else { -bit };
        } else if size != 0x10 {
            return Err("refinement coefficient larger than one bit");
        }
        // The new coefficient goes after `run` zeros; the non-zero ones passed on the way
        // get their refinement bit first.
        let mut zeros = !*mask & band_from(k);
        for _ in 0..run {
            zeros &= zeros.wrapping_sub(1);
        }
        let at = if zeros == 0 { band.end + 1 } else { zeros.trailing_zeros() as usize };
        refine_all(bits, coef, *mask & band_from(k) & !band_from(at));
        if at <= band.end {
            coef[at] = value;
            *mask |= u64::from(value != 0) << at;
        }
        k = at + 1;
    }
    Ok(*bits)
}

/// Refine (one bit each, in zig-zag order) the non-zero coefficients at `positions` by
/// `bit`: their bits come from one 32-bit look at the buffer, not one call per bit.
#[inline(always)]
fn refine_all(bits: &mut Bits, coef: &mut [i16], mut positions: u64, bit: i16) {
    while positions != 0 {
        bits.ensure();
        let (mut word, mut used) = (bits.peek(32) as u32, 0);
        while positions != 0 && used < 32 {
            let c = &mut coef[positions.trailing_zeros() as usize & 63];
            if word >> 31 != 0 && *c & bit == 0 {
                *c = if *c > 0 { c.wrapping_add(bit) } else { c.wrapping_sub(bit) };
            }
            word <<= 1;
            used += 1;
            positions &= positions - 1;
        }
        bits.consume(used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jpeg::bits::from_bit_string;
    use crate::jpeg::frame::Component;
    use crate::jpeg::huffman::Class;
    use crate::jpeg::markers::ScanComponent as Sc;

    /// A 16×8 greyscale frame (two blocks) and an AC table: 00 → EOB, 01 → (0, 1),
    /// 100 → ZRL, 101 → EOBRUN of 2^1 + 1 bit (symbol 0x10).
    fn setup() -> (Frame, Tables) {
        let frame = Frame {
            width: 16,
            height: 8,
            progressive: true,
            components: vec![Component { id: 1, h: 1, v: 1, tq: 0 }],
        };
        let mut counts = [0u8; 16];
        counts[1] = 2;
        counts[2] = 2;
        let mut tables = Tables::default();
        tables.ac[0] =
            Some(Table::new(&counts, &[0x00, 0x01, 0xF0, 0x10], Class::Ac, false).unwrap());
        tables.quant[0] = Some([1; 64]);
        (frame, tables)
    }

    fn scan(start: usize, end: usize, refine: bool, shift: u32) -> ScanHeader {
        ScanHeader { components: vec![Sc { index: 0, dc: 0, ac: 0 }], start, end, refine, shift }
    }

    fn bytes(stream: &str) -> Vec<u8> {
        from_bit_string(stream, &[0xFF, 0xD9])
    }

    #[test]
    fn an_end_of_band_run_covers_the_following_blocks() {
        let (frame, tables) = setup();
        let mut c = Coefficients::new(&frame);
        // Block 0: +1 at k=1 (01 1), then the EOBRUN symbol (101) with run 1 and its bit 1:
        // this block and two more end here, so block 1 reads nothing.
        let data = bytes("0111011");
        assert_eq!(c.decode_scan(&data, &scan(1, 5, false, 0), &frame, &tables, 0), Ok(1));
        assert_eq!(c.components[0].1[1], 1);
        assert_eq!(c.nonzero[0], vec![0b10, 0]);
        // A refinement pass at bit 1: block 0 ends its band at once (EOB, 00) and its one
        // non-zero coefficient takes the correction bit 1, away from zero; block 1 too
        // (00), with nothing to refine.
        let refined = bytes("00100");
        assert_eq!(c.decode_scan(&refined, &scan(1, 5, true, 1), &frame, &tables, 0), Ok(1));
        assert_eq!(c.components[0].1[1], 3);
        // The IDCT then sees DC 0 and that coefficient.
        let planes = c.to_planes(&frame, &tables, 1).unwrap();
        assert_eq!(planes[0].pixels[..2], [128, 128]);
    }

    #[test]
    fn coefficient_past_the_band_end_is_refused() {
        let (frame, tables) = setup();
        let mut c = Coefficients::new(&frame);
        // Four ZRLs from k=1 run past 63.
        let data = bytes(&"100".repeat(4));
        assert!(c.decode_scan(&data, &scan(1, 63, false, 0), &frame, &tables, 0).is_err());
        // A scan whose band is inverted or reaches past 63 is refused before any data.
        assert!(c.decode_scan(&data, &scan(5, 1, false, 0), &frame, &tables, 0).is_err());
        assert!(c.decode_scan(&data, &scan(1, 64, false, 0), &frame, &tables, 0).is_err());
    }
}
