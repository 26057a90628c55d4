//! What the drivers do with links: a network's bridge (or macvlan/ipvlan parent) on the
//! host, and an endpoint's interface inside a sandbox.

use std::net::IpAddr;
use std::path::Path;

use berth_api::ApiError;
use berth_network::netlink::{IpvlanMode, MacvlanMode, Netlink};
use berth_network::{ipam, netns, sysctl};

use super::{NetworkRecord, Networks};

/// An endpoint to bring up in a sandbox.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The interface name inside the container (`eth0`, `eth1`, ...).
    pub ifname: String,
    pub addrs: Vec<(IpAddr, u8)>,
    /// Gateways for the default routes (none on internal networks or later endpoints).
    pub gateways: Vec<IpAddr>,
    pub mac: Option<[u8; 6]>,
    /// The host side of a bridge endpoint's veth pair.
    pub host_veth: String,
    pub mtu: Option<u32>,
}

fn sys(e: impl std::fmt::Display) -> ApiError {
    ApiError::system(e.to_string())
}

impl Networks {
    pub(super) fn mtu_of(&self, n: &NetworkRecord) -> Option<u32> {
        n.option("com.docker.network.driver.mtu")
            .and_then(|m| m.parse().ok())
            .filter(|m| *m > 0)
            .or(if n.name == "bridge" {
                self.config.mtu
            } else {
                None
            })
    }

