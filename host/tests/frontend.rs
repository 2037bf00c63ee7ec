//! The frontend component through the real host and the whole app (spin.toml): the
//! page and its assets, and every `/api` path and failure a user can hit. URL fetches
//! go to a small loopback image server started by the test (bounded, stops itself).

mod common;

use common::{cat, image_server, repo_root, Host};

fn app(env: &[(&str, &str)]) -> Host {
    Host::try_start(&repo_root().join("spin.toml"), &[], env)
        .unwrap_or_else(|f| panic!("{}", f.stderr))
}

fn post_json(h: &Host, body: &str) -> common::Response {
    h.request("POST", "/api/classify", &[("content-type", "application/json")], body.as_bytes())
}

#[test]
fn page_and_assets() {
    let h = app(&[]);
    let r = h.get("/");
    assert_eq!((r.status, r.header("location")), (308, Some("/home")));
    let r = h.get("/home");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("<title>spinfer"), "{}", r.text());
    let etag = r.header("etag").expect("etag").to_owned();
    let r = h.request("GET", "/home", &[("if-none-match", &etag)], b"");
    assert_eq!(r.status, 304);
    let r = h.get("/static/app.js");
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(h.get("/static/style.css").header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(h.get("/static/samples/cat.png").header("content-type"), Some("image/png"));
    assert_eq!(h.get("/static/../Cargo.toml").status, 404);
    assert_eq!(h.get("/static/nope.js").error_code(), "not_found");
    assert_eq!(h.post("/home", b"x").error_code(), "method_not_allowed");
}

#[test]
fn api_classify_raw_multipart_and_models() {
    let h = app(&[]);
    let r = h.post("/api/classify?top=3&ignored=1", &cat());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["predictions"][0]["label"], "Egyptian cat");
    assert_eq!(v["predictions"].as_array().unwrap().len(), 3);
    assert!(v["frontend"]["total_ms"].as_f64().unwrap() > 0.0);

    let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"image\"; filename=\"cat.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    body.extend_from_slice(&cat());
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let r = h.request(
        "POST",
        "/api/classify?model=efficientnet_lite0",
        &[("content-type", "multipart/form-data; boundary=b0undary")],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"], "efficientnet_lite0");

    let r = h.get("/api/models");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["models"].as_array().unwrap().len(), 3);
    // The limit the page sizes its checks by: classify's, as frontend accepts it too.
    assert_eq!(r.json()["limits"]["max_body_bytes"], 40 * 1024 * 1024, "{}", r.text());
}

