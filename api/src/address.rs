//! Which IP addresses count as internal — loopback, private, CGNAT, link-local (incl.
//! cloud metadata), unique-local, unspecified, broadcast, multicast, and IPv4-mapped or
//! -compatible IPv6 forms of those — in one place for both sides that check: the host,
//! on resolved addresses for every outgoing connection, and the frontend component, on
//! the URL a user gives before it asks the host to fetch it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Is `ip` one a component must not reach unless the operator allows its host by name:
/// loopback, private, CGNAT, link-local (incl. cloud metadata), unique-local,
/// unspecified, broadcast, multicast, or an IPv4-mapped/compatible IPv6 of those.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // ::a.b.c.d (deprecated IPv4-compatible) — ::1 and :: are caught below as themselves.
    let compatible = ip.segments()[..6].iter().all(|&s| s == 0) && !ip.is_loopback();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (compatible && forbidden_v4(Ipv4Addr::from(ip.to_bits() as u32)))
}
