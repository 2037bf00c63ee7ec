//! The wasmtime `Engine` and what belongs to it: configuration (component model, pooling
//! allocator sized from the instance limits, epoch interruption), the epoch clock, and
//! compiling components with an on-disk cache of precompiled artifacts.

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Tick length of the epoch clock: how often a running guest yields, and the
/// granularity of the request timeout inside Wasm.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every instance.
#[derive(Debug, Clone, Copy)]
pub struct InstanceLimits {
    pub max_memory_bytes: usize,
    pub timeout: Duration,
    /// Instances that may exist at once (sizes the pooling allocator).
    pub max_instances: u32,
}

/// Engine configuration shared by the host and its benchmarks.
/// Bytes of each pooled linear memory (and table) kept resident between instances.
const KEEP_RESIDENT: usize = 4 << 20;

pub fn engine(limits: &InstanceLimits) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    let mut pool = PoolingAllocationConfig::default();
    let n = limits.max_instances.max(4);
    pool.total_component_instances(n)
        .total_core_instances(n * 8)
        .total_memories(n * 2)
        .total_tables(n * 8)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_core_instances_per_component(32)
        .max_memory_size(limits.max_memory_bytes)
        // A request's instance touches a few MiB (body, planes, crop, tensor): keep that
        // much of each pooled memory mapped and reset it with memset, instead of handing
        // it back to the kernel and taking a page fault per 4 KiB page next time.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(wt).context("creating the wasmtime engine")
}

/// Advance the epoch clock of `engine` forever (request timeouts inside Wasm count its
/// ticks; a running guest yields to the executor at each).
pub fn spawn_epoch_ticker(engine: &Engine) {
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
        })
        .expect("spawn epoch ticker");
}

/// `--cache-dir`: a directory, `none` (no cache), or the default ~/.cache/spinfer/precompiled.
pub fn cache_dir(arg: Option<&str>) -> Option<PathBuf> {
    match arg {
        Some("none") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/spinfer/precompiled"))
        }
    }
}

/// wasmtime 48's error does not convert into anyhow's with `?`.
pub fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:#}")
}

/// Compile a component, or load its precompiled artifact from `cache_dir` when the
/// same bytes were compiled by a compatible engine before.
pub fn compile_cached(
    engine: &Engine,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> anyhow::Result<Component> {
    use sha2::Digest;
    use std::hash::{Hash, Hasher};
    let Some(dir) = cache_dir else {
        return Component::new(engine, bytes).map_err(wt);
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let key = format!("{:x}-{:016x}.cwasm", sha2::Sha256::digest(bytes), h.finish());
    let path = dir.join(key);
    if path.is_file() {
        // SAFETY: the file was written by `Component::serialize` of an engine with the same
        // compatibility hash, into the host's own cache directory.
        if let Ok(c) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(c);
        }
    }
    let component = Component::new(engine, bytes).map_err(wt)?;
    if let Ok(serialized) = component.serialize() {
        let _ = std::fs::create_dir_all(dir);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, serialized).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(component)
}
