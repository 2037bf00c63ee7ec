//! The reference's geometry, shared by the decoder (which picks a JPEG's reduced scale
//! from the size the resize will produce) and the preprocessing (which resizes and crops):
//! it sits below both, so decoding never depends on preprocessing.

/// Short side after the resize.
pub const RESIZE: u32 = 256;
/// Side of the centre crop.
pub const CROP: u32 = 224;

/// Size after resizing `w × h` so its short side is `short` (long side
/// `floor(long * short / short_side)`, ties counting the width as short).
pub fn resized_size(w: u32, h: u32, short: u32) -> (u32, u32) {
    if w <= h {
        (short, (u64::from(h) * u64::from(short) / u64::from(w)) as u32)
    } else {
        ((u64::from(w) * u64::from(short) / u64::from(h)) as u32, short)
    }
}

/// The reference geometry for a `w × h` image: resized size (short side 256) and the crop
/// origin `left = (w'-224)/2`, `top = (h'-224)/2`, floored.
pub fn geometry(w: u32, h: u32) -> (u32, u32, u32, u32) {
    let (nw, nh) = resized_size(w, h, RESIZE);
    (nw, nh, (nw - CROP) / 2, (nh - CROP) / 2)
}
