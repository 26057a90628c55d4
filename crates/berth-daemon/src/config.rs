//! The daemon's configuration: dockerd's flags and daemon.json keys.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the daemon keeps its state and how it listens.
#[derive(Debug, Clone)]
pub struct Config {
    /// `-H/--host`: `unix:///path` or `tcp://addr:port`.
    pub hosts: Vec<String>,
    /// `--data-root`: persistent state (metadata store, images, container layers, logs).
    pub data_root: PathBuf,
    /// `--exec-root`: runtime state (shim sockets, runtime state); lost on reboot.
    pub exec_root: PathBuf,
    /// `--pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `--cgroup-parent`: where container cgroups live in each hierarchy.
    pub cgroup_parent: String,
    /// TLS for tcp hosts (`--tlsverify --tlscacert --tlscert --tlskey`).
    pub tls: Option<TlsConfig>,
    /// The executable re-run as `berth shim`.
    pub berth_exe: PathBuf,
    /// `--debug`.
    pub debug: bool,
    /// `-s/--storage-driver`: `overlay2` (default, `vfs` where overlay cannot be mounted)
    /// or `vfs` (copies).
    pub storage_driver: Option<String>,
    /// The bridge driver's daemon-wide settings.
    pub network: NetworkConfig,
    /// `--log-driver`: containers' logging driver when they name none (`json-file`).
    pub log_driver: String,
    /// `--log-opt`: the default driver's options.
    pub log_opts: BTreeMap<String, String>,
    /// `--userns-remap`: `default`, `USER[:GROUP]` or `UID[:GID]`; containers then run in a
    /// user namespace on that user's subordinate ids.
    pub userns_remap: Option<String>,
    /// `--insecure-registry`, `--registry-mirror` and where registries' CA certificates are.
    pub registry: berth_registry::client::RegistryConfig,
}

/// dockerd's networking flags (`--bridge`, `--bip`, ...).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// `--bridge`: the default network's bridge; `none` disables the default network.
    pub bridge: String,
    /// `--bip`: the default bridge's address and prefix, e.g. `172.17.0.1/16`.
    pub bip: Option<String>,
    /// `--fixed-cidr`: the part of the default subnet containers get addresses from.
    pub fixed_cidr: Option<String>,
    /// `--default-address-pool base=...,size=...`: where networks without `--subnet` get one.
    pub default_address_pools: Vec<String>,
    /// `--ip-forward`: turn on the kernel's forwarding.
    pub ip_forward: bool,
    /// `--iptables`: manage the firewall (berth's nftables table).
    pub iptables: bool,
    /// `--mtu` of the default bridge's links.
    pub mtu: Option<u32>,
    /// `--userland-proxy`: a proxy for connections to published ports on 127.0.0.1. Off,
    /// loopback is also handled by the kernel's DNAT (route_localnet on the bridges).
    pub userland_proxy: bool,
    /// `--icc`: containers on the default bridge may talk to each other.
    pub icc: bool,
    /// `--ip`: the host address published ports bind to by default.
    pub default_bind_ip: String,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            bridge: "berth0".into(),
            bip: None,
            fixed_cidr: None,
            default_address_pools: Vec::new(),
            ip_forward: true,
            iptables: true,
            mtu: None,
            userland_proxy: false,
            icc: true,
            default_bind_ip: "0.0.0.0".into(),
        }
    }
}

/// Server-side TLS settings of a `tcp://` host.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// `--tlscacert`: the CA that signs client certificates. With `verify`, clients must
    /// present a certificate signed by it (the system's CAs when `None`); without, a client
    /// certificate is checked only when one is given.
    pub ca: Option<PathBuf>,
    /// `--tlsverify`: mutual TLS, a client certificate is required.
    pub verify: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hosts: vec!["unix:///run/berth/berth.sock".to_string()],
            data_root: PathBuf::from("/var/lib/berth"),
            exec_root: PathBuf::from("/run/berth"),
            pidfile: None,
            cgroup_parent: "/berth".to_string(),
            tls: None,
            berth_exe: PathBuf::from("/proc/self/exe"),
            debug: false,
            storage_driver: None,
            network: NetworkConfig::default(),
            log_driver: "json-file".to_string(),
            log_opts: BTreeMap::new(),
            userns_remap: None,
            registry: Default::default(),
        }
    }
}
