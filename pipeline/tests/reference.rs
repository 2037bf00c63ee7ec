//! Bit-exactness against the reference: normalising the exact 224×224 crops in
//! `tests/data/crops224/` must reproduce every `tensor_f32le_nchw_sha256` in
//! `tests/data/expected_*.json`, for both models (provenance: `tests/data/README.md`).

use serde_json::Value;
use sha2::{Digest, Sha256};
use spinfer_pipeline::{find_model, normalise_nchw, tensor_le_bytes};
use std::path::PathBuf;

fn test_data_dir() -> PathBuf {
    let dir = std::env::var_os("SPINFER_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data"));
    assert!(dir.join("crops224").is_dir(), "reference assets not found at {}", dir.display());
    dir
}

fn check_model(model: &str) {
    let dir = test_data_dir();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("expected_{model}.json"))).unwrap(),
    )
    .unwrap();
    let spec = find_model(model).unwrap();
    let images = expected["images"].as_array().unwrap();
    assert_eq!(images.len(), 9);
    for entry in images {
        let crop = image::open(dir.join(entry["crop224_png"].as_str().unwrap())).unwrap().to_rgb8();
        assert_eq!(crop.dimensions(), (224, 224));
        let tensor = normalise_nchw(&crop, spec.normalisation);
        let digest = format!("{:x}", Sha256::digest(tensor_le_bytes(&tensor)));
        assert_eq!(
            digest,
            entry["tensor_f32le_nchw_sha256"].as_str().unwrap(),
            "{model} {}",
            entry["image"]
        );
    }
}

#[test]
fn mobilenetv2_tensors_are_bit_exact() {
    check_model("mobilenetv2");
}

#[test]
fn efficientnet_lite0_tensors_are_bit_exact() {
    check_model("efficientnet_lite0");
}

#[test]
fn reference_tensor_file_matches() {
    let dir = test_data_dir();
    let crop = image::open(dir.join("crops224/chelsea.png")).unwrap().to_rgb8();
    let tensor = normalise_nchw(&crop, find_model("mobilenetv2").unwrap().normalisation);
    let reference =
        std::fs::read(dir.join("tensors/chelsea_mobilenetv2_1x3x224x224_f32le.bin")).unwrap();
    assert_eq!(tensor_le_bytes(&tensor), reference);
}

/// The Pillow-exact resize: decoding a source photo and resizing it must give the
/// reference crop. PNG sources decode losslessly, so their crops match bit for bit;
/// JPEG decoders (zune-jpeg here, libjpeg-turbo in Pillow) differ by a little per pixel.
#[test]
fn resize_and_crop_reproduces_the_reference_crops() {
    let dir = test_data_dir();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected_mobilenetv2.json")).unwrap(),
    )
    .unwrap();
    let mut exact = 0;
    for entry in expected["images"].as_array().unwrap() {
        let source = entry["image"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(source)).unwrap();
        let crop = spinfer_pipeline::resize_and_crop(
            &spinfer_pipeline::decode_rgb8(&bytes, Default::default()).unwrap(),
        );
        let reference =
            image::open(dir.join(entry["crop224_png"].as_str().unwrap())).unwrap().to_rgb8();
        let digest = format!("{:x}", Sha256::digest(crop.as_raw()));
        if source.ends_with(".png") {
            assert_eq!(digest, entry["crop224_u8_hwc_rgb_sha256"].as_str().unwrap(), "{source}");
            exact += 1;
        }
        let diffs: Vec<i16> = crop
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(a, b)| (i16::from(*a) - i16::from(*b)).abs())
            .collect();
        let max = *diffs.iter().max().unwrap();
        let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
        println!("{source}: max |diff| {max}, mean {mean:.3}");
        assert!(max <= 3 && mean < 0.5, "{source}: max |diff| {max}, mean {mean:.3}");
    }
    assert_eq!(exact, 2);
}
