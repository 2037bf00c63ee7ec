//! The host's Spin manifest parser and validator (host/src/manifest), on any text: a
//! Manifest or a ManifestError naming the file (and a line within the text), never a
//! panic. The module is compiled here from its own source files, so the fuzz build does
//! not instrument wasmtime and the rest of the host (it needs only serde, toml,
//! thiserror and std) — with the one host module it uses, the outbound policy's template
//! expansion (std only), at the path the host has it.
#![no_main]

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../../host/src/manifest/mod.rs"]
mod manifest;

#[allow(dead_code, clippy::all)]
#[path = "../../host/src/outbound/policy.rs"]
mod outbound;

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match manifest::Manifest::parse(text, "spin.toml", Path::new("/nonexistent-spinfer-fuzz-app")) {
        Ok(m) => assert!(m.components.keys().all(|id| !id.is_empty())),
        Err(e) => {
            assert_eq!(e.file, "spin.toml");
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= text.matches('\n').count() + 1, "line {line}");
            }
        }
    }
});
