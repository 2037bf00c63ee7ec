//! Selective deployment: keep only some components of an app — SpinKube's SpinApp
//! `components:` list, which spin-operator hands the shim as `SPIN_COMPONENTS_TO_RETAIN`
//! (as containerd-shim-spin reads it). The dropped components and every trigger routing
//! to one are removed from the manifest, so nothing of them is compiled, loaded or routed
//! (their paths answer 404). A kept component that chains to a dropped one through
//! `http://<id>.spin.internal` (or allows `*.spin.internal`) is refused here, with the
//! variable to point at the dropped component's Service when the host came from one.

use super::Manifest;
use crate::outbound::expand;
use std::collections::BTreeMap;

/// Why a retain list cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RetainError {
    #[error("component {name:?} is not in the application (it has: {have})")]
    Unknown { name: String, have: String },
    #[error(
        "component {kept:?} is kept but chains to component {dropped:?}, which is not: its \
         allowed_outbound_hosts entry {template:?} is {host:?}{hint}"
    )]
    ChainsToDropped { kept: String, dropped: String, template: String, host: String, hint: String },
    #[error(
        "component {kept:?} is kept but allows every component ({template:?}) while only \
         some are kept"
    )]
    WildcardChaining { kept: String, template: String },
}

impl Manifest {
    /// Keep only `keep` (component ids) and the triggers routing to them. `app_vars` are
    /// the resolved application variables, so a host written `{{ classify_host }}` is
    /// checked as the app will use it.
    pub fn retain_components(
        &mut self,
        keep: &[String],
        app_vars: &BTreeMap<String, String>,
    ) -> Result<(), RetainError> {
        for name in keep {
            if !self.components.contains_key(name) {
                let have = self.components.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(RetainError::Unknown { name: name.clone(), have });
            }
        }
        let kept = |id: &str| keep.iter().any(|k| k == id);
        for c in self.components.values().filter(|c| kept(&c.id)) {
            for template in &c.allowed_outbound_hosts {
                // A template that does not expand is reported by App::load, in context.
                let Ok(rule) = expand(template, app_vars) else { continue };
                let Some(target) = chaining_target(&rule) else { continue };
                if target == "*" {
                    if self.components.len() > keep.len() {
                        return Err(RetainError::WildcardChaining {
                            kept: c.id.clone(),
                            template: template.clone(),
                        });
                    }
                } else if !kept(target) {
                    return Err(RetainError::ChainsToDropped {
                        kept: c.id.clone(),
                        dropped: target.to_owned(),
                        template: template.clone(),
                        host: rule.clone(),
                        hint: variable_hint(template),
                    });
                }
            }
        }
        self.components.retain(|id, _| kept(id));
        self.triggers.retain(|t| kept(&t.component));
        Ok(())
    }
}

/// `<target>` of a rule `scheme://<target>.spin.internal[:port]`, if it is one.
fn chaining_target(rule: &str) -> Option<&str> {
    let rest = rule.split_once("://").map_or(rule, |(_, r)| r);
    let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h).trim_end_matches('/');
    host.strip_suffix(".spin.internal")
}

/// "; set SPIN_VARIABLE_<NAME> …" for each variable a template uses.
fn variable_hint(template: &str) -> String {
    let names: Vec<String> = template
        .split("{{")
        .skip(1)
        .filter_map(|s| s.split_once("}}").map(|(n, _)| n.trim().to_owned()))
        .collect();
    match names.first() {
        Some(n) => format!(
            "; set the app variable {n:?} (SPIN_VARIABLE_{}, a SpinApp `variables` entry) to \
             that component's Service, e.g. <spinapp>.<namespace>.svc.cluster.local",
            n.to_uppercase()
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
classify_host = { default = "classify.spin.internal" }
[[trigger.http]]
route = "/classify/..."
component = "classify"
[[trigger.http]]
route = "/v2/..."
component = "classify"
[[trigger.http]]
route = "/..."
component = "frontend"
[component.classify]
source = "classify.wasm"
[component.frontend]
source = "frontend.wasm"
allowed_outbound_hosts = ["http://{{ classify_host }}", "https://*:*"]
[component.wild]
source = "wild.wasm"
allowed_outbound_hosts = ["http://*.spin.internal"]
"#;

    fn app() -> Manifest {
        Manifest::parse(APP, "spin.toml", Path::new("/a")).unwrap()
    }

    fn vars(host: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("classify_host".to_string(), host.to_string())])
    }

    #[test]
    fn keeps_only_the_named_components_and_their_routes() {
        let mut m = app();
        m.retain_components(&["classify".into()], &vars("classify.spin.internal")).unwrap();
        assert_eq!(m.components.keys().collect::<Vec<_>>(), ["classify"]);
        let routes: Vec<_> = m.triggers.iter().map(|t| t.route.as_str()).collect();
        assert_eq!(routes, ["/classify/...", "/v2/..."]);
    }

    #[test]
    fn chaining_to_a_dropped_component_is_refused_with_the_variable_to_set() {
        let mut m = app();
        let e =
            m.retain_components(&["frontend".into()], &vars("classify.spin.internal")).unwrap_err();
        assert!(
            matches!(&e, RetainError::ChainsToDropped { dropped, .. } if dropped == "classify")
        );
        assert!(e.to_string().contains("SPIN_VARIABLE_CLASSIFY_HOST"), "{e}");
        // Pointed at the Service instead, frontend alone is fine.
        let mut m = app();
        m.retain_components(&["frontend".into()], &vars("spinfer-classify.ns.svc.cluster.local"))
            .unwrap();
        assert_eq!(m.triggers.len(), 1);
    }

    #[test]
    fn unknown_components_and_wildcard_chaining_are_refused() {
        let e = app().retain_components(&["nope".into()], &vars("x")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "component \"nope\" is not in the application (it has: classify, frontend, wild)"
        );
        let e = app().retain_components(&["wild".into()], &vars("x")).unwrap_err();
        assert!(matches!(e, RetainError::WildcardChaining { .. }));
        let all = ["classify".into(), "frontend".into(), "wild".into()];
        app().retain_components(&all, &vars("classify.spin.internal")).unwrap();
    }

    #[test]
    fn chaining_targets() {
        assert_eq!(chaining_target("http://classify.spin.internal"), Some("classify"));
        assert_eq!(chaining_target("http://a.spin.internal:8080"), Some("a"));
        assert_eq!(chaining_target("*://*.spin.internal:*"), Some("*"));
        assert_eq!(chaining_target("http://example.com"), None);
    }
}
