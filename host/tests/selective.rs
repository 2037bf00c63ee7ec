//! Selective deployment through the library, as the containerd shim does it for
//! SpinKube's `components:` list (SPIN_COMPONENTS_TO_RETAIN): only the kept components
//! are compiled and routed, and the wasi-nn graphs are loaded only when a kept component
//! imports wasi:nn (a frontend-only pod must load no model). The same under a real
//! containerd's CRI: tests/cri (`make test-cri`).

mod common;

use common::repo_root;
use spinfer::app::{resolve_app_variables, App};
use spinfer::engine::InstanceLimits;
use spinfer::manifest::Manifest;
use spinfer::nn::{NnSource, SharedRegistry};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `spin.toml` keeping `keep`, with app variable overrides; whether the models were asked for.
fn load(keep: &[&str], overrides: &[(&str, &str)]) -> (App, bool) {
    let mut manifest = Manifest::load(&repo_root().join("spin.toml")).unwrap();
    let overrides: BTreeMap<String, String> =
        overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let vars = resolve_app_variables(&manifest, &overrides).unwrap();
    let keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    manifest.retain_components(&keep, &vars).unwrap();
    let asked = Arc::new(AtomicBool::new(false));
    let flag = asked.clone();
    let nn = NnSource::OnDemand(Box::new(move || {
        flag.store(true, Ordering::SeqCst);
        Ok(SharedRegistry::default())
    }));
    let limits = InstanceLimits {
        max_memory_bytes: 64 << 20,
        timeout: Duration::from_secs(5),
        max_instances: 8,
    };
    let app =
        App::load_with(&manifest, &overrides, nn, limits, Arc::default(), None, Arc::default())
            .unwrap();
    let asked = asked.load(Ordering::SeqCst);
    (app, asked)
}

#[test]
fn a_frontend_only_app_loads_no_model_and_routes_no_classify_path() {
    let (app, asked) =
        load(&["frontend"], &[("classify_host", "spinfer-classify.spinfer.svc.cluster.local")]);
    assert!(!asked, "no kept component imports wasi:nn: the models must not be loaded");
    assert!(app.has_component("frontend") && !app.has_component("classify"));
    assert_eq!(app.router.route("/home"), Some("frontend"));
    // The catch-all `/...` is frontend's: classify's paths reach it (and its 404), never classify.
    assert_eq!(app.router.route("/classify"), Some("frontend"));
}

#[test]
fn a_classify_only_app_loads_the_models_and_serves_no_page() {
    let (app, asked) = load(&["classify"], &[]);
    assert!(asked, "classify imports wasi:nn: the models must be loaded");
    assert_eq!(app.router.route("/classify"), Some("classify"));
    assert_eq!(app.router.route("/v2/models"), Some("classify"));
    assert_eq!(app.router.route("/home"), None);
}
