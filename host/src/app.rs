//! The application: every component of the manifest compiled once (its dependencies
//! composed in first: compose.rs) and linked (with its environment, files, variables and
//! allowed hosts resolved), and the routes. Requests
//! run through [`App::invoke`], which hands them to a fresh instance.

use crate::compose;
use crate::engine::{self, compile_cached, wt, InstanceLimits};
use crate::instance::{ComponentPre, Instances, InvokeError, RequestState};
use crate::manifest::{Component as ManifestComponent, Manifest, Mount};
use crate::metrics::Metrics;
use crate::nn::{NnSource, SharedRegistry};
use crate::outbound::{self, AddressPolicy, Caller, HostRule};
use crate::response::{Body, Response};
use crate::routes::Router;
use anyhow::{bail, Context as _};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Component, Linker};
use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// The running application: components, routes, and what their instances share.
pub struct App {
    pub router: Router,
    instances: Instances,
    components: HashMap<String, ComponentPre>,
    staging: PathBuf,
}

impl App {
    /// Compile every component of `manifest`, resolve variables and allowed hosts.
    /// `nn`: the wasi-nn graphs, or `None` for no wasi:nn at all (see [`NnSource::None`](crate::nn::NnSource::None)).
    pub fn load(
        manifest: &Manifest,
        overrides: &BTreeMap<String, String>,
        nn: Option<SharedRegistry>,
        limits: InstanceLimits,
        metrics: Arc<Metrics>,
        cache_dir: Option<&Path>,
        egress: Arc<AddressPolicy>,
    ) -> anyhow::Result<Self> {
        let nn = nn.map_or(NnSource::None, NnSource::Ready);
        Self::load_with(manifest, overrides, nn, limits, metrics, cache_dir, egress)
    }

