use super::*;

const GOOD: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
classify_host = { default = "classify.spin.internal" }
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "web.wasm"
files = [{ source = "static", destination = "/static" }, "models/a.txt"]
allowed_outbound_hosts = ["http://{{ classify_host }}"]
variables = { classify_host = "{{ classify_host }}" }
"#;

#[test]
fn parses_the_supported_subset() {
    let m = Manifest::parse(GOOD, "spin.toml", Path::new("/app")).unwrap();
    assert_eq!(m.triggers[0].route, "/...");
    let web = &m.components["web"];
    assert_eq!(web.source, Path::new("/app/web.wasm"));
    assert_eq!(
        web.files[1],
        Mount { host: "/app/models/a.txt".into(), guest: "/models/a.txt".into() }
    );
    assert_eq!(m.variables["classify_host"].default.as_deref(), Some("classify.spin.internal"));
}

fn err(text: &str) -> ManifestError {
    Manifest::parse(text, "spin.toml", Path::new("/app")).unwrap_err()
}

#[test]
fn syntax_error_has_a_line() {
    let e = err("spin_manifest_version = 2\n[application\nname = 1\n");
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn unknown_component_is_named_with_its_line() {
    let e = err(&GOOD.replace("component = \"web\"", "component = \"nope\""));
    assert!(e.message.contains("unknown component \"nope\""), "{e}");
    assert_eq!(e.line, Some(9), "{e}");
}

#[test]
fn unsupported_features_are_refused_by_name() {
    let e = err(&format!("{GOOD}key_value_stores = [\"default\"]\n"));
    assert!(e.message.contains("key_value_stores"), "{e}");
    let e = err(&GOOD.replace("[[trigger.http]]", "[[trigger.redis]]"));
    assert!(e.message.contains("\"redis\""), "{e}");
    let e = err(&GOOD.replace("spin_manifest_version = 2", "spin_manifest_version = 1"));
    assert!(e.message.contains("must be 2"), "{e}");
    let e = err(&format!("{GOOD}colour = \"red\"\n"));
    assert!(e.message.contains("colour"), "{e}");
}

#[test]
fn an_unsupported_base_is_reported_on_its_line() {
    let e = err(&GOOD
        .replace("name = \"t\"\n", "name = \"t\"\n[application.trigger.http]\nbase = \"/x\"\n"));
    assert!(e.message.contains("base"), "{e}");
    assert_eq!(e.line, Some(6), "{e}");
}

#[test]
fn local_dependencies_are_read_and_downloads_refused_by_name() {
    let with = |deps: &str| format!("{GOOD}[component.web.dependencies]\n{deps}\n");
    let m = Manifest::parse(
        &with(
            r#""wasi:nn" = { path = "nn.wasm" }
"my:dep/api@1.0.0" = { path = "d/x.wasm", export = "my:dep/other@1.0.0" }"#,
        ),
        "spin.toml",
        Path::new("/app"),
    )
    .unwrap();
    let deps = &m.components["web"].dependencies;
    assert_eq!(deps.len(), 2);
    assert_eq!(deps[0].name, "my:dep/api@1.0.0");
    assert_eq!(deps[0].path, Path::new("/app/d/x.wasm"));
    assert_eq!(deps[0].export.as_deref(), Some("my:dep/other@1.0.0"));
    assert_eq!(
        deps[1],
        Dependency { name: "wasi:nn".into(), path: "/app/nn.wasm".into(), export: None }
    );
    for (deps, needle) in [
        (r#""wasi:nn" = "0.2.0""#, "registry dependencies are not supported"),
        (r#""wasi:nn" = { version = "0.2.0" }"#, "`version` (a download)"),
        (r#""wasi:nn" = { url = "https://x/y.wasm", digest = "sha256:00" }"#, "(a download)"),
        (r#""wasi:nn" = { export = "x" }"#, "`path` is missing"),
        (r#""wasi:nn" = { path = "a.wasm", colour = 1 }"#, "unknown key `colour`"),
        (r#"":nn" = { path = "a.wasm" }"#, "is not `ns:package"),
    ] {
        let e = err(&with(deps));
        assert!(e.message.contains(needle), "{deps}: {e}");
        assert_eq!(e.line, Some(15), "{deps}: {e}"); // the [component.web.dependencies] line
    }
}
