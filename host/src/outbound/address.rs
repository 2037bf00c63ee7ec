//! Which IP addresses an outgoing connection may reach, and the operator's ways of
//! bending that: hosts allowed to be private by name (`--allow-private-host`), fixed
//! name → address answers (`--resolve`, as curl's), and private ranges or DNS suffixes a
//! cluster's Services live in ([`PrivateAllowances`], set by the shim's node config). The
//! check is on resolved addresses, so no spelling of a host (decimal, hex, short dotted,
//! IPv4-mapped IPv6) slips past it.

use super::allowances::PrivateAllowances;
use std::collections::HashMap;
use std::net::IpAddr;

pub use spinfer_api::address::is_forbidden;

/// The operator's address policy for outgoing connections.
#[derive(Debug, Default, Clone)]
pub struct AddressPolicy {
    /// `host` or `host:port` entries that may resolve to forbidden addresses.
    allow_private: Vec<(String, Option<u16>)>,
    /// `(host, port)` → addresses, used instead of DNS.
    resolve: HashMap<(String, u16), Vec<IpAddr>>,
    /// Private ranges and DNS suffixes the cluster's operator allows.
    private: PrivateAllowances,
}

impl AddressPolicy {
    /// From `--allow-private-host HOST[:PORT]` and `--resolve HOST:PORT:ADDR` values.
    pub fn new(allow_private: &[String], resolve: &[String]) -> Result<Self, String> {
        let mut policy = Self::default();
        for entry in allow_private {
            let (host, port) = split_host_port(entry)
                .ok_or_else(|| format!("--allow-private-host {entry:?}: want HOST or HOST:PORT"))?;
            policy.allow_private.push((host, port));
        }
        for entry in resolve {
            let bad = || format!("--resolve {entry:?}: want HOST:PORT:ADDR");
            let (host, rest) = entry.split_once(':').ok_or_else(bad)?;
            let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
            let port: u16 = port.parse().map_err(|_| bad())?;
            let addr: IpAddr =
                addr.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| bad())?;
            policy.resolve.entry((host.to_ascii_lowercase(), port)).or_default().push(addr);
        }
        Ok(policy)
    }

    /// Has the operator allowed `host:port` (as written in the URL) to be private?
    pub fn allows_private(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.allow_private.iter().any(|(h, p)| *h == host && p.is_none_or(|p| p == port))
    }

    /// The same policy, also allowing the private destinations in `allowances`.
    pub fn with_private_allowances(mut self, allowances: PrivateAllowances) -> Self {
        self.private = allowances;
        self
    }

    /// May a connection for `host:port` (as written in the URL) go to `ip`?
    pub fn permits(&self, host: &str, port: u16, ip: IpAddr) -> bool {
        !is_forbidden(ip) || self.allows_private(host, port) || self.private.allows(host, ip)
    }

    /// The `--resolve` answer for `host:port`, if any.
    pub fn fixed(&self, host: &str, port: u16) -> Option<&[IpAddr]> {
        self.resolve.get(&(host.to_ascii_lowercase(), port)).map(Vec::as_slice)
    }
}

/// `host`, `host:port` or `[v6]:port` → lowercase host (brackets kept off) and port.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (h, after) = rest.split_once(']')?;
            (h, after.strip_prefix(':'))
        }
        None => match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (s, None),
        },
    };
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.215.14", "100.128.0.1", "172.32.0.1", "2606:4700::1", "::ffff:8.8.8.8"] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn allow_list_and_fixed_answers() {
        let p = AddressPolicy::new(
            &["images.test:8080".into(), "Other.Test".into(), "[::1]:9".into()],
            &["images.test:8080:127.0.0.1".into(), "v6.test:80:[::1]".into()],
        )
        .unwrap();
        assert!(p.allows_private("IMAGES.test", 8080));
        assert!(!p.allows_private("images.test", 8081));
        assert!(p.allows_private("other.test", 1));
        assert!(p.allows_private("::1", 9));
        assert_eq!(p.fixed("images.test", 8080).unwrap(), ["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(p.fixed("v6.test", 80).unwrap(), ["::1".parse::<IpAddr>().unwrap()]);
        assert!(p.fixed("images.test", 80).is_none());
        assert!(AddressPolicy::new(&[], &["nohost".into()]).is_err());
        assert!(AddressPolicy::new(&["a:b".into()], &[]).is_err());
    }

    #[test]
    fn operator_allowances_open_only_what_they_name() {
        let svc = "10.96.77.10".parse::<IpAddr>().unwrap();
        let none = AddressPolicy::new(&[], &[]).unwrap();
        assert!(!none.permits("10.96.77.10", 80, svc), "private is refused by default");
        assert!(none.permits("example.com", 80, "93.184.215.14".parse().unwrap()));
        let cluster = none.clone().with_private_allowances(
            PrivateAllowances::new(&["10.96.0.0/12".into()], &[], vec![]).unwrap(),
        );
        assert!(cluster.permits("10.96.77.10", 80, svc));
        assert!(!cluster.permits("x", 80, "169.254.169.254".parse().unwrap()));
        assert!(!cluster.permits("x", 80, "192.168.1.1".parse().unwrap()));
    }
}
