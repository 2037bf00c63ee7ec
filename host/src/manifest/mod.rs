//! Spin manifest (v2) reading and validation, for the part of Spin's format spinfer
//! runs: `[application]`, `[variables]`, `[[trigger.http]]`, `[component.*]` with
//! `source`, `files`, `environment`, `variables`, `allowed_outbound_hosts`, `build` and
//! local-path `dependencies` (composed at load time: compose.rs).
//! Anything else Spin knows but spinfer does not run is refused at start with the key
//! named; TOML syntax errors carry the line and column from the `toml` crate.

mod raw;
mod retain;

pub use raw::RawVariable;
use raw::{resolve_files, RawManifest};
pub use retain::RetainError;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A manifest problem, with the file and (where known) the line it is on.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ManifestError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// A file or directory to mount into a component: host path → guest path.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub host: PathBuf,
    pub guest: String,
}

/// One component, resolved against the manifest's directory.
#[derive(Debug, Clone)]
pub struct Component {
    pub id: String,
    pub source: PathBuf,
    pub files: Vec<Mount>,
    pub environment: BTreeMap<String, String>,
    /// Component variables: name → template (`{{ app_var }}` allowed).
    pub variables: BTreeMap<String, String>,
    /// Templates as written; expanded against app variables at load.
    pub allowed_outbound_hosts: Vec<String>,
    /// `[component.X.dependencies]`: components composed into this one at load time.
    pub dependencies: Vec<Dependency>,
}

/// One `[component.X.dependencies]` entry: `"ns:pkg[/iface][@version]" = { path = "…" }`
/// (Spin's form; `export` picks a differently named export of the dependency).
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub name: String,
    pub path: PathBuf,
    pub export: Option<String>,
}

/// One HTTP route → component.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub route: String,
    pub component: String,
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub dir: PathBuf,
    pub variables: BTreeMap<String, RawVariable>,
    pub triggers: Vec<HttpTrigger>,
    pub components: BTreeMap<String, Component>,
}

impl Manifest {
    /// Read and validate `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            file: file.clone(),
            line: None,
            message: format!("cannot read manifest: {e}"),
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &file, &dir)
    }

    /// Parse and validate manifest text; `dir` resolves relative paths.
    pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Self, ManifestError> {
        // 1-based line of a byte offset.
        let line_at = |pos: usize| text[..pos.min(text.len())].matches('\n').count() + 1;
        let at = |span: Range<usize>, message: String| ManifestError {
            file: file.to_owned(),
            line: Some(line_at(span.start)),
            message,
        };
        let syntax = |e: toml::de::Error| ManifestError {
            file: file.to_owned(),
            line: e.span().map(|s| line_at(s.start)),
            message: e.message().to_owned(),
        };
        // Trigger types first, so an unsupported one is named rather than its fields.
        let loose: toml::Table = toml::from_str(text).map_err(syntax)?;
        if let Some(kinds) = loose.get("trigger").and_then(|t| t.as_table()) {
            if let Some(kind) = kinds.keys().find(|k| k.as_str() != "http") {
                let pos = text.find(&format!("trigger.{kind}")).unwrap_or(0);
                return Err(at(
                    pos..pos,
                    format!("trigger type {kind:?} is not supported by spinfer (only http)"),
                ));
            }
        }
        let raw: RawManifest = toml::from_str(text).map_err(syntax)?;
        if raw.spin_manifest_version.get_ref() != &toml::Value::Integer(2) {
            return Err(at(
                raw.spin_manifest_version.span(),
                "spin_manifest_version must be 2 (Spin 2.x/3.x manifest)".into(),
            ));
        }
        if let Some(t) =
            raw.application.trigger.as_ref().and_then(|t| t.get("http")).and_then(|h| h.get("base"))
        {
            if t.as_str() != Some("/") {
                // The `base` key's own line (`[application.trigger.http]` or inline).
                let table = text.find("trigger.http").unwrap_or(0);
                let pos = text[table..].find("base").map_or(table, |i| table + i);
                return Err(at(
                    pos..pos,
                    "application.trigger.http.base other than \"/\" is not supported by spinfer"
                        .into(),
                ));
            }
        }
        let _ = (&raw.application.version, &raw.application.description, &raw.application.authors);

        let mut components = BTreeMap::new();
        for (id, spanned) in &raw.component {
            let span = spanned.span();
            let c = spanned.get_ref();
            for (key, value) in [
                ("key_value_stores", &c.key_value_stores),
                ("sqlite_databases", &c.sqlite_databases),
                ("ai_models", &c.ai_models),
            ] {
                if let Some(v) = value {
                    return Err(at(
                        v.span(),
                        format!("component {id:?}: `{key}` is not supported by spinfer"),
                    ));
                }
            }
            let source = match c.source.get_ref() {
                toml::Value::String(s) => dir.join(s),
                _ => {
                    return Err(at(
                        c.source.span(),
                        format!("component {id:?}: only a local file `source` is supported"),
                    ))
                }
            };
            let mut files = Vec::new();
            for f in &c.files {
                files.extend(
                    resolve_files(f.get_ref(), dir)
                        .map_err(|m| at(f.span(), format!("component {id:?}: {m}")))?,
                );
            }
            if !c.exclude_files.is_empty() {
                return Err(at(
                    span,
                    format!("component {id:?}: `exclude_files` is not supported by spinfer"),
                ));
            }
            let dependencies = match &c.dependencies {
                Some(d) => raw::resolve_dependencies(d.get_ref(), dir)
                    .map_err(|m| at(d.span(), format!("component {id:?}: {m}")))?,
                None => Vec::new(),
            };
            let _ = (&c.description, &c.build);
            components.insert(
                id.clone(),
                Component {
                    id: id.clone(),
                    source,
                    files,
                    environment: c.environment.clone(),
                    variables: c.variables.clone(),
                    allowed_outbound_hosts: c.allowed_outbound_hosts.clone(),
                    dependencies,
                },
            );
        }

        let mut triggers = Vec::new();
        for list in raw.trigger.values() {
            for t in list.get_ref() {
                if t.executor.is_some() {
                    return Err(at(
                        t.route.span(),
                        "trigger executor (e.g. wagi) is not supported by spinfer".into(),
                    ));
                }
                let route = t.route.get_ref();
                if !route.starts_with('/') {
                    return Err(at(t.route.span(), format!("route {route:?} must start with '/'")));
                }
                if !components.contains_key(t.component.get_ref()) {
                    return Err(at(
                        t.component.span(),
                        format!(
                            "trigger for {route:?} names unknown component {:?}",
                            t.component.get_ref()
                        ),
                    ));
                }
                triggers.push(HttpTrigger {
                    route: route.clone(),
                    component: t.component.get_ref().clone(),
                });
            }
        }
        if triggers.is_empty() {
            return Err(at(0..0, "no [[trigger.http]] entries: nothing to serve".into()));
        }
        let variables =
            raw.variables.iter().map(|(k, v)| (k.clone(), v.get_ref().clone())).collect();
        Ok(Self {
            name: raw.application.name,
            dir: dir.to_owned(),
            variables,
            triggers,
            components,
        })
    }
}

#[cfg(test)]
mod tests;
