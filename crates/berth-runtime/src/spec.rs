//! berth's own description of a container ([`ContainerSpec`]) and its translation into an
//! OCI runtime-spec `config.json` with Docker's defaults: capabilities, mounts, masked and
//! read-only paths, device rules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::devices::{all_host_devices, parse_cgroup_rule, DeviceNode};
use crate::limits::Rlimit;
use crate::seccomp::{oci_seccomp, SeccompMode};
use crate::userns::IdMapping;

/// How a container gets one kind of namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    /// A new namespace of its own.
    #[default]
    Private,
    /// The host's namespace (not unshared).
    Host,
    /// Join the namespace at this path (`/proc/PID/ns/net` of another container).
    Join(PathBuf),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    pub net: Namespace,
    pub pid: Namespace,
    pub ipc: Namespace,
    pub uts: Namespace,
    pub cgroup: Namespace,
}

/// A mount inside the container, OCI-style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub destination: String,
    /// `bind`, `tmpfs`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

/// The process a container (or an exec) runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub terminal: bool,
    /// Every capability of the bounding set instead of Docker's default set.
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub no_new_privileges: bool,
    /// The process's `/proc/self/oom_score_adj` (-1000..=1000), inherited by its children.
    #[serde(default)]
    pub oom_score_adj: i32,
    /// `--ulimit`s (an exec inherits the container's, as with docker).
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
}

/// Everything the runtime needs to make a container; nothing about images or the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub id: String,
    /// The prepared root filesystem (overlay mount point) on the host.
    pub rootfs: PathBuf,
    pub readonly_rootfs: bool,
    pub process: Process,
    pub hostname: String,
    pub namespaces: Namespaces,
    /// Mounts after Docker's defaults (binds, volumes, tmpfs, hosts files).
    pub mounts: Vec<Mount>,
    /// Cgroup path relative to each hierarchy's root, e.g. `/berth/<id>`.
    pub cgroups_path: String,
    /// Size of `/dev/shm` in bytes (Docker's default: 64 MiB).
    pub shm_size: u64,
    pub resources: Resources,
    /// Run a minimal init as PID 1 that reaps zombies and forwards signals (`--init`).
    pub init: bool,
    /// Ignored when privileged.
    #[serde(default)]
    pub seccomp: SeccompMode,
    /// Host devices added with `--device` (a privileged container gets all of them).
    #[serde(default)]
    pub devices: Vec<DeviceNode>,
    /// `--device-cgroup-rule`s, as given (`c 1:3 rwm`).
    #[serde(default)]
    pub device_cgroup_rules: Vec<String>,
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// The user namespace to join (`--userns-remap`); `None`: the host's.
    #[serde(default)]
    pub userns: Option<UserNamespace>,
}

/// A user namespace made ahead of the container (its file) and the mapping it was made with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserNamespace {
    pub path: PathBuf,
    pub mapping: IdMapping,
}

fn id_mappings_json(ranges: &[crate::userns::IdRange]) -> Value {
    json!(ranges
        .iter()
        .map(|r| json!({"containerID": r.container, "hostID": r.host, "size": r.size}))
        .collect::<Vec<_>>())
}

/// A blkio throttle on one block device (bytes or I/O operations per second).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub major: i64,
    pub minor: i64,
    pub rate: u64,
}

/// Cgroup limits, as `docker run` flags give them (0 / None: no limit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub memory: i64,
    pub memory_reservation: i64,
    /// Memory + swap; -1 unlimited.
    pub memory_swap: i64,
    pub cpu_shares: u64,
    pub cpu_quota: i64,
    pub cpu_period: u64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub blkio_weight: u16,
    /// 0-100; `None` leaves the kernel's default.
    #[serde(default)]
    pub memory_swappiness: Option<u64>,
    #[serde(default)]
    pub oom_kill_disable: bool,
    #[serde(default)]
    pub read_bps: Vec<Throttle>,
    #[serde(default)]
    pub write_bps: Vec<Throttle>,
    #[serde(default)]
    pub read_iops: Vec<Throttle>,
    #[serde(default)]
    pub write_iops: Vec<Throttle>,
    /// Real-time scheduling budget (cgroup v1 `cpu.rt_*`), in microseconds; 0 leaves it alone.
    #[serde(default)]
    pub cpu_rt_period: u64,
    #[serde(default)]
    pub cpu_rt_runtime: i64,
}

