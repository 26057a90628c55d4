//! A running container's sandbox: its network namespace (bind-mounted under the exec
//! root), one interface per network, published ports and the embedded DNS server.
//!
//! `network_up` runs before the container's process starts and `network_down` after it
//! exits; what `up` made is in the record (veth names, addresses) so that `down`, or the
//! next daemon start after a crash, can remove it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use berth_api::ApiError;
use berth_network::{dns, ipam, netns};

use super::bridge::pool_config;
use super::ports::{self, PortBinding, Published};
use super::record::Endpoint;
use crate::container::Container;
use crate::Daemon;

/// What the daemon holds for a running container's network (dropped = released).
pub struct Sandbox {
    pub netns: PathBuf,
    _dns: Option<dns::Served>,
    _ports: Vec<Published>,
    proxies: Vec<tokio::task::AbortHandle>,
}

impl Sandbox {
    pub fn restored(
        netns: PathBuf,
        dns: Option<dns::Served>,
        ports: Vec<Published>,
        proxies: Vec<tokio::task::AbortHandle>,
    ) -> Sandbox {
        Sandbox {
            netns,
            _dns: dns,
            _ports: ports,
            proxies,
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for p in &self.proxies {
            p.abort();
        }
    }
}

fn sys(e: impl std::fmt::Display) -> ApiError {
    ApiError::system(e.to_string())
}

/// The network a container's `NetworkMode` names (`default` is the default bridge).
pub fn mode_network(mode: &str) -> Option<&str> {
    match mode {
        "" | "default" | "bridge" => Some("bridge"),
        "host" | "none" => None,
        m if m.starts_with("container:") => None,
        m => Some(m),
    }
}

/// Whether the container gets a sandbox of its own with endpoints.
pub fn has_sandbox(mode: &str) -> bool {
    mode_network(mode).is_some()
}

impl Daemon {
    /// Sets up the sandbox before the container's process starts; returns the network
    /// namespace to join (`None` when the container has none of its own).
    pub(crate) async fn network_up(
        self: &Arc<Self>,
        c: &Arc<Container>,
    ) -> Result<Option<PathBuf>, ApiError> {
        let r = c.record();
        let mode = r.host_config["NetworkMode"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        if !has_sandbox(&mode) {
            return Ok(None);
        }
        let daemon = self.clone();
        let c2 = c.clone();
        let up = tokio::task::spawn_blocking(move || daemon.network_up_blocking(&c2))
            .await
            .map_err(sys)?;
        let (path, published, wants_dns) = match up {
            Ok(v) => v,
            Err(e) => {
                self.network_down(c).await;
                return Err(e);
            }
        };
        let served = if wants_dns {
            match self.serve_dns(c, &path) {
                Ok(s) => Some(s),
                Err(e) => {
                    drop(published);
                    self.network_down(c).await;
                    return Err(e);
                }
            }
        } else {
            None
        };
        let proxies = self.start_proxies(c, &published);
        super::lock(&self.networks.sandboxes).insert(
            c.id.clone(),
            Sandbox {
                netns: path.clone(),
                _dns: served,
                _ports: published,
                proxies,
            },
        );
        self.persist(c);
        Ok(Some(path))
    }

    fn network_up_blocking(
        &self,
        c: &Container,
    ) -> Result<(PathBuf, Vec<Published>, bool), ApiError> {
        let path = self.networks.netns_path(&c.id);
        let _ = netns::remove(&path);
        let userns = self.userns_path(&c.id);
        if userns.exists() {
            // A remapped container's network namespace belongs to its user namespace: it
            // could not join one of the host's, nor mount sysfs for it.
            let holder = berth_runtime::userns::new_network_namespace_in(&userns).map_err(sys)?;
            netns::create_from(&path, &holder.ns_path("net")).map_err(sys)?;
        } else {
            netns::create(&path).map_err(sys)?;
        }
        let r = c.record();
        let mut names = self.ordered_endpoints(&r);
        if names.is_empty() {
            // Created before berth had networks, or the default network was disconnected.
            let mode = r.host_config["NetworkMode"].as_str().unwrap_or("default");
            let net = mode_network(mode).unwrap_or("bridge").to_string();
            let n = self
                .networks
                .find(&net)
                .map_err(|_| super::not_found(&net))?;
            c.update(|r| {
                r.networks.insert(
                    n.name.clone(),
                    Endpoint {
                        network_id: n.id.clone(),
                        ..Default::default()
                    },
                )
            });
            names.push(n.name);
        }
        let mut wants_dns = false;
        let mut own_lines = Vec::new();
        let mut port_target: Option<(IpAddr, String)> = None;
        let mut routed = false;
        for (i, name) in names.iter().enumerate() {
            let ep = c.record().networks.get(name).cloned().unwrap_or_default();
            let n = self.endpoint_network(name, &ep)?;
            if !n.has_endpoints() {
                continue;
            }
            let default_route = !routed && !n.internal;
            let plan = self.allocate_endpoint(c, name, &n, i, default_route)?;
            routed |= !plan.gateways.is_empty();
            self.networks.attach(&n, &plan, &path)?;
            self.network_event(&n, "connect", &[("container", c.id.clone())]);
            wants_dns |= n.has_dns();
            if let Some((ip, _)) = plan.addrs.first() {
                own_lines.push(format!(
                    "{ip}\t{}",
                    r.config["Hostname"].as_str().unwrap_or("")
                ));
                if port_target.is_none() && n.driver == "bridge" {
                    port_target = Some((*ip, n.link.clone()));
                }
            }
        }
        // Ports: published on the first bridge endpoint's address.
        let endpoint_id = c
            .record()
            .networks
            .values()
            .next()
            .map(|e| e.endpoint_id.clone())
            .unwrap_or_default();
        let published = match &port_target {
            Some(_) => ports::publish(
                &r.config,
                &r.host_config,
                &self.networks.config.default_bind_ip,
                &r.name,
                &endpoint_id,
            )?,
            None => Vec::new(),
        };
        let bindings: Vec<(String, PortBinding)> = published
            .iter()
            .map(|p| {
                (
                    p.key.clone(),
                    PortBinding {
                        host_ip: p.host_ip.to_string(),
                        host_port: p.host_port.to_string(),
                    },
                )
            })
            .collect();
        c.update(|r| {
            r.ports = bindings;
            r.port_target = port_target.clone().map(|(ip, link)| (ip.to_string(), link));
        });
        self.write_network_files(c, &own_lines, wants_dns)?;
        if !published.is_empty() {
            self.sync_firewall()?;
        }
        Ok((path, published, wants_dns))
    }

    /// /etc/hosts with the container's addresses and links, resolv.conf for its DNS.
    fn write_network_files(
        &self,
        c: &Container,
        own: &[String],
        internal_dns: bool,
    ) -> Result<(), ApiError> {
        let r = c.record();
        let dir = self.container_dir(&c.id);
        let strs = |k: &str| crate::container::str_list(&r.host_config[k]);
        let gateway = self
            .networks
            .find("bridge")
            .ok()
            .and_then(|n| n.ipam.config.first().and_then(|p| pool_config(p).ok()))
            .map(|p| ipam::gateway(&p).to_string());
        let extra: Vec<String> = strs("ExtraHosts")
            .into_iter()
            .map(|h| match (&gateway, h.rsplit_once([':', '='])) {
                (Some(gw), Some((name, "host-gateway"))) => format!("{name}:{gw}"),
                _ => h,
            })
            .collect();
        let mut lines = self.link_host_lines(&r);
        lines.extend(own.iter().cloned());
        let io = |e: std::io::Error| ApiError::system(format!("container {}: {e}", c.id));
        crate::container::files::write_hosts(&dir, &extra, &lines).map_err(io)?;
        if internal_dns {
            crate::container::files::write_resolv_conf_internal(
                &dir,
                &strs("DnsSearch"),
                &strs("DnsOptions"),
            )
            .map_err(io)?;
        }
        Ok(())
    }

    /// A running container connected to its first user-defined network gets the embedded
    /// DNS server, and its resolv.conf points there (as dockerd rebuilds it).
    pub(super) fn ensure_dns(&self, c: &Container) -> Result<(), ApiError> {
        let path = {
            let boxes = super::lock(&self.networks.sandboxes);
            match boxes.get(&c.id) {
                Some(s) if s._dns.is_none() => s.netns.clone(),
                _ => return Ok(()),
            }
        };
        let served = self.serve_dns(c, &path)?;
        if let Some(s) = super::lock(&self.networks.sandboxes).get_mut(&c.id) {
            s._dns = Some(served);
        }
        let r = c.record();
        let strs = |k: &str| crate::container::str_list(&r.host_config[k]);
        crate::container::files::write_resolv_conf_internal(
            &self.container_dir(&c.id),
            &strs("DnsSearch"),
            &strs("DnsOptions"),
        )
        .map_err(|e| ApiError::system(format!("container {}: {e}", c.id)))
    }

    fn serve_dns(&self, c: &Container, path: &std::path::Path) -> Result<dns::Served, ApiError> {
        let (udp, tcp) = netns::run_in(path, dns::bind_internal)
            .map_err(sys)?
            .map_err(|e| ApiError::system(format!("embedded DNS for {}: {e}", c.id)))?;
        self.dns_server_for(&c.record())
            .serve(c.id.clone(), udp, tcp)
            .map_err(|e| ApiError::system(format!("embedded DNS for {}: {e}", c.id)))
    }

    /// After the process exited (or a failed start): releases addresses, ports, links and
    /// the namespace. Never fails: what it cannot remove is logged and retried at the next
    /// daemon start.
    pub(crate) async fn network_down(self: &Arc<Self>, c: &Arc<Container>) {
        let sandbox = super::lock(&self.networks.sandboxes).remove(&c.id);
        drop(sandbox);
        let daemon = self.clone();
        let c2 = c.clone();
        let _ = tokio::task::spawn_blocking(move || daemon.network_down_blocking(&c2)).await;
        self.persist(c);
    }

    pub(crate) fn network_down_blocking(&self, c: &Container) {
        let r = c.record();
        let veths: Vec<String> = r
            .networks
            .values()
            .map(|e| e.host_veth.clone())
            .filter(|v| !v.is_empty())
            .collect();
        // Deleting a link waits for the kernel's RCU grace periods (~20 ms each): off the
        // exit path, on a socket of its own.
        if !veths.is_empty() {
            std::thread::spawn(move || super::bridge::delete_links(&veths));
        }
        for ep in r.networks.values() {
            if !ep.endpoint_id.is_empty() {
                if let Ok(n) = self.networks.find(&ep.network_id) {
                    self.network_event(&n, "disconnect", &[("container", c.id.clone())]);
                }
            }
        }
        let path = self.networks.netns_path(&c.id);
        if let Err(e) = netns::remove(&path) {
            tracing::warn!("remove network namespace of {}: {e}", c.id);
        }
        let had_ports = !r.ports.is_empty();
        c.update(|r| {
            for ep in r.networks.values_mut() {
                ep.clear_runtime();
            }
            r.ports.clear();
            r.port_target = None;
        });
        if had_ports {
            if let Err(e) = self.sync_firewall() {
                tracing::warn!("firewall after {} stopped: {}", c.id, e.message);
            }
        }
    }

    pub(crate) fn sandbox_path(&self, id: &str) -> Option<PathBuf> {
        super::lock(&self.networks.sandboxes)
            .get(id)
            .map(|s| s.netns.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::endpoint::parse_mac;
    use super::super::links::parse_link;
    use super::*;

    #[test]
    fn links_and_macs() {
        assert_eq!(parse_link("db:d"), Some(("db".into(), "d".into())));
        assert_eq!(parse_link("/db:/web/d"), Some(("db".into(), "d".into())));
        assert_eq!(parse_link("db"), Some(("db".into(), "db".into())));
        assert_eq!(
            parse_mac("02:42:ac:11:00:02"),
            Some([2, 0x42, 0xac, 0x11, 0, 2])
        );
        assert_eq!(parse_mac("zz"), None);
        assert_eq!(mode_network("default"), Some("bridge"));
        assert_eq!(mode_network("container:x"), None);
        assert_eq!(mode_network("mynet"), Some("mynet"));
    }
}
