//! ONNX Runtime's optimised graphs kept in the cache directory (host/src/nn/graph_cache.rs):
//! the first start writes one per model, the next start loads them instead of optimising
//! again, and every model answers exactly as it did.

mod common;

use common::{cat, repo_root, Host};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

const MODELS: [&str; 3] = ["mobilenetv2", "efficientnet_lite0", "mobilenetv2_int8"];

/// Each model's top-5 for the cat photo, as served with `--cache-dir dir`.
fn answers(dir: &Path) -> Vec<serde_json::Value> {
    let h = Host::start(&repo_root().join("spin.toml"), &["--cache-dir", dir.to_str().unwrap()]);
    MODELS
        .iter()
        .map(|m| {
            let r = h.post(&format!("/classify?model={m}&top=5"), &cat());
            assert_eq!(r.status, 200, "{m}: {}", r.text());
            r.json()["predictions"].clone()
        })
        .collect()
}

/// The optimised graphs in `dir`, with their modification times.
fn graphs(dir: &Path) -> BTreeMap<String, SystemTime> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("ort-"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect()
}

#[test]
fn optimised_graphs_are_written_once_and_answer_the_same() {
    let dir = std::env::temp_dir().join(format!("spinfer-graph-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cold = answers(&dir);
    let written = graphs(&dir);
    assert_eq!(written.len(), MODELS.len(), "one optimised graph per model: {written:?}");
    assert!(written.keys().all(|n| n.ends_with(".onnx")), "{written:?}");
    let warm = answers(&dir);
    assert_eq!(graphs(&dir), written, "the second start rewrote or added graphs");
    assert_eq!(warm, cold, "answers from the cached graphs differ");
    std::fs::remove_dir_all(&dir).unwrap();
}