fn resources_json(r: &Resources) -> Value {
    let mut out = serde_json::Map::new();
    let mut memory = serde_json::Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), json!(r.memory));
        // Docker's default: swap as large as the limit again.
        let swap = match r.memory_swap {
            0 => r.memory * 2,
            s => s,
        };
        memory.insert("swap".into(), json!(swap));
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(r.memory_reservation));
    }
    if let Some(s) = r.memory_swappiness {
        memory.insert("swappiness".into(), json!(s));
    }
    if r.oom_kill_disable {
        memory.insert("disableOOMKiller".into(), json!(true));
    }
    if !memory.is_empty() {
        out.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = serde_json::Map::new();
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(r.cpu_shares));
    }
    if r.cpu_quota > 0 {
        cpu.insert("quota".into(), json!(r.cpu_quota));
        cpu.insert(
            "period".into(),
            json!(if r.cpu_period > 0 {
                r.cpu_period
            } else {
                100_000
            }),
        );
    } else if r.cpu_period > 0 {
        cpu.insert("period".into(), json!(r.cpu_period));
    }
    if r.cpu_rt_period > 0 {
        cpu.insert("realtimePeriod".into(), json!(r.cpu_rt_period));
    }
    if r.cpu_rt_runtime != 0 {
        cpu.insert("realtimeRuntime".into(), json!(r.cpu_rt_runtime));
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = r.pids_limit.filter(|p| *p != 0) {
        out.insert("pids".into(), json!({"limit": p}));
    }
    let mut block_io = serde_json::Map::new();
    if r.blkio_weight > 0 {
        block_io.insert("weight".into(), json!(r.blkio_weight));
    }
    for (key, list) in [
        ("throttleReadBpsDevice", &r.read_bps),
        ("throttleWriteBpsDevice", &r.write_bps),
        ("throttleReadIOPSDevice", &r.read_iops),
        ("throttleWriteIOPSDevice", &r.write_iops),
    ] {
        if !list.is_empty() {
            let list: Vec<Value> = list
                .iter()
                .map(|t| json!({"major": t.major, "minor": t.minor, "rate": t.rate}))
                .collect();
            block_io.insert(key.into(), json!(list));
        }
    }
    if !block_io.is_empty() {
        out.insert("blockIO".into(), Value::Object(block_io));
    }
    Value::Object(out)
}

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Capabilities the running kernel knows, read from the calling process's bounding set.
fn bounding_caps() -> Vec<String> {
    let mut caps = Vec::new();
    for (index, cap) in ALL_CAPS.iter().enumerate() {
        let index = index as libc::c_ulong;
        // SAFETY: PR_CAPBSET_READ only reads the bounding set; no pointers involved.
        let present = unsafe { libc::prctl(libc::PR_CAPBSET_READ, index, 0, 0, 0) };
        if present == 1 {
            caps.push(cap.to_string());
        }
    }
    caps
}

/// All capabilities in kernel numbering order (index = capability number).
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Normalises a capability name as docker accepts it (`chown`, `CAP_CHOWN`, `ALL`).
pub fn normalize_cap(name: &str) -> Option<String> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Some(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    ALL_CAPS.contains(&full.as_str()).then_some(full)
}

/// The effective capability list for a process: Docker's defaults (or everything when
/// privileged), plus `cap_add`, minus `cap_drop`; only capabilities the host has.
pub fn capabilities(process: &Process) -> Vec<String> {
    let host = bounding_caps();
    let mut caps: Vec<String> = if process.privileged {
        host.clone()
    } else {
        DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()
    };
    let norm =
        |list: &[String]| -> Vec<String> { list.iter().filter_map(|c| normalize_cap(c)).collect() };
    let add = norm(&process.cap_add);
    let drop = norm(&process.cap_drop);
    if drop.iter().any(|c| c == "ALL") {
        caps.clear();
    }
    if add.iter().any(|c| c == "ALL") {
        caps = host.clone();
    } else {
        for cap in add {
            if !caps.contains(&cap) {
                caps.push(cap);
            }
        }
    }
    caps.retain(|c| !drop.contains(c) && host.contains(c));
    caps
}

