//! `berth daemon`: dockerd's flags and daemon.json keys, mapped onto the daemon's configuration.

use std::path::PathBuf;

use anyhow::{bail, Context};
use berth_daemon::{api, Config, Daemon, TlsConfig};
use clap::Args;
use serde::Deserialize;

/// Flags of `berth daemon`, named as dockerd names them.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// Daemon socket(s) to connect to
    #[arg(short = 'H', long = "host", value_name = "list")]
    pub host: Vec<String>,
    /// Root directory of persistent state
    #[arg(long, value_name = "string")]
    pub data_root: Option<PathBuf>,
    /// Root directory for execution state files
    #[arg(long, value_name = "string")]
    pub exec_root: Option<PathBuf>,
    /// Path to use for daemon PID file
    #[arg(short = 'p', long, value_name = "string")]
    pub pidfile: Option<PathBuf>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long, value_name = "string")]
    pub log_level: Option<String>,
    /// Set parent cgroup for all containers
    #[arg(long, value_name = "string")]
    pub cgroup_parent: Option<String>,
    /// Storage driver to use (overlay2, vfs)
    #[arg(short = 's', long, value_name = "string")]
    pub storage_driver: Option<String>,
    /// Daemon configuration file
    #[arg(long, value_name = "string", default_value = "/etc/berth/daemon.json")]
    pub config_file: PathBuf,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Use TLS; implied by --tlsverify
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls: Option<bool>,
    /// Use TLS and verify the remote (default from DOCKER_TLS_VERIFY)
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tlsverify: Option<bool>,
    /// Trust certs signed only by this CA
    #[arg(long, value_name = "string")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file
    #[arg(long, value_name = "string")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file
    #[arg(long, value_name = "string")]
    pub tlskey: Option<PathBuf>,
    /// Attach containers to a network bridge
    #[arg(short = 'b', long, value_name = "string")]
    pub bridge: Option<String>,
    /// Specify network bridge IP
    #[arg(long, value_name = "string")]
    pub bip: Option<String>,
    /// IPv4 subnet for fixed IPs
    #[arg(long, value_name = "string")]
    pub fixed_cidr: Option<String>,
    /// Default address pools for node specific local networks
    #[arg(long = "default-address-pool", value_name = "pool-options")]
    pub default_address_pool: Vec<String>,
    /// Enable net.ipv4.ip_forward (default true)
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ip_forward: Option<bool>,
    /// Enable addition of firewall rules (default true)
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub iptables: Option<bool>,
    /// Set the containers network MTU (default 1500)
    #[arg(long, value_name = "int")]
    pub mtu: Option<u32>,
    /// Use userland proxy for loopback traffic (default false: the kernel's DNAT)
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub userland_proxy: Option<bool>,
    /// Enable inter-container communication (default true)
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub icc: Option<bool>,
    /// Default IP when binding container ports (default 0.0.0.0)
    #[arg(long, value_name = "ip")]
    pub ip: Option<String>,
    /// Default driver for container logs (default "json-file")
    #[arg(long, value_name = "string")]
    pub log_driver: Option<String>,
    /// Default log driver options for containers (default map[])
    #[arg(long = "log-opt", value_name = "map")]
    pub log_opt: Vec<String>,
    /// User/Group setting for user namespaces
    #[arg(long, value_name = "string")]
    pub userns_remap: Option<String>,
    /// Enable insecure registry communication
    #[arg(long = "insecure-registry", value_name = "list")]
    pub insecure_registry: Vec<String>,
    /// Preferred Docker registry mirror
    #[arg(long = "registry-mirror", value_name = "list")]
    pub registry_mirror: Vec<String>,
    /// Directory of registries' CA certificates, <host:port>/*.crt (default /etc/berth/certs.d)
    #[arg(long, value_name = "string")]
    pub registry_certs_dir: Option<PathBuf>,
}

/// An entry of daemon.json's `default-address-pools`.
#[derive(Debug, Deserialize)]
struct AddressPoolEntry {
    base: String,
    size: u8,
}

