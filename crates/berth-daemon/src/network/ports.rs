//! Published ports: what `-p`/`-P` ask for (`PortBindings`, `PublishAllPorts`,
//! `ExposedPorts`), host ports held by a bound socket so nothing else takes them, and the
//! bindings as `NetworkSettings.Ports` shows them.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

use berth_api::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One host binding of a container port, as the Engine API writes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortBinding {
    #[serde(rename = "HostIp", default)]
    pub host_ip: String,
    #[serde(rename = "HostPort", default)]
    pub host_port: String,
}

/// `"80/tcp"` → (80, "tcp"); docker takes a bare port as tcp.
pub fn parse_key(key: &str) -> Result<(u16, String), ApiError> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(ApiError::invalid(format!("invalid proto: {proto}")));
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ApiError::invalid(format!("invalid containerPort: {port}")))?;
    Ok((port, proto))
}

/// A host port request: a fixed port, a range to pick from, or any (0).
fn parse_host_port(s: &str) -> Result<(u16, u16), ApiError> {
    let bad = || ApiError::invalid(format!("invalid hostPort: {s}"));
    if s.is_empty() {
        return Ok((0, 0));
    }
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b {
                return Err(bad());
            }
            Ok((a, b))
        }
        None => {
            let p: u16 = s.parse().map_err(|_| bad())?;
            Ok((p, p))
        }
    }
}

/// A host socket that keeps a published port taken while the container runs.
pub enum Reserved {
    Tcp(TcpListener),
    Udp(UdpSocket),
    /// SCTP ports are not held (no std socket); the DNAT still works.
    None,
}

/// A binding made for a running container.
pub struct Published {
    pub key: String,
    pub container_port: u16,
    pub proto: String,
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub socket: Reserved,
}

fn bind(proto: &str, ip: IpAddr, port: u16) -> std::io::Result<(Reserved, u16)> {
    let addr = SocketAddr::new(ip, port);
    match proto {
        "tcp" => {
            let l = TcpListener::bind(addr)?;
            let port = l.local_addr()?.port();
            Ok((Reserved::Tcp(l), port))
        }
        "udp" => {
            let s = UdpSocket::bind(addr)?;
            let port = s.local_addr()?.port();
            Ok((Reserved::Udp(s), port))
        }
        _ => Ok((Reserved::None, port)),
    }
}

/// Binds every port the container publishes. `name` and `endpoint` name the container in
/// errors, as docker's "driver failed programming external connectivity" does.
pub fn publish(
    config: &Value,
    host_config: &Value,
    default_ip: &str,
    name: &str,
    endpoint: &str,
) -> Result<Vec<Published>, ApiError> {
    let mut wanted: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    if let Some(m) = host_config["PortBindings"].as_object() {
        for (k, v) in m {
            let list: Vec<PortBinding> = serde_json::from_value(v.clone()).unwrap_or_default();
            wanted.insert(k.clone(), list);
        }
    }
    if host_config["PublishAllPorts"].as_bool().unwrap_or(false) {
        if let Some(m) = config["ExposedPorts"].as_object() {
            for k in m.keys() {
                let list = wanted.entry(k.clone()).or_default();
                if list.is_empty() {
                    list.push(PortBinding::default());
                }
            }
        }
    }
    let mut out: Vec<Published> = Vec::new();
    for (key, list) in &wanted {
        let (container_port, proto) = parse_key(key)?;
        let key = format!("{container_port}/{proto}");
        for b in list {
            let ip_text = if b.host_ip.is_empty() {
                default_ip
            } else {
                b.host_ip.as_str()
            };
            let host_ip: IpAddr = ip_text
                .trim_matches(['[', ']'])
                .parse()
                .map_err(|_| ApiError::invalid(format!("invalid host IP: {ip_text}")))?;
            let (lo, hi) = parse_host_port(&b.host_port)?;
            let mut last_err = None;
            let mut made = None;
            for port in lo..=hi {
                match bind(&proto, host_ip, port) {
                    Ok(r) => {
                        made = Some(r);
                        break;
                    }
                    Err(e) => last_err = Some((port, e)),
                }
                if port == u16::MAX {
                    break;
                }
            }
            let Some((socket, host_port)) = made else {
                let (port, e) = last_err.expect("an empty range is refused above");
                let shown = match host_ip {
                    IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                    v4 => format!("{v4}:{port}"),
                };
                let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                    "port is already allocated".to_string()
                } else {
                    e.to_string()
                };
                return Err(ApiError::system(format!(
                    "driver failed programming external connectivity on endpoint {name} ({endpoint}): Bind for {shown} failed: {why}"
                )));
            };
            out.push(Published {
                key: key.clone(),
                container_port,
                proto: proto.clone(),
                host_ip,
                host_port,
                socket,
            });
        }
    }
    Ok(out)
}

