//! Which registries are insecure (plain HTTP, unchecked TLS), docker.io's mirrors, and where
//! registries' CA and client certificates are (`<certs dir>/<host:port>/*.crt`, `*.cert` +
//! `*.key`, as docker's certs.d).

use std::net::IpAddr;
use std::path::PathBuf;

/// The daemon's registry settings (dockerd's `--insecure-registry`, `--registry-mirror`).
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Hosts (`host[:port]`) or CIDRs (`10.0.0.0/8`) treated as insecure. 127.0.0.0/8 always is.
    pub insecure: Vec<String>,
    /// Mirrors tried for docker.io images before Docker Hub (`https://mirror.example`).
    pub mirrors: Vec<String>,
    /// Where `<host:port>/*.crt` CA certificates of registries are.
    pub certs_dir: PathBuf,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure: Vec::new(),
            mirrors: Vec::new(),
            certs_dir: PathBuf::from("/etc/berth/certs.d"),
        }
    }
}

/// docker.io's registry, where its images really are.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";

/// One place to talk to a registry: `https://host:port` or `http://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme, host and port, no trailing slash.
    pub base: String,
    /// Check the server's certificate (false for insecure registries).
    pub verify_tls: bool,
    /// The `host[:port]` the registry is known by (for certs.d).
    pub host: String,
}

impl RegistryConfig {
    /// Whether `host` (`name[:port]`) is an insecure registry.
    pub fn is_insecure(&self, host: &str) -> bool {
        if self.insecure.iter().any(|i| i == host) {
            return true;
        }
        let name = strip_port(host);
        let ip: Option<IpAddr> = if name == "localhost" {
            Some(IpAddr::from([127, 0, 0, 1]))
        } else {
            name.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()
        };
        let Some(ip) = ip else {
            return self.insecure.iter().any(|i| i == name);
        };
        if ip.is_loopback() {
            return true;
        }
        self.insecure.iter().any(|c| cidr_contains(c, ip))
    }

    /// Where to try, in order, for images of registry `domain` (as references name it).
    pub fn endpoints(&self, domain: &str) -> Vec<Endpoint> {
        let mut out = Vec::new();
        let host = if domain == "docker.io" {
            for m in &self.mirrors {
                let m = m.trim_end_matches('/');
                let host = m
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .to_string();
                out.push(Endpoint {
                    base: m.to_string(),
                    verify_tls: !self.is_insecure(&host),
                    host,
                });
            }
            DOCKER_HUB_REGISTRY
        } else {
            domain
        };
        let insecure = self.is_insecure(host);
        out.push(Endpoint {
            base: format!("https://{host}"),
            verify_tls: !insecure,
            host: host.to_string(),
        });
        if insecure {
            out.push(Endpoint {
                base: format!("http://{host}"),
                verify_tls: false,
                host: host.to_string(),
            });
        }
        out
    }
}

impl RegistryConfig {
    /// `RegistryConfig` of `GET /info`, as dockerd reports it.
    pub fn info(&self) -> serde_json::Value {
        use serde_json::json;
        let mut cidrs = vec!["::1/128".to_string(), "127.0.0.0/8".to_string()];
        let mut index = serde_json::Map::new();
        let mirrors: Vec<String> = self
            .mirrors
            .iter()
            .map(|m| format!("{}/", m.trim_end_matches('/')))
            .collect();
        index.insert(
            "docker.io".into(),
            json!({"Name": "docker.io", "Mirrors": mirrors, "Secure": true, "Official": true}),
        );
        for i in &self.insecure {
            if i.contains('/') {
                if !cidrs.contains(i) {
                    cidrs.push(i.clone());
                }
            } else {
                index.insert(
                    i.clone(),
                    json!({"Name": i, "Mirrors": [], "Secure": false, "Official": false}),
                );
            }
        }
        json!({
            "IndexConfigs": index,
            "InsecureRegistryCIDRs": cidrs,
            "Mirrors": mirrors,
        })
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_registries_are_insecure() {
        let c = RegistryConfig {
            insecure: vec!["10.1.0.0/16".into(), "reg.local:5000".into()],
            ..Default::default()
        };
        assert!(c.is_insecure("127.0.0.1:5000"));
        assert!(c.is_insecure("localhost:5000"));
        assert!(c.is_insecure("10.1.2.3"));
        assert!(c.is_insecure("reg.local:5000"));
        assert!(!c.is_insecure("reg.local:5001"));
        assert!(!c.is_insecure("10.2.0.1:5000"));
        assert!(!c.is_insecure("example.com"));
    }

    #[test]
    fn docker_hub_mirrors_come_first() {
        let c = RegistryConfig {
            mirrors: vec!["https://mirror.test/".into()],
            ..Default::default()
        };
        let e = c.endpoints("docker.io");
        assert_eq!(e[0].base, "https://mirror.test");
        assert_eq!(e[1].base, "https://registry-1.docker.io");
        assert_eq!(e.len(), 2);
        let e = c.endpoints("127.0.0.1:5000");
        assert_eq!(e[0].base, "https://127.0.0.1:5000");
        assert!(!e[0].verify_tls);
        assert_eq!(e[1].base, "http://127.0.0.1:5000");
    }
}
