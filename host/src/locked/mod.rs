//! Spin's locked application — the JSON `spin registry push` puts in an OCI artifact's
//! `application/vnd.fermyon.spin.application.v1+config` layer — turned into the
//! [`Manifest`] the rest of the host runs. Components and files are content references
//! (`{"digest": "sha256:…"}` naming another layer of the artifact, or `{"inline": base64}`
//! for small files); [`materialize`] writes them under a directory and points the
//! manifest at them, so [`crate::app::App::load`] runs an artifact exactly as it runs a
//! `spin.toml`. Only what spinfer runs is accepted: HTTP triggers, and no
//! `must_understand` feature it does not know.

mod base64;
mod format;

use crate::manifest::{Component, HttpTrigger, Manifest, Mount, RawVariable};
use base64::decode_base64;
use format::{ContentRef, LockedApp};
use std::collections::BTreeMap;
use std::path::{Component as PathPart, Path, PathBuf};

/// Why an artifact's locked app cannot run here.
#[derive(Debug, thiserror::Error)]
pub enum LockedError {
    #[error("the Spin locked-app config is not valid JSON for Spin's locked format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("spin_lock_version {0} is not supported (spinfer reads version 1)")]
    Version(u64),
    #[error("the app requires {0:?}, which spinfer does not provide")]
    MustUnderstand(String),
    #[error("trigger {id:?} is of type {kind:?}: spinfer runs only http triggers")]
    TriggerType { id: String, kind: String },
    #[error("trigger {id:?}: {problem}")]
    Trigger { id: String, problem: String },
    #[error(
        "component {component:?} has uncomposed dependencies ({names}): compose them into \
         the component before packing (the shim does not compose artifact dependencies)"
    )]
    Dependencies { component: String, names: String },
    #[error(
        "component {component:?}: {what} refers to content {digest} that is not in the artifact"
    )]
    MissingContent { component: String, what: String, digest: String },
    #[error("component {component:?}: {what}: {problem}")]
    Content { component: String, what: String, problem: String },
    #[error("writing the app under {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The `must_understand` features spinfer honours (none beyond the base format).
const UNDERSTOOD: &[&str] = &[];

/// Parse `locked_json`, write every component and file it references (looked up by
/// digest with `content`) under `dir`, and return the manifest that runs them.
pub fn materialize<'a>(
    locked_json: &[u8],
    content: impl Fn(&str) -> Option<&'a [u8]>,
    dir: &Path,
) -> Result<Manifest, LockedError> {
    let app: LockedApp = serde_json::from_slice(locked_json)?;
    if app.spin_lock_version != 1 {
        return Err(LockedError::Version(app.spin_lock_version));
    }
    if let Some(f) = app.must_understand.iter().find(|f| !UNDERSTOOD.contains(&f.as_str())) {
        return Err(LockedError::MustUnderstand(f.clone()));
    }
    let mut triggers = Vec::new();
    for t in &app.triggers {
        if t.trigger_type != "http" {
            return Err(LockedError::TriggerType {
                id: t.id.clone(),
                kind: t.trigger_type.clone(),
            });
        }
        let field = |name: &str| {
            t.trigger_config.get(name).and_then(|v| v.as_str()).map(str::to_owned).ok_or_else(
                || LockedError::Trigger { id: t.id.clone(), problem: format!("no {name} string") },
            )
        };
        triggers.push(HttpTrigger { route: field("route")?, component: field("component")? });
    }
    let write = |path: &Path, bytes: &[u8]| -> Result<(), LockedError> {
        let io = |source| LockedError::Io { path: path.to_owned(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(path, bytes).map_err(io)
    };
    let mut components = BTreeMap::new();
    for c in &app.components {
        if !c.dependencies.is_empty() {
            let names = c.dependencies.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(LockedError::Dependencies { component: c.id.clone(), names });
        }
        let bytes = |r: &ContentRef, what: &str| -> Result<Vec<u8>, LockedError> {
            let problem = |problem: String| LockedError::Content {
                component: c.id.clone(),
                what: what.to_owned(),
                problem,
            };
            if let Some(b64) = &r.inline {
                return decode_base64(b64)
                    .ok_or_else(|| problem("inline content is not base64".into()));
            }
            let Some(digest) = &r.digest else {
                return Err(problem(match &r.source {
                    Some(s) => format!("refers to {s:?} outside the artifact"),
                    None => "has neither a digest nor inline content".into(),
                }));
            };
            content(digest).map(<[u8]>::to_vec).ok_or_else(|| LockedError::MissingContent {
                component: c.id.clone(),
                what: what.to_owned(),
                digest: digest.clone(),
            })
        };
        let root = dir.join(safe_name(&c.id));
        let source = root.join("component.wasm");
        write(&source, &bytes(&c.source.content, "source")?)?;
        let files_root = root.join("files");
        let mut files = Vec::new();
        for f in &c.files {
            let rel = relative(&f.path).ok_or_else(|| LockedError::Content {
                component: c.id.clone(),
                what: format!("file {}", f.path.display()),
                problem: "path leaves the component's file tree".into(),
            })?;
            write(&files_root.join(&rel), &bytes(&f.content, &format!("file {}", rel.display()))?)?;
        }
        if !c.files.is_empty() {
            files.push(Mount { host: files_root, guest: "/".into() });
        }
        let allowed_outbound_hosts = c
            .metadata
            .get("allowed_outbound_hosts")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        components.insert(
            c.id.clone(),
            Component {
                id: c.id.clone(),
                source,
                files,
                environment: c.env.clone(),
                variables: c.config.clone(),
                allowed_outbound_hosts,
                dependencies: Vec::new(),
            },
        );
    }
    for t in &triggers {
        if !components.contains_key(&t.component) {
            return Err(LockedError::Trigger {
                id: t.route.clone(),
                problem: format!("names component {:?}, which the app does not have", t.component),
            });
        }
    }
    let variables = app
        .variables
        .into_iter()
        .map(|(name, v)| {
            let raw =
                RawVariable { required: v.default.is_none(), default: v.default, secret: v.secret };
            (name, raw)
        })
        .collect();
    let name = app.metadata.get("name").and_then(|v| v.as_str()).unwrap_or("spin-app").to_owned();
    Ok(Manifest { name, dir: dir.to_owned(), variables, triggers, components })
}

/// A component id as a directory name.
fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

/// `path` made relative, refusing `..` (a file may not land outside its tree).
fn relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            PathPart::Normal(p) => out.push(p),
            PathPart::RootDir | PathPart::CurDir => {}
            PathPart::ParentDir | PathPart::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests;