/// Binds a running container's recorded ports again (after a daemon restart); a port that
/// cannot be held any more is logged and left out.
pub fn hold_again(id: &str, recorded: &[(String, PortBinding)]) -> Vec<Published> {
    recorded
        .iter()
        .filter_map(|(key, b)| {
            let (container_port, proto) = parse_key(key).ok()?;
            let host_ip: IpAddr = b.host_ip.parse().ok()?;
            let host_port: u16 = b.host_port.parse().ok()?;
            match bind(&proto, host_ip, host_port) {
                Ok((socket, _)) => Some(Published {
                    key: key.clone(),
                    container_port,
                    proto,
                    host_ip,
                    host_port,
                    socket,
                }),
                Err(e) => {
                    tracing::warn!("{id}: hold port {host_port}/{proto}: {e}");
                    None
                }
            }
        })
        .collect()
}

/// `NetworkSettings.Ports` of a running container: every exposed or published port, with
/// its bindings (`null` when only exposed).
pub fn settings(config: &Value, published: &[(String, PortBinding)]) -> Value {
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    if let Some(exposed) = config["ExposedPorts"].as_object() {
        for k in exposed.keys() {
            if let Ok((port, proto)) = parse_key(k) {
                m.insert(format!("{port}/{proto}"), Value::Null);
            }
        }
    }
    for (key, b) in published {
        let entry = m.entry(key.clone()).or_insert(Value::Null);
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        if let Value::Array(a) = entry {
            a.push(serde_json::to_value(b).unwrap_or(Value::Null));
        }
    }
    serde_json::to_value(m).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_host_ports() {
        assert_eq!(parse_key("80/tcp").unwrap(), (80, "tcp".into()));
        assert_eq!(parse_key("53").unwrap(), (53, "tcp".into()));
        assert!(parse_key("0/tcp").is_err());
        assert!(parse_key("80/icmp").is_err());
        assert_eq!(parse_host_port("").unwrap(), (0, 0));
        assert_eq!(parse_host_port("8000-8002").unwrap(), (8000, 8002));
        assert!(parse_host_port("9-1").is_err());
    }

    #[test]
    fn publish_binds_and_reports_a_taken_port() {
        let hc = json!({"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}});
        let p = publish(&json!({}), &hc, "0.0.0.0", "web", "ep").unwrap();
        assert_eq!(p.len(), 1);
        assert!(p[0].host_port > 0);
        let taken = p[0].host_port.to_string();
        let hc = json!({"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": taken}]}});
        let e = publish(&json!({}), &hc, "0.0.0.0", "web", "ep")
            .err()
            .unwrap();
        assert!(
            e.message.contains("port is already allocated"),
            "{}",
            e.message
        );
        let all = json!({"ExposedPorts": {"80/tcp": {}, "81/udp": {}}});
        let p = publish(
            &all,
            &json!({"PublishAllPorts": true}),
            "127.0.0.1",
            "w",
            "e",
        )
        .unwrap();
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn settings_shape() {
        let config = json!({"ExposedPorts": {"80/tcp": {}, "90/tcp": {}}});
        let b = PortBinding {
            host_ip: "0.0.0.0".into(),
            host_port: "8080".into(),
        };
        let v = settings(&config, &[("80/tcp".into(), b)]);
        assert_eq!(
            v["80/tcp"],
            json!([{"HostIp": "0.0.0.0", "HostPort": "8080"}])
        );
        assert_eq!(v["90/tcp"], Value::Null);
    }
}
