//! Bit-exactness against the reference: normalising the exact 224×224 crops in
//! `../shared/model/crops224/` must reproduce every `tensor_f32le_nchw_sha256` in
//! `../shared/model/expected_*.json`, for both models.

use serde_json::Value;
use sha2::{Digest, Sha256};
use spinfer_pipeline::{find_model, normalise_nchw, tensor_le_bytes};
use std::path::PathBuf;

fn shared_model_dir() -> PathBuf {
    let dir = std::env::var_os("SPINFER_SHARED_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/model"));
    assert!(dir.join("crops224").is_dir(), "reference assets not found at {}", dir.display());
    dir
}

fn check_model(model: &str) {
    let dir = shared_model_dir();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("expected_{model}.json"))).unwrap()).unwrap();
    let spec = find_model(model).unwrap();
    let images = expected["images"].as_array().unwrap();
    assert_eq!(images.len(), 9);
    for entry in images {
        let crop = image::open(dir.join(entry["crop224_png"].as_str().unwrap())).unwrap().to_rgb8();
        assert_eq!(crop.dimensions(), (224, 224));
        let tensor = normalise_nchw(&crop, spec.normalisation);
        let digest = format!("{:x}", Sha256::digest(tensor_le_bytes(&tensor)));
        assert_eq!(digest, entry["tensor_f32le_nchw_sha256"].as_str().unwrap(), "{model} {}", entry["image"]);
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
    let dir = shared_model_dir();
    let crop = image::open(dir.join("crops224/chelsea.png")).unwrap().to_rgb8();
    let tensor = normalise_nchw(&crop, find_model("mobilenetv2").unwrap().normalisation);
    let reference = std::fs::read(dir.join("tensors/chelsea_mobilenetv2_1x3x224x224_f32le.bin")).unwrap();
    assert_eq!(tensor_le_bytes(&tensor), reference);
}
