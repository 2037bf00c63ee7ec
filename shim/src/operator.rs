//! What spin-operator (SpinKube) tells a shim container through its environment — the
//! Deployment it builds from a SpinApp sets these, and nothing else reaches the shim:
//!
//! | variable | from the SpinApp | here |
//! |---|---|---|
//! | `SPIN_HTTP_LISTEN_ADDR` | (the executor's port, 80) | where the HTTP triggers listen |
//! | `SPIN_COMPONENTS_TO_RETAIN` | `components:` (comma-separated ids) | only those compiled, loaded, routed |
//! | `SPIN_MAX_INSTANCE_MEMORY` | `invocationLimits.memory`, in bytes | each instance's linear-memory cap |
//! | `SPIN_VARIABLE_<NAME>` | `variables:` | application variable `<name>` |
//! | `OTEL_EXPORTER_OTLP_*` | the executor's `otel` | traces (kept in [`OperatorEnv::telemetry`]) |
//! | `SPINFER_ADMIN_LISTEN` | (the pod spec's `env`) | `/metrics` address, default `0.0.0.0:9464`, `none` = off |
//!
//! Application variables come only from `SPIN_VARIABLE_*`: containerd-shim-spin also
//! takes a plain `<NAME>`, but Kubernetes puts its own variables in every container
//! (`HOSTNAME`, `<SERVICE>_SERVICE_HOST`, …), which would then silently set app variables.
//! Any other `SPIN_*` variable is named in the log as not understood.

use anyhow::{bail, Context as _};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Where the app listens unless `SPIN_HTTP_LISTEN_ADDR` says otherwise (SpinKube's port).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:80";
/// Each instance's memory cap unless `SPIN_MAX_INSTANCE_MEMORY` says otherwise.
pub const DEFAULT_INSTANCE_MEMORY: usize = 512 * 1024 * 1024;

const LISTEN: &str = "SPIN_HTTP_LISTEN_ADDR";
const RETAIN: &str = "SPIN_COMPONENTS_TO_RETAIN";
const MEMORY: &str = "SPIN_MAX_INSTANCE_MEMORY";
const VARIABLE: &str = "SPIN_VARIABLE_";
const ADMIN: &str = "SPINFER_ADMIN_LISTEN";

/// The container's environment as the operator meant it.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorEnv {
    pub listen: SocketAddr,
    /// Components to keep; `None` keeps all (unset or empty, as containerd-shim-spin).
    pub retain: Option<Vec<String>>,
    pub max_instance_memory: usize,
    /// Application variable overrides: lower-case name → value.
    pub variables: BTreeMap<String, String>,
    /// `OTEL_*` and `SPINFER_ADMIN_LISTEN`, as given: the shim's traces and `/metrics`.
    pub telemetry: BTreeMap<String, String>,
    /// `SPIN_*` variables this shim does not understand (for the log).
    pub ignored: Vec<String>,
}

impl OperatorEnv {
    /// From the container's `KEY=VALUE` list.
    pub fn parse(envs: &[String]) -> anyhow::Result<Self> {
        let vars: BTreeMap<&str, &str> = envs.iter().filter_map(|kv| kv.split_once('=')).collect();
        let listen = vars.get(LISTEN).copied().unwrap_or(DEFAULT_LISTEN);
        let listen =
            listen.parse().with_context(|| format!("{LISTEN}={listen:?} is not host:port"))?;
        let retain = match vars.get(RETAIN).map(|v| v.trim()) {
            None | Some("") => None,
            Some(list) => Some(parse_list(list)?),
        };
        let max_instance_memory = match vars.get(MEMORY) {
            None => DEFAULT_INSTANCE_MEMORY,
            Some(v) => parse_bytes(v)?,
        };
        let variables = vars
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(VARIABLE).map(|n| (n.to_lowercase(), v.to_string()))
            })
            .collect();
        let telemetry = vars
            .iter()
            .filter(|(k, _)| k.starts_with("OTEL_") || **k == ADMIN)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ignored = vars
            .keys()
            .filter(|k| {
                k.starts_with("SPIN_")
                    && !k.starts_with(VARIABLE)
                    && ![LISTEN, RETAIN, MEMORY].contains(*k)
            })
            .map(|k| k.to_string())
            .collect();
        Ok(Self { listen, retain, max_instance_memory, variables, telemetry, ignored })
    }
}

fn parse_list(list: &str) -> anyhow::Result<Vec<String>> {
    let ids: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).collect();
    if ids.iter().any(String::is_empty) {
        bail!("{RETAIN}={list:?}: an empty component id (want comma-separated ids, e.g. classify,frontend)");
    }
    Ok(ids)
}

/// Bytes, as spin-operator writes `invocationLimits.memory` (a plain integer).
fn parse_bytes(v: &str) -> anyhow::Result<usize> {
    let bytes: usize = v.trim().parse().with_context(|| {
        format!("{MEMORY}={v:?} is not a number of bytes (spin-operator writes e.g. 268435456 for 256Mi)")
    })?;
    // Below one Wasm page nothing can run; say so at create rather than at every request.
    if bytes < 64 * 1024 {
        bail!("{MEMORY}={bytes} is below one Wasm page (65536 bytes)");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(list: &[&str]) -> anyhow::Result<OperatorEnv> {
        OperatorEnv::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn what_spin_operator_sets() {
        let e = env(&[
            "SPIN_HTTP_LISTEN_ADDR=0.0.0.0:8080",
            "SPIN_COMPONENTS_TO_RETAIN=classify, frontend",
            "SPIN_MAX_INSTANCE_MEMORY=268435456",
            "SPIN_VARIABLE_CLASSIFY_HOST=spinfer-classify.spinfer.svc.cluster.local",
            "OTEL_EXPORTER_OTLP_ENDPOINT=http://otel:4318",
            "SPINFER_ADMIN_LISTEN=0.0.0.0:9100",
            "CLASSIFY_HOST=ignored",
            "HOSTNAME=pod-1",
            "SPIN_FOO=1",
        ])
        .unwrap();
        assert_eq!(e.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(
            e.retain.as_deref(),
            Some(&["classify".to_string(), "frontend".to_string()][..])
        );
        assert_eq!(e.max_instance_memory, 256 << 20);
        assert_eq!(
            e.variables,
            BTreeMap::from([(
                "classify_host".into(),
                "spinfer-classify.spinfer.svc.cluster.local".into()
            )])
        );
        assert_eq!(e.telemetry["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://otel:4318");
        assert_eq!(e.telemetry["SPINFER_ADMIN_LISTEN"], "0.0.0.0:9100");
        assert_eq!(e.ignored, ["SPIN_FOO"]);
    }

    #[test]
    fn defaults_and_errors() {
        let e = env(&["SPIN_COMPONENTS_TO_RETAIN="]).unwrap();
        assert_eq!(
            (e.listen, e.retain, e.max_instance_memory),
            (DEFAULT_LISTEN.parse().unwrap(), None, DEFAULT_INSTANCE_MEMORY)
        );
        assert!(env(&["SPIN_HTTP_LISTEN_ADDR=:80"]).is_err());
        assert!(env(&["SPIN_MAX_INSTANCE_MEMORY=256Mi"])
            .unwrap_err()
            .to_string()
            .contains("268435456"));
        assert!(env(&["SPIN_MAX_INSTANCE_MEMORY=100"]).is_err());
        assert!(env(&["SPIN_COMPONENTS_TO_RETAIN=classify,,frontend"]).is_err());
    }
}
