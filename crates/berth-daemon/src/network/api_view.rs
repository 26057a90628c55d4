//! Networks as the Engine API shows them (`GET /networks`, `GET /networks/{id}`), and
//! docker's filters.

use std::collections::HashMap;

use berth_api::ApiError;
use serde_json::{json, Map, Value};

use super::record::NetworkRecord;
use crate::Daemon;

fn label_matches(n: &NetworkRecord, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => n.labels.get(k).is_some_and(|x| x == v),
        None => n.labels.contains_key(want),
    }
}

/// `until` and `label`/`label!` as `network prune` takes them.
pub fn matches_prune(
    n: &NetworkRecord,
    filters: &HashMap<String, Vec<String>>,
) -> Result<bool, ApiError> {
    for (key, values) in filters {
        let ok = match key.as_str() {
            "label" => values.iter().all(|v| label_matches(n, v)),
            "label!" => !values.iter().any(|v| label_matches(n, v)),
            "until" => {
                let created = crate::container::logs::parse_time(&n.created).unwrap_or(0);
                let mut all = true;
                for v in values {
                    let limit = crate::container::logs::parse_time(v).ok_or_else(|| {
                        ApiError::invalid(format!(
                            "failed to parse value as time or duration: \"{v}\""
                        ))
                    })?;
                    all &= created < limit;
                }
                all
            }
            other => return Err(ApiError::invalid(format!("invalid filter '{other}'"))),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Daemon {
    /// The network object; `Containers` lists live endpoints.
    pub fn network_json(&self, n: &NetworkRecord, with_containers: bool) -> Value {
        let mut v = serde_json::to_value(n).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("berth.link");
            o.insert("ConfigFrom".into(), json!({"Network": ""}));
            let mut containers = Map::new();
            if with_containers {
                for c in self.network_members(n) {
                    let r = c.record();
                    if let Some(ep) = r.networks.values().find(|e| e.network_id == n.id) {
                        let v6 = if ep.global_ipv6_address.is_empty() {
                            String::new()
                        } else {
                            format!("{}/{}", ep.global_ipv6_address, ep.global_ipv6_prefix_len)
                        };
                        containers.insert(
                            r.id.clone(),
                            json!({
                                "Name": r.name,
                                "EndpointID": ep.endpoint_id,
                                "MacAddress": ep.mac_address,
                                "IPv4Address": if ep.ip_address.is_empty() { String::new() } else {
                                    format!("{}/{}", ep.ip_address, ep.ip_prefix_len) },
                                "IPv6Address": v6,
                            }),
                        );
                    }
                }
            }
            o.insert("Containers".into(), Value::Object(containers));
        }
        v
    }

    /// `GET /networks`.
    pub fn list_networks(
        &self,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<Value>, ApiError> {
        for key in filters.keys() {
            if !matches!(
                key.as_str(),
                "driver" | "id" | "label" | "name" | "scope" | "type" | "dangling"
            ) {
                return Err(ApiError::invalid(format!("invalid filter '{key}'")));
            }
        }
        if let Some(d) = filters.get("dangling") {
            if d.len() > 1 {
                return Err(ApiError::invalid(
                    "got more than one value for filter key \"dangling\"",
                ));
            }
            if !d
                .iter()
                .all(|v| matches!(v.as_str(), "true" | "1" | "false" | "0"))
            {
                return Err(ApiError::invalid(
                    "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")",
                ));
            }
        }
        // As dockerd's filters: `name` is an unanchored regular expression.
        let name_matches = |pattern: &str, name: &str| match regex::Regex::new(pattern) {
            Ok(re) => re.is_match(name),
            Err(_) => false,
        };
        let any = |key: &str, f: &dyn Fn(&str) -> bool| {
            filters
                .get(key)
                .is_none_or(|vals| vals.is_empty() || vals.iter().any(|v| f(v)))
        };
        let mut out = Vec::new();
        for n in self.networks.all() {
            let keep = any("driver", &|v| n.driver == v)
                && any("id", &|v| n.id.starts_with(v))
                && filters
                    .get("label")
                    .is_none_or(|vals| vals.iter().all(|v| label_matches(&n, v)))
                && any("name", &|v| name_matches(v, &n.name))
                && any("scope", &|v| n.scope == v)
                && any("type", &|v| match v {
                    "custom" => !n.is_builtin(),
                    "builtin" => n.is_builtin(),
                    _ => false,
                })
                && any("dangling", &|v| {
                    let dangling = !n.is_builtin() && self.network_members(&n).is_empty();
                    dangling == matches!(v, "true" | "1")
                });
            if keep {
                out.push(self.network_json(&n, false));
            }
        }
        if let Some(t) = filters.get("type") {
            if let Some(bad) = t
                .iter()
                .find(|v| !matches!(v.as_str(), "custom" | "builtin"))
            {
                return Err(ApiError::invalid(format!("invalid filter: 'type'='{bad}'")));
            }
        }
        Ok(out)
    }

    /// `GET /networks/{id}`.
    pub fn inspect_network(&self, name: &str) -> Result<Value, ApiError> {
        let n = self.networks.find(name)?;
        Ok(self.network_json(&n, true))
    }
}
