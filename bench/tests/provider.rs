//! The Wasm wasi:nn provider (nn-provider, pre-initialised) driven straight from the host:
//! its logits must match ONNX Runtime's on the reference tensor, with the model found by
//! name in the snapshot, and bad calls must get wasi:nn errors naming the problem.

use spinfer_bench::http::Native;
use spinfer_bench::portable::max_diff;
use spinfer_bench::provider::{Provider, Source};
use std::path::PathBuf;

const DIMS: [u32; 4] = [1, 3, 224, 224];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn provider() -> Provider {
    let path = repo_root().join("target/wasm32-wasip2/release/nn_provider.init.wasm");
    let cache = spinfer::engine::cache_dir(std::env::var("SPINFER_CACHE_DIR").ok().as_deref());
    Provider::load(&path, cache.as_deref())
        .expect("load the pre-initialised provider (make compose)")
}

fn reference_tensor() -> Vec<u8> {
    let data = std::env::var_os("SPINFER_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/data"));
    std::fs::read(data.join("tensors/chelsea_mobilenetv2_1x3x224x224_f32le.bin")).unwrap()
}

/// Portable vs native logits on the reference tensor: max |diff| ≤ 1e-3, and the provider
/// found the model by name with no model file mounted (it lives in the snapshot).
#[test]
fn portable_logits_match_onnx_runtime_on_the_reference_tensor() {
    spinfer::nn::init_onnxruntime(std::path::Path::new(
        &std::env::var("ORT_DYLIB_PATH").expect("ORT_DYLIB_PATH"),
    ))
    .unwrap();
    let input = reference_tensor();
    let native =
        Native::load("mobilenetv2", &repo_root().join("models/mobilenetv2/model.onnx"), 1).unwrap();
    let (_, want) = native.infer(&input).unwrap();
    let got = provider()
        .instantiate()
        .unwrap()
        .infer(Source::Name("mobilenetv2"), &DIMS, &input)
        .unwrap();
    assert_eq!(got.len(), 1000);
    let diff = max_diff(&got, &want);
    assert!(diff <= 1e-3, "max |portable - native| = {diff}");
    let top = |v: &[f32]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(top(&got), 285, "Egyptian cat");
}

/// Bad calls get wasi:nn errors naming the problem, and the instance keeps working.
#[test]
fn provider_errors_name_the_problem() {
    let p = provider();
    let mut inst = p.instantiate().unwrap();
    let e =
        inst.infer(Source::Name("resnet50"), &DIMS, &reference_tensor()).unwrap_err().to_string();
    assert!(
        e.contains("NotFound") && e.contains("mobilenetv2") && e.contains("efficientnet_lite0"),
        "{e}"
    );
    let e = inst
        .infer(Source::Name("mobilenetv2"), &[1, 3, 224, 224], &[0u8; 12])
        .unwrap_err()
        .to_string();
    assert!(e.contains("InvalidArgument") && e.contains("needs"), "{e}");
    let e = inst
        .infer(Source::Name("mobilenetv2"), &[1, 3, 112, 112], &vec![0u8; 3 * 112 * 112 * 4])
        .unwrap_err()
        .to_string();
    assert!(e.contains("InvalidArgument") && e.contains("[1, 3, 224, 224]"), "{e}");
    let e = inst
        .infer(Source::Onnx(b"not a model"), &DIMS, &reference_tensor())
        .unwrap_err()
        .to_string();
    assert!(e.contains("InvalidEncoding"), "{e}");
    let ok = inst.infer(Source::Name("mobilenetv2"), &DIMS, &reference_tensor()).unwrap();
    assert_eq!(ok.len(), 1000);
}
