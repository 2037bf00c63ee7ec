//! The one interleaved scan of a baseline (sequential) frame, decoded block by block
//! straight into the planes: each block's DC and AC codes are read ([`super::huffman`]),
//! and each non-zero coefficient is dequantised and folded into the reduced IDCT's row
//! accumulators as it comes ([`super::idct::Rows`]); at ⅛ scale the AC codes are only
//! stepped over (lengths from one lookup, no values), since the output is the DC alone.
//! No block of 64 coefficients exists at any point.

use super::bits::Bits;
use super::frame::{Error, Frame};
use super::huffman::{Fast, Table};
use super::idct::{dc_pixel, Rows};
use super::markers::{ScanHeader, Tables};
use super::planes::{planes, Plane};

/// One scan component as the block loop needs it.
struct Component<'t> {
    dc: &'t Table,
    ac: &'t Table,
    /// Quantisation table, zig-zag order.
    q: &'t [i32; 64],
    /// Blocks across and down in one MCU.
    h: usize,
    v: usize,
}

/// Decode the scan whose entropy-coded data starts at `data[0]` into planes at `n`/8.
pub fn decode(
    data: &[u8],
    scan: &ScanHeader,
    frame: &Frame,
    tables: &Tables,
    restart_interval: usize,
    n: usize,
) -> Result<Vec<Plane>, Error> {
    if scan.components.len() != frame.components.len() {
        return Err("components in separate scans");
    }
    let factors = frame.factors();
    let mut comps = Vec::with_capacity(scan.components.len());
    for (i, s) in scan.components.iter().enumerate() {
        if s.index != i {
            return Err("scan components out of frame order");
        }
        let (h, v) = factors[i];
        comps.push(Component {
            dc: tables.dc.get(s.dc).and_then(Option::as_ref).ok_or("missing DC table")?,
            ac: tables.ac.get(s.ac).and_then(Option::as_ref).ok_or("missing AC table")?,
            q: tables.quant[frame.components[i].tq].as_ref().ok_or("missing quantisation table")?,
            h,
            v,
        });
    }
    let mut out = planes(frame, n);
    let walk = Walk { frame, comps: &comps, restart_interval, n };
    match n {
        1 => walk.run(data, &mut out, |bits, c, pred, px, _| {
            *pred = pred.wrapping_add(c.dc.dc_diff(bits)?);
            px[0] = dc_pixel(pred.wrapping_mul(c.q[0]));
            c.ac.skip_ac(bits)
        })?,
        2 => {
            let mut rows = Rows::<2>::default();
            walk.run(data, &mut out, |bits, c, pred, px, stride| {
                block(bits, c, pred, &mut rows, px, stride)
            })?
        }
        4 => {
            let mut rows = Rows::<4>::default();
            walk.run(data, &mut out, |bits, c, pred, px, stride| {
                block(bits, c, pred, &mut rows, px, stride)
            })?
        }
        _ => return Err("scale must be 1, 2 or 4 eighths"),
    }
    Ok(out)
}

/// The MCU order of an interleaved scan, restart intervals included.
struct Walk<'a, 't> {
    frame: &'a Frame,
    comps: &'a [Component<'t>],
    restart_interval: usize,
    n: usize,
}

impl Walk<'_, '_> {
    /// Call `block(bits, component, its DC predictor, its pixels, their stride)` for every
    /// block of the scan, in order.
    #[inline(always)]
    fn run<F>(&self, data: &[u8], planes: &mut [Plane], mut block: F) -> Result<(), Error>
    where
        F: FnMut(&mut Bits, &Component, &mut i32, &mut [u8], usize) -> Result<(), Error>,
    {
        let (mcux, mcuy) = self.frame.mcus();
        let mut bits = Bits::new(data);
        let mut preds = [0i32; 3];
        let (mut restarts, mut left) = (0u8, self.restart_interval);
        for my in 0..mcuy {
            for mx in 0..mcux {
                if self.restart_interval > 0 {
                    if left == 0 {
                        bits = bits.restart(restarts)?;
                        restarts = (restarts + 1) & 7;
                        preds = [0; 3];
                        left = self.restart_interval;
                    }
                    left -= 1;
                }
                if bits.overrun() {
                    return Err("scan data ends early");
                }
                for ((c, plane), pred) in self.comps.iter().zip(planes.iter_mut()).zip(&mut preds) {
                    let stride = plane.stride;
                    for by in 0..c.v {
                        for bx in 0..c.h {
                            bits.ensure();
                            let px = plane.block(mx * c.h + bx, my * c.v + by, self.n);
                            block(&mut bits, c, pred, px, stride)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// One block's coefficients into `rows` (½ and ¼ scale), then its pixels into `px`.
#[inline(always)]
fn block<const N: usize>(
    bits: &mut Bits,
    c: &Component,
    pred: &mut i32,
    rows: &mut Rows<N>,
    px: &mut [u8],
    stride: usize,
) -> Result<(), Error> {
    *pred = pred.wrapping_add(c.dc.dc_diff(bits)?);
    let dc = pred.wrapping_mul(c.q[0]);
    bits.ensure();
    let first = c.ac.peek_fast(bits);
    if first.len() != 0 && first.run() == Fast::END {
        bits.consume(first.len());
        rows.finish_dc(dc, px, stride);
        return Ok(());
    }
    if dc != 0 {
        rows.add(0, dc);
    }
    let mut k = 1usize;
    while k < 64 {
        bits.ensure();
        let step = c.ac.fast(bits);
        if step.len() != 0 {
            if step.run() == Fast::END {
                break;
            }
            k += step.run() as usize;
            if k > 63 {
                return Err("coefficient index past 63");
            }
            // A ZRL adds a zero term: harmless (see idct.rs), and cheaper than a branch.
            rows.add(k, step.value().wrapping_mul(c.q[k]));
            k += 1;
            continue;
        }
        let rs = c.ac.symbol(bits)?;
        let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run != 15 {
                break; // end of block
            }
            k += 16;
            continue;
        }
        k += run;
        if k > 63 {
            return Err("coefficient index past 63");
        }
        rows.add(k, bits.signed(size).wrapping_mul(c.q[k]));
        k += 1;
    }
    rows.finish(px, stride);
    Ok(())
}