/// The daemon.json keys berth reads (dockerd's names).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    hosts: Option<Vec<String>>,
    data_root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    pidfile: Option<PathBuf>,
    log_level: Option<String>,
    cgroup_parent: Option<String>,
    storage_driver: Option<String>,
    debug: Option<bool>,
    tls: Option<bool>,
    tlsverify: Option<bool>,
    tlscacert: Option<PathBuf>,
    tlscert: Option<PathBuf>,
    tlskey: Option<PathBuf>,
    bridge: Option<String>,
    bip: Option<String>,
    fixed_cidr: Option<String>,
    default_address_pools: Option<Vec<AddressPoolEntry>>,
    ip_forward: Option<bool>,
    iptables: Option<bool>,
    mtu: Option<u32>,
    userland_proxy: Option<bool>,
    icc: Option<bool>,
    ip: Option<String>,
    log_driver: Option<String>,
    log_opts: Option<std::collections::BTreeMap<String, String>>,
    userns_remap: Option<String>,
    insecure_registries: Option<Vec<String>>,
    registry_mirrors: Option<Vec<String>>,
}

fn read_file_config(path: &std::path::Path, explicit: bool) -> anyhow::Result<FileConfig> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "unable to configure the daemon: invalid config file {}",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            Ok(FileConfig::default())
        }
        Err(e) => Err(e).with_context(|| format!("unable to read config file {}", path.display())),
    }
}

