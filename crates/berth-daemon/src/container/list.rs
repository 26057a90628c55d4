//! `GET /containers/json` (ps, with docker's filters) and `GET /containers/{id}/json`.

use std::collections::HashMap;

use berth_api::ApiError;
use serde_json::{json, Value};
use sha2::Digest;

use super::record::{Record, ZERO_TIME};
use crate::Daemon;

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// go-units' HumanDuration, as `docker ps` prints it.
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let mins = d.num_minutes();
    if mins == 1 {
        return "About a minute".into();
    }
    if mins < 60 {
        return format!("{mins} minutes");
    }
    let hours = (d.num_seconds() as f64 / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours / 24 / 365)
}

/// `Status` of `docker ps`: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
pub fn status_text(r: &Record) -> String {
    let now = chrono::Utc::now();
    let s = &r.state;
    if s.running && s.restarting {
        let since = parse_time(&s.finished_at).unwrap_or(now);
        let ago = human_duration(now - since);
        return format!("Restarting ({}) {ago} ago", s.exit_code);
    }
    if s.running {
        let since = parse_time(&s.started_at).unwrap_or(now);
        let paused = if s.paused {
            " (Paused)".to_string()
        } else {
            super::health::ps_suffix(s)
        };
        return format!("Up {}{paused}", human_duration(now - since));
    }
    if s.status == "created" || s.finished_at == ZERO_TIME && s.started_at == ZERO_TIME {
        return "Created".into();
    }
    if s.status == "removing" {
        return "Removal In Progress".into();
    }
    let since = parse_time(&s.finished_at).unwrap_or(now);
    format!(
        "Exited ({}) {} ago",
        s.exit_code,
        human_duration(now - since)
    )
}

/// `NetworkSettings.Networks`: the endpoints (without berth's own fields), or the mode's
/// pseudo-network for host and none.
fn networks(r: &Record) -> Value {
    let mode = r.host_config["NetworkMode"].as_str().unwrap_or("default");
    if mode.starts_with("container:") {
        return json!({});
    }
    let mut out = serde_json::Map::new();
    for (name, ep) in &r.networks {
        out.insert(name.clone(), ep.api_view());
    }
    if out.is_empty() && matches!(mode, "host" | "none") {
        out.insert(
            mode.to_string(),
            crate::network::Endpoint::default().api_view(),
        );
    }
    Value::Object(out)
}

/// `Ports` of a `ps` row: published bindings, then exposed-only ports.
fn port_summary(r: &Record) -> Value {
    let mut out = Vec::new();
    for (key, b) in &r.ports {
        if let Ok((port, proto)) = crate::network::ports::parse_key(key) {
            out.push(json!({"IP": b.host_ip, "PrivatePort": port,
                "PublicPort": b.host_port.parse::<u16>().unwrap_or(0), "Type": proto}));
        }
    }
    if let Some(exposed) = r.config["ExposedPorts"].as_object() {
        for key in exposed.keys() {
            if let Ok((port, proto)) = crate::network::ports::parse_key(key) {
                let published = r.ports.iter().any(|(k, _)| *k == format!("{port}/{proto}"));
                if !published {
                    out.push(json!({"PrivatePort": port, "Type": proto}));
                }
            }
        }
    }
    Value::Array(out)
}

/// The top-level address fields of `NetworkSettings` (the default bridge's, as docker).
fn default_bridge_fields(r: &Record) -> (String, String, u8, String) {
    match r.networks.get("bridge") {
        Some(ep) => (
            ep.endpoint_id.clone(),
            ep.ip_address.clone(),
            ep.ip_prefix_len,
            ep.gateway.clone(),
        ),
        None => Default::default(),
    }
}

