//! Bytes → RGB8 image, safely: the format comes from the bytes' magic numbers (never
//! from a Content-Type header), the declared dimensions are checked against a pixel
//! limit *before* any pixel is decoded (decompression bombs), JPEG EXIF orientation is
//! applied, and alpha/grey/16-bit inputs are converted to 8-bit RGB as Pillow's
//! `convert("RGB")` does.

use crate::error::PipelineError;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

/// Formats the component decodes; every other recognised format answers 415.
pub const SUPPORTED: [ImageFormat; 5] =
    [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp];

/// Limits applied while decoding one image.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest width × height accepted (default 40 megapixels).
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_pixels: 40_000_000 }
    }
}

/// Decode `bytes` into an upright 8-bit RGB image.
pub fn decode_rgb8(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, PipelineError> {
    if bytes.is_empty() {
        return Err(PipelineError::EmptyBody);
    }
    let format = image::guess_format(bytes).map_err(|_| PipelineError::NotAnImage)?;
    if !SUPPORTED.contains(&format) {
        return Err(PipelineError::UnsupportedFormat(format_name(format)));
    }
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(PipelineError::Decode {
            format: format_name(format),
            reason: "the data is truncated (no end-of-image marker after the last scan)".into(),
        });
    }
    let fail = |e: image::ImageError| match e {
        // A header whose dimensions cannot even be addressed (e.g. on wasm32) is a bomb too.
        image::ImageError::Limits(l) => {
            PipelineError::TooLarge(format!("{} header: {l}", format_name(format)))
        }
        e => PipelineError::Decode { format: format_name(format), reason: e.to_string() },
    };
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    // Read the header without the library's allocation guard, so the pixel limit below
    // is what answers a bomb (with its dimensions); the guard comes back for decoding.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(fail)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    let too_many = PipelineError::TooManyPixels { width, height, pixels, limit: limits.max_pixels };
    if pixels > limits.max_pixels {
        return Err(too_many);
    }
    decoder.set_limits(image::Limits::default()).map_err(|_| too_many.clone())?;
    let orientation = decoder.orientation().map_err(fail)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(fail)?;
    image.apply_orientation(orientation);
    Ok(match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}

/// JPEG decoders fill a cut-off scan with grey instead of failing, so check the
/// structure: an end-of-image marker (FF D9) must follow the last start-of-scan
/// (FF DA). Entropy-coded data stuffs every FF byte, so neither marker can appear
/// inside a scan; an EXIF thumbnail's markers come before the main image's scan.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let find_last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    match (find_last(0xDA), find_last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    }
}

fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, Rgba};

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn sample(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, 7])))
    }

    #[test]
    fn every_supported_format_decodes_to_rgb8() {
        for format in SUPPORTED {
            let bytes = encode(&sample(31, 17), format);
            let rgb = decode_rgb8(&bytes, DecodeLimits::default()).unwrap();
            assert_eq!(rgb.dimensions(), (31, 17), "{format:?}");
        }
    }

    #[test]
    fn alpha_is_dropped_not_blended() {
        let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_pixel(4, 4, Rgba([10, 20, 30, 0])));
        let rgb = decode_rgb8(&encode(&rgba, ImageFormat::Png), DecodeLimits::default()).unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [10, 20, 30]);
    }

    #[test]
    fn empty_and_garbage_bodies_are_named() {
        assert_eq!(decode_rgb8(b"", DecodeLimits::default()), Err(PipelineError::EmptyBody));
        assert_eq!(
            decode_rgb8(b"hello, not an image", DecodeLimits::default()),
            Err(PipelineError::NotAnImage)
        );
    }

    #[test]
    fn known_but_unsupported_format_is_415() {
        // TIFF little-endian magic followed by junk.
        let err = decode_rgb8(b"II*\0\x08\0\0\0junkjunk", DecodeLimits::default()).unwrap_err();
        assert_eq!(err, PipelineError::UnsupportedFormat("TIFF".into()));
        assert_eq!(err.status(), 415);
    }

    #[test]
    fn truncated_png_is_a_decode_error() {
        let bytes = encode(&sample(64, 64), ImageFormat::Png);
        let err = decode_rgb8(&bytes[..bytes.len() / 2], DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, PipelineError::Decode { .. }), "{err:?}");
        assert_eq!(err.status(), 400);
    }

    /// A JPEG with an EXIF APP1 segment saying "rotate 90° clockwise" (orientation 6).
    fn jpeg_with_orientation(img: &DynamicImage, orientation: u16) -> Vec<u8> {
        let jpeg = encode(img, ImageFormat::Jpeg);
        // TIFF header (little-endian), one IFD with one entry: 0x0112 Orientation, SHORT, 1.
        let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec(); // SOI
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn jpeg_exif_orientation_is_applied() {
        let img = sample(40, 20);
        let upright =
            decode_rgb8(&jpeg_with_orientation(&img, 1), DecodeLimits::default()).unwrap();
        assert_eq!(upright.dimensions(), (40, 20));
        let rotated =
            decode_rgb8(&jpeg_with_orientation(&img, 6), DecodeLimits::default()).unwrap();
        assert_eq!(rotated.dimensions(), (20, 40));
        // Rotated 90° clockwise: the source's top-left corner lands at the top-right.
        let src = upright.get_pixel(0, 0).0;
        let got = rotated.get_pixel(19, 0).0;
        assert!(src.iter().zip(got).all(|(a, b)| a.abs_diff(b) <= 8), "{src:?} vs {got:?}");
    }

    #[test]
    fn truncated_jpeg_is_a_decode_error() {
        let bytes = encode(&sample(64, 64), ImageFormat::Jpeg);
        assert!(decode_rgb8(&bytes, DecodeLimits::default()).is_ok());
        let err = decode_rgb8(&bytes[..bytes.len() * 2 / 3], DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(&err, PipelineError::Decode { format, .. } if format == "JPEG"),
            "{err:?}"
        );
        // Trailing bytes after a complete image are fine.
        let mut trailer = bytes.clone();
        trailer.extend_from_slice(b"appended trailer");
        assert!(decode_rgb8(&trailer, DecodeLimits::default()).is_ok());
    }

    #[test]
    fn pixel_limit_is_checked_from_the_header() {
        let bytes = encode(&sample(300, 200), ImageFormat::Png);
        let err = decode_rgb8(&bytes, DecodeLimits { max_pixels: 59_999 }).unwrap_err();
        assert_eq!(
            err,
            PipelineError::TooManyPixels { width: 300, height: 200, pixels: 60_000, limit: 59_999 }
        );
        assert!(decode_rgb8(&bytes, DecodeLimits { max_pixels: 60_000 }).is_ok());
    }

    /// PNG chunk CRC (ISO-HDLC CRC-32), so the forged header passes the decoder's check.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn bomb_header_is_rejected_without_decoding() {
        // A valid PNG header claiming 100000 x 100000 pixels, with no image data at all.
        let mut png = encode(&sample(1, 1), ImageFormat::Png);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode_rgb8(&png, DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(err, PipelineError::TooManyPixels { pixels: 10_000_000_000, .. }),
            "{err:?}"
        );
    }
}
