//! `spinfer manifest`: what the host makes of a manifest, without running it — which
//! component serves a path, and each component's variables and allowed hosts with
//! templates expanded. Tools (scripts/k8s_check.py) ask this instead of re-implementing
//! Spin's routing and templates.

use crate::app::{resolve_app_variables, resolve_component};
use crate::manifest::Manifest;
use crate::routes::Router;
use serde::Serialize;
use std::collections::BTreeMap;

/// `spinfer manifest routes PATH…`: path → the component serving it (or none).
pub fn routes(
    manifest: &Manifest,
    paths: &[String],
) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let router =
        Router::new(manifest.triggers.iter().map(|t| (t.route.as_str(), t.component.as_str())))
            .map_err(anyhow::Error::msg)?;
    Ok(paths.iter().map(|p| (p.clone(), router.route(p).map(str::to_owned))).collect())
}

/// What `spinfer manifest resolve` prints.
#[derive(Debug, Serialize)]
pub struct Resolved {
    /// Application variables after overrides.
    pub variables: BTreeMap<String, String>,
    pub components: BTreeMap<String, ResolvedComponent>,
}

/// One component with its templates expanded.
#[derive(Debug, Serialize)]
pub struct ResolvedComponent {
    pub variables: BTreeMap<String, String>,
    pub allowed_outbound_hosts: Vec<String>,
}

/// Expand every template as `spinfer up` would with `overrides` (`SPIN_VARIABLE_*`); an
/// undefined variable or a bad host rule is an error, as it is at start.
pub fn resolve(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
) -> anyhow::Result<Resolved> {
    let variables = resolve_app_variables(manifest, overrides)?;
    let mut components = BTreeMap::new();
    for c in manifest.components.values() {
        let (vars, _rules) = resolve_component(c, &variables)
            .map_err(|e| e.context(format!("component {:?}", c.id)))?;
        let hosts = c
            .allowed_outbound_hosts
            .iter()
            .map(|t| crate::outbound::expand(t, &variables))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        components.insert(
            c.id.clone(),
            ResolvedComponent { variables: vars, allowed_outbound_hosts: hosts },
        );
    }
    Ok(Resolved { variables, components })
}
