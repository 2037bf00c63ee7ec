//! A JPEG decoder that only decodes at ½, ¼ or ⅛ scale: markers, then either one
//! interleaved baseline Huffman scan decoded block by block straight into component
//! planes through the reduced IDCT, or the scans of a progressive frame gathered into
//! coefficients ([`super::progressive`]) and put through the reduced IDCT at the end;
//! then chroma upsampling (replication) and YCbCr → RGB at the reduced size. It exists
//! because the decoders on crates.io either cannot scale (zune-jpeg) or spend most of a
//! phone photo's time reading bits one call per byte (jpeg-decoder).
//!
//! Anything outside that — arithmetic coding, 12-bit samples, CMYK, a baseline frame
//! with components in separate scans, a height given by a DNL marker — returns an error
//! and the caller decodes the photo with the general decoder at full size instead; so
//! does any malformed data, which then gets the general decoder's own error message.

use super::huffman::{Bits, Error, Fast, Table};
use super::idct::idct_scaled;
use super::progressive::Coefficients;
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

/// Natural (row-major) index of the k-th coefficient in zig-zag order.
pub(super) const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

pub(super) struct Component {
    pub id: u8,
    pub h: usize,
    pub v: usize,
    pub tq: usize,
}

pub(super) struct Frame {
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
}

#[derive(Default)]
pub(super) struct Tables {
    pub quant: [Option<[i32; 64]>; 4],
    pub dc: [Option<Table>; 4],
    pub ac: [Option<Table>; 4],
}

/// Component planes at the reduced size (padded to whole MCUs): pixels and row stride.
pub(super) type Planes = Vec<(Vec<u8>, usize)>;

/// Empty planes for `frame` at `n`/8 scale.
pub(super) fn planes(frame: &Frame, n: usize) -> Planes {
    let (mcux, mcuy) = frame.mcus();
    frame
        .factors()
        .iter()
        .map(|&(h, v)| (vec![0u8; mcux * h * n * mcuy * v * n], mcux * h * n))
        .collect()
}

/// Decode `bytes` at `n`/8 scale (n = 1, 2 or 4), upright.
pub fn decode(bytes: &[u8], n: usize) -> Result<RgbImage, Error> {
    if !matches!(n, 1 | 2 | 4) {
        return Err("scale must be 1, 2 or 4 eighths");
    }
    if bytes.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err("no start-of-image marker");
    }
    let mut tables = Tables::default();
    let mut frame: Option<Frame> = None;
    let mut coefficients: Option<Coefficients> = None;
    let (mut restart_interval, mut orientation, mut adobe_rgb) = (0usize, None, false);
    let mut at = 2;
    loop {
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if bytes.get(at) != Some(&0xFF) {
            return Err("expected a marker");
        }
        let marker = *bytes.get(at + 1).ok_or("truncated marker")?;
        at += 2;
        if matches!(marker, 0x01 | 0xD0..=0xD8) {
            continue; // markers without a length
        }
        if marker == 0xD9 {
            let (Some(frame), Some(c)) = (&frame, &coefficients) else {
                return Err("end of image before any scan");
            };
            let planes = c.to_planes(frame, &tables, n)?;
            return Ok(orient(to_rgb(frame, &planes, n, adobe_rgb)?, orientation));
        }
        let len = usize::from(u16::from_be_bytes([
            *bytes.get(at).ok_or("truncated segment")?,
            *bytes.get(at + 1).ok_or("truncated segment")?,
        ]));
        let seg = bytes.get(at + 2..at + len.max(2)).ok_or("truncated segment")?;
        at += len.max(2);
        match marker {
            0xDB => read_quant(seg, &mut tables)?,
            0xC4 => read_huffman(seg, &mut tables)?,
            0xC0..=0xC2 if frame.is_some() => return Err("a second frame header"),
            0xC0 | 0xC1 => frame = Some(read_frame(seg, false)?),
            0xC2 => frame = Some(read_frame(seg, true)?),
            0xC3..=0xCF => return Err("not a Huffman-coded DCT JPEG"),
            0xDD => restart_interval = usize::from(be16(seg, 0)?),
            0xE1 if seg.starts_with(b"Exif\0\0") => {
                orientation = Orientation::from_exif_chunk(&seg[6..]);
            }
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => adobe_rgb = seg[11] == 0,
            0xDA => {
                let frame = frame.as_ref().ok_or("scan before frame header")?;
                if frame.progressive {
                    let c = coefficients.get_or_insert_with(|| Coefficients::new(frame));
                    at = c.decode_scan(bytes, at, seg, frame, &tables, restart_interval)?;
                    continue;
                }
                let planes = decode_scan(bytes, at, seg, frame, &tables, restart_interval, n)?;
                return Ok(orient(to_rgb(frame, &planes, n, adobe_rgb)?, orientation));
            }
            _ => {}
        }
    }
}

