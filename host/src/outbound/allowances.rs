//! The cluster operator's allowances for private destinations — set by whoever runs the
//! node (the shim's node config), never by the app. A Kubernetes Service address is
//! always private (a ClusterIP, a pod IP) and the post-DNS check refuses every private
//! address, so one SpinApp calling another through its Service needs the operator to name
//! the Service network (CIDRs, e.g. `10.96.0.0/12`) or its DNS names (suffixes, e.g.
//! `.svc.cluster.local`). Whatever is allowed, some addresses stay refused: loopback,
//! link-local (cloud metadata lives there), unspecified, multicast, broadcast, `0.0.0.0/8`,
//! well-known metadata addresses elsewhere, and the node's own addresses (the kubelet).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Metadata services outside the link-local range: AWS's IPv6 one, Alibaba Cloud's.
const METADATA: [IpAddr; 2] = [
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

/// Private destinations the operator allows.
#[derive(Debug, Default, Clone)]
pub struct PrivateAllowances {
    cidrs: Vec<Cidr>,
    suffixes: Vec<String>,
    node: Vec<IpAddr>,
}

impl PrivateAllowances {
    /// `cidrs` like `10.96.0.0/12`, `suffixes` like `.svc.cluster.local`; `node`: this
    /// node's own addresses, refused whatever the lists say.
    pub fn new(cidrs: &[String], suffixes: &[String], node: Vec<IpAddr>) -> Result<Self, String> {
        let cidrs = cidrs.iter().map(|c| Cidr::parse(c)).collect::<Result<Vec<_>, _>>()?;
        let suffixes = suffixes
            .iter()
            .map(|s| {
                let s = s.trim_end_matches('.').to_ascii_lowercase();
                match s.strip_prefix('.') {
                    Some(rest) if !rest.is_empty() && !rest.contains(['/', ':', '*']) => Ok(s),
                    _ => Err(format!(
                        "private host suffix {s:?}: want a DNS suffix starting with '.', \
                         e.g. \".svc.cluster.local\""
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { cidrs, suffixes, node: node.into_iter().map(canonical).collect() })
    }

    /// May a request to `host` (as written in the URL) connect to the private `ip`?
    pub fn allows(&self, host: &str, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if never(ip) || self.node.contains(&ip) {
            return false;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.cidrs.iter().any(|c| c.contains(ip))
            || self.suffixes.iter().any(|s| host.len() > s.len() && host.ends_with(s.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.cidrs.is_empty() && self.suffixes.is_empty()
    }
}

/// Refused whatever the operator allows.
fn never(ip: IpAddr) -> bool {
    METADATA.contains(&ip)
        || match ip {
            IpAddr::V4(v4) => {
                v4.is_loopback()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_multicast()
                    || v4.octets()[0] == 0
            }
            IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An address range, `addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("private CIDR {s:?}: want ADDRESS/PREFIX, e.g. 10.96.0.0/12");
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        if prefix > max || prefix == 0 {
            return Err(format!("private CIDR {s:?}: prefix must be 1–{max}"));
        }
        Ok(Self { net: canonical(net), prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (a, b, bits) = match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n) as u128, u32::from(i) as u128, 32),
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        (a >> shift) == (b >> shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn service_cidr_and_suffix_allow_private_addresses() {
        let a = PrivateAllowances::new(
            &["10.96.0.0/12".into(), "fd00:10:96::/108".into()],
            &[".svc.cluster.local".into()],
            vec![],
        )
        .unwrap();
        assert!(a.allows("10.96.77.10", ip("10.96.77.10")));
        assert!(a.allows("x", ip("10.111.255.1")));
        assert!(!a.allows("x", ip("10.112.0.1")), "outside the /12");
        assert!(a.allows("x", ip("::ffff:10.96.0.1")), "mapped form of an allowed address");
        assert!(a.allows("x", ip("fd00:10:96::5")));
        assert!(a.allows("spinfer-classify.spinfer.svc.cluster.local.", ip("10.244.0.7")));
        assert!(!a.allows("svc.cluster.local.evil.example", ip("10.244.0.7")));
        assert!(!a.allows(".svc.cluster.local", ip("10.244.0.7")), "the bare suffix");
    }

    #[test]
    fn metadata_link_local_loopback_and_node_addresses_stay_refused() {
        let a = PrivateAllowances::new(
            &["0.0.0.0/1".into(), "128.0.0.0/1".into(), "::/1".into(), "8000::/1".into()],
            &[".svc.cluster.local".into()],
            vec![ip("10.0.0.4")],
        )
        .unwrap();
        for bad in [
            "169.254.169.254",
            "169.254.170.2",
            "fd00:ec2::254",
            "100.100.100.200",
            "127.0.0.1",
            "::1",
            "fe80::1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "10.0.0.4",
            "::ffff:10.0.0.4",
            "::ffff:169.254.169.254",
        ] {
            assert!(!a.allows("metadata.svc.cluster.local", ip(bad)), "{bad}");
        }
        assert!(a.allows("x", ip("10.0.0.5")));
    }

    #[test]
    fn bad_entries_are_named() {
        assert!(PrivateAllowances::new(&["10.96.0.0".into()], &[], vec![]).is_err());
        assert!(PrivateAllowances::new(&["10.96.0.0/33".into()], &[], vec![]).is_err());
        assert!(PrivateAllowances::new(&["10.96.0.0/0".into()], &[], vec![]).is_err());
        let e = PrivateAllowances::new(&[], &["svc.cluster.local".into()], vec![]).unwrap_err();
        assert!(e.contains("starting with '.'"), "{e}");
        assert!(PrivateAllowances::new(&[], &["*.svc".into()], vec![]).is_err());
    }
}
