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

#[test]
fn outputs_stay_what_the_first_decoder_produced() {
    // SHA-256 (first 8 bytes) of the RGB output at ⅛, ¼ and ½, as the decoder before the
    // speed work (commit 3d8c245) produced them: the faster entropy decoding, the fused
    // sparse IDCT and the SIMD colour conversion must not change a single byte (on 151
    // photos, these among them; docs/performance.md). Baseline 4:2:0 with restarts,
    // 4:2:2, 4:4:4, greyscale, progressive.
    use sha2::{Digest, Sha256};
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/../static/samples/");
    let pinned = [
        ("grey.jpg", ["5879d901060a6dea", "089f6f49e96feae8", "9a8fd21e039bd509"]),
        ("progressive.jpg", ["9b6141f51b74488e", "ab200a134dafe372", "07d94e3ff71a1e0f"]),
        ("s420_restart.jpg", ["9b6141f51b74488e", "ab200a134dafe372", "07d94e3ff71a1e0f"]),
        ("s422.jpg", ["e39901d1f9755c90", "2579aac29c08b1b4", "0c36e5d6455c8977"]),
        ("s444.jpg", ["f9cd4dad2e756a48", "c59eb61e9b021f59", "309f08f739cbf935"]),
        ("eagle.jpg", ["3f94670488ddf9f6", "bf69450f9680b7b3", "b7c3bcedcd03d245"]),
        ("grace_hopper.jpg", ["55192671deb81227", "97c88712703f6be6", "d44054a92a166f9a"]),
        ("strawberry.jpg", ["5aee42219be30744", "e0791a39e748ad53", "43ceb8b6846352a9"]),
        ("yurt.jpg", ["1375233220dff10e", "c879effe69db6f9b", "5e582b6939aac42c"]),
    ];
    for (name, hashes) in pinned {
        let bytes = match std::fs::read(format!("{samples}{name}")) {
            Ok(b) => b,
            Err(_) => fixture(name),
        };
        for (eighths, want) in [1, 2, 4].into_iter().zip(hashes) {
            let image = decode_reduced(&bytes, eighths).unwrap();
            let got: String =
                Sha256::digest(image.as_raw()).iter().take(8).map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, want, "{name} at {eighths}/8");
        }
    }
}

#[test]
fn hostile_scans_are_refused_or_decoded_never_a_panic() {
    // Bad Huffman codes (the scan's bytes set to all ones), a DHT whose codes overflow,
    // restart markers dropped, and data cut at every length: an error or an image.
    for name in ["s420_restart.jpg", "progressive.jpg", "grey.jpg"] {
        let bytes = fixture(name);
        let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let mut ones = bytes.clone();
        let end = ones.len() - 2;
        ones[sos + 20..end].iter_mut().for_each(|b| *b = 0xFE);
        for eighths in [1, 2, 4] {
            assert!(decode_reduced(&ones, eighths).is_err(), "{name}: all-ones data decoded");
        }
        let dht = bytes.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap();
        let mut overfull = bytes.clone();
        overfull[dht + 5] = 0xFF; // 255 codes of length 1
        assert!(decode_reduced(&overfull, 2).is_err(), "{name}: overfull table accepted");
        let rst_at = |i: usize| {
            i > sos
                && bytes[i] == 0xFF
                && bytes.get(i + 1).is_some_and(|b| (0xD0..=0xD7).contains(b))
        };
        let without_rst: Vec<u8> = (0..bytes.len())
            .filter(|&i| !(rst_at(i) || (i > 0 && rst_at(i - 1))))
            .map(|i| bytes[i])
            .collect();
        if without_rst.len() < bytes.len() {
            assert!(decode_reduced(&without_rst, 1).is_err(), "{name}: missing RSTn accepted");
        }
        for len in (sos..bytes.len()).step_by(7) {
            for eighths in [1, 4] {
                let _ = decode_reduced(&bytes[..len], eighths);
            }
        }
    }
}
