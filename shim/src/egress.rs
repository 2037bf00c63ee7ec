//! The node operator's outbound policy for every spinfer pod on the node — never the
//! app's: `shim.toml` in the node directory may allow private destinations (a cluster's
//! Service network, its DNS names), so one SpinApp can call another through its
//! Service. Without the file nothing private is reachable (spinfer's default).
//!
//! ```toml
//! # /opt/spinfer/shim.toml
//! [outbound]
//! allow_private_cidrs = ["10.96.0.0/12"]          # the cluster's Service CIDR
//! allow_private_suffixes = [".svc.cluster.local"] # names resolving into the cluster
//! ```
//!
//! Loopback, link-local (cloud metadata), multicast, broadcast, unspecified and this
//! node's own addresses (read from the node's interfaces before containers start, while
//! the shim is still in the node's network namespace) stay refused whatever is listed.

use serde::Deserialize;
use spinfer::outbound::{AddressPolicy, PrivateAllowances};
use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;

pub const FILE: &str = "shim.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShimToml {
    #[serde(default)]
    outbound: Outbound,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Outbound {
    #[serde(default)]
    allow_private_cidrs: Vec<String>,
    #[serde(default)]
    allow_private_suffixes: Vec<String>,
}

static NODE_ADDRESSES: OnceLock<Vec<IpAddr>> = OnceLock::new();

/// Remember the node's own addresses (call in the node's network namespace).
pub fn preload() {
    let _ = NODE_ADDRESSES.set(interface_addresses());
}

/// The address policy for this node's pods, from `dir/shim.toml` (the node directory as
/// the container reaches it; `shown` is how the node names it).
pub fn policy(dir: &Path, shown: &Path) -> anyhow::Result<AddressPolicy> {
    let path = dir.join(FILE);
    let cfg: ShimToml = match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}/{FILE}: {e}", shown.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ShimToml::default(),
        Err(e) => anyhow::bail!("{}/{FILE}: {e}", shown.display()),
    };
    let node = NODE_ADDRESSES.get().cloned().unwrap_or_default();
    let allowances = PrivateAllowances::new(
        &cfg.outbound.allow_private_cidrs,
        &cfg.outbound.allow_private_suffixes,
        node,
    )
    .map_err(|e| anyhow::anyhow!("{}/{FILE}: {e}", shown.display()))?;
    if !allowances.is_empty() {
        tracing::info!(
            cidrs = ?cfg.outbound.allow_private_cidrs,
            suffixes = ?cfg.outbound.allow_private_suffixes,
            "outbound: the node allows these private destinations"
        );
    }
    Ok(AddressPolicy::new(&[], &[])
        .map_err(anyhow::Error::msg)?
        .with_private_allowances(allowances))
}

/// Every address of every interface of this network namespace.
fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free once.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes()));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_file_allows_the_service_network_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("spinfer-egress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svc: IpAddr = "10.96.77.10".parse().unwrap();
        let p = policy(&dir, Path::new("/opt/spinfer")).unwrap();
        assert!(!p.permits("10.96.77.10", 80, svc), "no file: nothing private");
        std::fs::write(dir.join(FILE), "[outbound]\nallow_private_cidrs = [\"10.96.0.0/12\"]\n")
            .unwrap();
        let p = policy(&dir, Path::new("/opt/spinfer")).unwrap();
        assert!(p.permits("10.96.77.10", 80, svc));
        assert!(!p.permits("x", 80, "169.254.169.254".parse().unwrap()));
        std::fs::write(dir.join(FILE), "[outbound]\nallow_private_cidr = []\n").unwrap();
        let e = policy(&dir, Path::new("/opt/spinfer")).unwrap_err().to_string();
        assert!(e.starts_with("/opt/spinfer/shim.toml") && e.contains("allow_private_cidr"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn interfaces_include_loopback() {
        assert!(interface_addresses().iter().any(IpAddr::is_loopback));
    }
}
