//! The marker segments of a JPEG, the first step bytes take: walking from one segment to
//! the next, and reading what the scans need from them — quantisation and Huffman tables,
//! the frame header, scan headers, the restart interval, EXIF orientation and Adobe's
//! colour transform flag. Nothing here touches entropy-coded data.

use super::frame::{Component, Error, Frame};
use super::huffman::{Class, Table};
use image::metadata::Orientation;

/// The tables in force when a scan starts (a later DQT/DHT may replace one).
#[derive(Default)]
pub struct Tables {
    /// Quantisation tables, in zig-zag order.
    pub quant: [Option<[i32; 64]>; 4],
    pub dc: [Option<Table>; 4],
    pub ac: [Option<Table>; 4],
}

/// One marker segment.
pub struct Segment<'a> {
    pub marker: u8,
    /// The payload after the length (empty for markers that have none).
    pub body: &'a [u8],
}

/// Walks the segments of `bytes` from after SOI; the caller moves it past entropy-coded
/// data with [`Segments::resume_at`].
pub struct Segments<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Segments<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.get(..2) != Some(&[0xFF, 0xD8]) {
            return Err("no start-of-image marker");
        }
        Ok(Segments { bytes, at: 2 })
    }

    /// Where the next segment (or a scan's entropy-coded data) starts.
    pub fn position(&self) -> usize {
        self.at
    }

    pub fn resume_at(&mut self, at: usize) {
        self.at = at;
    }

    /// The next segment; markers without a length (RSTn, SOI, TEM) are passed over.
    pub fn next_segment(&mut self) -> Result<Segment<'a>, Error> {
        let bytes = self.bytes;
        loop {
            // Markers may be padded with any number of 0xFF fill bytes.
            while bytes.get(self.at) == Some(&0xFF) && bytes.get(self.at + 1) == Some(&0xFF) {
                self.at += 1;
            }
            if bytes.get(self.at) != Some(&0xFF) {
                return Err("expected a marker");
            }
            let marker = *bytes.get(self.at + 1).ok_or("truncated marker")?;
            self.at += 2;
            if matches!(marker, 0x01 | 0xD0..=0xD8) {
                continue;
            }
            if marker == 0xD9 {
                return Ok(Segment { marker, body: &[] });
            }
            let len = usize::from(be16(bytes, self.at).map_err(|_| "truncated segment")?);
            let body = bytes.get(self.at + 2..self.at + len.max(2)).ok_or("truncated segment")?;
            self.at += len.max(2);
            return Ok(Segment { marker, body });
        }
    }
}

pub fn be16(seg: &[u8], at: usize) -> Result<u16, Error> {
    Ok(u16::from_be_bytes([
        *seg.get(at).ok_or("short segment")?,
        *seg.get(at + 1).ok_or("short segment")?,
    ]))
}

/// DQT: one or more quantisation tables.
pub fn read_quant(mut seg: &[u8], tables: &mut Tables) -> Result<(), Error> {
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

/// DHT: one or more Huffman tables (`skip`: with the tables for stepping over AC codes).
pub fn read_huffman(mut seg: &[u8], tables: &mut Tables, skip: bool) -> Result<(), Error> {
    while let Some(&tc_th) = seg.first() {
        let counts: &[u8; 16] = seg.get(1..17).ok_or("short Huffman table")?.try_into().unwrap();
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = seg.get(17..17 + total).ok_or("short Huffman table")?;
        let id = usize::from(tc_th & 15);
        let (slot, class) = match tc_th >> 4 {
            0 => (&mut tables.dc, Class::Dc),
            _ => (&mut tables.ac, Class::Ac),
        };
        *slot.get_mut(id).ok_or("Huffman table id over 3")? =
            Some(Table::new(counts, values, class, skip)?);
        seg = &seg[17 + total..];
    }
    Ok(())
}

/// SOF0/1/2: an 8-bit frame of one or three components.
pub fn read_frame(seg: &[u8], progressive: bool) -> Result<Frame, Error> {
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

/// One component of a scan: its index in the frame and its table ids.
#[derive(Clone, Copy)]
pub struct ScanComponent {
    pub index: usize,
    pub dc: usize,
    pub ac: usize,
}

/// A start-of-scan header (T.81 B.2.3).
pub struct ScanHeader {
    pub components: Vec<ScanComponent>,
    /// Spectral selection: first and last zig-zag index of the band.
    pub start: usize,
    pub end: usize,
    /// Successive approximation: a refinement pass (Ah ≠ 0) and the bit position (Al).
    pub refine: bool,
    pub shift: u32,
}

/// SOS: the components (in scan order) and the band.
pub fn read_scan(sos: &[u8], frame: &Frame) -> Result<ScanHeader, Error> {
    let count = usize::from(*sos.first().ok_or("short scan header")?);
    let header = sos.get(1..4 + 2 * count).ok_or("short scan header")?;
    let mut components = Vec::with_capacity(count);
    for s in header[..2 * count].chunks_exact(2) {
        let index =
            frame.components.iter().position(|c| c.id == s[0]).ok_or("unknown component")?;
        components.push(ScanComponent {
            index,
            dc: usize::from(s[1] >> 4),
            ac: usize::from(s[1] & 15),
        });
    }
    let tail = &header[2 * count..];
    Ok(ScanHeader {
        components,
        start: usize::from(tail[0]),
        end: usize::from(tail[1]),
        refine: tail[2] >> 4 != 0,
        shift: u32::from(tail[2] & 15),
    })
}

/// APP1 "Exif": the orientation, if it says one.
pub fn read_orientation(seg: &[u8]) -> Option<Orientation> {
    seg.strip_prefix(b"Exif\0\0").and_then(Orientation::from_exif_chunk)
}

/// APP14 "Adobe": whether three components are RGB rather than YCbCr (transform 0).
pub fn adobe_rgb(seg: &[u8]) -> Option<bool> {
    (seg.starts_with(b"Adobe") && seg.len() >= 12).then(|| seg[11] == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_walked_past_fill_bytes_and_lengthless_markers() {
        // SOI, APP0 (two payload bytes), fill bytes, RST0, DQT cut short.
        let bytes = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 1, 2, 0xFF, 0xFF, 0xFF, 0xD0, 0xFF, 0xDB];
        let mut s = Segments::new(&bytes).unwrap();
        let app0 = s.next_segment().unwrap();
        assert_eq!((app0.marker, app0.body), (0xE0, &[1u8, 2][..]));
        assert_eq!(s.next_segment().err(), Some("truncated segment"));
        assert!(Segments::new(b"\x89PNG").is_err());
        let mut s = Segments::new(&[0xFF, 0xD8, 0x00]).unwrap();
        assert_eq!(s.next_segment().err(), Some("expected a marker"));
    }

    #[test]
    fn frames_the_decoder_cannot_take_are_refused() {
        let frame = |precision: u8, count: u8, sampling: u8| {
            let mut seg = vec![precision, 0, 16, 0, 16, count];
            for id in 0..count {
                seg.extend_from_slice(&[id + 1, sampling, 0]);
            }
            seg
        };
        assert!(read_frame(&frame(8, 3, 0x22), false).is_ok());
        assert_eq!(read_frame(&frame(12, 3, 0x22), false).err(), Some("not 8-bit samples"));
        assert!(read_frame(&frame(8, 4, 0x11), false).is_err());
        assert!(read_frame(&frame(8, 3, 0x52), false).is_err());
        assert_eq!(read_frame(&frame(8, 3, 0x22)[..10], false).err(), Some("short frame header"));
    }
}
