//! A network's persistent record and a container's endpoint on it, in the shapes of the
//! Engine API (`GET /networks/{id}`, `NetworkSettings.Networks`), so inspect gives back
//! what a Docker client expects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One `IPAM.Config` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IpamPool {
    #[serde(rename = "Subnet", default, skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    #[serde(rename = "IPRange", default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(rename = "Gateway", default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(
        rename = "AuxiliaryAddresses",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub aux_addresses: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub config: Vec<IpamPool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkRecord {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv4", default = "yes")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_only: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// The Linux link this network's driver owns (bridge name, or the macvlan/ipvlan parent).
    #[serde(rename = "berth.link", default)]
    pub link: String,
}

fn yes() -> bool {
    true
}

impl NetworkRecord {
    /// The default, host and none networks: created by the daemon, never removable.
    pub fn is_builtin(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }

    /// Whether containers on it get their own namespace, an address and a veth.
    pub fn has_endpoints(&self) -> bool {
        matches!(self.driver.as_str(), "bridge" | "macvlan" | "ipvlan")
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// The embedded DNS serves user-defined networks only, as in Docker.
    pub fn has_dns(&self) -> bool {
        self.has_endpoints() && self.name != "bridge"
    }
}

/// `IPAMConfig` of an endpoint: the addresses the user asked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointIpam {
    #[serde(
        rename = "IPv4Address",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4: String,
    #[serde(
        rename = "IPv6Address",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6: String,
    #[serde(
        rename = "LinkLocalIPs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub link_local: Option<Vec<String>>,
}

impl EndpointIpam {
    pub fn is_empty(&self) -> bool {
        self.ipv4.is_empty() && self.ipv6.is_empty() && self.link_local.is_none()
    }
}

/// A container's endpoint on one network (`NetworkSettings.Networks[name]`). The
/// configuration part survives stop; the addresses are filled while it runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Endpoint {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpam>,
    #[serde(rename = "Links")]
    pub links: Option<Vec<String>>,
    #[serde(rename = "Aliases")]
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    #[serde(rename = "DriverOpts")]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(rename = "GwPriority", default)]
    pub gw_priority: i64,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
    /// The host side of the veth while running (berth's own; inspect leaves `berth.*` out).
    #[serde(rename = "berth.hostVeth", default)]
    pub host_veth: String,
    /// The MAC address was asked for (kept across runs), not derived from the address.
    #[serde(rename = "berth.userMac", default)]
    pub user_mac: bool,
    /// The interface name in the sandbox while running (`eth0`, ...).
    #[serde(rename = "berth.ifname", default)]
    pub ifname: String,
}

impl Endpoint {
    /// An endpoint from the API's `EndpointConfig` (create's `NetworkingConfig`, connect).
    pub fn from_config(v: &Value) -> Result<Endpoint, String> {
        if v.is_null() {
            return Ok(Endpoint::default());
        }
        let mut e: Endpoint = serde_json::from_value(strip_nulls(v))
            .map_err(|err| format!("invalid endpoint config: {err}"))?;
        e.user_mac = !e.mac_address.is_empty();
        e.clear_runtime();
        e.network_id.clear();
        if e.ipam_config.as_ref().is_some_and(EndpointIpam::is_empty) {
            e.ipam_config = None;
        }
        Ok(e)
    }

    /// The endpoint as `NetworkSettings.Networks` shows it: without berth's own fields.
    pub fn api_view(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.retain(|k, _| !k.starts_with("berth."));
        }
        v
    }

    /// Forgets what the last run was given (docker clears these when a container stops).
    pub fn clear_runtime(&mut self) {
        self.endpoint_id.clear();
        self.gateway.clear();
        self.ip_address.clear();
        self.ip_prefix_len = 0;
        self.ipv6_gateway.clear();
        self.global_ipv6_address.clear();
        self.global_ipv6_prefix_len = 0;
        self.host_veth.clear();
        self.ifname.clear();
        if !self.user_mac {
            self.mac_address.clear();
        }
    }
}

/// Missing and `null` fields both mean "not set" for a Docker client; serde's defaults
/// only cover missing ones.
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoint_from_config_keeps_only_configuration() {
        let e = Endpoint::from_config(&json!({
            "IPAMConfig": {"IPv4Address": "10.1.0.5"}, "Aliases": ["web"], "Links": null,
            "IPAddress": "1.2.3.4", "MacAddress": ""
        }))
        .unwrap();
        assert_eq!(e.ipam_config.unwrap().ipv4, "10.1.0.5");
        assert_eq!(e.aliases, Some(vec!["web".to_string()]));
        assert!(e.ip_address.is_empty());
        assert!(Endpoint::from_config(&json!({"Aliases": 3})).is_err());
    }

    #[test]
    fn network_record_round_trip() {
        let n = NetworkRecord {
            name: "n".into(),
            link: "br-1".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["EnableIPv6"], false);
        let back: NetworkRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, n);
    }
}
