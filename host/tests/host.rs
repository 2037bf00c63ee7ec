//! The `spinfer` host's own promises, tested through the real binary: faults in one
//! request (trap, out-of-memory, endless loop) are answered with JSON and contained;
//! chaining, outbound policy and variables work; overload is answered 503 quickly;
//! bad configuration stops start-up with a message naming the problem; SIGTERM drains.

mod common;

use common::{fixture, refuses, repo_root, test_data, Host};
use spinfer_testing::free_port;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn faults(extra: &[&str]) -> Host {
    let rc = repo_root().join("runtime-config.toml");
    let mut args = vec!["--runtime-config-file", rc.to_str().unwrap()];
    args.extend_from_slice(extra);
    Host::start(&fixture("faults.toml"), &args)
}

fn assert_ok(h: &Host) {
    let r = h.get("/fault/ok");
    assert_eq!((r.status, r.text().as_str()), (200, "fine"));
}

#[test]
fn trap_oom_and_timeout_are_contained() {
    let h = faults(&["--timeout-ms", "1500", "--max-instance-memory", "67108864"]);
    assert_ok(&h);
    let r = h.get("/fault/trap");
    assert_eq!((r.status, r.error_code().as_str()), (500, "component_trapped"), "{}", r.text());
    assert_ok(&h);
    let r = h.get("/fault/oom");
    assert_eq!((r.status, r.error_code().as_str()), (500, "out_of_memory"), "{}", r.text());
    assert_ok(&h);
    let start = Instant::now();
    let r = h.get("/fault/loop");
    assert_eq!((r.status, r.error_code().as_str()), (504, "timeout"), "{}", r.text());
    assert!(start.elapsed() < Duration::from_secs(10), "timeout took {:?}", start.elapsed());
    assert_ok(&h);
    let r =
        h.post("/classify?top=1", &std::fs::read(test_data().join("images/coffee.png")).unwrap());
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_looping_component_does_not_stall_other_requests() {
    let h = faults(&["--timeout-ms", "3000", "--max-concurrency", "4"]);
    let addr = h.addr;
    let slow: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || common::request(addr, "GET", "/fault/loop", &[], b"")))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..10 {
        let start = Instant::now();
        assert_ok(&h);
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "a quick request took {:?} next to looping ones",
            start.elapsed()
        );
    }
    for t in slow {
        assert_eq!(t.join().unwrap().status, 504);
    }
}

#[test]
fn a_stalled_chunked_upload_times_out_with_408() {
    use std::io::{Read, Write};
    let h = faults(&["--timeout-ms", "1500"]);
    let mut s = std::net::TcpStream::connect(h.addr).unwrap();
    s.write_all(
        b"POST /classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",
    )
    .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(head.contains("body_timeout"), "{head}");
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    assert_ok(&h);
}

#[test]
fn chaining_outbound_policy_and_variables() {
    let h = faults(&[]);
    let r = h.get("/fault/chain");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "ok");
    let r = h.get("/fault/denied");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("denied") || r.text().contains("Denied"), "{}", r.text());
    assert_eq!(h.get("/fault/variable").text(), "hello from spinfer");
    // SPIN_VARIABLE_* overrides the application variable.
    let rc = repo_root().join("runtime-config.toml");
    let h2 = Host::try_start(
        &fixture("faults.toml"),
        &["--runtime-config-file", rc.to_str().unwrap()],
        &[("SPIN_VARIABLE_GREETING", "hi")],
    )
    .unwrap_or_else(|f| panic!("{}", f.stderr));
    assert_eq!(h2.get("/fault/variable").text(), "hi from spinfer");
    assert_eq!(h.get("/nothing-routes-here").error_code(), "not_found");
}

