//! The host's runtime configuration file (Spin's idea of a `runtime-config.toml`
//! beside `spin.toml`): where the wasi-nn models are and which backend runs them.
//! Models are declared here once and loaded once at start.
//!
//! ```toml
//! [wasi_nn]
//! backend = "onnx"            # or "openvino" (models are then IR directories)
//! sessions = 0                # sessions per model; 0 = one per CPU core
//! intra_op_threads = 1        # ONNX Runtime threads per session
//! [wasi_nn.models]
//! mobilenetv2 = "models/mobilenetv2/model.onnx"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    #[serde(default)]
    pub wasi_nn: NnConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NnConfig {
    #[serde(default = "default_backend")]
    pub backend: String,
    #[serde(default)]
    pub sessions: usize,
    #[serde(default = "one")]
    pub intra_op_threads: usize,
    #[serde(default)]
    pub models: BTreeMap<String, PathBuf>,
}

impl Default for NnConfig {
    fn default() -> Self {
        Self {
            backend: default_backend(),
            sessions: 0,
            intra_op_threads: 1,
            models: BTreeMap::new(),
        }
    }
}

fn default_backend() -> String {
    "onnx".into()
}

fn one() -> usize {
    1
}

impl RuntimeConfig {
    /// Read `path`; model paths become relative to the file's directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let mut cfg: Self =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in cfg.wasi_nn.models.values_mut() {
            *p = dir.join(&*p);
        }
        Ok(cfg)
    }
}
