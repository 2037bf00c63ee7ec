//! Bytes → RGB8 image, safely: the format comes from the bytes' magic numbers (never
//! from a Content-Type header), the declared dimensions are checked against limits
//! *before* any pixel is decoded (decompression bombs), JPEG EXIF orientation is
//! applied, and alpha/grey/16-bit inputs are converted to 8-bit RGB as Pillow's
//! `convert("RGB")` does.
//!
//! Two limits: a header sanity cap on what an image may *declare* (200 MP by default)
//! and a cap on what is *decoded* (40 MP). A large JPEG that is decoded at reduced scale
//! ([`crate::jpeg`]) is judged by its decoded size, so a 48 MP phone photo, decoded at ⅛
//! to 1000×750, is fine; a progressive JPEG is judged by its full size (its coefficients
//! are held at full size whatever the output), and so is every other format, which is
//! decoded at full size.

use crate::error::PipelineError;
use crate::geometry::resized_size;
use crate::jpeg;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

/// Formats the component decodes; every other recognised format answers 415.
pub const SUPPORTED: [ImageFormat; 5] =
    [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp];

/// Limits applied while decoding one image.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest width × height actually decoded (default 40 megapixels).
    pub max_pixels: u64,
    /// Largest width × height an image may declare in its header, whatever scale it is
    /// decoded at (default 200 megapixels).
    pub max_header_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_pixels: 40_000_000, max_header_pixels: 200_000_000 }
    }
}

/// A decoded image and the upright size of the full image it stands for.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The pixels: the full image, or a JPEG decoded at ½, ¼ or ⅛ scale.
    pub image: RgbImage,
    /// Upright full-size width and height (EXIF orientation applied).
    pub width: u32,
    pub height: u32,
}

/// Decode `bytes` into an upright 8-bit RGB image at full size.
pub fn decode_rgb8(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, PipelineError> {
    decode_full(bytes, limits).map(|d| d.image)
}

/// [`decode_rgb8`] as a [`Decoded`] (the full-size path, for callers that can take both).
pub fn decode_full(bytes: &[u8], limits: DecodeLimits) -> Result<Decoded, PipelineError> {
    decode(bytes, limits, None)
}

/// Decode `bytes` for a resize whose short side will be `short_side`: JPEGs larger than
/// that are decoded at the smallest of ⅛, ¼, ½ that still covers the resized size (as
/// Pillow's `draft`); everything else at full size.
pub fn decode_for_resize(
    bytes: &[u8],
    limits: DecodeLimits,
    short_side: u32,
) -> Result<Decoded, PipelineError> {
    decode(bytes, limits, Some(short_side))
}

fn decode(
    bytes: &[u8],
    limits: DecodeLimits,
    short_side: Option<u32>,
) -> Result<Decoded, PipelineError> {
    if bytes.is_empty() {
        return Err(PipelineError::EmptyBody);
    }
    let format = image::guess_format(bytes).map_err(|_| PipelineError::NotAnImage)?;
    if !SUPPORTED.contains(&format) {
        return Err(PipelineError::UnsupportedFormat(format_name(format)));
    }
    if format == ImageFormat::Jpeg {
        if !jpeg::is_complete(bytes) {
            return Err(PipelineError::Decode {
                format: format_name(format),
                reason: "the data is truncated (no end-of-image marker after the last scan)".into(),
            });
        }
        if let Some(frame) = jpeg::frame_header(bytes) {
            check_pixels(frame.width, frame.height, limits.max_header_pixels)?;
            if let Some(decoded) = decode_jpeg_reduced(bytes, frame, limits, short_side)? {
                return Ok(decoded);
            }
        }
    }
    let image = decode_general(bytes, format, limits)?;
    Ok(Decoded { width: image.width(), height: image.height(), image })
}

/// A JPEG larger than the resize needs, decoded at ½, ¼ or ⅛ scale; `None` when it is
/// small, or a frame the reduced decoder refuses (CMYK, 12-bit, arithmetic coding,
/// malformed data): the general decoder then takes it at full size.
fn decode_jpeg_reduced(
    bytes: &[u8],
    frame: jpeg::FrameHeader,
    limits: DecodeLimits,
    short_side: Option<u32>,
) -> Result<Option<Decoded>, PipelineError> {
    let (width, height) = (frame.width, frame.height);
    let Some(short_side) = short_side.filter(|_| frame.scalable() && width > 0 && height > 0)
    else {
        return Ok(None);
    };
    // A resize target is symmetric in width and height, so the raw (pre-orientation)
    // sizes give the same scale as the upright ones.
    let eighths = jpeg::scale_eighths(width, height, resized_size(width, height, short_side));
    if eighths == 8 {
        return Ok(None);
    }
    let (w, h) = (jpeg::scaled(width, eighths), jpeg::scaled(height, eighths));
    let pixels = u64::from(width) * u64::from(height);
    // A progressive frame's coefficients are held at full size whatever the output scale.
    let held = if frame.progressive() { pixels } else { u64::from(w) * u64::from(h) };
    if held > limits.max_pixels {
        return Err(PipelineError::TooManyPixels {
            width,
            height,
            pixels,
            limit: limits.max_pixels,
        });
    }
    let Ok(image) = jpeg::decode_reduced(bytes, eighths) else {
        return Ok(None);
    };
    let turned = image.width() != w;
    let (width, height) = if turned { (height, width) } else { (width, height) };
    Ok(Some(Decoded { image, width, height }))
}

fn check_pixels(width: u32, height: u32, limit: u64) -> Result<(), PipelineError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limit {
        return Err(PipelineError::TooManyPixels { width, height, pixels, limit });
    }
    Ok(())
}