/// Chained requests (frontend → classify.spin.internal) are admitted and counted like
/// direct ones, from their own pool: with every slot held by a frontend waiting on
/// classify, the classify calls still run. With one shared pool this would deadlock — each
/// frontend waiting for a slot only another frontend could free — until the queue timeout
/// answered 503; with chained calls bypassing admission, `/metrics` would count no
/// classify work.
#[test]
fn chained_requests_are_admitted_and_counted_at_full_concurrency() {
    let admin = format!("127.0.0.1:{}", free_port());
    let h = Host::start(
        &repo_root().join("spin.toml"),
        &["--max-concurrency", "2", "--queue-timeout-ms", "10000", "--admin-listen", &admin],
    );
    let image = std::fs::read(test_data().join("images/chelsea.png")).unwrap();
    let addr = h.addr;
    let n = 6;
    let started = Instant::now();
    let clients: Vec<_> = (0..n)
        .map(|_| {
            let image = image.clone();
            std::thread::spawn(move || {
                common::request(addr, "POST", "/api/classify?top=1", &[], &image)
            })
        })
        .collect();
    for c in clients {
        let r = c.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let answer: spinfer_api::ClassifyResponse = r.parse();
        assert_eq!(answer.predictions[0].index, 285);
        assert!(answer.frontend.is_some());
    }
    assert!(started.elapsed() < Duration::from_secs(9), "took {:?}", started.elapsed());
    let text = common::request(admin.parse().unwrap(), "GET", "/metrics", &[], b"").text();
    for component in ["frontend", "classify"] {
        let line =
            format!("spinfer_requests_total{{component=\"{component}\",status=\"200\"}} {n}");
        assert!(text.contains(&line), "{line} missing in:\n{text}");
    }
    assert!(text.contains("spinfer_queue_depth 0"), "{text}");
    assert!(text.contains("spinfer_in_flight 0"), "{text}");
}

#[test]
fn missing_graph_is_503_with_the_backend_message() {
    let dir = scratch("nn-missing");
    std::fs::write(
        dir.join("rc.toml"),
        format!(
            "[wasi_nn.models]\nmobilenetv2 = \"{}\"\n",
            repo_root().join("models/mobilenetv2/model.onnx").display()
        ),
    )
    .unwrap();
    let h = Host::start(
        &repo_root().join("spin.toml"),
        &["--runtime-config-file", dir.join("rc.toml").to_str().unwrap()],
    );
    let img = std::fs::read(test_data().join("images/eagle.jpg")).unwrap();
    let r = h.post("/classify?model=efficientnet_lite0", &img);
    assert_eq!((r.status, r.error_code().as_str()), (503, "inference_failed"), "{}", r.text());
    assert!(r.text().contains("efficientnet_lite0"), "{}", r.text());
    assert_eq!(
        h.post("/classify?model=mobilenetv2&top=1", &img).json()["predictions"][0]["index"],
        22
    );
}