fn orient(image: RgbImage, orientation: Option<Orientation>) -> RgbImage {
    match orientation {
        None | Some(Orientation::NoTransforms) => image,
        Some(o) => {
            let mut image = DynamicImage::ImageRgb8(image);
            image.apply_orientation(o);
            image.into_rgb8()
        }
    }
}

pub(super) fn be16(seg: &[u8], at: usize) -> Result<u16, Error> {
    Ok(u16::from_be_bytes([
        *seg.get(at).ok_or("short segment")?,
        *seg.get(at + 1).ok_or("short segment")?,
    ]))
}

fn read_quant(mut seg: &[u8], tables: &mut Tables) -> Result<(), Error> {
    while let Some(&pq_tq) = seg.first() {
        let (wide, id) = (pq_tq >> 4 != 0, usize::from(pq_tq & 15));
        let size = if wide { 128 } else { 64 };
        let data = seg.get(1..1 + size).ok_or("short quantisation table")?;
        let mut q = [0i32; 64];
        for (k, q) in q.iter_mut().enumerate() {
            *q = if wide { i32::from(be16(data, 2 * k)?) } else { i32::from(data[k]) };
        }
        *tables.quant.get_mut(id).ok_or("quantisation table id over 3")? = Some(q);
        seg = &seg[1 + size..];
    }
    Ok(())
}

fn read_huffman(mut seg: &[u8], tables: &mut Tables) -> Result<(), Error> {
    while let Some(&tc_th) = seg.first() {
        let counts: &[u8; 16] = seg.get(1..17).ok_or("short Huffman table")?.try_into().unwrap();
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = seg.get(17..17 + total).ok_or("short Huffman table")?;
        let table = Table::new(counts, values)?;
        let id = usize::from(tc_th & 15);
        let slot = if tc_th >> 4 == 0 { &mut tables.dc } else { &mut tables.ac };
        *slot.get_mut(id).ok_or("Huffman table id over 3")? = Some(table);
        seg = &seg[17 + total..];
    }
    Ok(())
}

