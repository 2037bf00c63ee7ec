//! The reduced-scale decoder from end to end: walks the marker segments
//! ([`super::markers`]), hands the one scan of a baseline frame to [`super::baseline`]
//! (which writes the planes directly) or gathers every scan of a progressive frame into
//! [`super::progressive::Coefficients`] and runs their IDCT at the end of the image, then
//! converts the planes to RGB ([`super::colour`]) and turns the result upright (EXIF).
//!
//! Anything outside what those modules take — arithmetic coding, 12-bit samples, CMYK, a
//! baseline frame with components in separate scans, a height given by a DNL marker —
//! returns an error and the caller decodes the photo with the general decoder at full
//! size instead; so does any malformed data, which then gets the general decoder's own
//! error message.

use super::baseline;
use super::colour::to_rgb;
use super::frame::{Error, Frame};
use super::markers::{self, Segments, Tables};
use super::planes::Plane;
use super::progressive::Coefficients;
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

/// Decode `bytes` at `n`/8 scale (n = 1, 2 or 4), upright.
pub fn decode(bytes: &[u8], n: usize) -> Result<RgbImage, Error> {
    if !matches!(n, 1 | 2 | 4) {
        return Err("scale must be 1, 2 or 4 eighths");
    }
    let mut segments = Segments::new(bytes)?;
    let mut tables = Tables::default();
    let mut frame: Option<Frame> = None;
    let mut coefficients: Option<Coefficients> = None;
    let (mut restart_interval, mut orientation, mut adobe_rgb) = (0usize, None, false);
    loop {
        let segment = segments.next_segment()?;
        let body = segment.body;
        match segment.marker {
            0xD9 => {
                let (Some(frame), Some(c)) = (&frame, &coefficients) else {
                    return Err("end of image before any scan");
                };
                let planes = c.to_planes(frame, &tables, n)?;
                return finish(frame, &planes, n, adobe_rgb, orientation);
            }
            0xDB => markers::read_quant(body, &mut tables)?,
            0xC4 => markers::read_huffman(body, &mut tables, n == 1)?,
            0xC0..=0xC2 if frame.is_some() => return Err("a second frame header"),
            0xC0 | 0xC1 => frame = Some(markers::read_frame(body, false)?),
            0xC2 => frame = Some(markers::read_frame(body, true)?),
            0xC3..=0xCF => return Err("not a Huffman-coded DCT JPEG"),
            0xDD => restart_interval = usize::from(markers::be16(body, 0)?),
            0xE1 if body.starts_with(b"Exif\0\0") => orientation = markers::read_orientation(body),
            0xEE => adobe_rgb = markers::adobe_rgb(body).unwrap_or(adobe_rgb),
            0xDA => {
                let frame = frame.as_ref().ok_or("scan before frame header")?;
                let scan = markers::read_scan(body, frame)?;
                let start = segments.position();
                let data = &bytes[start..];
                if frame.progressive {
                    let c = coefficients.get_or_insert_with(|| Coefficients::new(frame));
                    let len = c.decode_scan(data, &scan, frame, &tables, restart_interval)?;
                    segments.resume_at(start + len);
                    continue;
                }
                let planes = baseline::decode(data, &scan, frame, &tables, restart_interval, n)?;
                return finish(frame, &planes, n, adobe_rgb, orientation);
            }
            _ => {}
        }
    }
}

fn finish(
    frame: &Frame,
    planes: &[Plane],
    n: usize,
    adobe_rgb: bool,
    orientation: Option<Orientation>,
) -> Result<RgbImage, Error> {
    let image = to_rgb(frame, planes, n, adobe_rgb)?;
    Ok(match orientation {
        None | Some(Orientation::NoTransforms) => image,
        Some(o) => {
            let mut image = DynamicImage::ImageRgb8(image);
            image.apply_orientation(o);
            image.into_rgb8()
        }
    })
}
