//! The node's own files: ONNX Runtime and the wasi-nn models, in one directory
//! (`SPINFER_SHIM_NODE_DIR`, default `/opt/spinfer`, read from containerd's environment):
//!
//! ```text
//! /opt/spinfer/runtime-config.toml   spinfer's runtime config: [wasi_nn] backend, sessions,
//!                                    models (paths relative to this file)
//! /opt/spinfer/libonnxruntime.so     ONNX Runtime (a file, or a link within the directory)
//! /opt/spinfer/models/…              the models the config names
//! /opt/spinfer/precompiled/          compiled components, written by the shim (optional)
//! /opt/spinfer/shim.toml             the operator's outbound allowances (optional, egress.rs)
//! ```
//!
//! A container process runs inside the image's root, which holds none of this (a Spin
//! artifact has no root filesystem), and it never `exec`s: runwasi forks it from a zygote
//! that `main` starts. So before that, [`preload`] opens the directory (the descriptor is
//! inherited, and the container reaches the node's files as `/proc/self/fd/<n>/…`) and
//! `dlopen`s ONNX Runtime with its dependencies (libstdc++ …), which the empty root could
//! not supply later; loading it again by the descriptor path finds the same library.

use anyhow::{bail, Context as _};
use spinfer::config::RuntimeConfig;
use std::os::fd::IntoRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const NODE_DIR_ENV: &str = "SPINFER_SHIM_NODE_DIR";
pub const DEFAULT_NODE_DIR: &str = "/opt/spinfer";
const ORT_LIB: &str = "libonnxruntime.so";

static NODE: OnceLock<Result<NodeFiles, String>> = OnceLock::new();

pub struct NodeFiles {
    /// The directory as the node names it (for messages).
    host_dir: PathBuf,
    /// The same directory as the container process reaches it.
    root: PathBuf,
}

/// Open the node directory and load ONNX Runtime; a failure is kept and reported when a
/// container is created (containerd's own calls, such as `delete`, must still work).
pub fn preload() {
    let dir = std::env::var_os(NODE_DIR_ENV)
        .map_or_else(|| PathBuf::from(DEFAULT_NODE_DIR), PathBuf::from);
    let _ = NODE.set(open(&dir).map_err(|e| format!("{e:#}")));
}

fn open(dir: &Path) -> anyhow::Result<NodeFiles> {
    let f = std::fs::File::open(dir).with_context(|| {
        format!("node directory {} ({NODE_DIR_ENV}) cannot be opened", dir.display())
    })?;
    if !f.metadata()?.is_dir() {
        bail!("node directory {} ({NODE_DIR_ENV}) is not a directory", dir.display());
    }
    // Kept open for the life of the process: containers reach the node's files through it.
    let fd = f.into_raw_fd();
    let lib = dir.join(ORT_LIB);
    if lib.exists() {
        // Containers reach only what is inside the directory: a link out of it would not
        // resolve there.
        let (real, real_dir) = (std::fs::canonicalize(&lib)?, std::fs::canonicalize(dir)?);
        if !real.starts_with(&real_dir) {
            bail!(
                "{} links to {}, outside the node directory: containers see only the \
                 directory, so copy the library into it",
                lib.display(),
                real.display()
            );
        }
        dlopen(&lib)?;
    }
    Ok(NodeFiles { host_dir: dir.to_owned(), root: PathBuf::from(format!("/proc/self/fd/{fd}")) })
}

fn dlopen(lib: &Path) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(lib.as_os_str().as_bytes())?;
    // SAFETY: a NUL-terminated path; the handle is deliberately never closed.
    let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns a NUL-terminated string (or null) owned by libc.
        let why = unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                "unknown error".to_owned()
            } else {
                std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        bail!("cannot load ONNX Runtime {}: {why}", lib.display());
    }
    Ok(())
}

/// The node's files, or why they are unusable.
pub fn files() -> anyhow::Result<&'static NodeFiles> {
    match NODE.get() {
        Some(Ok(n)) => Ok(n),
        Some(Err(e)) => bail!("{e}"),
        None => bail!("the node directory was not opened (preload not called)"),
    }
}

impl NodeFiles {
    /// The node's runtime config, model paths resolved inside the node directory.
    pub fn runtime_config(&self) -> anyhow::Result<RuntimeConfig> {
        let path = self.root.join("runtime-config.toml");
        if !path.is_file() {
            bail!(
                "the node has no {}/runtime-config.toml (the wasi-nn models this node serves)",
                self.host_dir.display()
            );
        }
        let rc = RuntimeConfig::load(&path).map_err(|e| self.named(e))?;
        for (name, p) in &rc.wasi_nn.models {
            if !p.starts_with(&self.root) {
                bail!(
                    "model {name:?}: {} is outside the node directory; write model paths \
                     relative to {}/runtime-config.toml",
                    p.display(),
                    self.host_dir.display()
                );
            }
        }
        Ok(rc)
    }

    /// The directory as the container process reaches it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory as the node names it.
    pub fn host_dir(&self) -> &Path {
        &self.host_dir
    }

    pub fn ort_lib(&self) -> PathBuf {
        self.root.join(ORT_LIB)
    }

    pub fn cache_dir(&self) -> Option<PathBuf> {
        Some(self.root.join("precompiled"))
    }

    /// An error with the container's `/proc/self/fd/<n>` path written as the node's.
    pub fn named(&self, e: impl std::fmt::Display) -> anyhow::Error {
        let root = self.root.display().to_string();
        anyhow::anyhow!("{}", e.to_string().replace(&root, &self.host_dir.display().to_string()))
    }
}

/// Any error's text with node paths as the node names them.
pub fn humanize(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    match NODE.get() {
        Some(Ok(n)) => n.named(text).to_string(),
        _ => text,
    }
}
