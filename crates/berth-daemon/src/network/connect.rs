//! `network connect` and `network disconnect`, of stopped containers (the record only)
//! and of running ones (an interface added to or removed from the live sandbox).

use std::sync::Arc;

use berth_api::ApiError;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::record::Endpoint;
use super::sandbox::mode_network;
use crate::Daemon;

/// An endpoint's configuration checked against its network, as dockerd checks it.
fn endpoint_config(n: &super::NetworkRecord, v: &Value) -> Result<Endpoint, ApiError> {
    let mut ep = Endpoint::from_config(v).map_err(ApiError::invalid)?;
    if !n.has_dns() && ep.aliases.as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(ApiError::invalid(
            "network-scoped alias is supported only for containers in user defined networks",
        ));
    }
    if let Some(ipam) = &ep.ipam_config {
        if !n.has_dns() && (!ipam.ipv4.is_empty() || !ipam.ipv6.is_empty()) {
            return Err(ApiError::invalid(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        for ip in [&ipam.ipv4, &ipam.ipv6]
            .into_iter()
            .filter(|i| !i.is_empty())
        {
            super::manage::requested_ip(n, ip)?;
        }
    }
    ep.network_id = n.id.clone();
    Ok(ep)
}

fn host_error() -> ApiError {
    ApiError::forbidden(
        "container cannot be disconnected from host network or connected to host network",
    )
}

impl Daemon {
    /// The endpoints a new container starts with: its `NetworkMode`'s network plus any
    /// other `NetworkingConfig.EndpointsConfig` entry (API 1.44+).
    pub(crate) fn initial_endpoints(
        &self,
        mode: &str,
        endpoints_config: &Value,
        mac_address: Option<&str>,
    ) -> Result<BTreeMap<String, Endpoint>, ApiError> {
        let mut out = BTreeMap::new();
        let Some(main) = mode_network(mode) else {
            // No endpoint to give an address to (host, none, container:).
            let asks_ip = endpoints_config.as_object().is_some_and(|m| {
                m.values().any(|v| {
                    let ipam = &v["IPAMConfig"];
                    ["IPv4Address", "IPv6Address"]
                        .iter()
                        .any(|k| ipam[k].as_str().is_some_and(|s| !s.is_empty()))
                })
            });
            if asks_ip {
                return Err(ApiError::invalid(
                    "user specified IP address is supported on user defined networks only",
                ));
            }
            return Ok(out);
        };
        let n = self
            .networks
            .find(main)
            .map_err(|_| super::not_found(mode))?;
        if !n.has_endpoints() && n.driver != "bridge" {
            return Ok(out);
        }
        let empty = Map::new();
        let configs = endpoints_config.as_object().unwrap_or(&empty);
        let main_config = configs
            .iter()
            .find(|(k, _)| *k == mode || **k == n.name || *k == &n.id || *k == "default")
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null);
        let mut ep = endpoint_config(&n, &main_config)?;
        if let Some(mac) = mac_address.filter(|m| !m.is_empty()) {
            ep.mac_address = mac.to_string();
            ep.user_mac = true;
        }
        out.insert(n.name.clone(), ep);
        for (k, v) in configs {
            if k == mode || *k == n.name || k == &n.id || k == "default" {
                continue;
            }
            let other = self.networks.find(k)?;
            out.insert(other.name.clone(), endpoint_config(&other, v)?);
        }
        Ok(out)
    }

    /// `POST /networks/{id}/connect`.
    pub async fn connect_network(
        self: &Arc<Self>,
        net: &str,
        body: &Value,
    ) -> Result<(), ApiError> {
        let n = self.networks.find(net)?;
        let target = body["Container"].as_str().unwrap_or("");
        let c = self.find_container(target)?;
        let _op = c.op.lock().await;
        let r = c.record();
        let mode = r.host_config["NetworkMode"].as_str().unwrap_or("default");
        if mode == "host" || n.driver == "host" {
            return Err(host_error());
        }
        if mode_network(mode).is_none() || n.driver == "null" {
            return Err(ApiError::forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if r.networks.contains_key(&n.name) || r.networks.values().any(|e| e.network_id == n.id) {
            return Err(ApiError::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                r.name, n.name
            )));
        }
        let ep = endpoint_config(&n, &body["EndpointConfig"])?;
        c.update(|r| r.networks.insert(n.name.clone(), ep));
        if r.state.running {
            if let Some(path) = self.sandbox_path(&c.id) {
                let daemon = self.clone();
                let (c2, n2) = (c.clone(), n.clone());
                let attached =
                    tokio::task::spawn_blocking(move || daemon.attach_live(&c2, &n2, &path))
                        .await
                        .map_err(|e| ApiError::system(e.to_string()))?;
                if let Err(e) = attached {
                    c.update(|r| r.networks.remove(&n.name));
                    self.persist(&c);
                    return Err(e);
                }
                if n.has_dns() {
                    self.ensure_dns(&c)?;
                }
            }
        }
        self.persist(&c);
        self.network_event(&n, "connect", &[("container", c.id.clone())]);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(
        self: &Arc<Self>,
        net: &str,
        body: &Value,
    ) -> Result<(), ApiError> {
        let target = body["Container"].as_str().unwrap_or("");
        let force = body["Force"].as_bool().unwrap_or(false);
        let found = self.networks.find(net);
        let c = self.find_container(target)?;
        let _op = c.op.lock().await;
        let r = c.record();
        let mode = r.host_config["NetworkMode"].as_str().unwrap_or("default");
        let n = match found {
            Ok(n) => n,
            Err(e) if !force => return Err(e),
            Err(_) => {
                // A network removed under a stopped container: forget the endpoint.
                c.update(|r| r.networks.remove(net));
                self.persist(&c);
                return Ok(());
            }
        };
        if mode == "host" || n.driver == "host" {
            return Err(host_error());
        }
        let Some((name, ep)) = r
            .networks
            .iter()
            .find(|(name, e)| e.network_id == n.id || **name == n.name)
            .map(|(k, v)| (k.clone(), v.clone()))
        else {
            return Err(ApiError::forbidden(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        };
        let ep_ifname = ep.ifname.clone();
        if r.state.running {
            let daemon = self.clone();
            let ports_here = r
                .port_target
                .as_ref()
                .is_some_and(|(_, link)| *link == n.link);
            tokio::task::spawn_blocking(move || {
                daemon.networks.detach_host(&ep.host_veth);
                if ports_here {
                    let _ = daemon.sync_firewall();
                }
            })
            .await
            .map_err(|e| ApiError::system(e.to_string()))?;
            if let (Some(path), false) = (self.sandbox_path(&c.id), ep_ifname.is_empty()) {
                // macvlan/ipvlan have no host side: remove the interface inside.
                self.networks.detach_inside(&path, &ep_ifname);
            }
        }
        c.update(|r| {
            r.networks.remove(&name);
        });
        self.persist(&c);
        self.network_event(&n, "disconnect", &[("container", c.id.clone())]);
        Ok(())
    }

    /// Adds an endpoint to a running container's sandbox.
    fn attach_live(
        &self,
        c: &crate::container::Container,
        n: &super::NetworkRecord,
        path: &std::path::Path,
    ) -> Result<(), ApiError> {
        let r = c.record();
        let used: Vec<String> = r.networks.values().map(|e| e.ifname.clone()).collect();
        let index = (0..)
            .find(|i| !used.contains(&format!("eth{i}")))
            .unwrap_or(0);
        let routed = r.networks.values().any(|e| !e.gateway.is_empty());
        let plan = self.allocate_endpoint(c, &n.name, n, index, !routed && !n.internal)?;
        if let Err(e) = self.networks.attach(n, &plan, path) {
            c.update(|r| {
                if let Some(ep) = r.networks.get_mut(&n.name) {
                    ep.clear_runtime();
                }
            });
            return Err(e);
        }
        Ok(())
    }
}
