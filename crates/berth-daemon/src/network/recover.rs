//! After a daemon restart or crash: running containers get their DNS server and port
//! reservations back; what exited containers or a crash left (namespaces, veths,
//! addresses in records, firewall rules) is removed.

use std::sync::Arc;

use berth_network::netns;

use super::ports;
use super::sandbox::Sandbox;
use crate::Daemon;

impl Daemon {
    pub(crate) async fn recover_networks(self: &Arc<Self>) {
        for c in self.containers.all() {
            let r = c.record();
            let path = self.networks.netns_path(&c.id);
            if !r.state.running {
                let leftover = path.exists()
                    || !r.ports.is_empty()
                    || r.networks
                        .values()
                        .any(|e| !e.host_veth.is_empty() || !e.ip_address.is_empty());
                if leftover {
                    self.network_down(&c).await;
                }
                continue;
            }
            if !path.exists() || self.sandbox_path(&c.id).is_some() {
                continue;
            }
            let published = ports::hold_again(&c.id, &r.ports);
            let wants_dns = r
                .networks
                .values()
                .any(|e| self.networks.find(&e.network_id).is_ok_and(|n| n.has_dns()));
            let dns = if wants_dns {
                self.serve_dns_again(&r, &path)
            } else {
                None
            };
            let proxies = self.start_proxies(&c, &published);
            super::lock(&self.networks.sandboxes).insert(
                c.id.clone(),
                Sandbox::restored(path, dns, published, proxies),
            );
        }
        // Namespaces no running container owns.
        for path in netns::list(&self.networks.netns_dir) {
            let owned = self
                .containers
                .all()
                .iter()
                .any(|c| c.is_running() && self.networks.netns_path(&c.id) == path);
            if !owned {
                tracing::warn!("removing leftover network namespace {}", path.display());
                let _ = netns::remove(&path);
            }
        }
        if let Err(e) = self.sync_firewall() {
            tracing::warn!("firewall: {}", e.message);
        }
    }

    fn serve_dns_again(
        &self,
        r: &crate::container::Record,
        path: &std::path::Path,
    ) -> Option<berth_network::dns::Served> {
        let id = &r.id;
        match netns::run_in(path, berth_network::dns::bind_internal) {
            Ok(Ok((udp, tcp))) => self
                .dns_server_for(r)
                .serve(id.to_string(), udp, tcp)
                .map_err(|e| tracing::warn!("embedded DNS of {id}: {e}"))
                .ok(),
            Ok(Err(e)) => {
                tracing::warn!("embedded DNS of {id}: {e}");
                None
            }
            Err(e) => {
                tracing::warn!("embedded DNS of {id}: {e}");
                None
            }
        }
    }

    /// At shutdown: with nothing running, the daemon's firewall table and bridges go too,
    /// so a stopped daemon leaves nothing in the host's network configuration.
    pub fn shutdown_networks(&self) {
        if self.containers.all().iter().any(|c| c.is_running()) {
            return;
        }
        self.remove_firewall();
        for n in self.networks.all() {
            if let Err(e) = self.networks.link_down(&n) {
                tracing::warn!("network {}: {}", n.name, e.message);
            }
        }
    }
}
