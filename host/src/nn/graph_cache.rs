//! ONNX Runtime's optimised graphs, kept beside the precompiled components.
//!
//! Most of what a model costs at start is ONNX Runtime optimising its graph (fusions, and
//! at level 3 the NCHWc layouts for this CPU's vector units). The optimised graph is saved
//! the first time a model loads and later sessions load it with optimisation off: the same
//! outputs bit for bit and the same inference time, in about a third of the load time
//! (MobileNetV2 36 → 14 ms per session, 2026-12-06, 2-core AMD EPYC VM; docs/performance.md).
//! That is what a warm node (or a second `spinfer up`) saves on every start.
//!
//! A level-3 graph is specific to the CPU it was made on (ONNX Runtime says so when it
//! writes one), so an entry's key covers the CPU (model name and feature flags) and the
//! ONNX Runtime library as well as the model file (path, size, modification time): a cache
//! copied to another machine, a new library or a replaced model is simply a miss.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

/// The ONNX Runtime library in use (set when it is loaded), part of every key.
static LIBRARY: OnceLock<String> = OnceLock::new();

pub(super) fn set_library(lib: &Path) {
    let _ = LIBRARY.set(file_identity(lib).unwrap_or_else(|| lib.display().to_string()));
}

/// Where optimised graphs are kept: the precompiled-components directory.
#[derive(Debug, Clone)]
pub struct GraphCache {
    dir: PathBuf,
    machine: String,
}

impl GraphCache {
    /// A cache in `dir`, or none where this machine's CPU cannot be identified (its
    /// graphs could not be told apart from another CPU's).
    pub fn new(dir: &Path) -> Option<Self> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
        let machine = cpu_identity(&cpuinfo)?;
        Some(Self { dir: dir.to_owned(), machine })
    }

    /// The cache entry for the model file at `model` (which need not exist yet).
    pub(super) fn entry(&self, model: &Path) -> Option<PathBuf> {
        let model = file_identity(model)?;
        let library = LIBRARY.get().map_or("", String::as_str);
        let key = Sha256::digest(format!("{model}\n{library}\n{}", self.machine));
        Some(self.dir.join(format!("ort-{key:x}.onnx")))
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Path, size and modification time: a replaced file is a different key.
fn file_identity(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    let path = std::fs::canonicalize(path).ok()?;
    Some(format!("{} {} {mtime}", path.display(), meta.len()))
}

/// The first processor's model name and feature flags (`flags` on x86, `Features` on Arm).
fn cpu_identity(cpuinfo: &str) -> Option<String> {
    let field = |names: &[&str]| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            names.contains(&k.trim()).then(|| v.trim().to_owned())
        })
    };
    let flags = field(&["flags", "Features"])?;
    let model = field(&["model name", "CPU part"]).unwrap_or_default();
    Some(format!("{model} | {flags}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_its_model_and_flags() {
        let x86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f\n\nprocessor\t: 1\nflags\t\t: fpu\n";
        assert_eq!(cpu_identity(x86).as_deref(), Some("AMD EPYC | fpu avx2 avx512f"));
        let arm = "processor\t: 0\nFeatures\t: fp asimd sve\nCPU part\t: 0xd0c\n";
        assert_eq!(cpu_identity(arm).as_deref(), Some("0xd0c | fp asimd sve"));
        assert_eq!(cpu_identity("processor\t: 0\n"), None, "no flags: no cache");
    }

    #[test]
    fn a_changed_model_file_is_another_entry() {
        let dir = std::env::temp_dir().join(format!("spinfer-graph-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("model.onnx");
        std::fs::write(&model, b"one").unwrap();
        let cache = GraphCache { dir: dir.clone(), machine: "cpu".into() };
        let first = cache.entry(&model).unwrap();
        assert_eq!(cache.entry(&model).unwrap(), first, "stable for the same file");
        std::fs::write(&model, b"longer").unwrap();
        assert_ne!(cache.entry(&model).unwrap(), first, "a replaced model is a miss");
        let other_cpu = GraphCache { dir: dir.clone(), machine: "other".into() };
        assert_ne!(other_cpu.entry(&model).unwrap(), cache.entry(&model).unwrap());
        assert!(cache.entry(&dir.join("missing.onnx")).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