fn read_frame(seg: &[u8], progressive: bool) -> Result<Frame, Error> {
    if seg.first() != Some(&8) {
        return Err("not 8-bit samples");
    }
    let (height, width) = (usize::from(be16(seg, 1)?), usize::from(be16(seg, 3)?));
    let count = usize::from(*seg.get(5).ok_or("short frame header")?);
    if height == 0 || width == 0 || !matches!(count, 1 | 3) {
        return Err("unsupported frame size or component count");
    }
    let mut components = Vec::with_capacity(count);
    for c in 0..count {
        let s = seg.get(6 + 3 * c..9 + 3 * c).ok_or("short frame header")?;
        let (h, v) = (usize::from(s[1] >> 4), usize::from(s[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || s[2] > 3 {
            return Err("bad sampling factors or table id");
        }
        components.push(Component { id: s[0], h, v, tq: usize::from(s[2]) });
    }
    Ok(Frame { width, height, progressive, components })
}

/// The one scan of a baseline frame, decoded into planes at `n`/8 scale.
fn decode_scan(
    bytes: &[u8],
    data_start: usize,
    sos: &[u8],
    frame: &Frame,
    tables: &Tables,
    restart_interval: usize,
    n: usize,
) -> Result<Planes, Error> {
    let count = usize::from(*sos.first().ok_or("short scan header")?);
    if count != frame.components.len() {
        return Err("components in separate scans");
    }
    // Per scan component: its frame component, DC and AC tables, quantisation table.
    let mut comps = Vec::with_capacity(count);
    for (i, want) in frame.components.iter().enumerate() {
        let s = sos.get(1 + 2 * i..3 + 2 * i).ok_or("short scan header")?;
        if s[0] != want.id {
            return Err("scan components out of frame order");
        }
        let dc = tables.dc.get(usize::from(s[1] >> 4)).and_then(Option::as_ref);
        let ac = tables.ac.get(usize::from(s[1] & 15)).and_then(Option::as_ref);
        let q = tables.quant[want.tq].as_ref();
        comps.push((
            dc.ok_or("missing DC table")?,
            ac.ok_or("missing AC table")?,
            q.ok_or("missing quantisation table")?,
        ));
    }
    let factors = frame.factors();
    let (mcux, mcuy) = frame.mcus();
    let mut planes = planes(frame, n);

    // The box-averaged ½ and ¼ IDCTs read every coefficient; ⅛ reads only the DC, so
    // its AC values are skipped, not stored.
    let keep_ac = n > 1;
    let mut bits = Bits::new(bytes.get(data_start..).ok_or("no scan data")?);
    let mut preds = [0i32; 3];
    let mut restarts = 0u8;
    for mcu in 0..mcux * mcuy {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            bits.restart(restarts)?;
            restarts = (restarts + 1) & 7;
            preds = [0; 3];
        }
        if bits.overrun() {
            return Err("scan data ends early");
        }
        let (mx, my) = (mcu % mcux, mcu / mcux);
        for (c, &(dc, ac, q)) in comps.iter().enumerate() {
            let (h, v) = factors[c];
            let (plane, stride) = &mut planes[c];
            for by in 0..v {
                for bx in 0..h {
                    let mut coef = [0i32; 64];
                    let t = u32::from(bits.symbol(dc)?);
                    if t > 11 {
                        return Err("DC difference too large");
                    }
                    preds[c] = preds[c].wrapping_add(bits.signed(t));
                    coef[0] = preds[c].wrapping_mul(q[0]);
                    let (mut k, mut last_written) = (1, 0);
                    while k < 64 {
                        let step = bits.fast(ac);
                        let (run, value) = if step.len != 0 {
                            if step.run == Fast::END {
                                break;
                            }
                            (usize::from(step.run), None)
                        } else {
                            let rs = bits.symbol(ac)?;
                            let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
                            if size == 0 {
                                if run != 15 {
                                    break; // end of block
                                }
                                k += 16;
                                continue;
                            }
                            (run, Some(size))
                        };
                        k += run;
                        if k > 63 {
                            return Err("coefficient index past 63");
                        }
                        let v = match value {
                            None => i32::from(step.value),
                            Some(size) if keep_ac => bits.signed(size),
                            Some(size) => {
                                bits.skip(size);
                                0
                            }
                        };
                        if keep_ac {
                            coef[ZIGZAG[k]] = v.wrapping_mul(q[k]);
                            last_written = k;
                        }
                        k += 1;
                    }
                    let x = (mx * h + bx) * n;
                    let y = (my * v + by) * n;
                    idct_scaled(&coef, last_written, n, &mut plane[y * *stride + x..], *stride);
                }
            }
        }
    }

    Ok(planes)
}

/// Component planes → interleaved RGB at the reduced size (chroma by replication).
pub(super) fn to_rgb(
    frame: &Frame,
    planes: &Planes,
    n: usize,
    adobe_rgb: bool,
) -> Result<RgbImage, Error> {
    let factors = frame.factors();
    let (hmax, vmax) = frame.max_factors();
    let count = frame.components.len();
    let (out_w, out_h) = ((frame.width * n).div_ceil(8), (frame.height * n).div_ceil(8));
    let mut rgb = vec![0u8; out_w * out_h * 3];
    let ycbcr = count == 3 && !adobe_rgb && frame.components.iter().map(|c| c.id).ne(*b"RGB");
    // Each component's row at the output width (chroma replicated), then one straight
    // pass over the three rows.
    let mut rows = vec![vec![0u8; out_w]; count];
    for (y, out) in rgb.chunks_exact_mut(out_w * 3).enumerate() {
        for (c, row) in rows.iter_mut().enumerate() {
            let ((plane, stride), (h, v)) = (&planes[c], factors[c]);
            let line = &plane[(y * v / vmax) * stride..][..*stride];
            match hmax / h {
                1 if hmax == h => row.copy_from_slice(&line[..out_w]),
                2 if hmax == 2 * h => {
                    for (pair, &p) in row.chunks_mut(2).zip(line) {
                        pair.fill(p);
                    }
                }
                _ => {
                    for (x, p) in row.iter_mut().enumerate() {
                        *p = line[x * h / hmax];
                    }
                }
            }
        }
        match (count, ycbcr) {
            (1, _) => {
                for (px, &l) in out.chunks_exact_mut(3).zip(&rows[0]) {
                    px.fill(l);
                }
            }
            (_, true) => {
                let pixels = out.chunks_exact_mut(3).zip(&rows[0]).zip(&rows[1]).zip(&rows[2]);
                for (((px, &y), &cb), &cr) in pixels {
                    let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
                    px[0] = (y + ((91_881 * cr + 32_768) >> 16)).clamp(0, 255) as u8;
                    px[1] = (y + ((-22_554 * cb - 46_802 * cr + 32_768) >> 16)).clamp(0, 255) as u8;
                    px[2] = (y + ((116_130 * cb + 32_768) >> 16)).clamp(0, 255) as u8;
                }
            }
            _ => {
                let pixels = out.chunks_exact_mut(3).zip(&rows[0]).zip(&rows[1]).zip(&rows[2]);
                for (((px, &r), &g), &b) in pixels {
                    px.copy_from_slice(&[r, g, b]);
                }
            }
        }
    }
    RgbImage::from_raw(out_w as u32, out_h as u32, rgb).ok_or("output size")
}
