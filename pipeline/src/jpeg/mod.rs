//! JPEG at reduced scale, as libjpeg's `scale_denom` and Pillow's `draft` do it: when the
//! photo is larger than the resize needs, the inverse DCT of each 8×8 block produces only
//! a 4×4, 2×2 or 1×1 block, so a 12 MP photo costs about what a 0.2 MP one does to turn
//! into pixels (the entropy decoding still reads every coefficient's code).
//!
//! This file reads the frame header first (size, precision, components, coding process)
//! so that every later decision — the header sanity cap, the bound on what will really
//! be decoded, the choice of scale — is made before any pixel exists, and keeps the
//! structural truncation check. The decoder itself is a chain whose modules only import
//! the ones before them, as the bytes flow:
//!
//! [`frame`] (shared facts) → [`bits`] (entropy-coded bytes → bits) → [`huffman`]
//! (tables, symbols) → [`markers`] (segments, headers) → [`idct`] (coefficients →
//! N×N pixels) → [`planes`] → [`baseline`] / [`progressive`] (scans → coefficients →
//! planes) → [`colour`] (planes → RGB) → [`decoder`] (the walk from SOI to EOI, EXIF).
//!
//! Baseline and progressive 8-bit frames, greyscale or YCbCr/RGB, are decoded at reduced
//! scale here; every other frame goes through the general decoder at full size.

mod baseline;
mod bits;
mod colour;
mod decoder;
mod frame;
mod huffman;
mod idct;
mod markers;
mod planes;
mod progressive;

use image::RgbImage;

/// What the frame header of a JPEG says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub width: u32,
    pub height: u32,
    pub components: u8,
    pub precision: u8,
    /// SOF marker byte (0xC0 baseline, 0xC1 extended, 0xC2 progressive, …).
    pub marker: u8,
}

impl FrameHeader {
    pub fn progressive(&self) -> bool {
        matches!(self.marker, 0xC2 | 0xC6 | 0xCA | 0xCE)
    }

    /// Whether the reduced-scale decoder may handle this frame: 8-bit Huffman-coded
    /// sequential or progressive DCT, greyscale or YCbCr/RGB (it still refuses what else
    /// it meets).
    pub fn scalable(&self) -> bool {
        matches!(self.marker, 0xC0..=0xC2)
            && self.precision == 8
            && matches!(self.components, 1 | 3)
    }
}

/// Find the first start-of-frame segment. `None` when the markers before it are broken
/// or there is none (the general decoder then reports what is wrong).
pub fn frame_header(bytes: &[u8]) -> Option<FrameHeader> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        // Markers may be padded with any number of 0xFF fill bytes.
        while *bytes.get(at)? == 0xFF && *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        let len = usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let seg = bytes.get(at + 4..at + 2 + len.max(8))?;
            return Some(FrameHeader {
                precision: seg[0],
                height: u32::from(u16::from_be_bytes([seg[1], seg[2]])),
                width: u32::from(u16::from_be_bytes([seg[3], seg[4]])),
                components: seg[5],
                marker,
            });
        }
        if marker == 0xDA || marker == 0xD9 || len < 2 {
            return None; // a scan or the end before any frame header
        }
        at += 2 + len;
    }
}

/// The IDCT output size in eighths (8 = full size, 4 = ½, 2 = ¼, 1 = ⅛): the smallest
/// whose output still covers `cover` (width, height) in both directions.
pub fn scale_eighths(width: u32, height: u32, cover: (u32, u32)) -> u32 {
    [1, 2, 4]
        .into_iter()
        .find(|&s| scaled(width, s) >= cover.0 && scaled(height, s) >= cover.1)
        .unwrap_or(8)
}

/// Output length of `len` pixels at `eighths`/8 scale (the decoder rounds up).
pub fn scaled(len: u32, eighths: u32) -> u32 {
    (len * eighths).div_ceil(8)
}

/// Decode at `eighths`/8 of the full size (1, 2 or 4) into 8-bit RGB, upright (EXIF
/// orientation applied). An error means "not for this decoder": the caller falls back
/// to the general decoder at full size, which also names what is wrong with bad data.
pub fn decode_reduced(bytes: &[u8], eighths: u32) -> Result<RgbImage, &'static str> {
    decoder::decode(bytes, eighths as usize)
}

