//! Load-time composition of `[component.X.dependencies]`, as Spin does it (spin-compose):
//! each dependency is a local component whose exports satisfy the imports of the main
//! component that its name selects — a whole package (`"wasi:nn"`, `"wasi:nn@0.2.0-rc…"`:
//! every import of that package) or one interface (`"wasi:nn/graph@…"`), optionally taken
//! from a differently named export (`export = "…"`). The result is one component with
//! the main component's exports and the imports nobody satisfied, built with `wac-graph`
//! (what `wac plug` and Spin use) and kept in the precompiled cache, so a start with the
//! same inputs reuses the composed bytes.

use crate::manifest::Dependency;
use anyhow::{bail, Context as _};
use std::path::Path;
use wac_graph::{types::Package, CompositionGraph, EncodeOptions};

/// A dependency name split as Spin's manifest writes it: `ns:pkg[/iface][@version]`, or a
/// plain (kebab) name that must equal the import's name.
#[derive(Debug, PartialEq)]
struct Name<'a> {
    package: &'a str,
    interface: Option<&'a str>,
    version: Option<&'a str>,
}

fn split(name: &str) -> Name<'_> {
    let (path, version) = match name.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (name, None),
    };
    let (package, interface) = match path.split_once('/') {
        Some((p, i)) => (p, Some(i)),
        None => (path, None),
    };
    Name { package, interface, version }
}

/// Whether dependency `dep` (as written in the manifest) names import `import`.
fn selects(dep: &str, import: &str) -> bool {
    if !dep.contains(':') {
        return dep == import;
    }
    let (d, i) = (split(dep), split(import));
    d.package == i.package
        && d.interface.is_none_or(|di| Some(di) == i.interface)
        && d.version.is_none_or(|dv| Some(dv) == i.version)
}

/// Compose `main` with its dependencies' bytes (`deps`: the manifest entry and the file's
/// bytes). Errors name the dependency and the import or export that does not fit.
pub fn compose(main: &[u8], deps: &[(&Dependency, Vec<u8>)]) -> anyhow::Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let root = Package::from_bytes("spinfer:main", None, main.to_vec(), graph.types_mut())
        .context("the component itself")?;
    let root = graph.register_package(root)?;
    let root_instance = graph.instantiate(root);
    let imports: Vec<String> = graph.types()[graph[root].ty()].imports.keys().cloned().collect();
    for (i, (dep, bytes)) in deps.iter().enumerate() {
        let what = || format!("dependency {:?} ({})", dep.name, dep.path.display());
        let selected: Vec<&String> = imports.iter().filter(|imp| selects(&dep.name, imp)).collect();
        if selected.is_empty() {
            bail!("{}: the component imports nothing it names (imports: {})", what(), {
                let names: Vec<&str> = imports.iter().map(String::as_str).collect();
                names.join(", ")
            });
        }
        if dep.export.is_some() && selected.len() > 1 {
            bail!("{}: `export` needs a name that selects one import, not a package", what());
        }
        let pkg = Package::from_bytes(&format!("spinfer:dep{i}"), None, bytes.clone(), {
            graph.types_mut()
        })
        .with_context(what)?;
        let pkg = graph.register_package(pkg).with_context(what)?;
        let exports: Vec<String> = graph.types()[graph[pkg].ty()].exports.keys().cloned().collect();
        let instance = graph.instantiate(pkg);
        for import in selected {
            let export = dep.export.as_deref().unwrap_or(import);
            if !exports.iter().any(|e| e == export) {
                bail!("{}: exports no {export:?} for the import {import:?}", what());
            }
            let node = graph.alias_instance_export(instance, export).with_context(what)?;
            graph
                .set_instantiation_argument(root_instance, import, node)
                .with_context(|| format!("{}: its {export:?} does not fit {import:?}", what()))?;
        }
    }
    let exports: Vec<String> = graph.types()[graph[root].ty()].exports.keys().cloned().collect();
    for name in exports {
        let node = graph.alias_instance_export(root_instance, &name)?;
        graph.export(node, &name)?;
    }
    graph.encode(EncodeOptions::default()).context("encoding the composed component")
}

/// The bytes to run for a component with `deps`: read from `cache_dir` when these exact
/// inputs were composed before, else composed (and stored there).
pub fn compose_cached(
    main: &[u8],
    deps: &[Dependency],
    cache_dir: Option<&Path>,
) -> anyhow::Result<Vec<u8>> {
    use sha2::Digest;
    let mut inputs = Vec::new();
    let mut key = sha2::Sha256::new();
    key.update(env!("CARGO_PKG_VERSION"));
    key.update(main);
    for d in deps {
        let bytes = std::fs::read(&d.path).with_context(|| {
            format!("dependency {:?}: cannot read {}", d.name, d.path.display())
        })?;
        key.update(d.name.as_bytes());
        key.update([0]);
        key.update(d.export.as_deref().unwrap_or("").as_bytes());
        key.update([0]);
        key.update(&bytes);
        inputs.push((d, bytes));
    }
    let path = cache_dir.map(|dir| dir.join(format!("composed-{:x}.wasm", key.finalize())));
    if let Some(bytes) = path.as_ref().and_then(|p| std::fs::read(p).ok()) {
        return Ok(bytes);
    }
    let composed = compose(main, &inputs)?;
    if let Some(path) = path {
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")));
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &composed).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(composed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_select_imports_as_spin_does() {
        let tensor = "wasi:nn/tensor@0.2.0-rc-2024-10-28";
        assert!(selects("wasi:nn", tensor));
        assert!(selects("wasi:nn@0.2.0-rc-2024-10-28", tensor));
        assert!(selects("wasi:nn/tensor@0.2.0-rc-2024-10-28", tensor));
        assert!(selects("wasi:nn/tensor", tensor));
        assert!(!selects("wasi:nn/graph", tensor));
        assert!(!selects("wasi:nn@0.2.0", tensor));
        assert!(!selects("wasi:nnx", tensor));
        assert!(!selects("wasi:http", tensor));
        assert!(selects("my-dep", "my-dep"));
        assert!(!selects("my-dep", "my-dep2"));
    }
}
