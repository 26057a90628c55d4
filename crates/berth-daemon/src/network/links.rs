//! Legacy `--link` on the default bridge: `/etc/hosts` entries (see `sandbox`) and the
//! environment variables docker gives the linking container.

use berth_api::ApiError;

use super::ports::parse_key;
use crate::container::{str_list, Record};
use crate::Daemon;

impl Daemon {
    /// `db:alias` → `/db:/me/alias`, as dockerd stores `HostConfig.Links`; the target must
    /// exist.
    pub(crate) fn normalize_links(
        &self,
        me: &str,
        links: &[String],
    ) -> Result<Vec<String>, ApiError> {
        links
            .iter()
            .map(|l| {
                let (target, alias) =
                    parse_link(l).ok_or_else(|| ApiError::invalid(format!("invalid link: {l}")))?;
                let c = self.containers.find(&target).map_err(|_| {
                    ApiError::invalid(format!("could not get container for {target}"))
                })?;
                Ok(format!("/{}:/{me}/{alias}", c.name()))
            })
            .collect()
    }

    /// `ip\talias id name` lines for `--link`ed containers that are running.
    pub(super) fn link_host_lines(&self, r: &crate::container::Record) -> Vec<String> {
        let mut out = Vec::new();
        for link in crate::container::str_list(&r.host_config["Links"]) {
            let Some((target, alias)) = parse_link(&link) else {
                continue;
            };
            let Ok(t) = self.containers.find(&target) else {
                continue;
            };
            let tr = t.record();
            if let Some(ip) = tr
                .networks
                .values()
                .map(|e| &e.ip_address)
                .find(|ip| !ip.is_empty())
            {
                let names = if alias == tr.name {
                    format!("{alias} {}", &tr.id[..12])
                } else {
                    format!("{alias} {} {}", &tr.id[..12], tr.name)
                };
                out.push(format!("{ip}\t{names}"));
            }
        }
        out
    }

    /// `ALIAS_PORT_80_TCP=tcp://ip:80`, `ALIAS_NAME=/me/alias`, `ALIAS_ENV_X=...` for each
    /// link; a link to a container that is not running is refused, as docker does.
    pub(crate) fn link_env(&self, r: &Record) -> Result<Vec<String>, ApiError> {
        let mut env = Vec::new();
        for link in str_list(&r.host_config["Links"]) {
            let Some((target, alias)) = parse_link(&link) else {
                continue;
            };
            let t = self.containers.find(&target)?.record();
            if !t.state.running {
                return Err(ApiError::invalid(format!(
                    "Cannot link to a non running container: /{} AS /{}/{alias}",
                    t.name, r.name
                )));
            }
            let ip = t
                .networks
                .get("bridge")
                .map(|e| e.ip_address.clone())
                .unwrap_or_default();
            let prefix = alias.to_ascii_uppercase().replace('-', "_");
            env.push(format!("{prefix}_NAME=/{}/{alias}", r.name));
            let mut ports: Vec<(u16, String)> = t.config["ExposedPorts"]
                .as_object()
                .map(|m| m.keys().filter_map(|k| parse_key(k).ok()).collect())
                .unwrap_or_default();
            ports.sort();
            if let Some((port, proto)) = ports.first() {
                env.push(format!("{prefix}_PORT={proto}://{ip}:{port}"));
            }
            for (port, proto) in &ports {
                let key = format!("{prefix}_PORT_{port}_{}", proto.to_ascii_uppercase());
                env.push(format!("{key}={proto}://{ip}:{port}"));
                env.push(format!("{key}_ADDR={ip}"));
                env.push(format!("{key}_PORT={port}"));
                env.push(format!("{key}_PROTO={proto}"));
            }
            for var in str_list(&t.config["Env"]) {
                if let Some((k, v)) = var.split_once('=') {
                    if k != "HOME" && k != "PATH" {
                        env.push(format!("{prefix}_ENV_{k}={v}"));
                    }
                }
            }
        }
        Ok(env)
    }
}

/// `name:alias` or `/name:/me/alias` → (name, alias).
pub fn parse_link(link: &str) -> Option<(String, String)> {
    let (target, alias) = link.split_once(':').unwrap_or((link, link));
    let target = target.trim_start_matches('/').to_string();
    let alias = alias.rsplit('/').next().unwrap_or(alias).to_string();
    (!target.is_empty() && !alias.is_empty()).then_some((target, alias))
}
