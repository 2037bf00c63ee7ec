//! The same app on every runtime a user runs it on, with the same assertions (issue 17):
//! spinfer with native wasi-nn on spin.toml; spinfer without wasi:nn on
//! spin.portable.toml (classify composed at build time); the real Spin CLI on
//! spin.portable.toml; and spinfer and Spin on spin.deps.toml (classify's wasi:nn
//! satisfied by the pre-initialised provider, composed when the app loads).
//!
//! One server per runtime (the assertions run in sequence against it), started with a
//! loopback image server allowed by variable, so files, variables, routing, service
//! chaining (frontend → classify.spin.internal) and outbound HTTP all run on each. Where
//! no Spin CLI is found (scripts/spin.sh: SPIN_BIN, then PATH) the Spin cases print
//! `SKIPPED …` with the reason and pass.

mod common;

use common::{
    assert_error, assert_still_serving, cat, check_model_on, image_server, repo_root, test_data,
    Host,
};
use spinfer_testing::spin::start_spin;

enum Runtime {
    /// `spinfer up` with these arguments.
    Spinfer(&'static [&'static str]),
    /// `spin up` (the real Spin CLI).
    Spin,
}

/// Start `runtime` on `manifest` with the variables the suite needs; None: skipped.
fn start(case: &str, manifest: &str, runtime: Runtime, image_port: u16) -> Option<Host> {
    let manifest = repo_root().join(manifest);
    let allow = format!("127.0.0.1:{image_port}");
    let env = [("SPIN_VARIABLE_FETCH_ALLOW_HOSTS", allow.as_str())];
    match runtime {
        Runtime::Spinfer(args) => {
            // spinfer also checks addresses after DNS: the loopback image server must be
            // allowed on its command line too (a kept difference: docs/spin.md).
            let args = [args, &["--allow-private-host", &allow]].concat();
            Some(
                Host::try_start(&manifest, &args, &env)
                    .unwrap_or_else(|f| panic!("{case}: spinfer did not start:\n{}", f.stderr)),
            )
        }
        Runtime::Spin => start_spin(case, &manifest, &env)
            .unwrap_or_else(|f| panic!("{case}: spin did not start ({:?}):\n{}", f.code, f.stderr)),
    }
}

/// classify: both fp32 models against ONNX Runtime's reference, the int8 one's top-1, its
/// routes, every bad input.
fn classify_suite(h: &Host) {
    check_model_on(h, "mobilenetv2");
    check_model_on(h, "efficientnet_lite0");
    let r = h.post("/classify?model=mobilenetv2_int8&top=1", &cat());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["label"], "Egyptian cat", "{}", r.text());
    let r = h.post("/classify?top=20", &cat());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"], "mobilenetv2");
    assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 20);
    let r = h.get("/classify/models");
    assert_eq!(r.status, 200, "{}", r.text());
    let names: Vec<_> = r.json()["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["mobilenetv2", "efficientnet_lite0", "mobilenetv2_int8"]);
    assert_eq!(h.get("/classify/healthz").status, 200);
    // Spin's own health route, answered by the runtime, not a component.
    let r = h.get("/.well-known/spin/health");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));

    assert_error(&h.post("/classify", b""), 400, "empty_body");
    assert_error(&h.post("/classify", b"this is plainly not an image"), 400, "not_an_image");
    let jpeg = std::fs::read(test_data().join("images/grace_hopper.jpg")).unwrap();
    assert_error(&h.post("/classify", &jpeg[..jpeg.len() / 3]), 400, "decode_failed");
    assert_error(
        &h.post("/classify", b"II*\x00\x08\x00\x00\x00tiff-ish bytes"),
        415,
        "unsupported_format",
    );
    assert_still_serving(h);
    assert_error(&h.post("/classify", &vec![0u8; 40 * 1024 * 1024 + 1]), 413, "body_too_large");
    assert_error(
        &h.post("/classify", &spinfer_testing::images::png_bomb()),
        422,
        "image_too_large",
    );
    assert_still_serving(h);
    let r = h.get("/classify");
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    assert_error(&h.post("/classify?model=resnet9000", &cat()), 404, "unknown_model");
    assert_error(&h.post("/classify?top=0", &cat()), 400, "bad_top");
    assert_error(&h.get("/classify/nope"), 404, "not_found");
    assert_still_serving(h);
}

