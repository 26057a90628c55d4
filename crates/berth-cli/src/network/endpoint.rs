//! The endpoint settings docker's CLI derives from `run`/`create`'s `--network`,
//! `--ip`, `--ip6`, `--network-alias`, `--link`, `--mac-address` and
//! `--link-local-ip`, and the EndpointSettings JSON `network connect` shares.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::values::{check_link, csv_fields, go_int10, obj, valid_mac};
use crate::flags::Matches;

/// One `--network` value: a name, or docker 28's `name=NET,alias=A,ip=IP,...`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub links: Vec<String>,
    pub ipv4: String,
    pub ipv6: String,
    pub link_local_ips: Vec<String>,
    pub mac: String,
    pub gw_priority: i64,
}

/// Go's `\w+=\w+` search, which decides that a `--network` value is the long syntax.
fn long_syntax(s: &str) -> bool {
    let w = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    s.as_bytes()
        .windows(3)
        .any(|x| w(x[0]) && x[1] == b'=' && w(x[2]))
}

/// docker's NetworkOpt.Set; the error is the reason after `invalid argument ... flag:`.
pub fn parse_attachment(value: &str) -> Result<Attachment, String> {
    if !long_syntax(value) {
        return Ok(Attachment {
            target: value.to_string(),
            ..Attachment::default()
        });
    }
    let mut a = Attachment::default();
    for field in csv_fields(value)? {
        // docker lower-cases keys and values alike.
        let lower = field.to_lowercase();
        let Some((key, val)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let (key, val) = (key.trim(), val.trim().to_string());
        match key {
            "name" => a.target = val,
            "alias" => a.aliases.push(val),
            "ip" => a.ipv4 = val,
            "ip6" => a.ipv6 = val,
            "mac-address" => a.mac = val,
            "link-local-ip" => a.link_local_ips.push(val),
            "driver-opt" => {
                let (k, v) = val
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or("invalid key value pair format in driver options")?;
                a.driver_opts
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
            "gw-priority" => {
                a.gw_priority =
                    go_int10(&val).map_err(|e| format!("invalid gw-priority ({val}): {e}"))?;
            }
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if a.target.is_empty() {
        return Err("network name/id is not specified".into());
    }
    Ok(a)
}

/// Not one of the predefined network modes (Linux's NetworkMode.IsUserDefined).
pub fn user_defined(mode: &str) -> bool {
    let container = mode
        .split_once(':')
        .is_some_and(|(kind, _)| kind == "container");
    !container && !matches!(mode, "default" | "bridge" | "host" | "none")
}

/// EndpointSettings as Go's encoder writes it: every field, operational ones zero.
pub(super) fn endpoint_settings(
    ipam: Value,
    links: Value,
    aliases: Value,
    mac: &str,
    driver_opts: Value,
    gw_priority: i64,
) -> Value {
    json!({
        "IPAMConfig": ipam, "Links": links, "Aliases": aliases, "MacAddress": mac,
        "DriverOpts": driver_opts, "GwPriority": gw_priority, "NetworkID": "", "EndpointID": "",
        "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null,
    })
}

/// EndpointIPAMConfig: its fields are omitted when empty.
pub(super) fn endpoint_ipam(v4: &str, v6: &str, link_local: &[String]) -> Value {
    let mut m = Map::new();
    if !v4.is_empty() {
        m.insert("IPv4Address".into(), json!(v4));
    }
    if !v6.is_empty() {
        m.insert("IPv6Address".into(), json!(v6));
    }
    if !link_local.is_empty() {
        m.insert("LinkLocalIPs".into(), json!(link_local));
    }
    Value::Object(m)
}

pub(super) fn strs_or_null(v: &[String]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

/// docker's parseNetworkAttachmentOpt; `None` stands for an all-zero EndpointSettings.
fn attachment_endpoint(a: &Attachment) -> Result<Option<Value>, String> {
    if a.target.trim().is_empty() {
        return Err("no name set for network".into());
    }
    if !user_defined(&a.target) {
        if !a.aliases.is_empty() {
            return Err(
                "network-scoped aliases are only supported for user-defined networks".into(),
            );
        }
        if !a.links.is_empty() {
            return Err("links are only supported for user-defined networks".into());
        }
    }
    if !a.mac.is_empty() && !valid_mac(a.mac.trim()) {
        return Err(format!("{} is not a valid mac address", a.mac));
    }
    let ipam = if a.ipv4.is_empty() && a.ipv6.is_empty() && a.link_local_ips.is_empty() {
        Value::Null
    } else {
        endpoint_ipam(&a.ipv4, &a.ipv6, &a.link_local_ips)
    };
    let driver_opts = if a.driver_opts.is_empty() {
        Value::Null
    } else {
        obj(a.driver_opts.clone())
    };
    let zero = ipam.is_null()
        && a.links.is_empty()
        && a.aliases.is_empty()
        && a.mac.is_empty()
        && driver_opts.is_null()
        && a.gw_priority == 0;
    Ok((!zero).then(|| {
        endpoint_settings(
            ipam,
            strs_or_null(&a.links),
            strs_or_null(&a.aliases),
            &a.mac,
            driver_opts,
            a.gw_priority,
        )
    }))
}

/// The flag-level checks of `run`/`create` networking: `--network` values and `--link`
/// formats (docker rejects them while parsing flags), then `--mac-address`.
pub fn parse_run_networks(m: &Matches) -> Result<Vec<Attachment>, String> {
    let mut nets = Vec::new();
    for val in m.list("network") {
        nets.push(
            parse_attachment(&val)
                .map_err(|e| format!("invalid argument {val:?} for \"--network\" flag: {e}"))?,
        );
    }
    for link in m.list("link") {
        check_link(&link)
            .map_err(|e| format!("invalid argument {link:?} for \"--link\" flag: {e}"))?;
    }
    if let Some(mac) = m.value("mac-address").filter(|s| !s.is_empty()) {
        if !valid_mac(mac.trim()) {
            return Err(format!("{mac} is not a valid mac address"));
        }
    }
    Ok(nets)
}

/// docker's applyContainerOptions: the classic flags go to the first network.
fn apply_container_options(a: &mut Attachment, m: &Matches) -> Result<(), String> {
    let aliases = m.list("network-alias");
    let links = m.list("link");
    let ipv4 = m.str("ip");
    let ipv6 = m.str("ip6");
    let mac = m.str("mac-address");
    let link_local = m.list("link-local-ip");
    let conflict = |what: &str| Err(format!("conflicting options: cannot specify both {what}"));
    if !a.aliases.is_empty() && !aliases.is_empty() {
        return conflict("--network-alias and per-network alias");
    }
    if !a.links.is_empty() && !links.is_empty() {
        return conflict("--link and per-network links");
    }
    if !a.ipv4.is_empty() && !ipv4.is_empty() {
        return conflict("--ip and per-network IPv4 address");
    }
    if !a.ipv6.is_empty() && !ipv6.is_empty() {
        return conflict("--ip6 and per-network IPv6 address");
    }
    if !a.mac.is_empty() && !mac.is_empty() {
        return conflict("--mac-address and per-network MAC address");
    }
    if !a.link_local_ips.is_empty() && !link_local.is_empty() {
        return conflict("--link-local-ip and per-network link-local IP addresses");
    }
    if !aliases.is_empty() {
        a.aliases = aliases;
    }
    // On a user-defined network a link is an endpoint alias; on the default bridge it
    // stays a legacy link in HostConfig.Links only.
    if user_defined(&a.target) && !links.is_empty() {
        a.links = links;
    }
    if !ipv4.is_empty() {
        a.ipv4 = ipv4;
    }
    if !ipv6.is_empty() {
        a.ipv6 = ipv6;
    }
    if !mac.is_empty() {
        a.mac = mac;
    }
    if !link_local.is_empty() {
        a.link_local_ips = link_local;
    }
    Ok(())
}

/// docker's parseNetworkOpts: HostConfig.NetworkMode and NetworkingConfig.EndpointsConfig
/// for `run`/`create`. Without `--network` the endpoint is keyed "default" (always sent);
/// a single network without per-endpoint options sends none.
pub fn run_endpoints(
    m: &Matches,
    nets: Vec<Attachment>,
) -> Result<(String, Map<String, Value>), String> {
    let mode = nets
        .first()
        .map(|a| a.target.clone())
        .unwrap_or_else(|| "default".into());
    let mut eps = Map::new();
    if nets.is_empty() {
        let mut a = Attachment {
            target: "default".into(),
            ..Attachment::default()
        };
        apply_container_options(&mut a, m)?;
        let ep = attachment_endpoint(&a)?.unwrap_or_else(|| {
            endpoint_settings(Value::Null, Value::Null, Value::Null, "", Value::Null, 0)
        });
        eps.insert("default".into(), ep);
    }
    let (mut user, mut predefined) = (false, false);
    let count = nets.len();
    for (i, mut a) in nets.into_iter().enumerate() {
        if user_defined(&a.target) {
            user = true;
        } else {
            predefined = true;
        }
        if i == 0 {
            apply_container_options(&mut a, m)?;
        }
        let ep = attachment_endpoint(&a)?;
        if eps.contains_key(&a.target) {
            return Err(format!(
                "network {:?} is specified multiple times",
                a.target
            ));
        }
        let ep = match ep {
            None if i == 0 && count == 1 => continue,
            None => endpoint_settings(Value::Null, Value::Null, Value::Null, "", Value::Null, 0),
            Some(ep) => ep,
        };
        eps.insert(a.target, ep);
    }
    if user && predefined {
        return Err(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        );
    }
    Ok((mode, eps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments() {
        let a = parse_attachment("name=MyNet,alias=a1,alias=a2,ip=10.0.0.3,driver-opt=k=v,gw-priority=3,mac-address=02:42:ac:11:00:03").unwrap();
        assert_eq!(a.target, "mynet");
        assert_eq!(a.aliases, vec!["a1", "a2"]);
        assert_eq!(a.ipv4, "10.0.0.3");
        assert_eq!(a.gw_priority, 3);
        assert_eq!(a.driver_opts.get("k").map(String::as_str), Some("v"));
        assert_eq!(parse_attachment("my-net").unwrap().target, "my-net");
        assert_eq!(
            parse_attachment("name=n,bogus=1").unwrap_err(),
            "invalid field key bogus"
        );
        assert_eq!(
            parse_attachment("alias=a").unwrap_err(),
            "network name/id is not specified"
        );
        assert_eq!(
            parse_attachment("name=n,gw-priority=x").unwrap_err(),
            "invalid gw-priority (x): invalid syntax"
        );
        assert!(valid_mac("02:42:ac:11:00:02"));
        assert!(valid_mac("02-42-ac-11-00-02"));
        assert!(valid_mac("0242.ac11.0002"));
        assert!(!valid_mac("zz"));
        assert!(!valid_mac("02:42:ac:11:00:0g"));
        assert!(user_defined("mynet"));
        assert!(!user_defined("container:abc"));
        assert!(!user_defined("host"));
    }
}
