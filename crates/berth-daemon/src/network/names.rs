//! What the embedded DNS server answers: names of the containers that share a
//! user-defined network with the asking container (name, short id, aliases, link
//! aliases, `name.network`).

use std::net::IpAddr;
use std::sync::{Arc, Weak};

use berth_network::dns::{self, Answer, Names};

use crate::container::Record;
use crate::Daemon;

struct DaemonNames(Weak<Daemon>);

/// The asking container's record and its DNS-serving networks as (id, name).
type Asker = (Arc<Daemon>, Record, Vec<(String, String)>);

impl DaemonNames {
    fn context(&self, from: &str) -> Option<Asker> {
        let d = self.0.upgrade()?;
        let r = d.containers.find(from).ok()?.record();
        let nets = r
            .networks
            .iter()
            .filter_map(|(name, ep)| {
                let n = d.networks.find(&ep.network_id).ok()?;
                n.has_dns().then(|| (ep.network_id.clone(), name.clone()))
            })
            .collect();
        Some((d, r, nets))
    }
}

impl Names for DaemonNames {
    fn lookup(&self, from: &str, name: &str) -> Answer {
        let Some((d, me, nets)) = self.context(from) else {
            return Answer::NotOurs;
        };
        // A link alias of the asking container names another container.
        let mut wanted = name.to_string();
        for link in me
            .networks
            .values()
            .flat_map(|e| e.links.clone().unwrap_or_default())
        {
            if let Some((target, alias)) = super::links::parse_link(&link) {
                if alias.eq_ignore_ascii_case(name) {
                    wanted = target.to_ascii_lowercase();
                }
            }
        }
        let mut found = false;
        let mut addrs = Vec::new();
        for c in d.containers.all() {
            let r = c.record();
            if !r.state.running {
                continue;
            }
            for (net_id, net_name) in &nets {
                let Some(ep) = r.networks.values().find(|e| &e.network_id == net_id) else {
                    continue;
                };
                let mut names: Vec<String> = ep.dns_names.clone().unwrap_or_default();
                names.push(r.name.clone());
                let hit = names.iter().any(|n| {
                    n.eq_ignore_ascii_case(&wanted)
                        || format!("{n}.{net_name}").eq_ignore_ascii_case(&wanted)
                });
                if hit {
                    found = true;
                    for ip in [&ep.ip_address, &ep.global_ipv6_address] {
                        if let Ok(ip) = ip.parse::<IpAddr>() {
                            if !addrs.contains(&ip) {
                                addrs.push(ip);
                            }
                        }
                    }
                }
            }
        }
        if found {
            Answer::Addresses(addrs)
        } else {
            Answer::NotOurs
        }
    }

    fn reverse(&self, from: &str, ip: IpAddr) -> Option<String> {
        let (d, _, nets) = self.context(from)?;
        let text = ip.to_string();
        for c in d.containers.all() {
            let r = c.record();
            for (net_id, net_name) in &nets {
                let hit = r.networks.values().any(|e| {
                    &e.network_id == net_id
                        && (e.ip_address == text || e.global_ipv6_address == text)
                });
                if hit && r.state.running {
                    return Some(format!("{}.{net_name}", r.name));
                }
            }
        }
        None
    }

    fn may_forward(&self, from: &str) -> bool {
        let Some((d, _, nets)) = self.context(from) else {
            return true;
        };
        nets.iter()
            .any(|(id, _)| d.networks.find(id).is_ok_and(|n| !n.internal))
    }
}

impl Daemon {
    /// The DNS server of every sandbox (made once the daemon is shared).
    pub(crate) fn init_dns(self: &Arc<Self>) {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let mut upstreams = dns::upstreams_from_resolv_conf(&text);
        if upstreams.is_empty() {
            // Docker's fallback when the host names no resolver.
            upstreams = ["8.8.8.8:53", "8.8.4.4:53"]
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect();
        }
        let names: Arc<dyn Names> = Arc::new(DaemonNames(Arc::downgrade(self)));
        let server = dns::Server::new(names.clone(), upstreams);
        let _ = self.networks.dns.set((server, names));
    }

    /// The server for a container: the shared one, or one forwarding to its `--dns`
    /// servers (its resolv.conf names 127.0.0.11 either way, as docker writes it).
    pub(crate) fn dns_server_for(&self, r: &Record) -> Arc<dns::Server> {
        let (shared, names) = self
            .networks
            .dns
            .get()
            .cloned()
            .expect("init_dns runs when the daemon opens");
        let own: Vec<std::net::SocketAddr> = crate::container::str_list(&r.host_config["Dns"])
            .iter()
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .map(|ip| std::net::SocketAddr::new(ip, 53))
            .collect();
        if own.is_empty() {
            return shared;
        }
        dns::Server::new(names, own)
    }
}
