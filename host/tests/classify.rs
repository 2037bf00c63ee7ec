//! The classify component end to end: the real `spinfer` host, the real release
//! component, ONNX Runtime — driven over HTTP as a user would. Checks every shared
//! image against ONNX Runtime's reference top-5 and every bad-input case.

mod common;

use common::{
    assert_error, assert_still_serving, cat, check_model_on, expected, repo_root, test_data, Host,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Each test runs its own `spinfer up` (about a second with the precompiled cache), so
/// every child process is stopped when its test ends.
fn host() -> Host {
    Host::start(&repo_root().join("spin.toml"), &[])
}

/// A good request still succeeds (after a bad one).
fn check_model(model: &str) {
    check_model_on(&host(), model);
}

#[test]
fn mobilenetv2_matches_reference_top5_for_every_image() {
    check_model("mobilenetv2");
}

#[test]
fn efficientnet_lite0_matches_reference_top5_for_every_image() {
    check_model("efficientnet_lite0");
}

/// The int8 model (derived from MobileNetV2 at set-up) gives the fp32 reference's top-1 for
/// every image, decoded as served and as the reference decodes; its probabilities are its
/// own (the accuracy guard, `make test-accuracy`, compares it with fp32 over 169 photos).
#[test]
fn mobilenetv2_int8_gives_the_reference_top1_for_every_image() {
    let h = host();
    for entry in expected("mobilenetv2") {
        let image = entry["image"].as_str().unwrap();
        let bytes = std::fs::read(test_data().join(image)).unwrap();
        for decode in ["fast", "full"] {
            let r = h.post(&format!("/classify?model=mobilenetv2_int8&decode={decode}"), &bytes);
            assert_eq!(r.status, 200, "{image}: {}", r.text());
            let got: spinfer_api::ClassifyResponse = r.parse();
            assert_eq!(got.model, "mobilenetv2_int8");
            let want = &entry["top5"][0];
            assert_eq!(got.predictions[0].index as u64, want["index"], "{image} {decode}");
            assert_eq!(got.predictions[0].label, want["label"], "{image} {decode}");
        }
    }
}

/// The same component and images through the host's OpenVINO backend (IR derived from
/// the ONNX files by scripts/make-openvino-ir.sh).
#[test]
fn openvino_backend_matches_reference_top5() {
    let libs = std::env::var("OPENVINO_LIBS")
        .expect("OPENVINO_LIBS must name the openvino wheel's libs (scripts/setup.sh writes it)");
    let rc = repo_root().join("runtime-config.openvino.toml");
    let h = Host::try_start(
        &repo_root().join("spin.toml"),
        &["--runtime-config-file", rc.to_str().unwrap()],
        &[("LD_LIBRARY_PATH", &libs)],
    )
    .unwrap_or_else(|f| panic!("spinfer with OpenVINO did not start:\n{}", f.stderr));
    check_model_on(&h, "mobilenetv2");
    check_model_on(&h, "efficientnet_lite0");
    let r = h.post("/classify?model=mobilenetv2_int8&top=1", &cat());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["index"], 285, "{}", r.text());
}

#[test]
fn top_k_and_default_model() {
    let h = host();
    let r = h.post("/classify?top=20", &cat());
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["model"], "mobilenetv2");
    assert_eq!(v["predictions"].as_array().unwrap().len(), 20);
    let r = h.post("/classify", &cat());
    assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 5);
    // Times to the microsecond, as the contract writes them (not 1.8010249999999999).
    for (stage, t) in r.json()["timings_ms"].as_object().unwrap() {
        let text = t.to_string();
        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(t.as_f64().unwrap() > 0.0 && decimals <= 3, "{stage}: {text}");
    }
    // The stages again as Server-Timing, with what the JSON cannot hold (the body read,
    // the answer's encoding) and the wasi-nn call split up.
    let timing = r.header("server-timing").expect("a Server-Timing header").to_owned();
    for stage in ["body", "decode", "preprocess", "inference", "topk", "json", "nn-compute"] {
        assert!(timing.contains(&format!("{stage};dur=")), "{stage} missing: {timing}");
    }
}

