//! From a container's record to the runtime's [`ContainerSpec`]: process, user, namespaces,
//! mounts.

use std::path::Path;

use berth_api::ApiError;
use berth_runtime::{
    ContainerSpec, Mount, Namespace, Namespaces, Process, Resources, UserNamespace,
};
use serde_json::Value;

use super::record::Record;
use super::security;
use crate::Daemon;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

use super::str_list as strs;

/// Looks a user up in the container's `/etc/passwd` and `/etc/group`, as docker does:
/// `name`, `uid`, `name:group`, `uid:gid`. Returns (uid, gid, supplementary gids).
pub fn resolve_user(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>), ApiError> {
    let passwd = std::fs::read_to_string(berth_shim::resolve_in_root(rootfs, "/etc/passwd"))
        .unwrap_or_default();
    let groups = std::fs::read_to_string(berth_shim::resolve_in_root(rootfs, "/etc/group"))
        .unwrap_or_default();
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let mut name = String::new();
    let (uid, mut gid) = if u.is_empty() {
        (0, 0)
    } else if let Ok(uid) = u.parse::<u32>() {
        let entry = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[2] == u);
        match entry {
            Some(f) => {
                name = f[0].to_string();
                (uid, f[3].parse().unwrap_or(0))
            }
            None => (uid, 0),
        }
    } else {
        let entry = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == u)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "unable to find user {u}: no matching entries in passwd file"
                ))
            })?;
        name = u.to_string();
        (entry[2].parse().unwrap_or(0), entry[3].parse().unwrap_or(0))
    };
    let find_group = |g: &str| -> Result<u32, ApiError> {
        if let Ok(n) = g.parse::<u32>() {
            return Ok(n);
        }
        groups
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[0] == g)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })
    };
    if let Some(g) = g {
        gid = find_group(g)?;
    }
    let mut extra: Vec<u32> = Vec::new();
    if !name.is_empty() {
        for f in groups.lines().map(|l| l.split(':').collect::<Vec<_>>()) {
            if f.len() > 3 && f[3].split(',').any(|m| m == name) {
                if let Ok(n) = f[2].parse() {
                    extra.push(n);
                }
            }
        }
    }
    for g in group_add {
        extra.push(find_group(g)?);
    }
    Ok((uid, gid, extra))
}

