//! Per-container kernel settings: sysctls (only those the container's own namespaces
//! scope) and resource limits (`--ulimit`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// IPC sysctls outside `fs.mqueue.*` that the IPC namespace scopes.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Whether the container may set sysctl `key`: it must belong to a namespace the
/// container has of its own, or it would change the host (as docker/runc decide).
pub fn check_sysctl(key: &str, host_net: bool, host_ipc: bool) -> Result<(), String> {
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        if host_ipc {
            return Err(format!(
                "sysctl {key:?} is not allowed in the hosts ipc namespace"
            ));
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if host_net {
            return Err(format!(
                "sysctl {key:?} not allowed in host network namespace"
            ));
        }
        return Ok(());
    }
    Err(format!(
        "sysctl {key:?} is not in a separate kernel namespace"
    ))
}

/// One `--ulimit name=soft:hard`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// docker's name: `nofile`, `nproc`, ...
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

const RLIMITS: &[(&str, &str)] = &[
    ("as", "RLIMIT_AS"),
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
];

impl Rlimit {
    /// Checks the name and the order of the limits (docker's wording).
    pub fn check(&self) -> Result<(), String> {
        if !RLIMITS.iter().any(|(n, _)| *n == self.name) {
            return Err(format!("invalid ulimit type: {}", self.name));
        }
        // -1 is unlimited.
        let unl = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
        if unl(self.soft) > unl(self.hard) {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                self.soft, self.hard
            ));
        }
        Ok(())
    }

    /// The OCI `process.rlimits` entry (`None` for an unknown name).
    pub fn oci(&self) -> Option<Value> {
        let (_, kind) = RLIMITS.iter().find(|(n, _)| *n == self.name)?;
        let unl = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
        Some(json!({"type": kind, "soft": unl(self.soft), "hard": unl(self.hard)}))
    }
}

/// Disables the OOM killer of a created container's cgroup when its bundle asks for it:
/// libcontainer 0.7 never writes `memory.oom_control` (it hardcodes the setting off).
/// cgroup v1 only; v2 has no such switch, as docker also finds.
pub fn apply_oom_kill_disable(bundle: &std::path::Path) -> std::io::Result<()> {
    let config: Value = std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let linux = &config["linux"];
    if linux["resources"]["memory"]["disableOOMKiller"] != json!(true) {
        return Ok(());
    }
    let cgroup = linux["cgroupsPath"].as_str().unwrap_or("");
    let dir = std::path::Path::new("/sys/fs/cgroup/memory").join(cgroup.trim_start_matches('/'));
    if !dir.is_dir() {
        return Ok(());
    }
    std::fs::write(dir.join("memory.oom_control"), "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_classification() {
        assert!(check_sysctl("net.ipv4.ip_forward", false, false).is_ok());
        assert!(check_sysctl("net.ipv4.ip_forward", true, false).is_err());
        assert!(check_sysctl("kernel.shmmax", false, false).is_ok());
        assert!(check_sysctl("fs.mqueue.msg_max", false, false).is_ok());
        assert!(check_sysctl("kernel.shmmax", false, true).is_err());
        assert!(check_sysctl("kernel.hostname", false, false).is_err());
        assert!(check_sysctl("vm.swappiness", false, false).is_err());
        assert!(check_sysctl("kernel.msgmaxx", false, false).is_err());
    }

    #[test]
    fn rlimits() {
        let r = Rlimit {
            name: "nofile".into(),
            soft: 100,
            hard: 200,
        };
        assert!(r.check().is_ok());
        assert_eq!(
            r.oci().unwrap(),
            json!({"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200})
        );
        let bad = Rlimit {
            name: "nofile".into(),
            soft: 300,
            hard: 200,
        };
        assert!(bad.check().is_err());
        let unknown = Rlimit {
            name: "files".into(),
            soft: 1,
            hard: 1,
        };
        assert_eq!(unknown.check().unwrap_err(), "invalid ulimit type: files");
        let unlimited = Rlimit {
            name: "core".into(),
            soft: -1,
            hard: -1,
        };
        assert!(unlimited.check().is_ok());
        assert_eq!(unlimited.oci().unwrap()["hard"], u64::MAX);
    }
}
