//! HTTP route matching as Spin does it: a route is exact (`/home`) or a wildcard prefix
//! (`/classify/...`, which also matches `/classify` itself); among matches the most
//! specific wins (exact first, then the longest prefix).

/// Routes → component ids, ready to match request paths.
#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<(Pattern, String)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Router {
    /// Build from `(route, component)` pairs; an exact duplicate route is an error.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, String> {
        let mut routes: Vec<(Pattern, String)> = Vec::new();
        for (route, component) in pairs {
            let pattern = match route.strip_suffix("/...") {
                Some(prefix) => Pattern::Prefix(prefix.trim_end_matches('/').to_owned()),
                None if route == "/..." => Pattern::Prefix(String::new()),
                None => Pattern::Exact(normalise(route).to_owned()),
            };
            if let Some((_, other)) = routes.iter().find(|(p, _)| *p == pattern) {
                return Err(format!(
                    "route {route:?} is declared twice (components {other:?} and {component:?})"
                ));
            }
            routes.push((pattern, component.to_owned()));
        }
        // Most specific first: exact routes, then longer prefixes.
        routes.sort_by_key(|(p, _)| match p {
            Pattern::Exact(_) => (0, 0),
            Pattern::Prefix(s) => (1, usize::MAX - s.len()),
        });
        Ok(Self { routes })
    }

    /// The component serving `path`, if any.
    pub fn route(&self, path: &str) -> Option<&str> {
        let path = normalise(path);
        self.routes
            .iter()
            .find(|(p, _)| match p {
                Pattern::Exact(e) => e == path,
                Pattern::Prefix(s) => {
                    path == s
                        || path.strip_prefix(s.as_str()).is_some_and(|rest| rest.starts_with('/'))
                        || s.is_empty()
                }
            })
            .map(|(_, c)| c.as_str())
    }
}

fn normalise(path: &str) -> &str {
    if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new([
            ("/...", "frontend"),
            ("/classify/...", "classify"),
            ("/classify/special", "special"),
            ("/home", "home"),
        ])
        .unwrap()
    }

    #[test]
    fn most_specific_wins() {
        let r = router();
        assert_eq!(r.route("/classify"), Some("classify"));
        assert_eq!(r.route("/classify/models"), Some("classify"));
        assert_eq!(r.route("/classify/special"), Some("special"));
        assert_eq!(r.route("/classifyX"), Some("frontend"));
        assert_eq!(r.route("/home/"), Some("home"));
        assert_eq!(r.route("/"), Some("frontend"));
    }

    #[test]
    fn no_catch_all_means_no_match() {
        let r = Router::new([("/a/...", "a")]).unwrap();
        assert_eq!(r.route("/b"), None);
        assert_eq!(r.route("/a/b/c"), Some("a"));
    }

    #[test]
    fn duplicate_routes_are_rejected() {
        assert!(Router::new([("/a", "x"), ("/a/", "y")]).unwrap_err().contains("twice"));
    }
}
