//! `spinfer-bench wasm`: run a WASI command component (`wasi:cli/run`) on the engine
//! the host serves with (`spinfer::engine::engine`: same Cranelift settings, pooling
//! allocator, epoch interruption checks in the compiled code), with this process's stdin
//! and stdout and nothing else (no files, no network). The decoder benchmark runs
//! `pipeline/examples/decode.rs` built for wasm32-wasip2 this way, so the time it reports
//! is what the same code costs inside classify, without HTTP around it.

use crate::provider::Ctx;
use anyhow::{bail, Context as _};
use spinfer::engine::{compile_cached, engine, wt, InstanceLimits};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::Store;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::WasiCtx;

/// What to run (the `spinfer-bench wasm` command line).
#[derive(clap::Args)]
pub struct CommandArgs {
    /// The command component (a wasm32-wasip2 binary).
    pub component: PathBuf,
    /// Arguments for the guest (after its name).
    #[arg(last = true)]
    pub args: Vec<String>,
}

pub fn run(a: &CommandArgs, cache_dir: Option<&Path>) -> anyhow::Result<()> {
    // No epoch ticker runs here, so the store's far deadline is never reached; the
    // compiled code still checks the epoch as the host's does.
    let limits = InstanceLimits {
        max_memory_bytes: 1 << 30,
        timeout: Duration::from_secs(3600),
        max_instances: 4,
    };
    let engine = engine(&limits)?;
    let bytes = std::fs::read(&a.component)
        .with_context(|| format!("reading {}", a.component.display()))?;
    let component = compile_cached(&engine, &bytes, cache_dir)?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(wt)?;
    let name = a.component.file_name().and_then(|n| n.to_str()).unwrap_or("command");
    let mut args = vec![name.to_string()];
    args.extend(a.args.iter().cloned());
    let mut builder = WasiCtx::builder();
    builder.inherit_stdio().args(&args);
    let wasi = builder.build();
    let mut store = Store::new(&engine, Ctx { wasi, table: ResourceTable::new() });
    store.set_epoch_deadline(u64::MAX / 2);
    let command = Command::instantiate(&mut store, &component, &linker).map_err(wt)?;
    match command.wasi_cli_run().call_run(&mut store).map_err(wt)? {
        Ok(()) => Ok(()),
        Err(()) => bail!("{} exited with an error", a.component.display()),
    }
}
