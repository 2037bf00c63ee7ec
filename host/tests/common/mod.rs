//! Test harness: the real `spinfer` binary on a free loopback port (spinfer-testing's
//! [`Spinfer`]), driven over HTTP/1.1, and the reference answers in `tests/data/`.

// Each test file uses a part of this module.
#![allow(dead_code, unused_imports)]

pub use spinfer_testing::{request, Response, Spinfer as Host};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The reference photos, tensors and top-5s (`tests/data/`, provenance in its README).
pub fn test_data() -> PathBuf {
    let dir = std::env::var_os("SPINFER_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/data"));
    assert!(dir.join("images").is_dir(), "reference assets not found at {}", dir.display());
    dir
}

/// The cat photo every suite classifies (Egyptian cat, index 285).
pub fn cat() -> Vec<u8> {
    std::fs::read(test_data().join("images/chelsea.png")).unwrap()
}

/// A JSON error with this status and code, and a message in words.
pub fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!((r.status, r.error_code().as_str()), (status, code), "{}", r.text());
    assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
    assert_eq!(r.header("content-type"), Some("application/json"));
}

/// After a bad request, the next good one still gets the right answer.
pub fn assert_still_serving(h: &Host) {
    let r = h.post("/classify?top=1", &cat());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["index"], 285);
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// ONNX Runtime's reference top-5 per test image (tests/data/expected_<model>.json).
pub fn expected(model: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(test_data().join(format!("expected_{model}.json"))).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["images"].as_array().unwrap().clone()
}

/// Classify every test image with `model` on `h` along the reference's path
/// (`decode=full`): top-1 (label, p within 0.02) and the top-5 set must equal the
/// reference. As served by default (large JPEGs decoded at reduced scale) the top-1
/// must be the reference's too.
pub fn check_model_on(h: &Host, model: &str) {
    let mut top1_hits = 0;
    for entry in expected(model) {
        let image = entry["image"].as_str().unwrap();
        let bytes = std::fs::read(test_data().join(image)).unwrap();
        let fast = h.post(&format!("/classify?model={model}&top=1"), &bytes);
        assert_eq!(fast.status, 200, "{image}: {}", fast.text());
        let fast: spinfer_api::ClassifyResponse = fast.parse();
        let want_top1 = &entry["top5"][0];
        assert_eq!(
            fast.predictions[0].index as u64, want_top1["index"],
            "{model} {image} fast top-1"
        );
        let r = h.post(&format!("/classify?model={model}&top=5&decode=full"), &bytes);
        assert_eq!(r.status, 200, "{image}: {}", r.text());
        let got: spinfer_api::ClassifyResponse = r.parse();
        assert_eq!(got.model, model);
        let preds = &got.predictions;
        assert_eq!(preds.len(), 5);
        let want = entry["top5"].as_array().unwrap();
        assert_eq!(preds[0].index as u64, want[0]["index"], "{model} {image} top-1: got {preds:?}");
        assert_eq!(preds[0].label, want[0]["label"]);
        let p_got = f64::from(preds[0].probability);
        let p_want = want[0]["prob"].as_f64().unwrap();
        assert!(
            (p_got - p_want).abs() <= 0.02,
            "{model} {image}: top-1 p {p_got} vs reference {p_want}"
        );
        let got_set = preds.iter().map(|p| p.index as u64).collect::<BTreeSet<_>>();
        let want_set = want.iter().map(|p| p["index"].as_u64().unwrap()).collect::<BTreeSet<_>>();
        assert_eq!(got_set, want_set, "{model} {image} top-5 set");
        let t = got.timings_ms;
        for (key, ms) in [
            ("decode", t.decode),
            ("preprocess", t.preprocess),
            ("inference", t.inference),
            ("total", t.total),
        ] {
            assert!(ms >= 0.0, "timings_ms.{key}");
        }
        top1_hits += 1;
    }
    assert_eq!(top1_hits, 9);
}

/// Start-up must fail with a message naming the problem.
pub fn refuses(manifest: &std::path::Path, args: &[&str], env: &[(&str, &str)], expect: &str) {
    match Host::try_start(manifest, args, env) {
        Ok(_) => panic!("spinfer started despite: {expect}"),
        Err(f) => {
            assert_ne!(f.code, Some(0));
            assert!(f.stderr.contains(expect), "expected {expect:?} in:\n{}", f.stderr);
        }
    }
}

/// Serve a few fixed answers on loopback for `count` connections at most.
pub fn image_server(count: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cat = std::fs::read(test_data().join("images/chelsea.png")).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let reply = |s: &mut std::net::TcpStream, ctype: &str, len: usize, body: &[u8]| {
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n");
                let _ = s.write_all(body);
            };
            match path.as_str() {
                "/cat.png" => reply(&mut s, "image/png", cat.len(), &cat),
                "/page.html" => reply(&mut s, "text/html", 6, b"<html>"),
                "/huge.jpg" => reply(&mut s, "image/jpeg", 50_000_000, b"\xff\xd8"),
                "/slow.jpg" => std::thread::sleep(std::time::Duration::from_secs(4)),
                _ => {
                    let _ = s.write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    port
}