/// The OCI `process` object.
pub fn process_json(process: &Process) -> Value {
    let caps = capabilities(process);
    let mut gids = process.additional_gids.clone();
    gids.sort_unstable();
    gids.dedup();
    let mut out = json!({
        "terminal": process.terminal,
        "user": {"uid": process.uid, "gid": process.gid, "additionalGids": gids},
        "args": process.args,
        "env": process.env,
        "cwd": if process.cwd.is_empty() { "/" } else { process.cwd.as_str() },
        "capabilities": {
            "bounding": caps, "effective": caps, "permitted": caps,
            "inheritable": [], "ambient": []
        },
        "oomScoreAdj": process.oom_score_adj
    });
    // Left out unless set: libcontainer loads seccomp before dropping capabilities only
    // when the field is absent; with `false` it would load it without CAP_SYS_ADMIN and
    // without no_new_privs, which the kernel refuses.
    if process.no_new_privileges {
        out["noNewPrivileges"] = json!(true);
    }
    if !process.rlimits.is_empty() {
        out["rlimits"] = json!(process
            .rlimits
            .iter()
            .filter_map(Rlimit::oci)
            .collect::<Vec<_>>());
    }
    out
}

fn namespace_json(kind: &str, ns: &Namespace) -> Option<Value> {
    match ns {
        Namespace::Private => Some(json!({"type": kind})),
        Namespace::Host => None,
        Namespace::Join(path) => Some(json!({"type": kind, "path": path})),
    }
}