    /// [`App::load`] with graphs from `nn`, which may be loaded only when needed.
    pub fn load_with(
        manifest: &Manifest,
        overrides: &BTreeMap<String, String>,
        nn: NnSource,
        limits: InstanceLimits,
        metrics: Arc<Metrics>,
        cache_dir: Option<&Path>,
        egress: Arc<AddressPolicy>,
    ) -> anyhow::Result<Self> {
        let engine = engine::engine(&limits)?;
        let app_vars = resolve_app_variables(manifest, overrides)?;
        let mut compiled = Vec::new();
        for c in manifest.components.values() {
            let component = compile_component(&engine, c, cache_dir)
                .with_context(|| format!("component {:?}", c.id))?;
            compiled.push((c, component));
        }
        let wants_nn = compiled.iter().any(|(_, comp)| imports_wasi_nn(&engine, comp));
        let nn = match nn {
            NnSource::None => None,
            NnSource::Ready(r) => Some(r),
            NnSource::OnDemand(load) if wants_nn => Some(load()?),
            NnSource::OnDemand(_) => {
                tracing::info!("no component imports wasi:nn: no model loaded");
                None
            }
        };
        let nn_linked = nn.is_some();
        let linker = RequestState::linker(&engine, nn_linked)?;
        let staging = staging_dir()?;
        let mut components = HashMap::new();
        for (c, component) in compiled {
            let loaded = link_component(&linker, c, component, &app_vars, &staging, nn_linked)
                .with_context(|| format!("component {:?}", c.id))?;
            components.insert(c.id.clone(), loaded);
        }
        let router =
            Router::new(manifest.triggers.iter().map(|t| (t.route.as_str(), t.component.as_str())))
                .map_err(anyhow::Error::msg)?;
        let nn = nn.unwrap_or_default();
        Ok(Self {
            router,
            instances: Instances { engine, limits, nn, metrics, egress },
            components,
            staging,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.instances.engine
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.instances.metrics
    }

    pub fn has_component(&self, id: &str) -> bool {
        self.components.contains_key(id)
    }

    /// Run one request through a fresh instance of `component`, for `caller`.
    pub async fn invoke(
        &self,
        component: &str,
        req: hyper::Request<Body>,
        caller: Caller,
    ) -> Result<Response, InvokeError> {
        let Some(pre) = self.components.get(component) else {
            let e = anyhow::anyhow!("no such component");
            return Err(InvokeError::Internal(component.to_owned(), e));
        };
        self.instances.invoke(pre, req, caller).await
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// Application variables: defaults, overridden by `SPIN_VARIABLE_<NAME>` (given here as
/// `overrides`).
pub fn resolve_app_variables(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    for (name, v) in &manifest.variables {
        match overrides.get(name).or(v.default.as_ref()) {
            Some(value) => {
                vars.insert(name.clone(), value.clone());
            }
            None if v.required => {
                bail!("variable {name:?} is required: set SPIN_VARIABLE_{}", name.to_uppercase())
            }
            None => {}
        }
    }
    Ok(vars)
}

/// A component's variables and allowed hosts with `{{ name }}` expanded from `app_vars`.
pub fn resolve_component(
    c: &ManifestComponent,
    app_vars: &BTreeMap<String, String>,
) -> anyhow::Result<(BTreeMap<String, String>, Vec<HostRule>)> {
    let variables = c
        .variables
        .iter()
        .map(|(k, t)| Ok((k.clone(), outbound::expand(t, app_vars).map_err(anyhow::Error::msg)?)))
        .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
    let allowed_hosts = c
        .allowed_outbound_hosts
        .iter()
        .map(|t| {
            outbound::expand(t, app_vars)
                .and_then(|h| HostRule::parse(&h))
                .map_err(anyhow::Error::msg)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((variables, allowed_hosts))
}

/// Read, compose (`[component.X.dependencies]`, as Spin does at load time) and compile.
fn compile_component(
    engine: &Engine,
    c: &ManifestComponent,
    cache_dir: Option<&Path>,
) -> anyhow::Result<Component> {
    let bytes = std::fs::read(&c.source).with_context(|| {
        format!("cannot read component source {} (build it first: make build)", c.source.display())
    })?;
    let bytes = if c.dependencies.is_empty() {
        bytes
    } else {
        compose::compose_cached(&bytes, &c.dependencies, cache_dir)
            .context("composing [component.X.dependencies]")?
    };
    compile_cached(engine, &bytes, cache_dir)
}

/// Does `component` itself import a `wasi:nn` interface (a composed provider inside it
/// does not count)?
fn imports_wasi_nn(engine: &Engine, component: &Component) -> bool {
    component.component_type().imports(engine).any(|(name, _)| name.starts_with("wasi:nn/"))
}

fn link_component(
    linker: &Linker<RequestState>,
    c: &ManifestComponent,
    component: Component,
    app_vars: &BTreeMap<String, String>,
    staging: &Path,
    nn_linked: bool,
) -> anyhow::Result<ComponentPre> {
    let linked = linker.instantiate_pre(&component).map_err(|e| {
        let e = wt(e);
        let hint = if !nn_linked && format!("{e:#}").contains("wasi:nn") {
            " (wasi:nn is not linked: --nn-backend none; compose a provider in, \
             e.g. classify-portable.wasm)"
        } else {
            ""
        };
        e.context(format!("cannot satisfy the imports of {}{hint}", c.source.display()))
    })?;
    let pre = ProxyPre::new(linked)
        .map_err(wt)
        .context("component does not export wasi:http/incoming-handler@0.2.x")?;
    let (variables, allowed_hosts) = resolve_component(c, app_vars)?;
    Ok(ComponentPre {
        id: c.id.clone(),
        pre,
        env: c.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        preopens: stage_files(&c.id, &c.files, staging)?,
        variables: Arc::new(variables),
        allowed_hosts: Arc::new(allowed_hosts),
    })
}

/// A new, empty staging directory for this process. Its name is unique even when a
/// killed spinfer left its own behind under a PID that is now ours: staging into a
/// leftover directory once made `fs::copy` open an old hard link to the source file for
/// writing, truncating the app's own file.
fn staging_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let base = format!("spinfer-{}-{nanos}", std::process::id());
    for attempt in 0..16 {
        let dir = std::env::temp_dir().join(format!("{base}-{attempt}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).context(format!("creating {}", dir.display())),
        }
    }
    bail!("no free staging directory name under {}", std::env::temp_dir().display())
}

/// Directories mount as they are; single files are linked into a per-component
/// staging directory that is mounted at `/` (read-only).
fn stage_files(
    id: &str,
    mounts: &[Mount],
    staging: &Path,
) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut preopens = Vec::new();
    let root = staging.join(id);
    let mut staged_any = false;
    for m in mounts {
        if m.host.is_dir() {
            preopens.push((m.host.clone(), m.guest.clone()));
        } else if m.host.is_file() {
            let dest = root.join(m.guest.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap_or(&root))?;
            // Never write through a path that may already be a link to the source.
            if dest.exists() {
                bail!("files: {} is mounted twice at {}", m.host.display(), m.guest);
            }
            if std::fs::hard_link(&m.host, &dest).is_err() {
                std::fs::copy(&m.host, &dest)
                    .with_context(|| format!("staging {}", m.host.display()))?;
            }
            staged_any = true;
        } else {
            bail!("files: {} does not exist", m.host.display());
        }
    }
    if staged_any {
        preopens.push((root, "/".to_owned()));
    }
    Ok(preopens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_never_writes_through_to_the_source_file() {
        let (a, b) = (staging_dir().unwrap(), staging_dir().unwrap());
        assert_ne!(a, b, "each start gets its own staging directory");
        let source = a.join("labels.txt");
        std::fs::write(&source, "cat\ndog\n").unwrap();
        let mount = Mount { host: source.clone(), guest: "/m/labels.txt".into() };
        stage_files("c", std::slice::from_ref(&mount), &b).unwrap();
        // Staging the same file again where a link to it already is must not truncate it.
        assert!(stage_files("c", std::slice::from_ref(&mount), &b).is_err());
        assert_eq!(std::fs::read_to_string(&source).unwrap(), "cat\ndog\n");
        let _ = (std::fs::remove_dir_all(&a), std::fs::remove_dir_all(&b));
    }
}
