//! The manifest as TOML says it (serde shapes with spans), before validation, and the
//! expansion of `files` entries into mounts.

use super::{Dependency, Mount};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawManifest {
    pub(super) spin_manifest_version: Spanned<toml::Value>,
    pub(super) application: RawApplication,
    #[serde(default)]
    pub(super) variables: BTreeMap<String, Spanned<RawVariable>>,
    #[serde(default)]
    pub(super) trigger: BTreeMap<String, Spanned<Vec<RawHttpTrigger>>>,
    #[serde(default)]
    pub(super) component: BTreeMap<String, Spanned<RawComponent>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApplication {
    pub(super) name: String,
    #[serde(default)]
    pub(super) version: Option<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) authors: Vec<String>,
    #[serde(default)]
    pub(super) trigger: Option<toml::Table>,
}

/// An application variable (`[variables]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariable {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// Accepted as Spin does; spinfer never logs variable values, secret or not.
    #[serde(default)]
    #[allow(dead_code)]
    pub secret: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttpTrigger {
    pub(super) route: Spanned<String>,
    pub(super) component: Spanned<String>,
    #[serde(default)]
    pub(super) executor: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawComponent {
    pub(super) source: Spanned<toml::Value>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) files: Vec<Spanned<RawFile>>,
    #[serde(default)]
    pub(super) exclude_files: Vec<String>,
    #[serde(default)]
    pub(super) environment: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) variables: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub(super) build: Option<toml::Table>,
    // Known to Spin, refused by spinfer with a clear message:
    #[serde(default)]
    pub(super) key_value_stores: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) sqlite_databases: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) ai_models: Option<Spanned<toml::Value>>,
    /// Checked by [`resolve_dependencies`]: only Spin's local `{ path = … }` form runs here.
    #[serde(default)]
    pub(super) dependencies: Option<Spanned<toml::Value>>,
}

/// `[component.X.dependencies]` as Spin writes it: name → `{ path = "…", export = "…" }`.
/// Spin's registry (`"1.2.0"`, `{ version = … }`) and URL (`{ url, digest }`) forms would
/// download: refused, by name, as every key spinfer does not know.
pub(super) fn resolve_dependencies(v: &toml::Value, dir: &Path) -> Result<Vec<Dependency>, String> {
    let table = v.as_table().ok_or("`dependencies` must be a table of name = { path = \"…\" }")?;
    let mut deps = Vec::new();
    for (name, spec) in table {
        let valid = !name.is_empty()
            && name.split_once(':').is_none_or(|(ns, rest)| !ns.is_empty() && !rest.is_empty());
        if !valid {
            return Err(format!(
                "dependency name {name:?} is not `ns:package[/interface][@version]`"
            ));
        }
        let Some(spec) = spec.as_table() else {
            return Err(format!(
                "dependency {name:?}: registry dependencies are not supported by spinfer \
                 (nothing is downloaded); use {{ path = \"….wasm\" }}"
            ));
        };
        let mut path = None;
        let mut export = None;
        for (key, value) in spec {
            match (key.as_str(), value.as_str()) {
                ("path", Some(p)) => path = Some(dir.join(p)),
                ("export", Some(e)) => export = Some(e.to_owned()),
                ("path" | "export", None) => {
                    return Err(format!("dependency {name:?}: `{key}` must be a string"))
                }
                ("version" | "registry" | "package" | "url" | "digest", _) => {
                    return Err(format!(
                        "dependency {name:?}: `{key}` (a download) is not supported by spinfer; \
                         use a local {{ path = \"….wasm\" }}"
                    ))
                }
                _ => return Err(format!("dependency {name:?}: unknown key `{key}`")),
            }
        }
        let path = path.ok_or_else(|| format!("dependency {name:?}: `path` is missing"))?;
        deps.push(Dependency { name: name.clone(), path, export });
    }
    Ok(deps)
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawFile {
    Pattern(String),
    Mapping { source: String, destination: String },
}

/// Spin's `files` forms: a path or glob relative to the app (mounted at the same
/// relative path), or `{ source = "dir", destination = "/path" }`.
pub(super) fn resolve_files(f: &RawFile, dir: &Path) -> Result<Vec<Mount>, String> {
    match f {
        RawFile::Mapping { source, destination } => {
            if !destination.starts_with('/') {
                return Err(format!("files destination {destination:?} must be absolute"));
            }
            Ok(vec![Mount { host: dir.join(source), guest: destination.clone() }])
        }
        RawFile::Pattern(pattern) => {
            if pattern.starts_with('/') || pattern.split('/').any(|p| p == "..") {
                return Err(format!(
                    "files pattern {pattern:?} must be relative and stay inside the app"
                ));
            }
            if !pattern.contains(['*', '?', '[']) {
                return Ok(vec![Mount { host: dir.join(pattern), guest: format!("/{pattern}") }]);
            }
            let full = dir.join(pattern).display().to_string();
            let paths =
                glob::glob(&full).map_err(|e| format!("bad files pattern {pattern:?}: {e}"))?;
            let mut mounts = Vec::new();
            for p in paths.flatten().filter(|p| p.is_file()) {
                let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
                mounts.push(Mount { host: p.clone(), guest: format!("/{rel}") });
            }
            Ok(mounts)
        }
    }
}
