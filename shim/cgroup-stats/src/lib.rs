//! A container's CPU, memory and pids figures, read from the cgroup its process is in,
//! on cgroup v1 (each controller its own hierarchy: CPU time in `cpuacct`) and cgroup v2
//! (one unified hierarchy: CPU time in `cpu.stat` in microseconds). All times are
//! nanoseconds and all sizes bytes, whichever version the node runs.
//!
//! Why this exists: the shim's `Stats` RPC is where the kubelet (through containerd's
//! CRI) takes a container's CPU — what `kubectl top` and the HPA see. runwasi's stack
//! (containerd-shim 0.8's `collect_metrics`) reads only v2's `cpu.stat` keys, so on a v1
//! node CPU was always 0 and the HPA never scaled; on v2 it put microseconds where
//! containerd expects nanoseconds. The shim answers with these figures instead
//! (shim/src/stats.rs, through the hook in shim/vendor/containerd-shimkit).
//!
//! Paths come from `/proc/<pid>/cgroup` and `/proc/self/mountinfo`, so any mount layout
//! (co-mounted `cpu,cpuacct`, bind-mounted sub-trees, hybrid v1 + v2) is found; [`Fs`]
//! lets tests read a fixture tree instead of `/`.

mod mounts;

use mounts::{Hierarchy, Mounts};
use std::io;
use std::path::{Path, PathBuf};

/// Which cgroup version the figures came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// CPU time, nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cpu {
    pub usage_ns: u64,
    pub user_ns: u64,
    pub kernel_ns: u64,
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
}

/// Memory, bytes (faults are counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub usage: u64,
    /// `None`: no limit.
    pub limit: Option<u64>,
    pub inactive_file: u64,
    pub rss: u64,
    pub cache: u64,
    pub pgfault: u64,
    pub pgmajfault: u64,
}

impl Memory {
    /// What the kubelet calls the working set: usage less inactive file pages.
    pub fn working_set(&self) -> u64 {
        self.usage.saturating_sub(self.inactive_file)
    }
}

/// Tasks in the cgroup and their limit (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pids {
    pub current: u64,
    pub limit: Option<u64>,
}

/// One reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub version: Version,
    pub cpu: Cpu,
    pub memory: Option<Memory>,
    pub pids: Option<Pids>,
}

/// Where `/proc` and the cgroup mounts are: `/`, or a fixture tree in tests.
#[derive(Debug, Clone)]
pub struct Fs {
    root: PathBuf,
}

impl Fs {
    pub fn host() -> Self {
        Self { root: PathBuf::from("/") }
    }

    pub fn under(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        self.root.join(abs.as_ref().strip_prefix("/").unwrap_or(abs.as_ref()))
    }

    fn read(&self, abs: impl AsRef<Path>) -> io::Result<String> {
        let p = self.path(abs);
        std::fs::read_to_string(&p)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
    }
}

/// The cgroup figures of process `pid`.
pub fn read(pid: u32) -> io::Result<Stats> {
    read_in(&Fs::host(), pid)
}

/// [`read`] under `fs`.
pub fn read_in(fs: &Fs, pid: u32) -> io::Result<Stats> {
    let membership = fs.read(format!("/proc/{pid}/cgroup"))?;
    let mounts = Mounts::parse(&fs.read("/proc/self/mountinfo")?);
    match mounts::hierarchy(&membership, &mounts) {
        Hierarchy::V1(dirs) => v1(fs, &dirs),
        Hierarchy::V2(dir) => v2(fs, &dir),
        Hierarchy::None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("process {pid}: no cpuacct/memory (v1) or unified (v2) cgroup is mounted"),
        )),
    }
}

