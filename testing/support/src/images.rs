//! Hostile images for limit tests.

use spinfer_pipeline::image::{DynamicImage, ImageFormat};

/// CRC-32 (IEEE, as PNG chunks use it) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A 1×1 PNG whose header claims `width`×`height` pixels, its IHDR CRC fixed up so a
/// decoder believes it.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = std::io::Cursor::new(Vec::new());
    DynamicImage::new_rgb8(1, 1).write_to(&mut png, ImageFormat::Png).expect("encode a 1×1 PNG");
    let mut png = png.into_inner();
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A 1×1 PNG whose header claims 50000×50000 pixels (2.5 GP).
pub fn png_bomb() -> Vec<u8> {
    png_claiming(50_000, 50_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_of_a_known_string() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