/// Merges flags over daemon.json over defaults. A key given in both places is an error, as in dockerd.
fn build_config(args: DaemonArgs) -> anyhow::Result<(Config, String)> {
    let explicit = args.config_file != std::path::Path::new("/etc/berth/daemon.json");
    let file = read_file_config(&args.config_file, explicit)?;
    let mut conflicts = Vec::new();
    macro_rules! pick {
        ($flag:expr, $file:expr, $name:literal) => {
            match ($flag, $file) {
                (Some(a), Some(_)) => {
                    conflicts.push($name);
                    Some(a)
                }
                (a, b) => a.or(b),
            }
        };
    }
    let hosts = pick!(
        (!args.host.is_empty()).then_some(args.host),
        file.hosts,
        "hosts"
    );
    let data_root = pick!(args.data_root, file.data_root, "data-root");
    let exec_root = pick!(args.exec_root, file.exec_root, "exec-root");
    let pidfile = pick!(args.pidfile, file.pidfile, "pidfile");
    let log_level = pick!(args.log_level, file.log_level, "log-level");
    let cgroup_parent = pick!(args.cgroup_parent, file.cgroup_parent, "cgroup-parent");
    let storage_driver = pick!(args.storage_driver, file.storage_driver, "storage-driver");
    let tlscacert = pick!(args.tlscacert, file.tlscacert, "tlscacert");
    let tlscert = pick!(args.tlscert, file.tlscert, "tlscert");
    let tlskey = pick!(args.tlskey, file.tlskey, "tlskey");
    let tls_flag = pick!(args.tls, file.tls, "tls");
    let tlsverify_flag = pick!(args.tlsverify, file.tlsverify, "tlsverify");
    let bridge = pick!(args.bridge, file.bridge, "bridge");
    let bip = pick!(args.bip, file.bip, "bip");
    let fixed_cidr = pick!(args.fixed_cidr, file.fixed_cidr, "fixed-cidr");
    let pools = pick!(
        (!args.default_address_pool.is_empty()).then_some(args.default_address_pool),
        file.default_address_pools.map(|p| p
            .into_iter()
            .map(|e| format!("base={},size={}", e.base, e.size))
            .collect()),
        "default-address-pools"
    );
    let ip_forward = pick!(args.ip_forward, file.ip_forward, "ip-forward");
    let iptables = pick!(args.iptables, file.iptables, "iptables");
    let mtu = pick!(args.mtu, file.mtu, "mtu");
    let userland_proxy = pick!(args.userland_proxy, file.userland_proxy, "userland-proxy");
    let icc = pick!(args.icc, file.icc, "icc");
    let bind_ip = pick!(args.ip, file.ip, "ip");
    let log_driver = pick!(args.log_driver, file.log_driver, "log-driver");
    let userns_remap = pick!(args.userns_remap, file.userns_remap, "userns-remap");
    let mut log_opt_flags = std::collections::BTreeMap::new();
    for o in &args.log_opt {
        let Some((k, v)) = o.split_once('=') else {
            bail!("invalid argument {o:?} for \"--log-opt\" flag: invalid key value pair format");
        };
        log_opt_flags.insert(k.to_string(), v.to_string());
    }
    let log_opts = pick!(
        (!log_opt_flags.is_empty()).then_some(log_opt_flags),
        file.log_opts,
        "log-opts"
    );
    let insecure = pick!(
        (!args.insecure_registry.is_empty()).then_some(args.insecure_registry),
        file.insecure_registries,
        "insecure-registries"
    );
    let mirrors = pick!(
        (!args.registry_mirror.is_empty()).then_some(args.registry_mirror),
        file.registry_mirrors,
        "registry-mirrors"
    );
    if !conflicts.is_empty() {
        bail!(
            "unable to configure the daemon: the following directives are specified both as a flag and in the configuration file: {}",
            conflicts.join(", ")
        );
    }
    let debug = args.debug || file.debug.unwrap_or(false);
    // As dockerd: DOCKER_TLS_VERIFY turns verification on unless set explicitly, and
    // --tlsverify implies --tls.
    let tlsverify = tlsverify_flag
        .unwrap_or_else(|| std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty()));
    let tls = tls_flag.unwrap_or(false) || tlsverify;

    let mut config = Config::default();
    if let Some(h) = hosts {
        config.hosts = h;
    }
    if let Some(d) = data_root {
        config.data_root = d;
    }
    if let Some(d) = exec_root {
        config.exec_root = d;
    }
    config.pidfile = pidfile.or_else(|| Some(config.exec_root.join("berth.pid")));
    if let Some(c) = cgroup_parent {
        config.cgroup_parent = if c.starts_with('/') {
            c
        } else {
            format!("/{c}")
        };
    }
    config.debug = debug;
    let net = &mut config.network;
    if let Some(b) = bridge {
        if b.is_empty() || b.len() > 15 || b.contains(['/', ' ', '"']) {
            bail!("invalid bridge name: {b:?}");
        }
        net.bridge = b;
    }
    if bip.is_some() && fixed_cidr.is_some() && net.bridge == "none" {
        bail!("You specified -b & --bip, mutually exclusive options. Please specify only one");
    }
    net.bip = bip;
    net.fixed_cidr = fixed_cidr;
    net.default_address_pools = pools.unwrap_or_default();
    net.ip_forward = ip_forward.unwrap_or(true);
    net.iptables = iptables.unwrap_or(true);
    net.mtu = mtu;
    net.userland_proxy = userland_proxy.unwrap_or(false);
    net.icc = icc.unwrap_or(true);
    if let Some(ip) = bind_ip {
        net.default_bind_ip = ip;
    }
    match storage_driver.as_deref() {
        None | Some("overlay2") | Some("overlay") | Some("vfs") => {
            config.storage_driver = storage_driver.map(|d| {
                if d == "overlay" {
                    "overlay2".to_string()
                } else {
                    d
                }
            })
        }
        Some(other) => bail!("error initializing graphdriver: driver not supported: {other}"),
    }
    if tls {
        // dockerd's defaults: ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH (else the
        // docker config dir), each used only if it exists when not given explicitly.
        let cert_dir = default_cert_dir();
        let default = |given: Option<PathBuf>, name: &str| {
            given.or_else(|| {
                let p = cert_dir.join(name);
                p.exists().then_some(p)
            })
        };
        let (Some(cert), Some(key)) = (default(tlscert, "cert.pem"), default(tlskey, "key.pem"))
        else {
            bail!(
                "unable to configure the daemon: TLS requires a certificate and key: --tlscert and --tlskey (or cert.pem and key.pem in {})",
                cert_dir.display()
            );
        };
        config.tls = Some(TlsConfig {
            cert,
            key,
            ca: default(tlscacert, "ca.pem"),
            verify: tlsverify,
        });
    }
    if let Some(d) = log_driver {
        config.log_driver = d;
    }
    config.log_opts = log_opts.unwrap_or_default();
    config.userns_remap = userns_remap.filter(|s| !s.is_empty());
    config.registry.insecure = insecure.unwrap_or_default();
    for m in mirrors.iter().flatten() {
        if !(m.starts_with("https://") || m.starts_with("http://")) {
            bail!("invalid mirror: unsupported scheme {m:?} in {m:?}");
        }
    }
    config.registry.mirrors = mirrors.unwrap_or_default();
    if let Some(d) = args.registry_certs_dir {
        config.registry.certs_dir = d;
    }
    berth_shim::log::validate(&config.log_driver, &config.log_opts)
        .map_err(|e| anyhow::anyhow!("unable to configure the daemon: {e}"))?;
    config.berth_exe = std::env::current_exe().context("locate the berth executable")?;
    let level = if debug {
        "debug".to_string()
    } else {
        log_level.unwrap_or_else(|| "info".to_string())
    };
    if !matches!(
        level.as_str(),
        "debug" | "info" | "warn" | "error" | "fatal" | "trace" | "panic"
    ) {
        bail!("unable to configure the daemon: invalid log level: {level}");
    }
    Ok((config, level))
}