fn v1(fs: &Fs, dirs: &mounts::V1Dirs) -> io::Result<Stats> {
    let mut cpu = Cpu::default();
    if let Some(acct) = &dirs.cpuacct {
        cpu.usage_ns = number(&fs.read(acct.join("cpuacct.usage"))?)?;
        // Per-mode nanoseconds where the kernel has them; cpuacct.stat's clock ticks
        // (USER_HZ, 100 on Linux) otherwise.
        match (fs.read(acct.join("cpuacct.usage_user")), fs.read(acct.join("cpuacct.usage_sys"))) {
            (Ok(u), Ok(s)) => (cpu.user_ns, cpu.kernel_ns) = (number(&u)?, number(&s)?),
            _ => {
                let stat = keyed(&fs.read(acct.join("cpuacct.stat"))?);
                cpu.user_ns = stat.get("user") * 10_000_000;
                cpu.kernel_ns = stat.get("system") * 10_000_000;
            }
        }
    }
    if let Some(dir) = &dirs.cpu {
        if let Ok(text) = fs.read(dir.join("cpu.stat")) {
            let stat = keyed(&text);
            cpu.periods = stat.get("nr_periods");
            cpu.throttled_periods = stat.get("nr_throttled");
            cpu.throttled_ns = stat.get("throttled_time");
        }
    }
    let memory = match &dirs.memory {
        Some(dir) => {
            let stat = keyed(&fs.read(dir.join("memory.stat"))?);
            // Hierarchical totals (children included) where present, as runc reports.
            let total = |k: &str| stat.find(&format!("total_{k}")).unwrap_or_else(|| stat.get(k));
            let limit = number(&fs.read(dir.join("memory.limit_in_bytes"))?)?;
            Some(Memory {
                usage: number(&fs.read(dir.join("memory.usage_in_bytes"))?)?,
                // v1 writes "no limit" as the largest page-aligned i64.
                limit: (limit < 1 << 62).then_some(limit),
                inactive_file: total("inactive_file"),
                rss: total("rss"),
                cache: total("cache"),
                pgfault: total("pgfault"),
                pgmajfault: total("pgmajfault"),
            })
        }
        None => None,
    };
    // A root cgroup has no pids.current (as on a node where the process is not confined).
    let pids = match dirs.pids.as_ref().map(|d| pids(fs, d)) {
        Some(Err(e)) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        found => found.and_then(Result::ok),
    };
    Ok(Stats { version: Version::V1, cpu, memory, pids })
}

fn v2(fs: &Fs, dir: &Path) -> io::Result<Stats> {
    let stat = keyed(&fs.read(dir.join("cpu.stat"))?);
    let cpu = Cpu {
        usage_ns: stat.get("usage_usec") * 1000,
        user_ns: stat.get("user_usec") * 1000,
        kernel_ns: stat.get("system_usec") * 1000,
        periods: stat.get("nr_periods"),
        throttled_periods: stat.get("nr_throttled"),
        throttled_ns: stat.get("throttled_usec") * 1000,
    };
    // memory.* exist only where the memory controller is enabled for the cgroup.
    let memory = match fs.read(dir.join("memory.current")) {
        Ok(current) => {
            let stat = keyed(&fs.read(dir.join("memory.stat"))?);
            Some(Memory {
                usage: number(&current)?,
                limit: limit(&fs.read(dir.join("memory.max"))?)?,
                inactive_file: stat.get("inactive_file"),
                rss: stat.get("anon"),
                cache: stat.get("file"),
                pgfault: stat.get("pgfault"),
                pgmajfault: stat.get("pgmajfault"),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let pids = match fs.read(dir.join("pids.current")) {
        Ok(_) => Some(pids(fs, dir)?),
        Err(_) => None,
    };
    Ok(Stats { version: Version::V2, cpu, memory, pids })
}

fn pids(fs: &Fs, dir: &Path) -> io::Result<Pids> {
    Ok(Pids {
        current: number(&fs.read(dir.join("pids.current"))?)?,
        limit: limit(&fs.read(dir.join("pids.max"))?)?,
    })
}

fn number(text: &str) -> io::Result<u64> {
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("not a number: {text:?}")))
}

/// A limit file: a number, or "max" for none.
fn limit(text: &str) -> io::Result<Option<u64>> {
    match text.trim() {
        "max" => Ok(None),
        n => number(n).map(Some),
    }
}

/// A flat-keyed file (`key value` lines).
struct Keyed(Vec<(String, u64)>);

fn keyed(text: &str) -> Keyed {
    Keyed(
        text.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_owned(), v.trim().parse().ok()?))
            })
            .collect(),
    )
}

impl Keyed {
    fn find(&self, key: &str) -> Option<u64> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn get(&self, key: &str) -> u64 {
        self.find(key).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