/// Every format through the `image` crate, at full size.
fn decode_general(
    bytes: &[u8],
    format: ImageFormat,
    limits: DecodeLimits,
) -> Result<RgbImage, PipelineError> {
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
    if width == 0 || height == 0 {
        // Some decoders accept such a header and return an empty image, which nothing
        // downstream can resize or crop.
        return Err(PipelineError::Decode {
            format: format_name(format),
            reason: format!("the image is {width}x{height}: it has no pixels"),
        });
    }
    check_pixels(width, height, limits.max_pixels.min(limits.max_header_pixels))?;
    decoder.set_limits(image::Limits::default()).map_err(|_| PipelineError::TooManyPixels {
        width,
        height,
        pixels: u64::from(width) * u64::from(height),
        limit: limits.max_pixels,
    })?;
    let orientation = decoder.orientation().map_err(fail)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(fail)?;
    image.apply_orientation(orientation);
    Ok(match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
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

    /// Found by `make fuzz` (image target, 2026-12-06): a GIF whose logical screen is 0
    /// pixels wide decoded to an empty image, and classify trapped on it (500) instead of
    /// answering 400.
    #[test]
    fn an_image_without_pixels_is_a_decode_error() {
        let mut gif = encode(&sample(4, 4), ImageFormat::Gif);
        gif[6..8].copy_from_slice(&[0, 0]); // logical screen width
        for r in [
            decode_for_resize(&gif, DecodeLimits::default(), 256).map(|_| ()),
            decode_rgb8(&gif, DecodeLimits::default()).map(|_| ()),
        ] {
            let e = r.unwrap_err();
            assert_eq!((e.status(), e.code()), (400, "decode_failed"), "{e}");
            assert!(e.to_string().contains("0x4"), "{e}");
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

    /// A smooth photo-like gradient, so a reduced-scale decode should stay close to full.
    fn smooth(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            Rgb([(255.0 * fx) as u8, (255.0 * fy) as u8, (128.0 + 100.0 * (fx * 9.0).sin()) as u8])
        }))
    }

    #[test]
    fn large_jpeg_decodes_at_reduced_scale_and_crops_like_full_size() {
        let bytes = encode(&smooth(1600, 1200), ImageFormat::Jpeg);
        let fast = decode_for_resize(&bytes, DecodeLimits::default(), 256).unwrap();
        // 1600×1200 → 341×256 after the resize: ¼ (400×300) is the smallest that covers it.
        assert_eq!(fast.image.dimensions(), (400, 300));
        assert_eq!((fast.width, fast.height), (1600, 1200));
        let full = decode_full(&bytes, DecodeLimits::default()).unwrap();
        assert_eq!(full.image.dimensions(), (1600, 1200));
        let model = &crate::MODELS[0];
        let (a, b) =
            (crate::model_input_bytes(&fast, model), crate::model_input_bytes(&full, model));
        let (a, b) = (crate::f32s_from_le_bytes(&a), crate::f32s_from_le_bytes(&b));
        let mean = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
        assert!(mean < 0.02, "mean |Δ| of the normalised tensors {mean}");
        // Small photos (short side under 512) decode at full size on both paths.
        let small = encode(&smooth(640, 427), ImageFormat::Jpeg);
        let fast = decode_for_resize(&small, DecodeLimits::default(), 256).unwrap();
        assert_eq!(fast.image.dimensions(), (640, 427));
    }

    #[test]
    fn reduced_scale_decode_applies_exif_orientation() {
        let bytes = jpeg_with_orientation(&smooth(1600, 800), 6);
        let fast = decode_for_resize(&bytes, DecodeLimits::default(), 256).unwrap();
        assert_eq!((fast.width, fast.height), (800, 1600));
        assert_eq!(fast.image.dimensions(), (400, 800)); // ½ of the upright image
        let full = decode_full(&bytes, DecodeLimits::default()).unwrap();
        assert_eq!(full.image.dimensions(), (800, 1600));
        // Upright top-right corner = the source's top-left (dark red/green, mid blue).
        let (f, s) = (full.image.get_pixel(799, 0).0, fast.image.get_pixel(399, 0).0);
        assert!(f.iter().zip(s).all(|(a, b)| a.abs_diff(b) <= 12), "{f:?} vs {s:?}");
    }

    #[test]
    fn the_pixel_cap_bounds_what_is_decoded_the_header_cap_what_is_declared() {
        let bytes = encode(&smooth(1600, 1200), ImageFormat::Jpeg);
        // 1.92 MP declared, 0.12 MP decoded at ¼.
        let limits = DecodeLimits { max_pixels: 200_000, ..Default::default() };
        assert!(decode_for_resize(&bytes, limits, 256).is_ok());
        let err = decode_full(&bytes, limits).unwrap_err();
        assert!(matches!(err, PipelineError::TooManyPixels { pixels: 1_920_000, .. }), "{err:?}");
        let limits = DecodeLimits { max_header_pixels: 1_000_000, ..Default::default() };
        let err = decode_for_resize(&bytes, limits, 256).unwrap_err();
        assert_eq!(
            err,
            PipelineError::TooManyPixels {
                width: 1600,
                height: 1200,
                pixels: 1_920_000,
                limit: 1_000_000
            }
        );
        assert_eq!(err.status(), 422);
    }

    #[test]
    fn progressive_jpeg_counts_its_full_size() {
        // Progressive decoders hold every coefficient at full size, whatever the output.
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../static/samples/yurt.jpg"))
                .unwrap();
        assert!(jpeg::frame_header(&bytes).unwrap().progressive());
        let fast = decode_for_resize(&bytes, DecodeLimits::default(), 256).unwrap();
        assert_eq!(fast.image.dimensions(), (256, 256)); // 512×512 at ½
        let limits = DecodeLimits { max_pixels: 200_000, ..Default::default() };
        let err = decode_for_resize(&bytes, limits, 256).unwrap_err();
        assert!(matches!(err, PipelineError::TooManyPixels { pixels: 262_144, .. }), "{err:?}");
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
        let err = decode_rgb8(&bytes, DecodeLimits { max_pixels: 59_999, ..Default::default() })
            .unwrap_err();
        assert_eq!(
            err,
            PipelineError::TooManyPixels { width: 300, height: 200, pixels: 60_000, limit: 59_999 }
        );
        assert!(
            decode_rgb8(&bytes, DecodeLimits { max_pixels: 60_000, ..Default::default() }).is_ok()
        );
    }
}
