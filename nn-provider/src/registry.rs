//! The provider's named models (what `load-by-name` finds). Filled by `wizer-initialize`
//! at build time from `/models/<name>/model.onnx`, then frozen into the snapshot, so a
//! fresh instance starts with every plan ready and no request parses or optimises.

use crate::engine::{EngineError, Model};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Where the build-time pre-initialisation reads models (a directory mapped in with
/// `wasmtime wizer --dir models::/models`).
pub const MODELS_DIR: &str = "/models";

thread_local! {
    static MODELS: RefCell<BTreeMap<String, Model>> = const { RefCell::new(BTreeMap::new()) };
}

pub fn get(name: &str) -> Option<Model> {
    MODELS.with(|m| m.borrow().get(name).cloned())
}

pub fn names() -> Vec<String> {
    MODELS.with(|m| m.borrow().keys().cloned().collect())
}

/// Load every `<dir>/<name>/model.onnx`, optimise it and run it once (so lazily built
/// kernel tables are in the snapshot too). Returns the names loaded.
pub fn load_dir(dir: &str) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut loaded = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{dir}: {e}"))?;
        let path = entry.path().join("model.onnx");
        if !path.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let model = Model::from_onnx(&bytes).map_err(|e| format!("{name}: {e}"))?;
        warm_up(&model).map_err(|e| format!("{name}: {e}"))?;
        MODELS.with(|m| m.borrow_mut().insert(name.clone(), model));
        loaded.push(name);
    }
    if loaded.is_empty() {
        return Err(format!("no <name>/model.onnx under {dir}"));
    }
    Ok(loaded)
}

fn warm_up(model: &Model) -> Result<(), EngineError> {
    let shape = model.input_shape().to_vec();
    let zeros = vec![0u8; shape.iter().product::<usize>() * 4];
    model.run_le(&shape, &zeros).map(drop)
}