    /// The network's link on the host: its bridge with the gateway addresses, up. Also
    /// repairs a bridge that a crash or an admin removed.
    pub(super) fn link_up(&self, n: &NetworkRecord) -> Result<(), ApiError> {
        match n.driver.as_str() {
            "bridge" => {
                let mtu = self.mtu_of(n);
                self.with_host(|nl| {
                    let idx = nl.add_bridge(&n.link, mtu)?;
                    for pool in &n.ipam.config {
                        if let Ok(p) = pool_config(pool) {
                            nl.add_address(idx, ipam::gateway(&p), p.subnet.prefix_len())?;
                        }
                    }
                    nl.set_up(idx)
                })?;
                if self.config.ip_forward {
                    let _ = sysctl::set("net.ipv4.ip_forward", "1");
                    if n.enable_ipv6 {
                        let _ = sysctl::set("net.ipv6.conf.all.forwarding", "1");
                    }
                }
                if !self.config.userland_proxy {
                    // Lets the kernel DNAT 127.0.0.1:port to a container (the firewall
                    // drops anything else to 127/8 arriving on the bridge).
                    sysctl::set(&format!("net.ipv4.conf.{}.route_localnet", n.link), "1")
                        .map_err(sys)?;
                }
                Ok(())
            }
            "macvlan" | "ipvlan" => {
                if n.link.starts_with("dm-") {
                    self.with_host(|nl| {
                        let idx = match nl.link(&n.link)? {
                            Some(l) => l.index,
                            None => nl.add_dummy(&n.link)?,
                        };
                        nl.set_up(idx)
                    })?;
                } else if self.with_host(|nl| nl.link(&n.link))?.is_none() {
                    return Err(ApiError::invalid(format!(
                        "-o parent interface was not found on the host: {}",
                        n.link
                    )));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Removes the network's link (a bridge, or the dummy parent berth made).
    pub(super) fn link_down(&self, n: &NetworkRecord) -> Result<(), ApiError> {
        let owned = n.driver == "bridge" || n.link.starts_with("dm-");
        if !owned || n.link.is_empty() {
            return Ok(());
        }
        self.with_host(|nl| match nl.link(&n.link)? {
            Some(l) => nl.del_link(l.index),
            None => Ok(()),
        })
    }

    /// Creates the endpoint's interface in the sandbox at `netns_path` and configures it.
    pub(super) fn attach(
        &self,
        n: &NetworkRecord,
        plan: &Plan,
        netns_path: &Path,
    ) -> Result<(), ApiError> {
        let ns = netns::open(netns_path).map_err(sys)?;
        use std::os::fd::AsFd;
        match n.driver.as_str() {
            "bridge" => self.with_host(|nl| {
                let bridge = match nl.link(&n.link)? {
                    Some(l) => l.index,
                    None => nl.add_bridge(&n.link, plan.mtu)?,
                };
                let idx = nl.add_veth(&plan.host_veth, &plan.ifname, Some(ns.as_fd()), plan.mtu)?;
                let configured = nl
                    .set_master(idx, bridge)
                    .and_then(|_| nl.set_hairpin(idx, true))
                    .and_then(|_| nl.set_up(idx));
                if configured.is_err() {
                    let _ = nl.del_link(idx);
                }
                configured
            })?,
            "macvlan" | "ipvlan" => {
                let mode = n.option("macvlan_mode").or(n.option("ipvlan_mode"));
                self.with_host(|nl| {
                    let parent = nl.link(&n.link)?.map(|l| l.index).unwrap_or(0);
                    if n.driver == "macvlan" {
                        let mode = match mode {
                            Some("private") => MacvlanMode::Private,
                            Some("vepa") => MacvlanMode::Vepa,
                            Some("passthru") => MacvlanMode::Passthru,
                            _ => MacvlanMode::Bridge,
                        };
                        nl.add_macvlan(&plan.ifname, parent, mode, Some(ns.as_fd()))
                    } else {
                        let mode = match mode {
                            Some("l3") => IpvlanMode::L3,
                            Some("l3s") => IpvlanMode::L3s,
                            _ => IpvlanMode::L2,
                        };
                        nl.add_ipvlan(&plan.ifname, parent, mode, Some(ns.as_fd()))
                    }
                })?
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "network {}: driver {other} has no endpoints",
                    n.name
                )))
            }
        }
        let inside = plan.clone();
        let ipvlan = n.driver == "ipvlan";
        let result = netns::run_in(netns_path, move || -> Result<(), String> {
            let mut nl = Netlink::open().map_err(|e| e.to_string())?;
            let link = nl
                .link(&inside.ifname)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{} missing in the sandbox", inside.ifname))?;
            if let (Some(mac), false) = (inside.mac, ipvlan) {
                nl.set_mac(link.index, mac).map_err(|e| e.to_string())?;
            }
            for (addr, prefix) in &inside.addrs {
                nl.add_address(link.index, *addr, *prefix)
                    .map_err(|e| e.to_string())?;
            }
            nl.set_up(link.index).map_err(|e| e.to_string())?;
            for gw in &inside.gateways {
                nl.add_route(None, Some(*gw), link.index)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .map_err(sys)?;
        if let Err(e) = result {
            self.detach_host(&plan.host_veth);
            return Err(ApiError::system(format!(
                "configure {} in the sandbox on network {}: {e}",
                plan.ifname, n.name
            )));
        }
        Ok(())
    }

    /// Removes the host side of an endpoint (its veth peer goes with it).
    pub(super) fn detach_host(&self, host_veth: &str) {
        if host_veth.is_empty() {
            return;
        }
        let r = self.with_host(|nl| match nl.link(host_veth)? {
            Some(l) => nl.del_link(l.index),
            None => Ok(()),
        });
        if let Err(e) = r {
            tracing::warn!("remove veth {host_veth}: {}", e.message);
        }
    }

    /// Removes an interface inside a live sandbox (disconnect of a running container).
    pub(super) fn detach_inside(&self, netns_path: &Path, ifname: &str) {
        let ifname = ifname.to_string();
        let _ = netns::run_in(netns_path, move || {
            let mut nl = Netlink::open().ok()?;
            let l = nl.link(&ifname).ok()??;
            nl.del_link(l.index).ok()
        });
    }
}

/// Deletes host links by name on a netlink socket of the calling thread (absent = done).
pub fn delete_links(names: &[String]) {
    let Ok(mut nl) = Netlink::open() else {
        return;
    };
    for name in names {
        let r = match nl.link(name) {
            Ok(Some(l)) => nl.del_link(l.index),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            tracing::warn!("remove veth {name}: {e}");
        }
    }
}

/// A stored `IPAM.Config` entry as the allocator's pool.
pub fn pool_config(p: &super::record::IpamPool) -> Result<ipam::PoolConfig, ApiError> {
    let gateway = (!p.gateway.is_empty()).then_some(p.gateway.as_str());
    let range = (!p.ip_range.is_empty()).then_some(p.ip_range.as_str());
    ipam::parse_pool(&p.subnet, gateway, range, &p.aux_addresses)
        .map_err(|e| ApiError::invalid(e.to_string()))
}