/// JPEG decoders fill a cut-off scan with grey instead of failing, so check the
/// structure: an end-of-image marker (FF D9) must follow the last start-of-scan
/// (FF DA). Entropy-coded data stuffs every FF byte, so neither marker can appear
/// inside a scan; an EXIF thumbnail's markers come before the main image's scan.
///
/// The last EOI is near the end and the first SOS near the start, so this looks at a few
/// bytes at each end, not at the megabytes of entropy-coded data between them: "the last
/// SOS comes before the last EOI" is "some SOS comes before the last EOI, and none after".
pub fn is_complete(bytes: &[u8]) -> bool {
    let is = |marker: u8| move |w: &[u8]| w == [0xFF, marker];
    let Some(eoi) = bytes.windows(2).rposition(is(0xD9)) else {
        return false;
    };
    !bytes[eoi..].windows(2).any(is(0xDA)) && bytes[..eoi].windows(2).any(is(0xDA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_the_smallest_that_covers_both_sides() {
        // 773×512 photo resized to 386×256: ½ gives 387×256.
        assert_eq!(scale_eighths(773, 512, (386, 256)), 4);
        // 12 MP (4032×3024 → 341×256): ⅛ gives 504×378.
        assert_eq!(scale_eighths(4032, 3024, (341, 256)), 1);
        // 48 MP (8000×6000 → 341×256): ⅛ gives 1000×750.
        assert_eq!(scale_eighths(8000, 6000, (341, 256)), 1);
        // 640×427 → 383×256: ½ gives 320×214, too small; full size.
        assert_eq!(scale_eighths(640, 427, (383, 256)), 8);
        // 1200×1200 → 256×256: ¼ gives 300×300.
        assert_eq!(scale_eighths(1200, 1200, (256, 256)), 2);
        assert_eq!(scaled(773, 4), 387);
        assert_eq!(scaled(1, 1), 1);
    }

    #[test]
    fn frame_header_is_found_after_app_segments_and_fill_bytes() {
        // SOI, APP0 (length 4: two payload bytes), fill bytes, SOF2: 8-bit, 3×2, 3 components.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 1, 2, 0xFF, 0xFF];
        jpeg.extend_from_slice(&[0xFF, 0xC2, 0x00, 0x11, 8, 0x00, 0x02, 0x00, 0x03, 3]);
        jpeg.extend_from_slice(&[0; 9]);
        let frame = frame_header(&jpeg).unwrap();
        assert_eq!(
            frame,
            FrameHeader { width: 3, height: 2, components: 3, precision: 8, marker: 0xC2 }
        );
        assert!(frame.progressive() && frame.scalable());
        assert!(FrameHeader { marker: 0xC0, ..frame }.scalable());
        assert_eq!(frame_header(&jpeg[..12]), None);
        assert_eq!(frame_header(b"\xFF\xD8\xFF\xDA\x00\x02"), None);
        let cmyk = FrameHeader { components: 4, ..frame };
        assert!(!cmyk.scalable());
    }

    #[test]
    fn complete_means_an_end_of_image_after_the_last_scan() {
        let scan = [0xFF, 0xDA, 0, 2, 0x12, 0x34];
        let jpeg = |parts: &[&[u8]]| parts.concat();
        assert!(is_complete(&jpeg(&[&[0xFF, 0xD8], &scan, &[0xFF, 0xD9]])));
        assert!(is_complete(&jpeg(&[&[0xFF, 0xD8], &scan, &scan, &[0xFF, 0xD9], b"trailer"])));
        // Cut inside the last scan, or a second scan after the last EOI (an EXIF
        // thumbnail's EOI followed by the main image cut short).
        assert!(!is_complete(&jpeg(&[&[0xFF, 0xD8], &scan])));
        assert!(!is_complete(&jpeg(&[&[0xFF, 0xD8], &scan, &[0xFF, 0xD9], &scan])));
        assert!(!is_complete(&[0xFF, 0xD8, 0xFF, 0xD9]));
        assert!(!is_complete(&[]));
    }
}