/// The process environment: PATH when missing, HOSTNAME, TERM for a terminal.
pub fn process_env(env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        out.push(DEFAULT_PATH.to_string());
    }
    out.push(format!("HOSTNAME={hostname}"));
    if tty {
        out.push("TERM=xterm".to_string());
    }
    // As docker's ReplaceOrAppendEnvValues: a key already there keeps its place.
    for e in env {
        let key = e.split('=').next().unwrap_or("");
        match out.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

/// The cgroup limits of a HostConfig (`NanoCpus` becomes a CFS quota over a 100 ms period).
fn resources(hc: &Value) -> Resources {
    let i = |k: &str| hc[k].as_i64().unwrap_or(0);
    let nano = i("NanoCpus");
    let (quota, period) = if nano > 0 {
        (nano / 10_000, 100_000)
    } else {
        (i("CpuQuota"), i("CpuPeriod").max(0) as u64)
    };
    Resources {
        memory: i("Memory"),
        memory_reservation: i("MemoryReservation"),
        memory_swap: i("MemorySwap"),
        cpu_shares: i("CpuShares").max(0) as u64,
        cpu_quota: quota,
        cpu_period: period,
        cpuset_cpus: hc["CpusetCpus"].as_str().unwrap_or("").to_string(),
        cpuset_mems: hc["CpusetMems"].as_str().unwrap_or("").to_string(),
        pids_limit: hc["PidsLimit"].as_i64().filter(|p| *p > 0),
        blkio_weight: i("BlkioWeight").clamp(0, 1000) as u16,
        memory_swappiness: hc["MemorySwappiness"]
            .as_i64()
            .filter(|s| (0..=100).contains(s))
            .map(|s| s as u64),
        oom_kill_disable: hc["OomKillDisable"].as_bool().unwrap_or(false),
        cpu_rt_period: i("CpuRealtimePeriod").max(0) as u64,
        cpu_rt_runtime: i("CpuRealtimeRuntime"),
        ..Default::default()
    }
}

/// `OomScoreAdj`, refused at create when outside -1000..=1000.
pub fn oom_score_adj(hc: &Value) -> i32 {
    hc["OomScoreAdj"].as_i64().unwrap_or(0).clamp(-1000, 1000) as i32
}

impl Daemon {
    fn namespace(&self, mode: &str, kind: &str) -> Result<Namespace, ApiError> {
        if mode == "host" {
            return Ok(Namespace::Host);
        }
        if let Some(target) = mode.strip_prefix("container:") {
            let c = self.containers.find(target)?;
            let r = c.record();
            if !r.state.running {
                return Err(ApiError::conflict(format!(
                    "cannot join network of a non running container: {}",
                    c.id
                )));
            }
            return Ok(Namespace::Join(
                format!("/proc/{}/ns/{kind}", r.state.pid).into(),
            ));
        }
        Ok(Namespace::Private)
    }

    pub(crate) fn container_spec(&self, r: &Record) -> Result<ContainerSpec, ApiError> {
        let hc = &r.host_config;
        let rootfs = self.rootfs_dir(&r.id);
        let mode = |k: &str| hc[k].as_str().unwrap_or("").to_string();
        let net_mode = mode("NetworkMode");
        let namespaces = Namespaces {
            net: match self.sandbox_path(&r.id) {
                Some(path) => Namespace::Join(path),
                None => self.namespace(&net_mode, "net")?,
            },
            pid: self.namespace(&mode("PidMode"), "pid")?,
            ipc: self.namespace(&mode("IpcMode"), "ipc")?,
            uts: if mode("UTSMode") == "host" {
                Namespace::Host
            } else {
                Namespace::Private
            },
            cgroup: if mode("CgroupnsMode") == "host" {
                Namespace::Host
            } else {
                Namespace::Private
            },
        };
        let link_env = self.link_env(r)?;
        let user = r.config["User"].as_str().unwrap_or("");
        let (uid, gid, gids) = resolve_user(&rootfs, user, &strs(&hc["GroupAdd"]))?;
        let hostname = r.config["Hostname"].as_str().unwrap_or("").to_string();
        let cwd = match r.config["WorkingDir"].as_str() {
            Some(w) if !w.is_empty() => w.to_string(),
            _ => "/".to_string(),
        };
        let mapping = self.container_mapping(hc).cloned();
        if cwd != "/" {
            let host = berth_shim::resolve_in_root(&rootfs, &cwd);
            let made = match &mapping {
                // Through the idmapped rootfs, as the container's root.
                Some(m) => {
                    let (uid, gid) = m.root();
                    berth_image::rootfs::as_container_root(uid, gid, move || {
                        std::fs::create_dir_all(&host)
                    })
                    .and_then(|r| r)
                }
                None => std::fs::create_dir_all(&host),
            };
            made.map_err(|e| ApiError::system(format!("create working directory {cwd}: {e}")))?;
        }
        let userns = match (self.spec_userns(r)?, mapping) {
            (Some(path), Some(mapping)) => Some(UserNamespace { path, mapping }),
            _ => None,
        };
        let dir = self.container_dir(&r.id);
        let mut mounts = Vec::new();
        // The generated files, unless the network namespace (and so these) is shared.
        let shared_net = net_mode.starts_with("container:");
        let files_dir = if shared_net {
            let target = self.containers.find(&net_mode["container:".len()..])?;
            self.container_dir(&target.id)
        } else {
            dir.clone()
        };
        for (file, dest) in [
            ("resolv.conf", "/etc/resolv.conf"),
            ("hostname", "/etc/hostname"),
            ("hosts", "/etc/hosts"),
        ] {
            mounts.push(Mount {
                destination: dest.into(),
                kind: "bind".into(),
                source: files_dir.join(file).to_string_lossy().into_owned(),
                options: vec!["rbind".into(), "rprivate".into()],
            });
        }
        for m in &r.mounts {
            let mut options = vec![if m.kind == "tmpfs" { "nosuid" } else { "rbind" }.to_string()];
            if m.kind == "tmpfs" {
                options.extend(["nodev".into(), "noexec".into()]);
                options.extend(
                    m.mode
                        .split(',')
                        .filter(|o| !o.is_empty())
                        .map(String::from),
                );
            }
            options.push(if m.rw { "rw" } else { "ro" }.into());
            if m.kind != "tmpfs" {
                options.push("rprivate".into());
            }
            mounts.push(Mount {
                destination: m.destination.clone(),
                kind: if m.kind == "tmpfs" { "tmpfs" } else { "bind" }.into(),
                source: if m.kind == "tmpfs" {
                    "tmpfs".into()
                } else {
                    m.source.clone()
                },
                options,
            });
        }
        let tty = r.tty();
        let shm = hc["ShmSize"].as_u64().unwrap_or(0);
        let mut args = vec![r.path.clone()];
        args.extend(r.args.iter().cloned());
        Ok(ContainerSpec {
            id: r.id.clone(),
            rootfs,
            readonly_rootfs: hc["ReadonlyRootfs"].as_bool().unwrap_or(false),
            process: Process {
                args,
                env: process_env(&[link_env, strs(&r.config["Env"])].concat(), &hostname, tty),
                cwd,
                uid,
                gid,
                additional_gids: gids,
                terminal: tty,
                privileged: hc["Privileged"].as_bool().unwrap_or(false),
                cap_add: strs(&hc["CapAdd"]),
                cap_drop: strs(&hc["CapDrop"]),
                // Checked at create; a record from before that check counts as without.
                no_new_privileges: security::parse_security_opts(hc).unwrap_or(false),
                oom_score_adj: oom_score_adj(hc),
                rlimits: security::rlimits(hc),
            },
            // Sharing the host's UTS namespace means not setting a hostname at all.
            hostname: if mode("UTSMode") == "host" {
                String::new()
            } else {
                hostname
            },
            namespaces,
            mounts,
            cgroups_path: format!(
                "{}/{}",
                self.cgroup_parent_of(r).trim_end_matches('/'),
                r.id
            ),
            shm_size: shm,
            resources: {
                let mut res = resources(hc);
                let [rb, wb, ri, wi] = security::THROTTLE_KEYS;
                res.read_bps = security::throttles(hc, rb)?;
                res.write_bps = security::throttles(hc, wb)?;
                res.read_iops = security::throttles(hc, ri)?;
                res.write_iops = security::throttles(hc, wi)?;
                res
            },
            init: hc["Init"].as_bool().unwrap_or(false),
            seccomp: security::seccomp_mode(hc),
            devices: security::devices(hc)?,
            device_cgroup_rules: strs(&hc["DeviceCgroupRules"]),
            sysctls: security::sysctls(hc),
            userns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nwheel:x:10:nobody\n",
        )
        .unwrap();
        assert_eq!(resolve_user(root, "", &[]).unwrap(), (0, 0, vec![]));
        assert_eq!(
            resolve_user(root, "nobody", &[]).unwrap(),
            (65534, 65534, vec![10])
        );
        assert_eq!(
            resolve_user(root, "1000:10", &[]).unwrap(),
            (1000, 10, vec![])
        );
        assert_eq!(resolve_user(root, "nobody:root", &[]).unwrap().1, 0);
        assert!(resolve_user(root, "ghost", &[]).is_err());
        let env = process_env(&["PATH=/x".into(), "A=1".into()], "h", true);
        assert_eq!(env, ["HOSTNAME=h", "TERM=xterm", "PATH=/x", "A=1"]);
        let env = process_env(&["A=1".into(), "HOSTNAME=x".into()], "h", false);
        assert_eq!(env[0], DEFAULT_PATH);
        assert_eq!(env[1..], ["HOSTNAME=x", "A=1"]);
    }
}
