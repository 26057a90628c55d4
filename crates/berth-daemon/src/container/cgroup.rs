//! A container's cgroup files, on v1 (one hierarchy per controller, as on hybrid hosts)
//! or v2 (one unified tree), whichever `/sys/fs/cgroup` is. The runtime (libcgroups)
//! creates the cgroup at `<cgroup-parent>/<id>` from the root of each hierarchy; the
//! daemon only reads counters (stats, OOM) and writes limits (update) there.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::OnceLock;

const ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The host's cgroup layout, detected once: v2 only when `/sys/fs/cgroup` itself is
/// cgroup2 (a hybrid host's `/sys/fs/cgroup/unified` holds no controllers).
pub fn version() -> Version {
    static V: OnceLock<Version> = OnceLock::new();
    *V.get_or_init(|| match nix::sys::statfs::statfs(ROOT) {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => Version::V2,
        _ => Version::V1,
    })
}

/// One container's cgroup.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub version: Version,
    /// Relative to each hierarchy's root, without a leading `/`.
    rel: String,
}

impl Cgroup {
    pub fn new(parent: &str, id: &str) -> Cgroup {
        Cgroup {
            version: version(),
            rel: format!("{}/{id}", parent.trim_matches('/'))
                .trim_start_matches('/')
                .to_string(),
        }
    }

    /// The directory holding `controller`'s files (v1: under its hierarchy).
    pub fn dir(&self, controller: &str) -> PathBuf {
        match self.version {
            Version::V1 => PathBuf::from(ROOT).join(controller).join(&self.rel),
            Version::V2 => PathBuf::from(ROOT).join(&self.rel),
        }
    }

    pub fn read(&self, controller: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dir(controller).join(file)).ok()
    }

    pub fn read_u64(&self, controller: &str, file: &str) -> Option<u64> {
        self.read(controller, file)?.trim().parse().ok()
    }

    /// A flat-keyed file (`key value` per line), as `memory.stat` or `cpu.stat`.
    pub fn read_keyed(&self, controller: &str, file: &str) -> BTreeMap<String, u64> {
        self.read(controller, file)
            .map(|s| keyed(&s))
            .unwrap_or_default()
    }

    pub fn write(&self, controller: &str, file: &str, value: &str) -> io::Result<()> {
        let path = self.dir(controller).join(file);
        std::fs::write(&path, value).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("write {value:?} to {}: {e}", path.display()),
            )
        })
    }
}

/// Whether the kernel schedules real-time tasks per cgroup (v1 `cpu.rt_runtime_us`).
pub fn realtime_supported() -> bool {
    version() == Version::V1 && PathBuf::from(ROOT).join("cpu/cpu.rt_runtime_us").exists()
}

/// The real-time budget a v1 `cpu` cgroup holds, as microseconds per second.
fn rt_share(dir: &std::path::Path) -> i64 {
    let read = |f: &str| -> i64 {
        std::fs::read_to_string(dir.join(f))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let (runtime, period) = (read("cpu.rt_runtime_us"), read("cpu.rt_period_us"));
    if runtime <= 0 || period <= 0 {
        return 0;
    }
    (runtime * 1_000_000 + period - 1) / period
}

impl Cgroup {
    /// Gives the ancestors of this (not yet created) cgroup enough real-time budget for
    /// `runtime` microseconds per `period`: the kernel refuses a child more than its parent
    /// has left, and new cgroups start with none. Each ancestor is raised to what its
    /// children hold plus the new share, parents first. v1 only.
    pub fn reserve_realtime(&self, runtime: i64, period: u64) -> io::Result<()> {
        let period = if period == 0 {
            1_000_000
        } else {
            period as i64
        };
        let mut extra = (runtime * 1_000_000 + period - 1) / period;
        let root = PathBuf::from(ROOT).join("cpu");
        let parts: Vec<&str> = self.rel.split('/').collect();
        let mut raise: Vec<(PathBuf, i64)> = Vec::new();
        for depth in (1..parts.len()).rev() {
            if extra <= 0 {
                break;
            }
            let dir = root.join(parts[..depth].join("/"));
            std::fs::create_dir_all(&dir)?;
            let held: i64 = std::fs::read_dir(&dir)?
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| rt_share(&e.path()))
                .sum();
            let have = rt_share(&dir);
            let need = held + extra;
            if have >= need {
                break;
            }
            extra = need - have;
            raise.push((dir, need));
        }
        for (dir, need) in raise.into_iter().rev() {
            let file = dir.join("cpu.rt_runtime_us");
            std::fs::write(&file, need.to_string()).map_err(|e| {
                io::Error::new(e.kind(), format!("write {need} to {}: {e}", file.display()))
            })?;
        }
        Ok(())
    }
}

pub fn keyed(s: &str) -> BTreeMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files() {
        let m = keyed("cache 4096\nrss 8192\ntotal_inactive_file 12\nbad\n");
        assert_eq!(m["rss"], 8192);
        assert_eq!(m["total_inactive_file"], 12);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn paths() {
        let cg = Cgroup {
            version: Version::V1,
            rel: "berth/abc".into(),
        };
        assert_eq!(
            cg.dir("memory"),
            PathBuf::from("/sys/fs/cgroup/memory/berth/abc")
        );
        let cg = Cgroup {
            version: Version::V2,
            ..cg
        };
        assert_eq!(cg.dir("memory"), PathBuf::from("/sys/fs/cgroup/berth/abc"));
        assert_eq!(Cgroup::new("/berth/", "x").rel, "berth/x");
    }
}
