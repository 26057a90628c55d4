//! The network objects' lifecycle: the pre-defined networks at start, `network create`,
//! `rm` and `prune`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use berth_api::ApiError;
use berth_network::ipam::{self, IpNet};
use serde_json::Value;

use super::bridge::pool_config;
use super::record::{Ipam, IpamPool, NetworkRecord};
use crate::container::now;
use crate::Daemon;

fn new_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(e.to_string())
}

/// The drivers berth has.
const DRIVERS: &[&str] = &["bridge", "macvlan", "ipvlan", "host", "null"];

impl Daemon {
    /// At start: the pre-defined networks (`bridge`, `host`, `none`), every bridge up
    /// again (a reboot or crash may have removed them), and the firewall as it should be.
    pub(crate) fn init_networks(&self) -> Result<(), ApiError> {
        let nets = &self.networks;
        let existing = nets.all();
        let by_name = |name: &str| existing.iter().find(|n| n.name == name).cloned();
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if by_name(name).is_none() {
                nets.put(NetworkRecord {
                    name: name.into(),
                    id: new_id(),
                    created: now(),
                    scope: "local".into(),
                    driver: driver.into(),
                    enable_ipv4: true,
                    ipam: Ipam {
                        driver: "default".into(),
                        options: None,
                        config: Vec::new(),
                    },
                    ..Default::default()
                })?;
            }
        }
        let old = by_name("bridge");
        if nets.config.bridge == "none" {
            if let Some(old) = old {
                nets.delete(&old.id)?;
            }
        } else {
            let pool = self.default_bridge_pool(old.as_ref())?;
            let mtu = nets.config.mtu.unwrap_or(1500).to_string();
            let options: BTreeMap<String, String> = [
                ("com.docker.network.bridge.default_bridge", "true"),
                (
                    "com.docker.network.bridge.enable_icc",
                    if nets.config.icc { "true" } else { "false" },
                ),
                ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                (
                    "com.docker.network.bridge.host_binding_ipv4",
                    nets.config.default_bind_ip.as_str(),
                ),
                (
                    "com.docker.network.bridge.name",
                    nets.config.bridge.as_str(),
                ),
                ("com.docker.network.driver.mtu", mtu.as_str()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let n = NetworkRecord {
                name: "bridge".into(),
                id: old.as_ref().map_or_else(new_id, |o| o.id.clone()),
                created: old.as_ref().map_or_else(now, |o| o.created.clone()),
                scope: "local".into(),
                driver: "bridge".into(),
                enable_ipv4: true,
                ipam: Ipam {
                    driver: "default".into(),
                    options: None,
                    config: vec![pool],
                },
                options,
                link: nets.config.bridge.clone(),
                ..Default::default()
            };
            if old.as_ref() != Some(&n) {
                nets.put(n)?;
            }
        }
        for n in nets.all() {
            if let Err(e) = nets.link_up(&n) {
                tracing::warn!("network {}: {}", n.name, e.message);
            }
        }
        self.sync_firewall()
    }

    /// `--bip`/`--fixed-cidr`, else what the default network had, else docker's
    /// 172.17.0.0/16 when nothing on the host routes it, else the first free default pool.
    fn default_bridge_pool(&self, old: Option<&NetworkRecord>) -> Result<IpamPool, ApiError> {
        let cfg = &self.networks.config;
        let range = cfg.fixed_cidr.clone().unwrap_or_default();
        if let Some(bip) = &cfg.bip {
            let net: IpNet = bip
                .parse()
                .map_err(|_| ApiError::invalid(format!("invalid --bip {bip}")))?;
            return Ok(IpamPool {
                subnet: net.trunc().to_string(),
                gateway: net.addr().to_string(),
                ip_range: range,
                aux_addresses: BTreeMap::new(),
            });
        }
        if let Some(pool) = old.and_then(|o| o.ipam.config.first()) {
            return Ok(IpamPool {
                ip_range: range,
                ..pool.clone()
            });
        }
        let taken = self.taken_subnets(None)?;
        let docker: IpNet = "172.17.0.0/16".parse().expect("a valid subnet");
        let subnet = if taken.iter().any(|t| ipam::overlaps(t, &docker)) {
            ipam::next_subnet(&self.address_pools()?, &taken).map_err(invalid)?
        } else {
            docker
        };
        Ok(IpamPool {
            subnet: subnet.to_string(),
            ip_range: range,
            ..Default::default()
        })
    }

    fn address_pools(&self) -> Result<Vec<ipam::AddressPool>, ApiError> {
        let cfg = &self.networks.config.default_address_pools;
        if cfg.is_empty() {
            return Ok(ipam::default_address_pools());
        }
        cfg.iter()
            .map(|p| ipam::parse_address_pool(p).map_err(invalid))
            .collect()
    }

    /// Subnets already in use: other networks' and the host's routes.
    fn taken_subnets(&self, except: Option<&str>) -> Result<Vec<IpNet>, ApiError> {
        let mut taken: Vec<IpNet> = self
            .networks
            .with_host(|nl| nl.routes())?
            .into_iter()
            .filter(|r| r.prefix_len() > 0)
            .collect();
        for n in self.networks.all() {
            if Some(n.id.as_str()) == except {
                continue;
            }
            for p in &n.ipam.config {
                if let Ok(s) = p.subnet.parse() {
                    taken.push(s);
                }
            }
        }
        Ok(taken)
    }

    /// `POST /networks/create`: returns the id and a warning.
    pub async fn create_network(self: &Arc<Self>, body: Value) -> Result<String, ApiError> {
        let daemon = self.clone();
        let n = tokio::task::spawn_blocking(move || daemon.create_network_blocking(&body))
            .await
            .map_err(|e| ApiError::system(e.to_string()))??;
        self.network_event(&n, "create", &[]);
        Ok(n.id)
    }

    fn create_network_blocking(&self, body: &Value) -> Result<NetworkRecord, ApiError> {
        let name = body["Name"].as_str().unwrap_or("").to_string();
        if name.is_empty() {
            return Err(ApiError::invalid("network name cannot be empty"));
        }
        if matches!(name.as_str(), "bridge" | "host" | "none" | "default") {
            return Err(ApiError::forbidden(format!(
                "operation is not permitted on predefined {name} network "
            )));
        }
        let driver = match body["Driver"].as_str() {
            None | Some("") => "bridge",
            Some(d) => d,
        };
        if !DRIVERS.contains(&driver) {
            return Err(ApiError::not_found(format!(
                "plugin \"{driver}\" not found"
            )));
        }
        if driver == "host" || driver == "null" {
            return Err(ApiError::forbidden(format!(
                "only one instance of \"{driver}\" network is allowed"
            )));
        }
        let strings = |v: &Value| -> BTreeMap<String, String> {
            v.as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let options = strings(&body["Options"]);
        let labels = strings(&body["Labels"]);
        let enable_ipv6 = body["EnableIPv6"].as_bool().unwrap_or(false);
        let mut pools: Vec<IpamPool> = match &body["IPAM"]["Config"] {
            Value::Array(a) => a
                .iter()
                .map(|c| IpamPool {
                    subnet: c["Subnet"].as_str().unwrap_or("").to_string(),
                    ip_range: c["IPRange"].as_str().unwrap_or("").to_string(),
                    gateway: c["Gateway"].as_str().unwrap_or("").to_string(),
                    aux_addresses: strings(&c["AuxiliaryAddresses"]),
                })
                .collect(),
            _ => Vec::new(),
        };
        let ipam_driver = match body["IPAM"]["Driver"].as_str() {
            None | Some("") => "default",
            Some(d) => d,
        };
        if ipam_driver != "default" {
            return Err(ApiError::not_found(format!(
                "plugin \"{ipam_driver}\" not found"
            )));
        }
        let _guard = super::lock(&self.networks.alloc_lock);
        if self.networks.all().iter().any(|n| n.name == name) {
            return Err(ApiError::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let id = new_id();
        // Parse and check every pool, then against each other and the other networks.
        let mut subnets = Vec::new();
        for p in &pools {
            if p.subnet.is_empty() {
                return Err(ApiError::invalid(
                    "invalid pool request: a subnet is required with a gateway, range or aux addresses",
                ));
            }
            let cfg = pool_config(p)?;
            if cfg.subnet.addr().is_ipv6() && !enable_ipv6 {
                return Err(ApiError::invalid(format!(
                    "IPv6 subnet {} given but IPv6 is not enabled (--ipv6)",
                    cfg.subnet
                )));
            }
            subnets.push(cfg.subnet);
        }
        let taken = self.taken_subnets(None)?;
        let others: Vec<IpNet> = self
            .networks
            .all()
            .iter()
            .flat_map(|n| n.ipam.config.iter().filter_map(|p| p.subnet.parse().ok()))
            .collect();
        for (i, s) in subnets.iter().enumerate() {
            let clash = subnets[..i].iter().any(|o| ipam::overlaps(o, s))
                || (driver == "bridge" && taken.iter().any(|o| ipam::overlaps(o, s)))
                || others.iter().any(|o| ipam::overlaps(o, s));
            if clash {
                return Err(ApiError::forbidden(format!(
                    "invalid pool request: Pool overlaps with other one on this address space ({s})"
                )));
            }
        }
        if !subnets.iter().any(|s| s.addr().is_ipv4()) && body["EnableIPv4"] != Value::Bool(false) {
            let subnet = ipam::next_subnet(&self.address_pools()?, &taken).map_err(invalid)?;
            pools.insert(
                0,
                IpamPool {
                    subnet: subnet.to_string(),
                    ..Default::default()
                },
            );
        }
        if enable_ipv6 && !subnets.iter().any(|s| s.addr().is_ipv6()) {
            // As docker 27+: a /64 of a ULA /48 derived from the engine's id.
            let pool = ipam::AddressPool {
                base: self.ula_prefix(),
                size: 64,
            };
            let subnet = ipam::next_subnet(&[pool], &taken).map_err(invalid)?;
            pools.push(IpamPool {
                subnet: subnet.to_string(),
                ..Default::default()
            });
        }
        // Docker fills in the gateway it picked.
        for p in pools.iter_mut() {
            if p.gateway.is_empty() {
                p.gateway = ipam::gateway(&pool_config(p)?).to_string();
            }
        }
        let link = match driver {
            "bridge" => options
                .get("com.docker.network.bridge.name")
                .cloned()
                .unwrap_or_else(|| format!("br-{}", &id[..12])),
            _ => options
                .get("parent")
                .cloned()
                .unwrap_or_else(|| format!("dm-{}", &id[..12])),
        };
        if link.is_empty() || link.len() > 15 || link.contains(['/', ' ', '"', '\'']) {
            return Err(ApiError::invalid(format!(
                "invalid interface name: {link:?}"
            )));
        }
        // Only a new bridge can clash with another network's bridge: a macvlan/ipvlan
        // parent may be any link, a bridge included (as with dockerd).
        if driver == "bridge"
            && self
                .networks
                .all()
                .iter()
                .any(|n| n.link == link && n.driver == "bridge")
        {
            return Err(ApiError::conflict(format!(
                "bridge name {link} is used by another network"
            )));
        }
        let n = NetworkRecord {
            name,
            id,
            created: now(),
            scope: "local".into(),
            driver: driver.into(),
            enable_ipv4: true,
            enable_ipv6,
            ipam: Ipam {
                driver: "default".into(),
                options: body["IPAM"]["Options"]
                    .as_object()
                    .map(|_| strings(&body["IPAM"]["Options"])),
                config: pools,
            },
            internal: body["Internal"].as_bool().unwrap_or(false),
            attachable: body["Attachable"].as_bool().unwrap_or(false),
            ingress: body["Ingress"].as_bool().unwrap_or(false),
            config_only: body["ConfigOnly"].as_bool().unwrap_or(false),
            options,
            labels,
            link,
        };
        if let Err(e) = self.networks.link_up(&n) {
            let _ = self.networks.link_down(&n);
            return Err(e);
        }
        self.networks.put(n.clone())?;
        if let Err(e) = self.sync_firewall() {
            let _ = self.networks.delete(&n.id);
            let _ = self.networks.link_down(&n);
            let _ = self.sync_firewall();
            return Err(e);
        }
        Ok(n)
    }

    /// fdXX:XXXX:XXXX::/48, stable for this daemon's data root.
    fn ula_prefix(&self) -> IpNet {
        use sha2::Digest;
        let h = sha2::Sha256::digest(self.daemon_id().as_bytes());
        let mut octets = [0u8; 16];
        octets[0] = 0xfd;
        octets[1..6].copy_from_slice(&h[..5]);
        IpNet::new(std::net::Ipv6Addr::from(octets).into(), 48).expect("a valid prefix")
    }

    /// Containers with a live endpoint on the network: id → endpoint address.
    pub(crate) fn network_members(
        &self,
        n: &NetworkRecord,
    ) -> Vec<Arc<crate::container::Container>> {
        self.containers
            .all()
            .into_iter()
            .filter(|c| {
                let r = c.record();
                r.state.running && r.networks.values().any(|e| e.network_id == n.id)
            })
            .collect()
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove_network(self: &Arc<Self>, name: &str) -> Result<(), ApiError> {
        let n = self.networks.find(name)?;
        if n.is_builtin() {
            return Err(ApiError::forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let daemon = self.clone();
        let removed = n.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = super::lock(&daemon.networks.alloc_lock);
            if !daemon.network_members(&removed).is_empty() {
                return Err(ApiError::forbidden(format!(
                    "error while removing network: network {} id {} has active endpoints",
                    removed.name, removed.id
                )));
            }
            daemon.networks.delete(&removed.id)?;
            let fw = daemon.sync_firewall();
            let link = daemon.networks.link_down(&removed);
            fw.and(link)
        })
        .await
        .map_err(|e| ApiError::system(e.to_string()))??;
        self.network_event(&n, "destroy", &[]);
        Ok(())
    }

    /// `POST /networks/prune`: user-defined networks without live endpoints.
    pub async fn prune_networks(
        self: &Arc<Self>,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<String>, ApiError> {
        let mut deleted = Vec::new();
        for n in self.networks.all() {
            if n.is_builtin() || !super::api_view::matches_prune(&n, filters)? {
                continue;
            }
            if !self.network_members(&n).is_empty() {
                continue;
            }
            if self.remove_network(&n.id).await.is_ok() {
                deleted.push(n.name.clone());
            }
        }
        Ok(deleted)
    }

    pub(crate) fn network_event(&self, n: &NetworkRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), n.name.clone());
        attrs.insert("type".to_string(), n.driver.clone());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("network", action, &n.id, attrs);
    }
}

/// The address of an `--ip`/`--ip6` request, checked against the network's subnets.
pub fn requested_ip(n: &NetworkRecord, ip: &str) -> Result<IpAddr, ApiError> {
    let addr = ipam::parse_ip(ip).map_err(invalid)?;
    let fits = n
        .ipam
        .config
        .iter()
        .filter_map(|p| p.subnet.parse::<IpNet>().ok())
        .any(|s| s.contains(&addr));
    if !fits {
        return Err(ApiError::invalid(format!(
            "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address {addr}"
        )));
    }
    Ok(addr)
}
