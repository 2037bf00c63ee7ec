//! The reduced-scale baseline decoder against the general decoder: every layout it
//! accepts (4:2:0 with restart markers, 4:2:2, 4:4:4, greyscale, progressive) must give, at ½, ¼ and
//! ⅛, the full-size image averaged down over (8/n)² squares, within a small difference;
//! progressive frames too; the layouts it does not handle (CMYK) must be refused, not misdecoded;
//! cut or corrupted scans must be refused too.

use spinfer_pipeline::jpeg::decode_reduced;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/jpeg/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Mean |Δ| between the reduced decode and the full decode box-averaged to its size.
fn mean_difference(bytes: &[u8], eighths: u32) -> f64 {
    let full = image::load_from_memory(bytes).unwrap().to_rgb8();
    let small = decode_reduced(bytes, eighths).unwrap();
    let k = 8 / eighths;
    assert_eq!(small.dimensions(), (full.width().div_ceil(k), full.height().div_ceil(k)));
    let (w, h) = (full.width() / k, full.height() / k);
    let mut sum = 0.0;
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut acc = 0.0;
                for dy in 0..k {
                    for dx in 0..k {
                        acc += f64::from(full.get_pixel(x * k + dx, y * k + dy).0[c]);
                    }
                }
                sum += (acc / f64::from(k * k) - f64::from(small.get_pixel(x, y).0[c])).abs();
            }
        }
    }
    sum / f64::from(w * h * 3)
}

#[test]
fn every_baseline_layout_matches_the_full_decode_averaged_down() {
    for name in ["s420_restart.jpg", "s422.jpg", "s444.jpg", "grey.jpg", "progressive.jpg"] {
        let bytes = fixture(name);
        for eighths in [4, 2, 1] {
            let d = mean_difference(&bytes, eighths);
            assert!(d < 3.0, "{name} at {eighths}/8: mean |Δ| {d:.2}");
        }
    }
}

#[test]
fn layouts_it_does_not_handle_are_refused() {
    assert!(decode_reduced(&fixture("cmyk.jpg"), 4).is_err());
}

#[test]
fn broken_scans_are_refused_not_misdecoded() {
    let bytes = fixture("s420_restart.jpg");
    // The scan cut short (the EOI marker moved up): the data ends early.
    let sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
    let mut cut = bytes[..sos + 400].to_vec();
    cut.extend_from_slice(&[0xFF, 0xD9]);
    assert!(decode_reduced(&cut, 4).is_err());
    // A restart marker out of order.
    let mut shuffled = bytes.clone();
    let rst = (sos..shuffled.len() - 1)
        .find(|&i| shuffled[i] == 0xFF && (0xD0..=0xD7).contains(&shuffled[i + 1]))
        .unwrap();
    shuffled[rst + 1] = 0xD5;
    assert!(decode_reduced(&shuffled, 4).is_err());
    // Every truncation and single-byte corruption: an image or an error, never a panic.
    for len in (0..bytes.len()).step_by(97) {
        let _ = decode_reduced(&bytes[..len], 2);
    }
    for at in (0..bytes.len()).step_by(61) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x5A;
        let _ = decode_reduced(&bad, 1);
    }
}

#[test]
fn progressive_gives_the_same_pixels_as_the_baseline_encoding_of_the_same_image() {
    // Same picture, quality and subsampling: the same quantised coefficients, only sent in
    // another order (spectral bands, successive approximation). Every scale must agree
    // to the byte, which checks every progressive scan kind, refinement included.
    let (progressive, baseline) = (fixture("progressive.jpg"), fixture("s420_restart.jpg"));
    for eighths in [4, 2, 1] {
        let (p, b) = (decode_reduced(&progressive, eighths), decode_reduced(&baseline, eighths));
        assert!(p.unwrap() == b.unwrap(), "at {eighths}/8");
    }
}
