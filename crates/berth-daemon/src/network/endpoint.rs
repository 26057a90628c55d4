//! A container's endpoints: their order, their network, and the addresses each gets
//! (picked under the allocation lock from what the other records hold).

use std::collections::BTreeSet;
use std::net::IpAddr;

use berth_api::ApiError;
use berth_network::{ipam, netlink};

use super::bridge::{pool_config, Plan};
use super::record::{Endpoint, NetworkRecord};
use super::sandbox::mode_network;
use crate::container::Container;
use crate::Daemon;

impl Daemon {
    /// The endpoints of a container in connection order: the one its mode names first.
    pub(super) fn ordered_endpoints(&self, r: &crate::container::Record) -> Vec<String> {
        let mode = r.host_config["NetworkMode"].as_str().unwrap_or("default");
        let first = mode_network(mode).unwrap_or("");
        let mut names: Vec<String> = r.networks.keys().cloned().collect();
        names.sort_by_key(|n| (n != first, n.clone()));
        names
    }

    pub(super) fn endpoint_network(
        &self,
        name: &str,
        ep: &Endpoint,
    ) -> Result<NetworkRecord, ApiError> {
        self.networks
            .find(&ep.network_id)
            .or_else(|_| self.networks.find(name))
            .map_err(|_| super::not_found(name))
    }

    /// Addresses on network `n` that running containers (other than `except`) hold.
    pub(super) fn used_addresses(&self, n: &NetworkRecord, except: &str) -> BTreeSet<IpAddr> {
        let mut used = BTreeSet::new();
        for c in self.containers.all() {
            if c.id == except {
                continue;
            }
            let r = c.record();
            for ep in r.networks.values().filter(|e| e.network_id == n.id) {
                for ip in [&ep.ip_address, &ep.global_ipv6_address] {
                    if let Ok(ip) = ip.parse() {
                        used.insert(ip);
                    }
                }
            }
        }
        used
    }

    /// Picks the endpoint's addresses and writes them into the record (under the
    /// allocation lock, so no address is handed out twice).
    pub(super) fn allocate_endpoint(
        &self,
        c: &Container,
        name: &str,
        n: &NetworkRecord,
        index: usize,
        default_route: bool,
    ) -> Result<Plan, ApiError> {
        let _guard = super::lock(&self.networks.alloc_lock);
        let used = self.used_addresses(n, &c.id);
        let ep = c.record().networks.get(name).cloned().unwrap_or_default();
        let wanted = ep.ipam_config.clone().unwrap_or_default();
        let mut plan = Plan {
            ifname: format!("eth{index}"),
            addrs: Vec::new(),
            gateways: Vec::new(),
            mac: None,
            host_veth: if n.driver == "bridge" {
                netlink::random_veth_name("veth")
            } else {
                String::new()
            },
            mtu: self.networks.mtu_of(n),
        };
        let mut filled = ep.clone();
        filled.network_id = n.id.clone();
        filled.endpoint_id = hex::encode(rand::random::<[u8; 32]>());
        for pool in &n.ipam.config {
            let cfg = pool_config(pool)?;
            let v6 = cfg.subnet.addr().is_ipv6();
            if v6 && !n.enable_ipv6 {
                continue;
            }
            if !v6 && !filled.ip_address.is_empty() || v6 && !filled.global_ipv6_address.is_empty()
            {
                continue;
            }
            let asked = if v6 { &wanted.ipv6 } else { &wanted.ipv4 };
            let requested = match asked.as_str() {
                "" => None,
                ip => {
                    let ip = super::manage::requested_ip(n, ip)?;
                    if !cfg.subnet.contains(&ip) {
                        continue;
                    }
                    Some(ip)
                }
            };
            let key = format!("{}/{}", n.id, cfg.subnet);
            let ip = match requested {
                Some(_) => ipam::allocate(&cfg, &used, requested),
                None => {
                    let mut last = super::lock(&self.networks.last_allocated);
                    let ip = ipam::allocate_after(&cfg, &used, last.get(&key).copied());
                    if let Ok(ip) = ip {
                        last.insert(key, ip);
                    }
                    ip
                }
            }
            .map_err(|e| ApiError::system(format!("network {}: {e}", n.name)))?;
            let gateway = ipam::gateway(&cfg);
            let prefix = cfg.subnet.prefix_len();
            plan.addrs.push((ip, prefix));
            if default_route && !n.internal {
                plan.gateways.push(gateway);
            }
            if v6 {
                filled.global_ipv6_address = ip.to_string();
                filled.global_ipv6_prefix_len = prefix;
                filled.ipv6_gateway = if n.internal {
                    String::new()
                } else {
                    gateway.to_string()
                };
            } else {
                filled.ip_address = ip.to_string();
                filled.ip_prefix_len = prefix;
                filled.gateway = if n.internal && n.driver == "bridge" {
                    String::new()
                } else {
                    gateway.to_string()
                };
                if filled.mac_address.is_empty() {
                    if let IpAddr::V4(v4) = ip {
                        filled.mac_address = ipam::format_mac(ipam::mac_for(v4));
                    }
                }
            }
        }
        plan.mac = parse_mac(&filled.mac_address);
        filled.host_veth = plan.host_veth.clone();
        filled.ifname = plan.ifname.clone();
        let r = c.record();
        let mut names = vec![r.name.clone()];
        if n.has_dns() {
            names.extend(filled.aliases.clone().unwrap_or_default());
            names.push(r.id[..12].to_string());
            // As dockerd: the hostname too, and each name once (in first-seen order).
            names.extend(r.config["Hostname"].as_str().map(str::to_string));
            let mut seen = BTreeSet::new();
            names.retain(|n| !n.is_empty() && seen.insert(n.clone()));
            filled.dns_names = Some(names);
        } else {
            filled.dns_names = None;
        }
        c.update(|r| {
            r.networks.insert(name.to_string(), filled);
        });
        Ok(plan)
    }
}

pub(super) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}
