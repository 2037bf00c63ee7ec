//! Where a process's cgroup directories are: its `/proc/<pid>/cgroup` lines
//! (`id:controllers:path`, v2's as `0::path`) joined with the cgroup mounts of
//! `/proc/self/mountinfo` (a mount's root may be a sub-tree of the hierarchy).

use std::path::PathBuf;

/// One cgroup mount.
#[derive(Debug)]
struct Mount {
    /// The hierarchy's path that is mounted (`/` unless bind-mounted from deeper).
    root: String,
    point: PathBuf,
    /// v1: the controllers in the super options; v2: empty.
    controllers: Vec<String>,
    v2: bool,
}

#[derive(Debug, Default)]
pub struct Mounts(Vec<Mount>);

impl Mounts {
    pub fn parse(mountinfo: &str) -> Self {
        let mut mounts = Vec::new();
        for line in mountinfo.lines() {
            // id parent major:minor root point options [optional…] - fstype source super
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            if left.len() < 5 || right.len() < 3 {
                continue;
            }
            let v2 = match right[0] {
                "cgroup2" => true,
                "cgroup" => false,
                _ => continue,
            };
            mounts.push(Mount {
                root: unescape(left[3]),
                point: PathBuf::from(unescape(left[4])),
                controllers: right[2].split(',').map(str::to_owned).collect(),
                v2,
            });
        }
        Self(mounts)
    }

    fn dir(&self, v2: bool, controller: Option<&str>, path: &str) -> Option<PathBuf> {
        let m = self.0.iter().find(|m| {
            m.v2 == v2 && controller.is_none_or(|c| m.controllers.iter().any(|x| x == c))
        })?;
        let rel = if m.root == "/" { path } else { path.strip_prefix(m.root.as_str())? };
        Some(m.point.join(rel.trim_start_matches('/')))
    }
}

/// A process's v1 controller directories.
#[derive(Debug, Default, PartialEq)]
pub struct V1Dirs {
    pub cpu: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
}

#[derive(Debug, PartialEq)]
pub enum Hierarchy {
    V1(V1Dirs),
    V2(PathBuf),
    None,
}

/// v1 where the process has cpuacct or memory in a v1 hierarchy (a hybrid node's
/// controllers are there; its v2 tree then has none), v2 otherwise.
pub fn hierarchy(membership: &str, mounts: &Mounts) -> Hierarchy {
    let mut dirs = V1Dirs::default();
    let mut unified = None;
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            unified = mounts.dir(true, None, path);
            continue;
        }
        for c in controllers.split(',') {
            let slot = match c {
                "cpu" => &mut dirs.cpu,
                "cpuacct" => &mut dirs.cpuacct,
                "memory" => &mut dirs.memory,
                "pids" => &mut dirs.pids,
                _ => continue,
            };
            *slot = mounts.dir(false, Some(c), path);
        }
    }
    match (dirs.cpuacct.is_some() || dirs.memory.is_some(), unified) {
        (true, _) => Hierarchy::V1(dirs),
        (false, Some(dir)) => Hierarchy::V2(dir),
        (false, None) => Hierarchy::None,
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok()) {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_mounted_sub_tree_and_escapes() {
        let m = Mounts::parse(
            "40 31 0:37 /kubepods /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             41 31 0:38 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n",
        );
        assert_eq!(
            hierarchy("3:cpu,cpuacct:/kubepods/pod1/c1\n", &m),
            Hierarchy::V1(V1Dirs {
                cpu: Some("/sys/fs/cgroup/cpu,cpuacct/pod1/c1".into()),
                cpuacct: Some("/sys/fs/cgroup/cpu,cpuacct/pod1/c1".into()),
                ..Default::default()
            })
        );
        assert_eq!(hierarchy("0::/a/b\n", &m), Hierarchy::V2("/mnt/my cgroups/a/b".into()));
        assert_eq!(hierarchy("", &m), Hierarchy::None);
    }
}
