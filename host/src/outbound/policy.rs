//! Which hosts a component may call (`allowed_outbound_hosts`, Spin's syntax:
//! `scheme://host[:port]` with `*` wildcards, `*.suffix` hosts and `{{ variable }}`
//! templates) and the expansion of those templates from application variables.

use std::collections::BTreeMap;

/// Expand `{{ name }}` templates from `vars`; an unknown name is an error.
pub fn expand(template: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let end =
            rest[start..].find("}}").ok_or_else(|| format!("unclosed `{{{{` in {template:?}"))?
                + start;
        out.push_str(&rest[..start]);
        let name = rest[start + 2..end].trim();
        out.push_str(
            vars.get(name)
                .ok_or_else(|| format!("template {template:?} uses undefined variable {name:?}"))?,
        );
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One allowed-host rule.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRule {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
}

impl HostRule {
    /// Parse `scheme://host[:port]`; `*` is allowed for scheme, host (or `*.suffix`) and port.
    pub fn parse(rule: &str) -> Result<Self, String> {
        let (scheme, rest) = rule
            .split_once("://")
            .ok_or_else(|| format!("allowed host {rule:?} needs a scheme, e.g. http://{rule}"))?;
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(format!("allowed host {rule:?} must not contain a path"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, "*")) => (h, None),
            Some((h, p)) => (
                h,
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("allowed host {rule:?} has a bad port"))?,
                ),
            ),
            None => (
                rest,
                Some(default_port(scheme).ok_or_else(|| {
                    format!("allowed host {rule:?}: give a port for scheme {scheme:?}")
                })?),
            ),
        };
        if host.is_empty() {
            return Err(format!("allowed host {rule:?} has no host"));
        }
        Ok(Self {
            scheme: (scheme != "*").then(|| scheme.to_owned()),
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Does this rule allow `scheme://host:port`?
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.scheme.as_deref().is_none_or(|s| s == scheme)
            && self.port.is_none_or(|p| p == port)
            && match self.host.strip_prefix("*.") {
                _ if self.host == "*" => true,
                Some(suffix) => host.strip_suffix(suffix).is_some_and(|h| h.ends_with('.')),
                None => self.host == host,
            }
    }
}

pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_and_unknowns_fail() {
        let vars = BTreeMap::from([("h".to_string(), "classify.spin.internal".to_string())]);
        assert_eq!(expand("http://{{ h }}", &vars).unwrap(), "http://classify.spin.internal");
        assert!(expand("http://{{ nope }}", &vars).unwrap_err().contains("nope"));
    }

    #[test]
    fn rules_match_scheme_host_and_port() {
        let r = HostRule::parse("http://classify.spin.internal").unwrap();
        assert!(r.allows("http", "classify.spin.internal", 80));
        assert!(!r.allows("https", "classify.spin.internal", 443));
        assert!(!r.allows("http", "example.com", 80));
        let any = HostRule::parse("http://127.0.0.1:*").unwrap();
        assert!(any.allows("http", "127.0.0.1", 8123));
        let wild = HostRule::parse("*://*.spin.internal:*").unwrap();
        assert!(wild.allows("http", "a.spin.internal", 80));
        assert!(!wild.allows("http", "spin.internal", 80));
        assert!(HostRule::parse("example.com").is_err());
    }
}
