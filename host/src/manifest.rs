//! Spin manifest (v2) reading and validation, for the part of Spin's format spinfer
//! runs: `[application]`, `[variables]`, `[[trigger.http]]`, `[component.*]` with
//! `source`, `files`, `environment`, `variables`, `allowed_outbound_hosts` and `build`.
//! Anything else Spin knows but spinfer does not run is refused at start with the key
//! named; TOML syntax errors carry the line and column from the `toml` crate.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A manifest problem, with the file and (where known) the line it is on.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ManifestError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: Spanned<toml::Value>,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, Spanned<RawVariable>>,
    #[serde(default)]
    trigger: BTreeMap<String, Spanned<Vec<RawHttpTrigger>>>,
    #[serde(default)]
    component: BTreeMap<String, Spanned<RawComponent>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    trigger: Option<toml::Table>,
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
struct RawHttpTrigger {
    route: Spanned<String>,
    component: Spanned<String>,
    #[serde(default)]
    executor: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: Spanned<toml::Value>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    files: Vec<Spanned<RawFile>>,
    #[serde(default)]
    exclude_files: Vec<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    build: Option<toml::Table>,
    // Known to Spin, refused by spinfer with a clear message:
    #[serde(default)]
    key_value_stores: Option<Spanned<toml::Value>>,
    #[serde(default)]
    sqlite_databases: Option<Spanned<toml::Value>>,
    #[serde(default)]
    ai_models: Option<Spanned<toml::Value>>,
    #[serde(default)]
    dependencies: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawFile {
    Pattern(String),
    Mapping { source: String, destination: String },
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
        let at = |span: Range<usize>, message: String| ManifestError {
            file: file.to_owned(),
            line: Some(text[..span.start.min(text.len())].lines().count().max(1)),
            message,
        };
        let syntax = |e: toml::de::Error| ManifestError {
            file: file.to_owned(),
            line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
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
                return Err(at(
                    0..0,
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
                ("dependencies", &c.dependencies),
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

/// Spin's `files` forms: a path or glob relative to the app (mounted at the same
/// relative path), or `{ source = "dir", destination = "/path" }`.
fn resolve_files(f: &RawFile, dir: &Path) -> Result<Vec<Mount>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
classify_host = { default = "classify.spin.internal" }
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "web.wasm"
files = [{ source = "static", destination = "/static" }, "models/a.txt"]
allowed_outbound_hosts = ["http://{{ classify_host }}"]
variables = { classify_host = "{{ classify_host }}" }
"#;

    #[test]
    fn parses_the_supported_subset() {
        let m = Manifest::parse(GOOD, "spin.toml", Path::new("/app")).unwrap();
        assert_eq!(m.triggers[0].route, "/...");
        let web = &m.components["web"];
        assert_eq!(web.source, Path::new("/app/web.wasm"));
        assert_eq!(
            web.files[1],
            Mount { host: "/app/models/a.txt".into(), guest: "/models/a.txt".into() }
        );
        assert_eq!(m.variables["classify_host"].default.as_deref(), Some("classify.spin.internal"));
    }

    fn err(text: &str) -> ManifestError {
        Manifest::parse(text, "spin.toml", Path::new("/app")).unwrap_err()
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = err("spin_manifest_version = 2\n[application\nname = 1\n");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn unknown_component_is_named_with_its_line() {
        let e = err(&GOOD.replace("component = \"web\"", "component = \"nope\""));
        assert!(e.message.contains("unknown component \"nope\""), "{e}");
        assert_eq!(e.line, Some(9), "{e}");
    }

    #[test]
    fn unsupported_features_are_refused_by_name() {
        let e = err(&format!("{GOOD}key_value_stores = [\"default\"]\n"));
        assert!(e.message.contains("key_value_stores"), "{e}");
        let e = err(&GOOD.replace("[[trigger.http]]", "[[trigger.redis]]"));
        assert!(e.message.contains("\"redis\""), "{e}");
        let e = err(&GOOD.replace("spin_manifest_version = 2", "spin_manifest_version = 1"));
        assert!(e.message.contains("must be 2"), "{e}");
        let e = err(&format!("{GOOD}colour = \"red\"\n"));
        assert!(e.message.contains("colour"), "{e}");
    }
}
