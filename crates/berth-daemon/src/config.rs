//! The daemon's configuration: dockerd's flags and daemon.json keys.

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
        }
    }
}
