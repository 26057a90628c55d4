//! The daemon's whole desired firewall state, written in one transaction whenever a
//! network or a published port changes, and the userland proxy for loopback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use berth_api::ApiError;
use berth_network::firewall::{Desired, NetworkRules, PortRule, Proto};

use super::ports::{Published, Reserved};
use crate::container::Container;
use crate::Daemon;

impl Daemon {
    fn desired_firewall(&self) -> Desired {
        let mut d = Desired {
            loopback_dnat: !self.networks.config.userland_proxy,
            ..Default::default()
        };
        for n in self.networks.all() {
            if n.driver != "bridge" || n.link.is_empty() {
                continue;
            }
            let flag = |k: &str| n.option(k) != Some("false");
            d.networks.push(NetworkRules {
                bridge: n.link.clone(),
                subnets: n
                    .ipam
                    .config
                    .iter()
                    .filter_map(|p| p.subnet.parse().ok())
                    .collect(),
                masquerade: flag("com.docker.network.bridge.enable_ip_masquerade"),
                internal: n.internal,
                icc: flag("com.docker.network.bridge.enable_icc"),
            });
        }
        for c in self.containers.all() {
            let r = c.record();
            let Some((ip, bridge)) = &r.port_target else {
                continue;
            };
            let Ok(container_ip) = ip.parse::<IpAddr>() else {
                continue;
            };
            for (key, b) in &r.ports {
                let Ok((container_port, proto)) = super::ports::parse_key(key) else {
                    continue;
                };
                let host_ip: Option<IpAddr> = b
                    .host_ip
                    .parse()
                    .ok()
                    .filter(|ip: &IpAddr| !ip.is_unspecified());
                // An IPv4 container is not reachable through a host IPv6 address by DNAT.
                if host_ip.is_some_and(|h| h.is_ipv6() != container_ip.is_ipv6()) {
                    continue;
                }
                d.ports.push(PortRule {
                    proto: match proto.as_str() {
                        "udp" => Proto::Udp,
                        "sctp" => Proto::Sctp,
                        _ => Proto::Tcp,
                    },
                    host_ip,
                    host_port: b.host_port.parse().unwrap_or(0),
                    container_ip,
                    container_port,
                    bridge: bridge.clone(),
                });
            }
        }
        d
    }

    /// Writes the firewall as the current networks and published ports need it.
    pub(crate) fn sync_firewall(&self) -> Result<(), ApiError> {
        let Some(fw) = &self.networks.firewall else {
            return Ok(());
        };
        let _guard = super::lock(&self.networks.firewall_lock);
        let desired = self.desired_firewall();
        fw.apply(&desired)
            .map_err(|e| ApiError::system(format!("firewall: {e}")))
    }

    /// Removes the daemon's firewall table (at shutdown with nothing running).
    pub(crate) fn remove_firewall(&self) {
        if let Some(fw) = &self.networks.firewall {
            let _guard = super::lock(&self.networks.firewall_lock);
            if let Err(e) = fw.remove() {
                tracing::warn!("remove firewall table: {e}");
            }
        }
    }

    /// With `--userland-proxy`, connections to a published TCP port on a loopback address
    /// are relayed by the daemon (the kernel DNAT does everything else).
    pub(super) fn start_proxies(
        &self,
        c: &Container,
        published: &[Published],
    ) -> Vec<tokio::task::AbortHandle> {
        if !self.networks.config.userland_proxy {
            return Vec::new();
        }
        let Some(ip) = c
            .record()
            .port_target
            .and_then(|(ip, _)| ip.parse::<IpAddr>().ok())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for p in published {
            let Reserved::Tcp(l) = &p.socket else {
                continue;
            };
            let Ok(l) = l.try_clone() else { continue };
            let _ = l.set_nonblocking(true);
            let Ok(listener) = tokio::net::TcpListener::from_std(l) else {
                continue;
            };
            let target = SocketAddr::new(ip, p.container_port);
            let task = tokio::spawn(proxy(Arc::new(listener), target));
            out.push(task.abort_handle());
        }
        out
    }
}

async fn proxy(listener: Arc<tokio::net::TcpListener>, target: SocketAddr) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            if let Ok(mut out) = tokio::net::TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
            }
        });
    }
}
