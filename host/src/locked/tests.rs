//! `materialize` on a small locked app: what it writes, and what it refuses.

use super::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spinfer-locked-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const APP: &str = r#"{
  "spin_lock_version": 1,
  "metadata": {"name": "demo"},
  "variables": {"host": {"default": "x.spin.internal"}, "token": {"secret": true}},
  "triggers": [{"id": "t1", "trigger_type": "http", "trigger_config": {"route": "/...", "component": "web"}}],
  "components": [{
    "id": "web",
    "metadata": {"allowed_outbound_hosts": ["http://{{ host }}"]},
    "source": {"content_type": "application/wasm", "content": {"digest": "sha256:aa"}},
    "env": {"A": "1"},
    "files": [{"content": {"digest": "sha256:bb"}, "path": "static/index.html"},
              {"content": {"inline": "aGk="}, "path": "small.txt"}],
    "config": {"host": "{{ host }}"}
  }]
}"#;

fn content(d: &str) -> Option<&'static [u8]> {
    match d {
        "sha256:aa" => Some(b"\0asm-component"),
        "sha256:bb" => Some(b"<html>"),
        _ => None,
    }
}

#[test]
fn materializes_components_files_and_variables() {
    let dir = tmp("ok");
    let m = materialize(APP.as_bytes(), content, &dir).unwrap();
    assert_eq!(m.name, "demo");
    assert_eq!(m.triggers[0].route, "/...");
    let web = &m.components["web"];
    assert_eq!(std::fs::read(&web.source).unwrap(), b"\0asm-component");
    let root = &web.files[0].host;
    assert_eq!(std::fs::read(root.join("static/index.html")).unwrap(), b"<html>");
    assert_eq!(std::fs::read(root.join("small.txt")).unwrap(), b"hi");
    assert_eq!(web.allowed_outbound_hosts, ["http://{{ host }}"]);
    assert_eq!(web.environment["A"], "1");
    assert!(m.variables["token"].required && !m.variables["host"].required);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn refuses_what_it_cannot_run() {
    let dir = tmp("bad");
    let missing = APP.replace("sha256:bb", "sha256:cc");
    let e = materialize(missing.as_bytes(), content, &dir).unwrap_err();
    assert!(
        e.to_string().contains("sha256:cc") && e.to_string().contains("not in the artifact"),
        "{e}"
    );
    let redis = APP.replace(r#""trigger_type": "http""#, r#""trigger_type": "redis""#);
    let e = materialize(redis.as_bytes(), content, &dir).unwrap_err();
    assert!(e.to_string().contains("only http triggers"), "{e}");
    let escape = APP.replace("static/index.html", "../../etc/passwd");
    let e = materialize(escape.as_bytes(), content, &dir).unwrap_err();
    assert!(e.to_string().contains("leaves the component's file tree"), "{e}");
    let feature =
        APP.replace(r#""metadata""#, r#""must_understand": ["host_requirements"], "metadata""#);
    let e = materialize(feature.as_bytes(), content, &dir).unwrap_err();
    assert!(e.to_string().contains("host_requirements"), "{e}");
    let deps = APP.replace(
        r#""source": {"#,
        r#""dependencies": {"wasi:nn": {"source": {"content": {"digest": "sha256:aa"}}}}, "source": {"#,
    );
    let e = materialize(deps.as_bytes(), content, &dir).unwrap_err();
    assert!(e.to_string().contains("uncomposed dependencies (wasi:nn)"), "{e}");
    assert!(materialize(b"{}", content, &dir).is_err());
    let _ = std::fs::remove_dir_all(dir);
}
