//! `POST /containers/{id}/update`: new resource limits and restart policy, written to the
//! running container's cgroup and to its record (so that `inspect` shows them).

use std::sync::Arc;

use berth_api::ApiError;
use serde_json::{json, Value};

use super::cgroup::{Cgroup, Version};
use super::Container;
use crate::Daemon;

/// The HostConfig keys `update` may change.
const KEYS: &[&str] = &[
    "BlkioWeight",
    "CpuShares",
    "NanoCpus",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "PidsLimit",
];

fn cannot(id: &str, msg: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("Cannot update container {id}: {msg}"))
}

fn conflict(id: &str, msg: impl std::fmt::Display) -> ApiError {
    ApiError::conflict(format!("Cannot update container {id}: {msg}"))
}

/// Merges the update into the current HostConfig as dockerd does: zero / empty values
/// leave a setting alone; NanoCpus and CpuPeriod/CpuQuota exclude each other.
pub fn merge(id: &str, current: &Value, body: &Value) -> Result<Value, ApiError> {
    let i = |v: &Value, k: &str| v[k].as_i64().unwrap_or(0);
    if i(body, "NanoCpus") > 0 && i(current, "CpuPeriod") > 0 {
        return Err(conflict(
            id,
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
        ));
    }
    if i(body, "NanoCpus") > 0 && i(current, "CpuQuota") > 0 {
        return Err(conflict(
            id,
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
        ));
    }
    if i(body, "CpuPeriod") > 0 && i(current, "NanoCpus") > 0 {
        return Err(conflict(
            id,
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        ));
    }
    if i(body, "CpuQuota") > 0 && i(current, "NanoCpus") > 0 {
        return Err(conflict(
            id,
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        ));
    }
    let memory = i(body, "Memory");
    if memory != 0 && memory < 6 * 1024 * 1024 {
        return Err(cannot(id, "Minimum memory limit allowed is 6MB"));
    }
    let swap = i(current, "MemorySwap");
    if memory != 0 && swap > 0 && memory > swap && i(body, "MemorySwap") == 0 {
        return Err(conflict(id, "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"));
    }
    let nano = i(body, "NanoCpus");
    if nano != 0 {
        let cpus = super::stats::online_cpus() as i64;
        if !(10_000_000..=cpus * 1_000_000_000).contains(&nano) {
            return Err(cannot(
                id,
                format!("Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"),
            ));
        }
    }
    let mut hc = current.clone();
    for k in KEYS {
        let v = &body[*k];
        let set = match v {
            Value::Number(n) => n.as_i64() != Some(0),
            Value::String(s) => !s.is_empty(),
            _ => false,
        };
        if set {
            hc[*k] = v.clone();
        }
    }
    let policy = &body["RestartPolicy"];
    if policy["Name"].as_str().is_some_and(|n| !n.is_empty()) {
        let name = policy["Name"].as_str().unwrap_or("");
        if current["AutoRemove"].as_bool() == Some(true) && name != "no" {
            return Err(conflict(
                id,
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        hc["RestartPolicy"] = json!({
            "Name": name,
            "MaximumRetryCount": policy["MaximumRetryCount"].as_i64().unwrap_or(0),
        });
    }
    Ok(hc)
}

/// Writes the limits that changed to the cgroup.
fn apply(cg: &Cgroup, old: &Value, new: &Value) -> std::io::Result<()> {
    let i = |v: &Value, k: &str| v[k].as_i64().unwrap_or(0);
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let changed = |k: &str| old[k] != new[k];
    let v2 = cg.version == Version::V2;
    if changed("CpuShares") && i(new, "CpuShares") > 0 {
        let shares = i(new, "CpuShares") as u64;
        if v2 {
            // The conversion of runc and crun.
            let weight = 1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142;
            cg.write("cpu", "cpu.weight", &weight.to_string())?;
        } else {
            cg.write("cpu", "cpu.shares", &shares.to_string())?;
        }
    }
    if changed("NanoCpus") || changed("CpuQuota") || changed("CpuPeriod") {
        let nano = i(new, "NanoCpus");
        let (quota, period) = if nano > 0 {
            (nano / 10_000, 100_000)
        } else {
            (i(new, "CpuQuota"), i(new, "CpuPeriod"))
        };
        let period = if period > 0 { period } else { 100_000 };
        if v2 {
            let q = if quota > 0 {
                quota.to_string()
            } else {
                "max".into()
            };
            cg.write("cpu", "cpu.max", &format!("{q} {period}"))?;
        } else {
            cg.write("cpu", "cpu.cfs_period_us", &period.to_string())?;
            let q = if quota > 0 { quota } else { -1 };
            cg.write("cpu", "cpu.cfs_quota_us", &q.to_string())?;
        }
    }
    for (k, file) in [("CpusetCpus", "cpuset.cpus"), ("CpusetMems", "cpuset.mems")] {
        if changed(k) && !s(new, k).is_empty() {
            cg.write("cpuset", file, &s(new, k))?;
        }
    }
    if changed("PidsLimit") {
        let limit = match i(new, "PidsLimit") {
            n if n > 0 => n.to_string(),
            _ => "max".into(),
        };
        cg.write("pids", "pids.max", &limit)?;
    }
    if changed("BlkioWeight") && i(new, "BlkioWeight") > 0 {
        let w = i(new, "BlkioWeight");
        let (file, value) = if v2 {
            (
                "io.weight",
                format!("default {}", 1 + (w - 10).max(0) * 9999 / 990),
            )
        } else {
            ("blkio.weight", w.to_string())
        };
        // Not every I/O scheduler has weights; dockerd warns at create and goes on.
        if cg.dir("blkio").join(file).exists() || v2 {
            cg.write("blkio", file, &value)?;
        }
    }
    if changed("MemoryReservation") && i(new, "MemoryReservation") > 0 {
        let file = if v2 {
            "memory.low"
        } else {
            "memory.soft_limit_in_bytes"
        };
        cg.write("memory", file, &i(new, "MemoryReservation").to_string())?;
    }
    if changed("Memory") || changed("MemorySwap") {
        apply_memory(cg, i(new, "Memory"), i(new, "MemorySwap"))?;
    }
    Ok(())
}

fn apply_memory(cg: &Cgroup, memory: i64, swap: i64) -> std::io::Result<()> {
    let limit = |n: i64| {
        if n > 0 {
            n.to_string()
        } else {
            "-1".into()
        }
    };
    // Docker's default: as much swap as memory again.
    let total = match swap {
        0 if memory > 0 => memory * 2,
        0 => -1,
        s => s,
    };
    match cg.version {
        Version::V2 => {
            let max = |n: i64| {
                if n > 0 {
                    n.to_string()
                } else {
                    "max".into()
                }
            };
            cg.write("memory", "memory.max", &max(memory))?;
            let swap_only = if total > 0 && memory > 0 {
                (total - memory).to_string()
            } else {
                "max".into()
            };
            if cg.dir("memory").join("memory.swap.max").exists() {
                cg.write("memory", "memory.swap.max", &swap_only)?;
            }
            Ok(())
        }
        Version::V1 => {
            // memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes: the
            // order of the two writes depends on whether the limits grow or shrink.
            if !cg
                .dir("memory")
                .join("memory.memsw.limit_in_bytes")
                .exists()
            {
                return cg.write("memory", "memory.limit_in_bytes", &limit(memory));
            }
            let mem = || cg.write("memory", "memory.limit_in_bytes", &limit(memory));
            let memsw = || cg.write("memory", "memory.memsw.limit_in_bytes", &limit(total));
            match mem() {
                Ok(()) => memsw(),
                Err(_) => memsw().and_then(|_| mem()),
            }
        }
    }
}

impl Daemon {
    /// `POST /containers/{id}/update`; the warnings of the answer.
    pub async fn update_container(
        self: &Arc<Self>,
        c: &Arc<Container>,
        body: &Value,
    ) -> Result<Vec<String>, ApiError> {
        let _op = c.op.lock().await;
        let r = c.record();
        // The checks of create, as dockerd runs them for an update too.
        let mut body = body.as_object().cloned().unwrap_or_default();
        super::limits::check(&body, true)?;
        let warnings = super::limits::discard_unsupported(&mut body);
        let hc = merge(&c.id, &r.host_config, &Value::Object(body))?;
        if r.state.running {
            let cg = self.cgroup(c);
            apply(&cg, &r.host_config, &hc).map_err(|e| cannot(&c.id, e))?;
        }
        c.update(|r| r.host_config = hc);
        self.persist(c);
        self.container_event(c, "update", &[]);
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_as_dockerd() {
        let cur = json!({"Memory": 0, "MemorySwap": 0, "CpuQuota": 0, "NanoCpus": 0, "CpusetCpus": "", "RestartPolicy": {"Name": "no"}});
        let hc = merge(
            "x",
            &cur,
            &json!({"Memory": 67108864, "NanoCpus": 500000000, "CpusetCpus": "", "RestartPolicy": {"Name": "always"}}),
        )
        .unwrap();
        assert_eq!(hc["Memory"], 67108864);
        assert_eq!(hc["NanoCpus"], 500000000);
        assert_eq!(hc["RestartPolicy"]["Name"], "always");
        let err = merge("x", &hc, &json!({"CpuQuota": 1000})).unwrap_err();
        assert!(
            err.message.contains("CPU Quota cannot be updated"),
            "{}",
            err.message
        );
        let err = merge("x", &cur, &json!({"Memory": 1024})).unwrap_err();
        assert_eq!(
            err.message,
            "Cannot update container x: Minimum memory limit allowed is 6MB"
        );
        let cur = json!({"Memory": 33554432, "MemorySwap": 67108864});
        assert!(merge("x", &cur, &json!({"Memory": 134217728})).is_err());
        assert!(merge("x", &cur, &json!({"Memory": 134217728, "MemorySwap": -1})).is_ok());
    }
}
