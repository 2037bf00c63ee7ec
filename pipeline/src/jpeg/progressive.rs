//! Progressive JPEG (ITU T.81 G.1.2): a frame's coefficients arrive over several scans —
//! the DC of all components first, then bands of AC coefficients per component, each
//! perhaps first in coarse bits and then refined bit by bit (successive approximation).
//! So, unlike baseline, nothing can be turned into pixels until the last scan: this keeps
//! every block's 64 coefficients (2 bytes each, the reason a progressive photo counts at
//! full size against the decode cap) and runs the reduced IDCT once per block at the end.

use super::decoder::{planes, Frame, Planes, Tables, ZIGZAG};
use super::huffman::{Bits, Error, Fast, Table};
use super::idct::idct_scaled;

/// Every block's coefficients, per component, in the frame's MCU layout.
pub struct Coefficients {
    /// Per component: blocks across (MCU layout), and 64 coefficients (natural order) a block.
    components: Vec<(usize, Vec<i16>)>,
    /// Per component, per block: which AC coefficients are non-zero, bit k for zig-zag
    /// index k — so a refinement pass visits only those, not all 63 positions of a
    /// block that is mostly zeros (measured: that loop was 15 % of a server's CPU on
    /// progressive web photos).
    nonzero: Vec<Vec<u64>>,
}

/// What one scan adds (T.81 G.1.2: Ss, Se, Ah, Al).
struct Band {
    start: usize,
    end: usize,
    refine: bool,
    shift: u32,
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

    /// Decode one scan whose header is `sos` and whose data starts at `bytes[start]`;
    /// returns where the next marker after it starts.
    pub fn decode_scan(
        &mut self,
        bytes: &[u8],
        start: usize,
        sos: &[u8],
        frame: &Frame,
        tables: &Tables,
        restart_interval: usize,
    ) -> Result<usize, Error> {
        let count = usize::from(*sos.first().ok_or("short scan header")?);
        let header = sos.get(1..4 + 2 * count).ok_or("short scan header")?;
        let mut scan = Vec::with_capacity(count); // (component, DC table, AC table)
        for s in header[..2 * count].chunks_exact(2) {
            let c =
                frame.components.iter().position(|c| c.id == s[0]).ok_or("unknown component")?;
            let dc = tables.dc.get(usize::from(s[1] >> 4)).and_then(Option::as_ref);
            let ac = tables.ac.get(usize::from(s[1] & 15)).and_then(Option::as_ref);
            scan.push((c, dc, ac));
        }
        let tail = &header[2 * count..];
        let band = Band {
            start: usize::from(tail[0]),
            end: usize::from(tail[1]),
            refine: tail[2] >> 4 != 0,
            shift: u32::from(tail[2] & 15),
        };
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
        let data = bytes.get(start..).ok_or("no scan data")?;
        let mut bits = Bits::new(data);
        let (mut preds, mut eobrun, mut restarts) = ([0i32; 3], 0usize, 0u8);
        let factors = frame.factors();
        // The units a restart interval counts: MCUs when interleaved, blocks when not.
        let (mcux, mcuy) = frame.mcus();
        let (hmax, vmax) = frame.max_factors();
        let first = scan[0].0;
        let single_across = (frame.width * factors[first].0).div_ceil(hmax).div_ceil(8);
        let single_down = (frame.height * factors[first].1).div_ceil(vmax).div_ceil(8);
        let unit_count = if count > 1 { mcux * mcuy } else { single_across * single_down };
        let mut blocks = Vec::with_capacity(10);
        for u in 0..unit_count {
            blocks.clear();
            if count > 1 {
                let (mx, my) = (u % mcux, u / mcux);
                for &(c, _, _) in &scan {
                    let ((h, v), across) = (factors[c], self.components[c].0);
                    for by in 0..v {
                        for bx in 0..h {
                            blocks.push((c, (my * v + by) * across + mx * h + bx));
                        }
                    }
                }
            } else {
                let across = self.components[first].0;
                blocks.push((first, (u / single_across) * across + u % single_across));
            }
            if restart_interval > 0 && u > 0 && u % restart_interval == 0 {
                bits.restart(restarts)?;
                restarts = (restarts + 1) & 7;
                (preds, eobrun) = ([0; 3], 0);
            }
            if bits.overrun() {
                return Err("scan data ends early");
            }
            for &(c, block) in &blocks {
                let coef = &mut self.components[c].1[block * 64..block * 64 + 64];
                let mask = &mut self.nonzero[c][block];
                let eobrun = &mut eobrun;
                let (_, dc, ac) = scan.iter().find(|s| s.0 == c).ok_or("component")?;
                if dc_only {
                    if band.refine {
                        coef[0] |= i16::from(bits.bit()) << band.shift;
                    } else {
                        let dc = dc.ok_or("missing DC table")?;
                        let t = u32::from(bits.symbol(dc)?);
                        if t > 11 {
                            return Err("DC difference too large");
                        }
                        preds[c] = preds[c].wrapping_add(bits.signed(t));
                        coef[0] = preds[c].wrapping_mul(1 << band.shift) as i16;
                    }
                } else {
                    let ac = ac.ok_or("missing AC table")?;
                    if band.refine {
                        refine_ac(&mut bits, ac, &band, AcBlock { coef, mask, eobrun })?;
                    } else {
                        first_ac(&mut bits, ac, &band, AcBlock { coef, mask, eobrun })?;
                    }
                }
            }
        }
        Ok(start + bits.next_marker())
    }