#[test]
fn api_classify_by_url() {
    let port = image_server(8);
    let allow = format!("127.0.0.1:{port}");
    let h = Host::try_start(
        &repo_root().join("spin.toml"),
        &["--allow-private-host", &allow],
        &[("SPIN_VARIABLE_FETCH_ALLOW_HOSTS", &allow), ("SPIN_VARIABLE_FETCH_TIMEOUT_MS", "1500")],
    )
    .unwrap_or_else(|f| panic!("{}", f.stderr));
    let r = post_json(&h, &format!(r#"{{"url":"http://127.0.0.1:{port}/cat.png"}}"#));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["index"], 285);
    assert!(r.json()["frontend"]["fetch_ms"].as_f64().is_some());
    let code = |path: &str| post_json(&h, &format!(r#"{{"url":"http://127.0.0.1:{port}{path}"}}"#));
    let r = code("/page.html");
    assert_eq!((r.status, r.error_code().as_str()), (415, "fetch_not_image"));
    let r = code("/huge.jpg");
    assert_eq!((r.status, r.error_code().as_str()), (413, "fetch_too_large"));
    let r = code("/missing.jpg");
    assert_eq!((r.status, r.error_code().as_str()), (502, "fetch_bad_status"));
    let r = code("/slow.jpg");
    assert!(r.status == 502 || r.status == 504, "{}", r.text());
    assert!(r.error_code().starts_with("fetch_"), "{}", r.text());
    // Still serving after all that.
    assert_eq!(h.post("/api/classify", &cat()).status, 200);
}

#[test]
fn api_bad_requests_are_named() {
    let h = app(&[]);
    let expect = |r: common::Response, status: u16, code: &str| {
        assert_eq!((r.status, r.error_code().as_str()), (status, code), "{}", r.text());
    };
    expect(h.get("/api/classify"), 405, "method_not_allowed");
    expect(h.post("/api/classify", b""), 400, "empty_body");
    expect(h.post("/api/classify", b"not an image at all"), 400, "not_an_image");
    let form = b"--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--b--\r\n";
    expect(
        h.request(
            "POST",
            "/api/classify",
            &[("content-type", "multipart/form-data; boundary=b")],
            form,
        ),
        400,
        "missing_file",
    );
    expect(post_json(&h, r#"{"link":"http://example.com/cat.jpg"}"#), 400, "missing_url");
    expect(post_json(&h, "{not json"), 400, "bad_json");
    expect(post_json(&h, r#"{"url":"ftp://example.com/cat.jpg"}"#), 400, "bad_url_scheme");
    expect(post_json(&h, r#"{"url":"http://127.0.0.1:9/cat.jpg"}"#), 403, "forbidden_address");
    expect(post_json(&h, r#"{"url":"http://169.254.169.254/latest"}"#), 403, "forbidden_address");
    expect(
        post_json(&h, r#"{"url":"http://classify.spin.internal/classify"}"#),
        403,
        "forbidden_address",
    );
    expect(h.post("/api/classify?model=nope", &cat()), 404, "unknown_model");
    expect(h.post("/api/classify", &vec![0u8; 40 * 1024 * 1024 + 1]), 413, "body_too_large");
    assert_eq!(h.post("/api/classify", &cat()).status, 200);
}

/// The host's own address check, after DNS: spellings of loopback that the page's string
/// check lets through, and names resolving (via `--resolve`) to loopback or the cloud
/// metadata address, are refused with 403; the same name allowed by name is fetched.
#[test]
fn outbound_addresses_are_checked_after_resolution() {
    let port = image_server(2);
    let images = format!("images.test:{port}:127.0.0.1");
    let resolve = ["--resolve", &images, "--resolve", "metadata.test:80:169.254.169.254"];
    let manifest = repo_root().join("spin.toml");
    let h = Host::try_start(&manifest, &resolve, &[("SPIN_VARIABLE_FETCH_TIMEOUT_MS", "1500")])
        .unwrap_or_else(|f| panic!("{}", f.stderr));
    for host in [
        format!("2130706433:{port}"),
        format!("0x7f.1:{port}"),
        format!("127.1:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("images.test:{port}"),
        "metadata.test".to_owned(),
    ] {
        let r = post_json(&h, &format!(r#"{{"url":"http://{host}/cat.png"}}"#));
        assert_eq!((r.status, r.error_code().as_str()), (403, "forbidden_address"), "{host}");
    }
    drop(h);
    let allowed = format!("images.test:{port}");
    let args = [&resolve[..], &["--allow-private-host", &allowed]].concat();
    let h = Host::try_start(&manifest, &args, &[]).unwrap_or_else(|f| panic!("{}", f.stderr));
    let r = post_json(&h, &format!(r#"{{"url":"http://images.test:{port}/cat.png"}}"#));
    // 200 and classified: the fetch went out, and the internal call to classify still chains.
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["index"], 285);
}

#[test]
fn classify_unavailable_is_503() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // Allowed by name, so the host connects and finds nobody there (a loopback classify
    // that is not allowed is refused earlier, by the address policy: 503 as well).
    let dead = dead.to_string();
    let h = Host::try_start(
        &repo_root().join("spin.toml"),
        &["--allow-private-host", &dead],
        &[("SPIN_VARIABLE_CLASSIFY_HOST", &dead)],
    )
    .unwrap_or_else(|f| panic!("{}", f.stderr));
    let r = h.post("/api/classify", &cat());
    assert_eq!((r.status, r.error_code().as_str()), (503, "classify_unavailable"), "{}", r.text());
    assert_eq!(h.get("/api/models").error_code(), "classify_unavailable");
}
