//! A HostConfig's security settings and the run limits the runtime applies outside cgroup
//! CPU/memory: capabilities, seccomp, devices, sysctls, ulimits, blkio throttles. Each is
//! checked at create, so that an impossible setting fails before anything exists.

use std::collections::BTreeMap;

use berth_api::ApiError;
use berth_runtime::devices::{block_device_numbers, host_devices, parse_cgroup_rule, DeviceNode};
use berth_runtime::limits::{check_sysctl, Rlimit};
use berth_runtime::seccomp::{load_option, SeccompMode};
use berth_runtime::spec::{normalize_cap, Throttle};
use serde_json::Value;

use super::str_list;

/// The seccomp filter the `SecurityOpt`s ask for (`seccomp=unconfined`, `seccomp=<json>`,
/// also docker's legacy `seccomp:…` form).
pub fn seccomp_mode(hc: &Value) -> SeccompMode {
    for opt in str_list(&hc["SecurityOpt"]) {
        let Some(value) = opt
            .strip_prefix("seccomp=")
            .or_else(|| opt.strip_prefix("seccomp:"))
        else {
            continue;
        };
        return match value {
            "unconfined" => SeccompMode::Unconfined,
            "" | "builtin" => SeccompMode::Default,
            text => SeccompMode::Profile(
                // A path (from API clients other than the docker CLI) is read once, here.
                load_option(text)
                    .ok()
                    .and_then(|p| serde_json::to_string(&p).ok())
                    .unwrap_or_else(|| text.to_string()),
            ),
        };
    }
    SeccompMode::Default
}

/// The `Devices` of a HostConfig as device nodes.
pub fn devices(hc: &Value) -> Result<Vec<DeviceNode>, ApiError> {
    let mut out = Vec::new();
    for d in hc["Devices"].as_array().into_iter().flatten() {
        let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
        let access = match s("CgroupPermissions") {
            p if p.is_empty() => "rwm".to_string(),
            p => p,
        };
        let nodes = host_devices(&s("PathOnHost"), &s("PathInContainer"), &access)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        out.extend(nodes);
    }
    Ok(out)
}

pub fn sysctls(hc: &Value) -> BTreeMap<String, String> {
    hc["Sysctls"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect()
}

pub fn rlimits(hc: &Value) -> Vec<Rlimit> {
    hc["Ulimits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| Rlimit {
            name: u["Name"].as_str().unwrap_or("").to_string(),
            soft: u["Soft"].as_i64().unwrap_or(0),
            hard: u["Hard"].as_i64().unwrap_or(0),
        })
        .collect()
}

/// Go's `strconv.ParseBool`, which dockerd uses for `no-new-privileges=<bool>`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Checks the `SecurityOpt`s as dockerd parses them; returns whether the process gets
/// no_new_privs (`no-new-privileges`, `no-new-privileges=<bool>` or the legacy `:` form;
/// the last one wins). `label=` and `apparmor=` are taken and have no effect here (no
/// SELinux or AppArmor), as on a dockerd host without them.
pub fn parse_security_opts(hc: &Value) -> Result<bool, ApiError> {
    let mut nnp = false;
    for opt in str_list(&hc["SecurityOpt"]) {
        if matches!(opt.as_str(), "no-new-privileges") {
            nnp = true;
            continue;
        }
        if matches!(opt.as_str(), "writable-cgroups" | "disable") {
            continue;
        }
        let split = opt.split_once('=').or_else(|| opt.split_once(':'));
        let Some((key, value)) = split else {
            return Err(ApiError::system(format!(
                "invalid --security-opt 1: {opt:?}"
            )));
        };
        let bad = || ApiError::system(format!("invalid --security-opt 2: {opt:?}"));
        match key {
            "label" | "apparmor" | "seccomp" => {}
            "no-new-privileges" => nnp = parse_go_bool(value).ok_or_else(bad)?,
            "writable-cgroups" => {
                parse_go_bool(value).ok_or_else(bad)?;
            }
            _ => return Err(bad()),
        }
    }
    Ok(nnp)
}

/// `BlkioDeviceReadBps` and the like: `[{"Path": "/dev/vda", "Rate": 1048576}]`.
pub fn throttles(hc: &Value, key: &str) -> Result<Vec<Throttle>, ApiError> {
    let mut out = Vec::new();
    for t in hc[key].as_array().into_iter().flatten() {
        let path = t["Path"].as_str().unwrap_or("");
        let (major, minor) = block_device_numbers(path)
            .map_err(|e| ApiError::invalid(format!("invalid device for {key}: {e}")))?;
        out.push(Throttle {
            major,
            minor,
            rate: t["Rate"].as_u64().unwrap_or(0),
        });
    }
    Ok(out)
}

pub const THROTTLE_KEYS: [&str; 4] = [
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
];