    /// Dequantise and run the reduced IDCT on every block.
    pub fn to_planes(&self, frame: &Frame, tables: &Tables, n: usize) -> Result<Planes, Error> {
        let mut out = planes(frame, n);
        for (c, ((across, coefs), (plane, stride))) in
            self.components.iter().zip(out.iter_mut()).enumerate()
        {
            let q = tables.quant[frame.components[c].tq]
                .as_ref()
                .ok_or("missing quantisation table")?;
            let mut natural_q = [0i32; 64];
            for (k, &z) in ZIGZAG.iter().enumerate() {
                natural_q[z] = q[k];
            }
            for (b, block) in coefs.chunks_exact(64).enumerate() {
                let mut dequantised = [0i32; 64];
                for ((d, &x), &q) in dequantised.iter_mut().zip(block).zip(&natural_q) {
                    *d = i32::from(x).wrapping_mul(q);
                }
                let (x, y) = ((b % across) * n, (b / across) * n);
                let last = (0..64).rev().find(|&k| block[ZIGZAG[k]] != 0).unwrap_or(0);
                idct_scaled(&dequantised, last, n, &mut plane[y * *stride + x..], *stride);
            }
        }
        Ok(out)
    }
}

/// What an AC pass changes for one block: its coefficients, their non-zero mask, and the
/// scan's end-of-band run (blocks left that have nothing more in this band).
struct AcBlock<'a> {
    coef: &'a mut [i16],
    mask: &'a mut u64,
    eobrun: &'a mut usize,
}

/// The first pass over an AC band (T.81 G.1.2.2): run/size codes, end-of-band runs.
#[inline(never)] // measured: inlined into the scan loop it runs ~10 % slower
fn first_ac(bits: &mut Bits, ac: &Table, band: &Band, block: AcBlock) -> Result<(), Error> {
    let AcBlock { coef, mask, eobrun } = block;
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(());
    }
    let mut k = band.start;
    while k <= band.end {
        // Short codes with their bits in one lookup (end-of-band runs take the slow path).
        let step = bits.fast(ac);
        if step.len != 0 {
            if step.run == Fast::END {
                break;
            }
            k += usize::from(step.run);
            if k > 63 {
                return Err("coefficient index past 63");
            }
            let v = i32::from(step.value).wrapping_mul(1 << band.shift) as i16;
            coef[ZIGZAG[k]] = v;
            *mask |= u64::from(v != 0) << k;
            k += 1;
            continue;
        }
        let rs = bits.symbol(ac)?;
        let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run < 15 {
                *eobrun = (1usize << run) - 1 + bits.raw(run) as usize;
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
        coef[ZIGZAG[k]] = v;
        *mask |= u64::from(v != 0) << k;
        k += 1;
    }
    Ok(())
}

/// A refinement pass over an AC band (T.81 G.1.2.3): one more bit for every coefficient
/// already non-zero, and new coefficients of ±1 (at this bit) placed among the zeros.
#[inline(never)]
fn refine_ac(bits: &mut Bits, ac: &Table, band: &Band, block: AcBlock) -> Result<(), Error> {
    let AcBlock { coef, mask, eobrun } = block;
    let bit = 1i16 << band.shift;
    let refine = |bits: &mut Bits, c: &mut i16| {
        if bits.bit() && *c & bit == 0 {
            *c = if *c > 0 { c.wrapping_add(bit) } else { c.wrapping_sub(bit) };
        }
    };
    // Bits k..=end of the band; the coefficients are visited through the non-zero mask, so
    // a block costs its symbols and its non-zero coefficients, not 63 positions.
    let band_from =
        |k: usize| (u64::MAX >> (63 - band.end)) & u64::MAX.checked_shl(k as u32).unwrap_or(0);
    // Refine (one bit each, in zig-zag order) the non-zero coefficients at positions in
    // `positions`.
    let refine_all = |bits: &mut Bits, coef: &mut [i16], mut positions: u64| {
        while positions != 0 {
            refine(bits, &mut coef[ZIGZAG[positions.trailing_zeros() as usize]]);
            positions &= positions - 1;
        }
    };
    if *eobrun > 0 {
        *eobrun -= 1;
        refine_all(bits, coef, *mask & band_from(band.start));
        return Ok(());
    }
    let mut k = band.start;
    while k <= band.end {
        let rs = bits.symbol(ac)?;
        let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
        let mut value = 0i16;
        if size == 0 {
            if run < 15 {
                // End of band: the rest of this block only gets its refinement bits.
                *eobrun = (1usize << run) - 1 + bits.raw(run) as usize;
                refine_all(bits, coef, *mask & band_from(k));
                break;
            }
            // run 15, size 0: sixteen zeros (the 16th "placed" as 0).
        } else {
            if size != 1 {
                return Err("refinement coefficient larger than one bit");
            }
            value = if bits.bit() { bit } else { -bit };
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
            coef[ZIGZAG[at]] = value;
            *mask |= u64::from(value != 0) << at;
        }
        k = at + 1;
    }
    Ok(())
}