#[test]
fn overload_is_answered_503_with_retry_after() {
    let h = faults(&["--max-concurrency", "1", "--max-queue", "0", "--timeout-ms", "3000"]);
    let addr = h.addr;
    // The slow request retries until it holds the only slot (a probe may hold it first).
    let slow = std::thread::spawn(move || loop {
        let r = common::request(addr, "GET", "/fault/loop", &[], b"");
        if r.status != 503 {
            break r;
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    // Once the slow request holds the only slot, the next one is refused at once.
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut seen = Vec::new();
    let (r, took) = loop {
        let start = Instant::now();
        let r = h.get("/fault/ok");
        seen.push(r.status);
        if r.status != 200 || Instant::now() > deadline {
            break (r, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(r.status, 503, "probes saw {seen:?}; slow request: {:?}", slow.is_finished());
    assert_eq!(r.error_code(), "overloaded", "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(took < Duration::from_millis(500), "503 took {took:?}");
    assert_eq!(slow.join().unwrap().status, 504);
    assert_ok(&h);
}

#[test]
fn metrics_on_the_admin_listener() {
    let port = free_port();
    let admin = format!("127.0.0.1:{port}");
    let h = faults(&["--admin-listen", &admin]);
    assert_ok(&h);
    let _ = h.get("/fault/trap");
    let r = common::request(admin.parse().unwrap(), "GET", "/metrics", &[], b"");
    let text = r.text();
    assert_eq!(r.status, 200);
    assert!(
        text.contains("spinfer_requests_total{component=\"faulty\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("spinfer_requests_total{component=\"faulty\",status=\"500\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("spinfer_request_duration_seconds_count{component=\"faulty\"} 2"),
        "{text}"
    );
    for name in
        ["spinfer_queue_depth", "spinfer_instances", "spinfer_in_flight", "spinfer_rejected_total"]
    {
        assert!(text.contains(name), "{name} missing");
    }
    let img = std::fs::read(test_data().join("images/china.jpg")).unwrap();
    assert_eq!(h.post("/classify", &img).status, 200);
    let text = common::request(admin.parse().unwrap(), "GET", "/metrics", &[], b"").text();
    assert!(
        text.contains("spinfer_inference_duration_seconds_count{model=\"mobilenetv2\"} 1"),
        "{text}"
    );
}

/// The access log read from a pipe, as a container runtime or log collector reads it:
/// plain text (no terminal colour codes) with times to the microsecond.
#[test]
fn the_access_log_is_plain_text_when_not_on_a_terminal() {
    let h = faults(&[]);
    assert_ok(&h);
    let line = std::iter::from_fn(|| h.stderr.recv_timeout(Duration::from_secs(10)).ok())
        .find(|l| l.contains("/fault/ok") && l.contains("request"))
        .expect("an access log line for /fault/ok");
    assert!(!line.contains('\x1b'), "terminal escape codes in a piped log: {line:?}");
    for field in ["ms=", "cpu_ms="] {
        let value = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix(field))
            .unwrap_or_else(|| panic!("no {field} in {line}"));
        let decimals = value.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(value.parse::<f64>().is_ok() && decimals <= 3, "{field}{value} in {line}");
    }
}

#[test]
fn sigterm_drains_in_flight_requests() {
    let h = faults(&["--timeout-ms", "1500"]);
    let addr = h.addr;
    let slow = std::thread::spawn(move || common::request(addr, "GET", "/fault/loop", &[], b""));
    std::thread::sleep(Duration::from_millis(400));
    let code = h.terminate();
    assert_eq!(slow.join().unwrap().status, 504, "in-flight request was not answered");
    assert_eq!(code, Some(0));
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spinfer-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_configuration_stops_startup_with_a_clear_message() {
    let dir = scratch("config");
    let spin = std::fs::read_to_string(repo_root().join("spin.toml")).unwrap();
    refuses(&dir.join("absent.toml"), &[], &[], "cannot read manifest");
    std::fs::write(dir.join("syntax.toml"), "spin_manifest_version = 2\n[application\n").unwrap();
    refuses(&dir.join("syntax.toml"), &[], &[], "syntax.toml:2:");
    let missing =
        spin.replace("target/wasm32-wasip2/release/classify.wasm", "nowhere/classify.wasm");
    std::fs::write(dir.join("missing.toml"), missing).unwrap();
    refuses(&dir.join("missing.toml"), &[], &[], "nowhere/classify.wasm");
    let unsupported =
        format!("{spin}\n[[trigger.redis]]\nchannel = \"x\"\ncomponent = \"classify\"\n");
    std::fs::write(dir.join("redis.toml"), unsupported).unwrap();
    refuses(&dir.join("redis.toml"), &[], &[], "\"redis\" is not supported");
    let spin_toml = repo_root().join("spin.toml");
    refuses(
        &spin_toml,
        &["--nn-backend", "tensorflow"],
        &[],
        "unknown wasi-nn backend \"tensorflow\"",
    );
    refuses(
        &spin_toml,
        &["--ort-lib", "/nonexistent/libonnxruntime.so"],
        &[],
        "ONNX Runtime library not found at /nonexistent/libonnxruntime.so",
    );
    let ov = repo_root().join("runtime-config.openvino.toml");
    refuses(
        &spin_toml,
        &["--runtime-config-file", ov.to_str().unwrap()],
        &[("LD_LIBRARY_PATH", "")],
        "OpenVINO could not load",
    );
    std::fs::write(dir.join("rc.toml"), "[wasi_nn.models]\nghost = \"ghost.onnx\"\n").unwrap();
    refuses(
        &spin_toml,
        &["--runtime-config-file", dir.join("rc.toml").to_str().unwrap()],
        &[],
        "model \"ghost\"",
    );
}