/// frontend: the page and its files, the gateway (chained to classify), URL fetches
/// through outbound HTTP, and its named errors.
fn frontend_suite(h: &Host, image_port: u16) {
    let r = h.get("/");
    assert_eq!((r.status, r.header("location")), (308, Some("/home")));
    let r = h.get("/home");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<title>spinfer"), "{}", r.text());
    let etag = r.header("etag").expect("etag").to_owned();
    assert_eq!(h.request("GET", "/home", &[("if-none-match", &etag)], b"").status, 304);
    let r = h.get("/static/app.js");
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    assert_eq!(h.get("/static/samples/cat.png").header("content-type"), Some("image/png"));
    assert_eq!(h.get("/static/../Cargo.toml").status, 404);
    assert_eq!(h.get("/static/nope.js").error_code(), "not_found");

    let r = h.post("/api/classify?top=3", &cat());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["label"], "Egyptian cat");
    assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 3);
    let r = h.get("/api/models");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["models"].as_array().unwrap().len(), 3);

    let json = |body: String| {
        h.request("POST", "/api/classify", &[("content-type", "application/json")], body.as_bytes())
    };
    let url = |path: &str| json(format!(r#"{{"url":"http://127.0.0.1:{image_port}{path}"}}"#));
    let r = url("/cat.png");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["index"], 285);
    assert_error(&url("/page.html"), 415, "fetch_not_image");
    assert_error(&url("/missing.jpg"), 502, "fetch_bad_status");
    assert_error(&json(r#"{"url":"ftp://example.com/cat.jpg"}"#.into()), 400, "bad_url_scheme");
    assert_error(&json(r#"{"url":"http://127.0.0.1:9/cat.jpg"}"#.into()), 403, "forbidden_address");
    assert_error(&json("{not json".into()), 400, "bad_json");
    assert_error(&h.post("/api/classify", b""), 400, "empty_body");
    assert_error(&h.post("/api/classify?model=nope", &cat()), 404, "unknown_model");
    assert_error(&h.get("/api/classify"), 405, "method_not_allowed");
}

fn run(case: &str, manifest: &str, runtime: Runtime) {
    let image_port = image_server(8);
    let Some(h) = start(case, manifest, runtime, image_port) else { return };
    let t0 = std::time::Instant::now();
    classify_suite(&h);
    frontend_suite(&h, image_port);
    eprintln!("{case}: suite passed in {:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn spinfer_native_on_spin_toml() {
    run("spinfer native, spin.toml", "spin.toml", Runtime::Spinfer(&[]));
}

#[test]
fn spinfer_without_wasi_nn_on_the_portable_manifest() {
    let none = &["--nn-backend", "none"];
    run(
        "spinfer --nn-backend none, spin.portable.toml",
        "spin.portable.toml",
        Runtime::Spinfer(none),
    );
}

#[test]
fn spin_on_the_portable_manifest() {
    run("spin, spin.portable.toml", "spin.portable.toml", Runtime::Spin);
}

#[test]
fn spinfer_composes_dependencies_at_load_time() {
    let none = &["--nn-backend", "none"];
    run("spinfer --nn-backend none, spin.deps.toml", "spin.deps.toml", Runtime::Spinfer(none));
}

#[test]
fn spin_composes_dependencies_at_load_time() {
    run("spin, spin.deps.toml", "spin.deps.toml", Runtime::Spin);
}

/// Stock Spin has no wasi:nn: the plain classify is refused at start, naming the import
/// (as spinfer `--nn-backend none` refuses it: tests/portable.rs).
#[test]
fn spin_refuses_the_plain_manifest_for_want_of_wasi_nn() {
    let case = "spin, spin.toml (refused)";
    match start_spin(case, &repo_root().join("spin.toml"), &[]) {
        Ok(None) => {}
        Ok(Some(_)) => panic!("{case}: spin served spin.toml without wasi:nn"),
        Err(f) => {
            assert_ne!(f.code, Some(0));
            assert!(f.stderr.contains("wasi:nn"), "{case}: {}", f.stderr);
        }
    }
}

/// A dependency whose name selects none of the component's imports, or that lacks the
/// export an import needs, is refused at start with both named (as Spin refuses it).
#[test]
fn a_dependency_that_does_not_fit_is_refused_by_name() {
    let release = repo_root().join("target/wasm32-wasip2/release");
    let dir = std::env::temp_dir().join(format!("spinfer-deps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("spin.toml");
    for (dep, needle) in [
        // Names no import of classify.
        ("\"wasi:keyvalue\" = { path = \"PROVIDER\" }", "imports nothing it names"),
        // Selects classify's wasi:nn imports, but from a component (frontend) without them.
        ("\"wasi:nn\" = { path = \"FRONTEND\" }", "exports no \"wasi:nn/"),
    ] {
        let dep = dep
            .replace("PROVIDER", release.join("nn_provider.init.wasm").to_str().unwrap())
            .replace("FRONTEND", release.join("frontend.wasm").to_str().unwrap());
        let text = format!(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\n[[trigger.http]]\n\
             route = \"/...\"\ncomponent = \"classify\"\n[component.classify]\nsource = \"{}\"\n\
             [component.classify.dependencies]\n{dep}\n",
            release.join("classify.wasm").display()
        );
        std::fs::write(&manifest, text).unwrap();
        common::refuses(&manifest, &["--nn-backend", "none", "--cache-dir", "none"], &[], needle);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