#[test]
fn other_formats_decode_from_their_bytes() {
    // Re-encode a reference photo as WebP/GIF/BMP and send it with a misleading content-type.
    let h = host();
    let img = spinfer_pipeline::image::load_from_memory(&cat()).unwrap();
    for format in [
        spinfer_pipeline::image::ImageFormat::WebP,
        spinfer_pipeline::image::ImageFormat::Gif,
        spinfer_pipeline::image::ImageFormat::Bmp,
    ] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, format).unwrap();
        let r = h.request(
            "POST",
            "/classify?top=5",
            &[("content-type", "text/plain")],
            bytes.get_ref(),
        );
        assert_eq!(r.status, 200, "{format:?}: {}", r.text());
        let top5: Vec<u64> = r.json()["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["index"].as_u64().unwrap())
            .collect();
        assert!(top5.contains(&285), "{format:?}: Egyptian cat not in top-5 {top5:?}");
    }
}

#[test]
fn models_and_health_routes() {
    let h = host();
    let r = h.get("/classify/models");
    assert_eq!(r.status, 200);
    let models = r.json()["models"].as_array().unwrap().clone();
    let names: Vec<_> = models.iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["mobilenetv2", "efficientnet_lite0", "mobilenetv2_int8"]);
    assert_eq!(models[0]["labels"], 1000);
    // The limits in force, which the page sizes its checks by.
    let limits = &r.json()["limits"];
    assert_eq!(limits["max_body_bytes"], 40 * 1024 * 1024, "{}", r.text());
    assert_eq!(limits["max_pixels"], 40_000_000);
    assert_eq!(limits["max_header_pixels"], 200_000_000);
    assert_eq!(models[0]["input_shape"], serde_json::json!([1, 3, 224, 224]));
    assert_eq!(models[0]["default"], true);
    let r = h.get("/classify/healthz");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(h.get("/.well-known/spin/health").status, 200);
}

#[test]
fn bad_inputs_get_clear_json_errors_and_the_next_request_works() {
    let h = &host();
    assert_error(&h.post("/classify", b""), 400, "empty_body");
    assert_still_serving(h);
    assert_error(&h.post("/classify", b"this is plainly not an image"), 400, "not_an_image");
    assert_still_serving(h);
    let jpeg = std::fs::read(test_data().join("images/grace_hopper.jpg")).unwrap();
    let r = h.post("/classify", &jpeg[..jpeg.len() / 3]);
    assert_error(&r, 400, "decode_failed");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("JPEG"), "{}", r.text());
    assert_still_serving(h);
    // What `make fuzz` found (a GIF whose screen is 0 pixels wide): classify trapped, 500.
    let gif = std::fs::read(repo_root().join("fuzz/corpus/image/zero_width_screen.gif")).unwrap();
    let r = h.post("/classify", &gif);
    assert_error(&r, 400, "decode_failed");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("no pixels"), "{}", r.text());
    assert_still_serving(h);
    assert_error(
        &h.post("/classify", b"II*\x00\x08\x00\x00\x00tiff-ish bytes"),
        415,
        "unsupported_format",
    );
    assert_still_serving(h);
    // Over classify's own 40 MiB limit (under the host's 48 MiB): 413 from the component.
    let r = h.post("/classify", &vec![0u8; 40 * 1024 * 1024 + 1]);
    assert_error(&r, 413, "body_too_large");
    assert!(r.text().contains("over the limit of 41943040 bytes"), "{}", r.text());
    assert_still_serving(h);
    // Over the host's 48 MiB limit: refused from Content-Length, body never read.
    let r = h.request("POST", "/classify", &[("content-length", "51000000")], b"");
    assert_error(&r, 413, "body_too_large");
    assert!(r.text().contains("host limit"), "{}", r.text());
    assert_still_serving(h);
    assert_error(
        &h.post("/classify", &spinfer_testing::images::png_bomb()),
        422,
        "image_too_large",
    );
    assert_still_serving(h);
    assert_error(&h.get("/classify"), 405, "method_not_allowed");
    assert_eq!(h.get("/classify").header("allow"), Some("POST"));
    assert_error(&h.post("/classify/models", b""), 405, "method_not_allowed");
    assert_error(&h.post("/classify?model=resnet9000", &cat()), 404, "unknown_model");
    for top in ["0", "21", "abc", "-1"] {
        assert_error(&h.post(&format!("/classify?top={top}"), &cat()), 400, "bad_top");
    }
    assert_error(&h.get("/classify/nope"), 404, "not_found");
    assert_still_serving(h);
}

