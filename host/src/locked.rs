//! Spin's locked application — the JSON `spin registry push` puts in an OCI artifact's
//! `application/vnd.fermyon.spin.application.v1+config` layer — turned into the
//! [`Manifest`] the rest of the host runs. Components and files are content references
//! (`{"digest": "sha256:…"}` naming another layer of the artifact, or `{"inline": base64}`
//! for small files); [`materialize`] writes them under a directory and points the
//! manifest at them, so [`crate::app::App::load`] runs an artifact exactly as it runs a
//! `spin.toml`. Only what spinfer runs is accepted: HTTP triggers, and no
//! `must_understand` feature it does not know.

use crate::manifest::{Component, HttpTrigger, Manifest, Mount, RawVariable};
use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
struct LockedApp {
    spin_lock_version: u64,
    #[serde(default)]
    must_understand: Vec<String>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    variables: BTreeMap<String, LockedVariable>,
    #[serde(default)]
    triggers: Vec<LockedTrigger>,
    #[serde(default)]
    components: Vec<LockedComponent>,
}

#[derive(Debug, Deserialize)]
struct LockedVariable {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    secret: bool,
}

#[derive(Debug, Deserialize)]
struct LockedTrigger {
    id: String,
    trigger_type: String,
    #[serde(default)]
    trigger_config: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct LockedComponent {
    id: String,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
    source: LockedSource,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    files: Vec<ContentPath>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    /// An artifact whose components still carry dependencies is refused by name rather
    /// than failing later on a missing import.
    #[serde(default)]
    dependencies: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct LockedSource {
    content: ContentRef,
}

#[derive(Debug, Deserialize)]
struct ContentPath {
    content: ContentRef,
    path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
struct ContentRef {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    inline: Option<String>,
    #[serde(default)]
    digest: Option<String>,
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

/// Standard base64 (with or without padding), as serde writes Spin's inline content.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let data = match bytes.iter().position(|&c| c == b'=') {
        Some(p) if bytes[p..].iter().all(|&c| c == b'=') && bytes.len().is_multiple_of(4) => {
            &bytes[..p]
        }
        Some(_) => return None,
        None => &bytes[..],
    };
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let n = chunk.len() - 1;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("spinfer-locked-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    const APP: &str = r#"{
      "spin_lock_version": 1,
      "metadata": {"name": "demo"},
      "variables": {"host": {"default": "x.spin.internal"}, "token": {"secret": true}},
      "triggers": [{"id": "t1", "trigger_type": "http", "trigger_config": {"route": "/...", "component": "web"}}],
      "components": [{
        "id": "web",
        "metadata": {"allowed_outbound_hosts": ["http://{{ host }}"]},
        "source": {"content_type": "application/wasm", "content": {"digest": "sha256:aa"}},
        "env": {"A": "1"},
        "files": [{"content": {"digest": "sha256:bb"}, "path": "static/index.html"},
                  {"content": {"inline": "aGk="}, "path": "small.txt"}],
        "config": {"host": "{{ host }}"}
      }]
    }"#;

    fn content(d: &str) -> Option<&'static [u8]> {
        match d {
            "sha256:aa" => Some(b"\0asm-component"),
            "sha256:bb" => Some(b"<html>"),
            _ => None,
        }
    }

    #[test]
    fn materializes_components_files_and_variables() {
        let dir = tmp("ok");
        let m = materialize(APP.as_bytes(), content, &dir).unwrap();
        assert_eq!(m.name, "demo");
        assert_eq!(m.triggers[0].route, "/...");
        let web = &m.components["web"];
        assert_eq!(std::fs::read(&web.source).unwrap(), b"\0asm-component");
        let root = &web.files[0].host;
        assert_eq!(std::fs::read(root.join("static/index.html")).unwrap(), b"<html>");
        assert_eq!(std::fs::read(root.join("small.txt")).unwrap(), b"hi");
        assert_eq!(web.allowed_outbound_hosts, ["http://{{ host }}"]);
        assert_eq!(web.environment["A"], "1");
        assert!(m.variables["token"].required && !m.variables["host"].required);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let dir = tmp("bad");
        let missing = APP.replace("sha256:bb", "sha256:cc");
        let e = materialize(missing.as_bytes(), content, &dir).unwrap_err();
        assert!(
            e.to_string().contains("sha256:cc") && e.to_string().contains("not in the artifact"),
            "{e}"
        );
        let redis = APP.replace(r#""trigger_type": "http""#, r#""trigger_type": "redis""#);
        let e = materialize(redis.as_bytes(), content, &dir).unwrap_err();
        assert!(e.to_string().contains("only http triggers"), "{e}");
        let escape = APP.replace("static/index.html", "../../etc/passwd");
        let e = materialize(escape.as_bytes(), content, &dir).unwrap_err();
        assert!(e.to_string().contains("leaves the component's file tree"), "{e}");
        let feature =
            APP.replace(r#""metadata""#, r#""must_understand": ["host_requirements"], "metadata""#);
        let e = materialize(feature.as_bytes(), content, &dir).unwrap_err();
        assert!(e.to_string().contains("host_requirements"), "{e}");
        let deps = APP.replace(
            r#""source": {"#,
            r#""dependencies": {"wasi:nn": {"source": {"content": {"digest": "sha256:aa"}}}}, "source": {"#,
        );
        let e = materialize(deps.as_bytes(), content, &dir).unwrap_err();
        assert!(e.to_string().contains("uncomposed dependencies (wasi:nn)"), "{e}");
        assert!(materialize(b"{}", content, &dir).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("a").is_none() && decode_base64("a=b=").is_none());
    }
}
