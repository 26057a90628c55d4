//! Networks: the records (`bridge`, `host`, `none` and user-defined ones), their drivers'
//! links on the host, and each running container's sandbox (its network namespace,
//! endpoints, published ports and DNS).
//!
//! Addresses are not kept in a separate allocator state: they live in the container
//! records, so after a crash the next start sees exactly what is in use.

mod api_view;
mod bridge;
mod connect;
mod endpoint;
mod firewall;
mod links;
mod manage;
mod names;
pub mod ports;
pub mod record;
mod recover;
mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use berth_api::ApiError;
use berth_network::netlink::Netlink;

use crate::config::NetworkConfig;
use crate::store::JsonTable;
pub use record::{Endpoint, NetworkRecord};
use sandbox::Sandbox;

/// Every network the daemon knows, and what it holds on the host for them.
pub struct Networks {
    records: RwLock<BTreeMap<String, NetworkRecord>>,
    table: JsonTable,
    config: NetworkConfig,
    /// Where sandboxes' network namespaces are bind-mounted.
    netns_dir: PathBuf,
    /// The nftables table of this daemon (`None` with `--iptables=false`).
    firewall: Option<berth_network::firewall::Firewall>,
    /// Serialises firewall updates (each writes the whole table).
    firewall_lock: Mutex<()>,
    /// Serialises address allocation and network create/remove.
    alloc_lock: Mutex<()>,
    /// The address last handed out per network pool: allocation goes on after it, as
    /// libnetwork's serial allocation, so a released address is not reused at once.
    last_allocated: Mutex<HashMap<String, std::net::IpAddr>>,
    /// A netlink socket in the daemon's own network namespace, opened once.
    host: Mutex<Option<Netlink>>,
    /// Running containers' sandboxes, by container id.
    sandboxes: Mutex<HashMap<String, Sandbox>>,
    /// The embedded DNS server shared by sandboxes, and what it answers from.
    dns: OnceLock<(
        Arc<berth_network::dns::Server>,
        Arc<dyn berth_network::dns::Names>,
    )>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The nftables table of a daemon: `berth` for the default bridge `berth0`, else named
/// after the daemon's bridge, so that daemons running side by side (tests) keep apart.
pub fn table_name(bridge: &str) -> String {
    if bridge == "berth0" {
        "berth".into()
    } else {
        format!("berth-{bridge}")
    }
}

pub fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("network {name} not found"))
}

impl Networks {
    pub fn open(
        table: JsonTable,
        config: NetworkConfig,
        exec_root: &std::path::Path,
    ) -> Result<Networks, crate::store::StoreError> {
        let records = table
            .all::<NetworkRecord>()?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let firewall = config
            .iptables
            .then(|| berth_network::firewall::Firewall::new(&table_name(&config.bridge)));
        Ok(Networks {
            records: RwLock::new(records),
            table,
            netns_dir: exec_root.join("netns"),
            config,
            firewall,
            firewall_lock: Mutex::new(()),
            alloc_lock: Mutex::new(()),
            last_allocated: Mutex::new(HashMap::new()),
            host: Mutex::new(None),
            sandboxes: Mutex::new(HashMap::new()),
            dns: OnceLock::new(),
        })
    }

    pub fn all(&self) -> Vec<NetworkRecord> {
        self.records
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Finds a network as docker does: full id, exact name, then a unique id prefix.
    pub fn find(&self, name_or_id: &str) -> Result<NetworkRecord, ApiError> {
        let map = self.records.read().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get(name_or_id) {
            return Ok(n.clone());
        }
        if let Some(n) = map.values().find(|n| n.name == name_or_id) {
            return Ok(n.clone());
        }
        let matches: Vec<&NetworkRecord> = map
            .values()
            .filter(|n| !name_or_id.is_empty() && n.id.starts_with(name_or_id))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(not_found(name_or_id)),
            _ => Err(ApiError::invalid(format!(
                "network {name_or_id} is ambiguous ({} matches found based on ID prefix)",
                matches.len()
            ))),
        }
    }

    fn put(&self, n: NetworkRecord) -> Result<(), ApiError> {
        self.table
            .put(&n.id, &n)
            .map_err(|e| ApiError::system(format!("save network {}: {e}", n.name)))?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(n.id.clone(), n);
        Ok(())
    }

    fn delete(&self, id: &str) -> Result<(), ApiError> {
        self.table
            .delete(id)
            .map_err(|e| ApiError::system(format!("delete network {id}: {e}")))?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(())
    }

    /// Runs `f` with the daemon's netlink socket (opened on first use).
    fn with_host<R>(
        &self,
        f: impl FnOnce(&mut Netlink) -> Result<R, berth_network::netlink::NetlinkError>,
    ) -> Result<R, ApiError> {
        let mut guard = lock(&self.host);
        if guard.is_none() {
            *guard =
                Some(Netlink::open().map_err(|e| ApiError::system(format!("open netlink: {e}")))?);
        }
        let nl = guard.as_mut().expect("opened just above");
        f(nl).map_err(|e| ApiError::system(e.to_string()))
    }

    fn netns_path(&self, container_id: &str) -> PathBuf {
        self.netns_dir.join(&container_id[..12])
    }
}