impl Daemon {
    /// One `ps` row.
    fn summary(&self, r: &Record, size: bool) -> Value {
        let created = parse_time(&r.created).map(|t| t.timestamp()).unwrap_or(0);
        let mut v = json!({
            "Id": r.id,
            "Names": [format!("/{}", r.name)],
            "Image": r.image_name,
            "ImageID": r.image_id,
            "Command": r.command(),
            "Created": created,
            "Ports": port_summary(r),
            "Labels": r.labels(),
            "State": r.state.status,
            "Status": status_text(r),
            "HostConfig": {"NetworkMode": r.host_config["NetworkMode"]},
            "NetworkSettings": {"Networks": networks(r)},
            "Mounts": r.mounts,
        });
        if size {
            let rw = dir_size(&self.container_dir(&r.id).join("diff"));
            let image = self
                .images
                .resolve(&r.image_id)
                .map(|i| i.size.max(0) as u64)
                .unwrap_or(0);
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(rw + image);
        }
        v
    }

    /// `GET /containers/json`.
    pub fn list_containers(
        &self,
        all: bool,
        limit: Option<usize>,
        size: bool,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<Value>, ApiError> {
        for key in filters.keys() {
            if !matches!(
                key.as_str(),
                "id" | "name"
                    | "label"
                    | "status"
                    | "exited"
                    | "ancestor"
                    | "before"
                    | "since"
                    | "volume"
                    | "network"
                    | "health"
                    | "is-task"
                    | "expose"
                    | "publish"
            ) {
                return Err(ApiError::invalid(format!("invalid filter '{key}'")));
            }
        }
        for h in filters.get("health").into_iter().flatten() {
            if !matches!(h.as_str(), "starting" | "healthy" | "unhealthy" | "none") {
                return Err(ApiError::invalid(format!(
                    "Unrecognised filter value for health: {h}"
                )));
            }
        }
        if let Some(st) = filters.get("status") {
            for s in st {
                if !matches!(
                    s.as_str(),
                    "created"
                        | "restarting"
                        | "running"
                        | "removing"
                        | "paused"
                        | "exited"
                        | "dead"
                ) {
                    return Err(ApiError::invalid(format!("invalid filter 'status={s}'")));
                }
            }
        }
        let mut records: Vec<Record> = self.containers.all().iter().map(|c| c.record()).collect();
        records.sort_by(|a, b| b.created.cmp(&a.created));
        let created_of = |name: &str| -> Option<String> {
            self.containers.find(name).ok().map(|c| c.record().created)
        };
        let before = filters
            .get("before")
            .and_then(|v| v.first())
            .and_then(|n| created_of(n));
        let since = filters
            .get("since")
            .and_then(|v| v.first())
            .and_then(|n| created_of(n));
        let all = all || filters.contains_key("status") || filters.contains_key("exited");
        let mut out = Vec::new();
        for r in records {
            if !all && !r.state.running {
                continue;
            }
            if !self.matches(&r, filters) {
                continue;
            }
            if before.as_ref().is_some_and(|b| r.created >= *b) {
                continue;
            }
            if since.as_ref().is_some_and(|s| r.created <= *s) {
                continue;
            }
            out.push(self.summary(&r, size));
        }
        if let Some(n) = limit.filter(|n| *n > 0) {
            out.truncate(n);
        }
        Ok(out)
    }

    fn matches(&self, r: &Record, filters: &HashMap<String, Vec<String>>) -> bool {
        let any = |key: &str, f: &dyn Fn(&str) -> bool| -> bool {
            filters
                .get(key)
                .is_none_or(|vals| vals.iter().any(|v| f(v)))
        };
        let labels = r.labels();
        any("id", &|v| r.id.starts_with(v))
            && any("name", &|v| r.name.contains(v.trim_start_matches('/')))
            && any("status", &|v| r.state.status == v)
            && any("health", &|v| super::health::filter_status(&r.state) == v)
            && any("exited", &|v| {
                !r.state.running && r.state.status == "exited" && v.parse() == Ok(r.state.exit_code)
            })
            && filters.get("label").is_none_or(|vals| {
                vals.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => labels.get(k).and_then(Value::as_str) == Some(val),
                    None => labels.contains_key(v.as_str()),
                })
            })
            && any("ancestor", &|v| {
                r.image_name == v
                    || r.image_id
                        .trim_start_matches("sha256:")
                        .starts_with(v.trim_start_matches("sha256:"))
                    || self.images.resolve(v).is_ok_and(|i| i.id == r.image_id)
            })
            && any("volume", &|v| {
                r.mounts
                    .iter()
                    .any(|m| m.name == v || m.destination == v || m.source == v)
            })
            && any("network", &|v| {
                let mode = r.host_config["NetworkMode"].as_str().unwrap_or("");
                mode == v
                    || (v == "bridge" && mode == "default")
                    || r.networks.iter().any(|(name, e)| {
                        name == v || (!v.is_empty() && e.network_id.starts_with(v))
                    })
            })
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect_container(&self, name: &str, size: bool) -> Result<Value, ApiError> {
        let c = self.find_container(name)?;
        let r = c.record();
        let dir = self.container_dir(&r.id);
        let lower = self
            .container_layers(&r.id, &r.image_id)
            .map(|l| {
                l.iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .unwrap_or_default();
        let mut state = serde_json::to_value(&r.state).unwrap_or(Value::Null);
        if state["Error"].is_null() {
            state["Error"] = json!("");
        }
        let (endpoint_id, ip, prefix, gateway) = default_bridge_fields(&r);
        let mut v = json!({
            "Id": r.id,
            "Created": r.created,
            "Path": r.path,
            "Args": r.args,
            "State": state,
            "Image": r.image_id,
            "ResolvConfPath": dir.join("resolv.conf"),
            "HostnamePath": dir.join("hostname"),
            "HostsPath": dir.join("hosts"),
            "LogPath": self.inspect_log_path(&r),
            "Name": format!("/{}", r.name),
            "RestartCount": r.restart_count,
            "Driver": r.driver,
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": if r.exec_ids.is_empty() { Value::Null } else { json!(r.exec_ids) },
            "HostConfig": r.host_config,
            "GraphDriver": {"Name": r.driver, "Data": {
                "LowerDir": lower,
                "MergedDir": dir.join("merged"),
                "UpperDir": dir.join("diff"),
                "WorkDir": dir.join("work")
            }},
            "Mounts": r.mounts,
            "Config": r.config,
            "NetworkSettings": {
                "Bridge": "", "SandboxID": "", "SandboxKey": "",
                "Ports": {}, "HairpinMode": false, "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": null,
                "SecondaryIPv6Addresses": null, "EndpointID": endpoint_id, "Gateway": gateway,
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": ip,
                "IPPrefixLen": prefix, "IPv6Gateway": "",
                "MacAddress": r.networks.get("bridge").map(|e| e.mac_address.clone()).unwrap_or_default(),
                "Networks": networks(&r)
            }
        });
        if r.state.running {
            let key = self
                .sandbox_path(&r.id)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("/proc/{}/ns/net", r.state.pid));
            v["NetworkSettings"]["SandboxKey"] = json!(key);
            v["NetworkSettings"]["SandboxID"] =
                json!(hex::encode(sha2::Sha256::digest(r.id.as_bytes())));
            v["NetworkSettings"]["Ports"] = crate::network::ports::settings(&r.config, &r.ports);
        }
        if size {
            let rw = dir_size(&dir.join("diff"));
            let image = self
                .images
                .resolve(&r.image_id)
                .map(|i| i.size.max(0) as u64)
                .unwrap_or(0);
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(rw + image);
        }
        Ok(v)
    }
}

/// Bytes used by regular files under `dir` (hard links counted once is not attempted).
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = chrono::Duration::seconds;
        assert_eq!(human_duration(d(0)), "Less than a second");
        assert_eq!(human_duration(d(5)), "5 seconds");
        assert_eq!(human_duration(d(70)), "About a minute");
        assert_eq!(human_duration(d(600)), "10 minutes");
        assert_eq!(human_duration(d(3600)), "About an hour");
        assert_eq!(human_duration(d(7200)), "2 hours");
        assert_eq!(human_duration(d(3 * 86400)), "3 days");
    }
}