/// Where dockerd looks for ca.pem, cert.pem and key.pem by default.
fn default_cert_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker")
}

/// `berth daemon ...` from `main`: parses the flags and runs; returns the exit code.
pub fn main(argv: &[String]) -> i32 {
    #[derive(clap::Parser)]
    #[command(
        name = "berth daemon",
        about = "A self-sufficient runtime for containers"
    )]
    struct Cmd {
        #[command(flatten)]
        args: DaemonArgs,
    }
    let cmd = <Cmd as clap::Parser>::parse_from(argv);
    match run(cmd.args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth daemon: {e:#}");
            1
        }
    }
}

/// Runs the daemon until SIGINT/SIGTERM. Containers keep running when it stops.
pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    let (config, level) = build_config(args)?;
    let level = if level == "fatal" || level == "panic" {
        "error".to_string()
    } else {
        level
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "{level},hyper=warn,libcgroups=error,libcontainer=error"
        )))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    rt.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let hosts = config.hosts.clone();
    let pidfile = config.pidfile.clone();
    // A bad certificate, key or CA is a startup error naming the file.
    let tls = match &config.tls {
        Some(t) => Some(api::tls_server_config(t).context("unable to configure TLS")?),
        None => None,
    };
    let verified = config.tls.as_ref().is_some_and(|t| t.verify);
    let daemon = Daemon::open(config).await.context("start daemon")?;
    let mut bound = Vec::new();
    for h in &hosts {
        if h.starts_with("tcp://") && !verified {
            tracing::warn!(
                host = %h,
                "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network."
            );
            tracing::warn!(
                host = %h,
                "Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!"
            );
        }
        bound.push(api::bind_with(h, tls.clone()).await?);
    }
    if let Some(p) = &pidfile {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        std::fs::write(p, std::process::id().to_string())
            .with_context(|| format!("write pidfile {}", p.display()))?;
    }
    let router = api::router(daemon.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for b in bound {
        tasks.spawn(api::serve(b, router.clone()));
    }
    tracing::info!("API listen on {}", hosts.join(", "));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        Some(r) = tasks.join_next() => { r??; }
    }
    tracing::info!("daemon shutting down; containers keep running");
    daemon.shutdown_networks();
    for h in &hosts {
        if let Some(p) = h.strip_prefix("unix://") {
            let _ = std::fs::remove_file(p);
        }
    }
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: DaemonArgs,
    }

    fn parse(argv: &[&str]) -> DaemonArgs {
        Wrap::parse_from(std::iter::once("daemon").chain(argv.iter().copied())).args
    }

    #[test]
    fn flags_over_defaults() {
        let (c, level) = build_config(parse(&[
            "-H",
            "unix:///tmp/x.sock",
            "--data-root",
            "/tmp/d",
            "-D",
        ]))
        .unwrap();
        assert_eq!(c.hosts, vec!["unix:///tmp/x.sock".to_string()]);
        assert_eq!(c.data_root, PathBuf::from("/tmp/d"));
        assert_eq!(level, "debug");
        assert_eq!(c.cgroup_parent, "/berth");
    }

    #[test]
    fn flag_and_file_conflict_like_dockerd() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        std::fs::write(&f, r#"{"data-root": "/x", "debug": true}"#).unwrap();
        let err = build_config(parse(&[
            "--config-file",
            f.to_str().unwrap(),
            "--data-root",
            "/y",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("data-root"), "{err}");
        let (c, _) = build_config(parse(&["--config-file", f.to_str().unwrap()])).unwrap();
        assert_eq!(c.data_root, PathBuf::from("/x"));
        assert!(c.debug);
    }

    #[test]
    fn registry_settings_from_flags_and_daemon_json() {
        let (c, _) = build_config(parse(&[
            "--insecure-registry",
            "10.0.0.0/8",
            "--insecure-registry=reg.test:5000",
            "--registry-mirror",
            "https://mirror.test",
            "--registry-certs-dir",
            "/c/certs.d",
        ]))
        .unwrap();
        assert_eq!(c.registry.insecure, ["10.0.0.0/8", "reg.test:5000"]);
        assert_eq!(c.registry.mirrors, ["https://mirror.test"]);
        assert_eq!(c.registry.certs_dir, PathBuf::from("/c/certs.d"));
        assert!(c.registry.is_insecure("10.1.2.3:5000"));

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        std::fs::write(
            &f,
            r#"{"insecure-registries": ["reg.test:5000"], "registry-mirrors": ["http://m.test"]}"#,
        )
        .unwrap();
        let (c, _) = build_config(parse(&["--config-file", f.to_str().unwrap()])).unwrap();
        assert_eq!(c.registry.insecure, ["reg.test:5000"]);
        assert_eq!(c.registry.mirrors, ["http://m.test"]);
        let err = build_config(parse(&[
            "--config-file",
            f.to_str().unwrap(),
            "--registry-mirror=https://x.test",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("registry-mirrors"), "{err}");
        let err = build_config(parse(&["--registry-mirror=ftp://x"])).unwrap_err();
        assert!(err.to_string().contains("invalid mirror"), "{err}");
    }

    #[test]
    fn tls_from_flags_and_daemon_json() {
        let (c, _) = build_config(parse(&[
            "--tlsverify",
            "--tlscacert",
            "/c/ca.pem",
            "--tlscert",
            "/c/cert.pem",
            "--tlskey",
            "/c/key.pem",
        ]))
        .unwrap();
        let t = c.tls.unwrap();
        assert!(t.verify);
        assert_eq!(t.ca, Some(PathBuf::from("/c/ca.pem")));
        assert_eq!(t.cert, PathBuf::from("/c/cert.pem"));

        let (c, _) = build_config(parse(&[
            "--tls",
            "--tlscert",
            "/c/cert.pem",
            "--tlskey",
            "/c/key.pem",
        ]))
        .unwrap();
        assert!(!c.tls.unwrap().verify);
        let (c, _) = build_config(parse(&["--tlsverify=false"])).unwrap();
        assert!(c.tls.is_none());

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        std::fs::write(
            &f,
            r#"{"tlsverify": true, "tlscacert": "/f/ca.pem", "tlscert": "/f/cert.pem", "tlskey": "/f/key.pem"}"#,
        )
        .unwrap();
        let (c, _) = build_config(parse(&["--config-file", f.to_str().unwrap()])).unwrap();
        let t = c.tls.unwrap();
        assert!(t.verify);
        assert_eq!(t.key, PathBuf::from("/f/key.pem"));
        let err = build_config(parse(&[
            "--config-file",
            f.to_str().unwrap(),
            "--tlsverify",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("tlsverify"), "{err}");
    }

    #[test]
    fn userns_remap_from_flag_or_daemon_json() {
        let (c, _) = build_config(parse(&["--userns-remap", "default"])).unwrap();
        assert_eq!(c.userns_remap.as_deref(), Some("default"));
        let (c, _) = build_config(parse(&[])).unwrap();
        assert_eq!(c.userns_remap, None);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        std::fs::write(&f, r#"{"userns-remap": "alice:staff"}"#).unwrap();
        let (c, _) = build_config(parse(&["--config-file", f.to_str().unwrap()])).unwrap();
        assert_eq!(c.userns_remap.as_deref(), Some("alice:staff"));
        let err = build_config(parse(&[
            "--config-file",
            f.to_str().unwrap(),
            "--userns-remap",
            "default",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("userns-remap"), "{err}");
    }

    #[test]
    fn bad_config_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        std::fs::write(&f, "{not json").unwrap();
        assert!(build_config(parse(&["--config-file", f.to_str().unwrap()])).is_err());
    }
}