/// The whole OCI `config.json` for a container.
pub fn oci_config(spec: &ContainerSpec) -> Value {
    let ns = &spec.namespaces;
    let mut namespaces: Vec<Value> = Vec::new();
    // The user namespace first: the others are made (or joined) inside it.
    if let Some(user) = &spec.userns {
        namespaces.push(json!({"type": "user", "path": user.path}));
    }
    namespaces.push(json!({"type": "mount"}));
    namespaces.extend(namespace_json("network", &ns.net));
    namespaces.extend(namespace_json("pid", &ns.pid));
    namespaces.extend(namespace_json("ipc", &ns.ipc));
    namespaces.extend(namespace_json("uts", &ns.uts));
    namespaces.extend(namespace_json("cgroup", &ns.cgroup));

    let shm = if spec.shm_size == 0 {
        64 * 1024 * 1024
    } else {
        spec.shm_size
    };
    let sys_opts = if spec.process.privileged {
        vec!["nosuid", "noexec", "nodev", "rw"]
    } else {
        vec!["nosuid", "noexec", "nodev", "ro"]
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev", "relatime"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]}),
    ];
    // A user mount on a default destination replaces the default (as docker does).
    mounts.retain(|m| {
        !spec
            .mounts
            .iter()
            .any(|u| Some(u.destination.as_str()) == m["destination"].as_str())
    });
    mounts.extend(
        spec.mounts
            .iter()
            .map(|m| serde_json::to_value(m).unwrap_or(Value::Null)),
    );

    let mut devices = if spec.process.privileged {
        json!([{"allow": true, "access": "rwm"}])
    } else {
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "access": "m"},
            {"allow": true, "type": "b", "access": "m"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}
        ])
    };
    let (masked, readonly): (Vec<&str>, Vec<&str>) = if spec.process.privileged {
        (vec![], vec![])
    } else {
        (MASKED_PATHS.to_vec(), READONLY_PATHS.to_vec())
    };

    // Rules after docker's defaults; invalid ones were refused at create.
    if let Some(rules) = devices.as_array_mut() {
        rules.extend(spec.devices.iter().map(DeviceNode::cgroup_rule));
        rules.extend(
            spec.device_cgroup_rules
                .iter()
                .filter_map(|r| parse_cgroup_rule(r).ok()),
        );
    }
    let mut nodes: Vec<DeviceNode> = if spec.process.privileged {
        all_host_devices()
    } else {
        Vec::new()
    };
    for d in &spec.devices {
        nodes.retain(|n| n.path != d.path);
        nodes.push(d.clone());
    }
    let process = process_json(&spec.process);
    let seccomp = oci_seccomp(
        &spec.seccomp,
        spec.process.privileged,
        &capabilities(&spec.process),
    );

    let mut resources = resources_json(&spec.resources);
    resources["devices"] = devices;
    let mut config = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": spec.rootfs, "readonly": spec.readonly_rootfs},
        // No hostname at all when the UTS namespace is the host's.
        "hostname": if spec.hostname.is_empty() { Value::Null } else { json!(spec.hostname) },
        "annotations": if spec.init {
            json!({crate::executor::INIT_ANNOTATION: "true"})
        } else {
            json!({})
        },
        "mounts": mounts,
        "linux": {
            "cgroupsPath": spec.cgroups_path,
            "namespaces": namespaces,
            "resources": resources,
            "maskedPaths": masked,
            "readonlyPaths": readonly,
            "devices": nodes.iter().map(DeviceNode::oci_device).collect::<Vec<_>>(),
            "sysctl": spec.sysctls,
            "seccomp": seccomp
        }
    });
    // Joined by path, so the runtime writes no maps; they are listed for readers of the bundle.
    if let Some(user) = &spec.userns {
        config["linux"]["uidMappings"] = id_mappings_json(&user.mapping.uids);
        config["linux"]["gidMappings"] = id_mappings_json(&user.mapping.gids);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            id: "abc".into(),
            rootfs: "/tmp/rootfs".into(),
            process: Process {
                args: vec!["true".into()],
                ..Default::default()
            },
            cgroups_path: "/berth/abc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn oom_score_and_realtime_reach_the_oci_config() {
        let mut s = spec();
        assert_eq!(oci_config(&s)["process"]["oomScoreAdj"], 0);
        assert!(oci_config(&s)["linux"]["resources"]["cpu"].is_null());
        s.process.oom_score_adj = 432;
        s.resources.cpu_rt_period = 1_000_000;
        s.resources.cpu_rt_runtime = 5000;
        let config = oci_config(&s);
        assert_eq!(config["process"]["oomScoreAdj"], 432);
        let cpu = &config["linux"]["resources"]["cpu"];
        assert_eq!(cpu["realtimePeriod"], 1_000_000);
        assert_eq!(cpu["realtimeRuntime"], 5000);
        // An exec's process carries its own rlimits.
        let mut p = s.process.clone();
        assert!(process_json(&p)["rlimits"].is_null());
        p.rlimits = vec![Rlimit {
            name: "nofile".into(),
            soft: 777,
            hard: 888,
        }];
        let rl = &process_json(&p)["rlimits"][0];
        assert_eq!(
            (
                rl["type"].as_str(),
                rl["soft"].as_u64(),
                rl["hard"].as_u64()
            ),
            (Some("RLIMIT_NOFILE"), Some(777), Some(888))
        );
    }

    #[test]
    fn default_namespaces_are_private() {
        let config = oci_config(&spec());
        let kinds: Vec<&str> = config["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["mount", "network", "pid", "ipc", "uts", "cgroup"]);
    }

    #[test]
    fn host_network_is_not_unshared_and_join_has_path() {
        let mut s = spec();
        s.namespaces.net = Namespace::Host;
        s.namespaces.ipc = Namespace::Join("/proc/7/ns/ipc".into());
        let config = oci_config(&s);
        let ns = config["linux"]["namespaces"].as_array().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "network"));
        assert!(ns
            .iter()
            .any(|n| n["type"] == "ipc" && n["path"] == "/proc/7/ns/ipc"));
    }

    #[test]
    fn user_namespace_is_joined_first_with_its_maps_listed() {
        let mut s = spec();
        s.userns = Some(UserNamespace {
            path: "/run/berth/userns/abc".into(),
            mapping: IdMapping::from_host_ranges(&[(100000, 65536)], &[(200000, 65536)]),
        });
        let config = oci_config(&s);
        let ns = &config["linux"]["namespaces"][0];
        assert_eq!(ns["type"], "user");
        assert_eq!(ns["path"], "/run/berth/userns/abc");
        assert_eq!(
            config["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
        );
        assert_eq!(config["linux"]["gidMappings"][0]["hostID"], 200000);
        assert!(oci_config(&spec())["linux"].get("uidMappings").is_none());
    }

    #[test]
    fn user_mount_replaces_default() {
        let mut s = spec();
        s.mounts.push(Mount {
            destination: "/dev/shm".into(),
            kind: "bind".into(),
            source: "/tmp/x".into(),
            options: vec!["rbind".into()],
        });
        let config = oci_config(&s);
        let shm: Vec<&Value> = config["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["destination"] == "/dev/shm")
            .collect();
        assert_eq!(shm.len(), 1);
        assert_eq!(shm[0]["type"], "bind");
    }

    #[test]
    fn capability_adjustments() {
        let mut p = Process::default();
        let caps = capabilities(&p);
        assert!(caps.contains(&"CAP_CHOWN".to_string()));
        assert!(!caps.contains(&"CAP_SYS_ADMIN".to_string()));
        p.cap_drop = vec!["chown".into()];
        p.cap_add = vec!["NET_ADMIN".into()];
        let caps = capabilities(&p);
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        p.cap_drop = vec!["ALL".into()];
        p.cap_add = vec![];
        assert!(capabilities(&p).is_empty());
        assert_eq!(normalize_cap("nope"), None);
    }
}