#[test]
fn chunked_body_over_the_host_limit_is_413() {
    let body = vec![7u8; 49 * 1024 * 1024];
    let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
    chunked.extend_from_slice(&body);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let h = &host();
    let r = h.request("POST", "/classify", &[("transfer-encoding", "chunked")], &chunked);
    assert_error(&r, 413, "body_too_large");
    assert_still_serving(h);
}

/// A client that writes its whole upload before it reads (as Python's urllib and requests
/// do) gets classify's early 413 as JSON, not a reset: the host reads the body, up to its
/// own limit, before the component runs, so nothing is left unread when it answers.
#[test]
fn an_early_answer_reaches_a_client_that_writes_everything_first() {
    let h = host();
    let body = vec![0u8; 41 * 1024 * 1024]; // over classify's 40 MiB, under the host's 48
    let mut stream = TcpStream::connect(h.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "POST /classify HTTP/1.1\r\nHost: spinfer\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).expect("the server takes the whole upload");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("the answer arrives, no reset");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"body_too_large\""), "{text}");
    assert_still_serving(&h);
}

fn post(addr: std::net::SocketAddr, body: &[u8]) -> common::Response {
    common::request(addr, "POST", "/classify?top=1", &[], body)
}

/// Start-up builds one ONNX Runtime session per model; a pool grows under concurrent
/// load up to `--sessions` and no further (the log reports each session added), and
/// every concurrent request gets the reference answer.
#[test]
fn session_pools_grow_on_demand_up_to_their_size() {
    let h = Host::start(
        &repo_root().join("spin.toml"),
        &["--sessions", "3", "--max-concurrency", "12", "--log-format", "json"],
    );
    let (image, addr) = (cat(), h.addr);
    let mut largest = 1;
    for _round in 0..3 {
        let answers: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..12).map(|_| s.spawn(|| post(addr, &image))).collect();
            handles.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for r in answers {
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json()["predictions"][0]["index"], 285);
        }
        while let Ok(line) = h.stderr.recv_timeout(Duration::from_millis(200)) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            let fields = &event["fields"];
            if fields["message"] == "ONNX Runtime session added to the pool"
                && fields["model"] == "mobilenetv2"
            {
                let n = fields["sessions"].as_u64().unwrap_or_else(|| panic!("{line}"));
                assert!(n <= 3, "pool grew past --sessions 3: {line}");
                largest = largest.max(n);
            }
        }
        if largest == 3 {
            break;
        }
    }
    assert_eq!(largest, 3, "12 concurrent requests never grew the pool to 3 sessions");
}

/// The same for a body over the *host's* limit, refused from its Content-Length before
/// anything runs: the host still reads (and drops) the upload before it answers, so the
/// client gets the 413 JSON instead of a broken pipe (seen by `make soak` with Python's
/// http.client before the host did so).
#[test]
fn a_body_over_the_host_limit_is_refused_to_a_client_that_writes_everything_first() {
    let h = Host::start(&repo_root().join("spin.toml"), &["--max-body-bytes", "1048576"]);
    for _ in 0..2 {
        let body = vec![0u8; 16 * 1024 * 1024];
        let mut stream = TcpStream::connect(h.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!(
            "POST /classify HTTP/1.1\r\nHost: spinfer\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).expect("the server takes the whole upload");
        let (mut raw, mut buf) = (Vec::new(), [0u8; 4096]);
        while !raw.ends_with(b"}") {
            let n = stream.read(&mut buf).expect("the answer arrives, no reset");
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&raw));
            raw.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        assert!(text.contains("over the host limit of 1048576 bytes"), "{text}");
    }
    assert_eq!(h.get("/.well-known/spin/health").status, 200);
}