/// Refuses what the runtime could not apply: unknown capabilities, an unreadable or
/// invalid seccomp profile, missing devices, bad device rules, sysctls that are not the
/// container's own, bad ulimits, an out-of-range swappiness.
pub fn check(hc: &Value) -> Result<(), ApiError> {
    for key in ["CapAdd", "CapDrop"] {
        for cap in str_list(&hc[key]) {
            if normalize_cap(&cap).is_none() {
                let shown = cap.to_ascii_uppercase();
                let shown = if shown.starts_with("CAP_") {
                    shown
                } else {
                    format!("CAP_{shown}")
                };
                return Err(ApiError::invalid(format!("unknown capability: {shown:?}")));
            }
        }
    }
    parse_security_opts(hc)?;
    if let SeccompMode::Profile(text) = seccomp_mode(hc) {
        load_option(&text).map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    devices(hc)?;
    for rule in str_list(&hc["DeviceCgroupRules"]) {
        parse_cgroup_rule(&rule).map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    let mode = |k: &str| hc[k].as_str().unwrap_or("");
    let host_net = mode("NetworkMode") == "host";
    let host_ipc = mode("IpcMode") == "host";
    for key in sysctls(hc).keys() {
        check_sysctl(key, host_net, host_ipc).map_err(ApiError::invalid)?;
    }
    for r in rlimits(hc) {
        r.check().map_err(ApiError::invalid)?;
    }
    for key in THROTTLE_KEYS {
        throttles(hc, key)?;
    }
    if let Some(s) = hc["MemorySwappiness"].as_i64() {
        if s != -1 && !(0..=100).contains(&s) {
            return Err(ApiError::invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    Ok(())
}

/// Warnings for settings that are accepted but not (fully) applied, as dockerd gives them.
pub fn warnings(hc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if hc["KernelMemory"].as_i64().unwrap_or(0) > 0 {
        out.push("Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.".to_string());
    }
    if hc["OomKillDisable"].as_bool() == Some(true) && hc["Memory"].as_i64().unwrap_or(0) == 0 {
        out.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn security_opts_as_dockerd_parses_them() {
        let nnp = |opts: Value| parse_security_opts(&json!({"SecurityOpt": opts}));
        assert!(nnp(json!(["no-new-privileges"])).unwrap());
        assert!(nnp(json!(["no-new-privileges=true"])).unwrap());
        assert!(nnp(json!(["no-new-privileges:true"])).unwrap());
        assert!(!nnp(json!(["no-new-privileges", "no-new-privileges=false"])).unwrap());
        assert!(!nnp(json!([
            "label=disable",
            "apparmor=unconfined",
            "seccomp=unconfined"
        ]))
        .unwrap());
        let e = nnp(json!(["bogus"])).unwrap_err();
        assert_eq!(e.message, "invalid --security-opt 1: \"bogus\"");
        let e = nnp(json!(["no-new-privileges=maybe"])).unwrap_err();
        assert_eq!(
            e.message,
            "invalid --security-opt 2: \"no-new-privileges=maybe\""
        );
        assert!(nnp(json!(["foo=bar"])).is_err());
    }

    #[test]
    fn checks() {
        assert!(check(&json!({"CapAdd": ["NET_ADMIN", "ALL"], "CapDrop": ["CAP_CHOWN"]})).is_ok());
        let e = check(&json!({"CapAdd": ["CAP_FOO"]})).unwrap_err();
        assert_eq!(e.message, "unknown capability: \"CAP_FOO\"");
        let e = check(&json!({"SecurityOpt": ["seccomp=/nonexistent.json"]})).unwrap_err();
        assert!(e.message.contains("/nonexistent.json"), "{}", e.message);
        assert!(check(&json!({"SecurityOpt": ["seccomp={\"defaultAction\":\"X\"}"]})).is_err());
        assert!(check(&json!({"SecurityOpt": ["seccomp=unconfined"]})).is_ok());
        assert!(check(&json!({"Devices": [{"PathOnHost": "/dev/nope", "PathInContainer": "/dev/nope", "CgroupPermissions": "rwm"}]})).is_err());
        assert!(check(&json!({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]})).is_ok());
        assert!(check(&json!({"DeviceCgroupRules": ["c 1:3 rwm"]})).is_ok());
        assert!(check(&json!({"DeviceCgroupRules": ["q"]})).is_err());
        assert!(check(&json!({"Sysctls": {"net.ipv4.ip_forward": "1"}})).is_ok());
        assert!(
            check(&json!({"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"}))
                .is_err()
        );
        assert!(check(&json!({"Sysctls": {"kernel.hostname": "x"}})).is_err());
        assert!(
            check(&json!({"Ulimits": [{"Name": "nofile", "Soft": 300, "Hard": 200}]})).is_err()
        );
        assert!(
            check(&json!({"BlkioDeviceWriteBps": [{"Path": "/dev/null", "Rate": 1}]})).is_err()
        );
        assert!(check(&json!({"MemorySwappiness": 101})).is_err());
        assert!(check(&json!({"MemorySwappiness": -1})).is_ok());
        assert_eq!(warnings(&json!({"KernelMemory": 4194304})).len(), 1);
    }

    #[test]
    fn seccomp_modes() {
        assert_eq!(seccomp_mode(&json!({})), SeccompMode::Default);
        assert_eq!(
            seccomp_mode(&json!({"SecurityOpt": ["seccomp:unconfined"]})),
            SeccompMode::Unconfined
        );
        let text = r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;
        let SeccompMode::Profile(p) =
            seccomp_mode(&json!({"SecurityOpt": [format!("seccomp={text}")]}))
        else {
            panic!("profile expected");
        };
        assert!(p.contains("SCMP_ACT_ALLOW"));
    }
}
