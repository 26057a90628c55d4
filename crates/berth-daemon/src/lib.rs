#![recursion_limit = "256"]
//! The berth daemon: object model and orchestration (containers, images, events) and the
//! Engine API server in front of them.

pub mod api;
pub mod build;
pub mod config;
pub mod container;
pub mod events;
pub mod images;
pub mod network;
pub mod store;
pub mod userns;
pub mod volumes;

use std::path::PathBuf;
use std::sync::Arc;

use berth_image::ImageStore;
pub use config::{Config, NetworkConfig, TlsConfig};
use container::exec::Execs;
use container::{Container, Containers};
use events::EventBus;
use store::JsonTable;
use volumes::Volumes;

/// The daemon's state, shared by every request handler.
pub struct Daemon {
    pub config: Config,
    pub events: EventBus,
    table: JsonTable,
    pub containers: Containers,
    pub execs: Execs,
    pub images: Arc<ImageStore>,
    pub volumes: Volumes,
    pub networks: network::Networks,
    /// Serialises the name check and the record write of `create`.
    create_lock: tokio::sync::Mutex<()>,
    driver: &'static str,
    /// `--userns-remap`, resolved.
    pub remap: Option<userns::Remapping>,
    id: String,
    started: std::time::Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("create {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("open metadata store {path}: {message}")]
    Db { path: PathBuf, message: String },
    #[error("{0}")]
    Store(#[from] store::StoreError),
    #[error("networks: {0}")]
    Network(String),
    #[error("image store: {0}")]
    Images(#[from] berth_image::ImageError),
    #[error("{0}")]
    Remap(#[from] userns::RemapError),
}

impl Daemon {
    /// Opens (or creates) the state under the data and exec roots and repairs what a crash left.
    pub async fn open(config: Config) -> Result<Arc<Daemon>, DaemonError> {
        for dir in [
            &config.data_root,
            &config.exec_root,
            &config.data_root.join("containers"),
        ] {
            std::fs::create_dir_all(dir).map_err(|source| DaemonError::Dir {
                path: dir.clone(),
                source,
            })?;
        }
        let remap = match config.userns_remap.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(spec) => {
                if spec == "default" {
                    userns::ensure_default_user(std::path::Path::new("/"))?;
                }
                let r = userns::resolve(spec, &userns::IdFiles::host())?;
                tracing::info!(user = %r.user, group = %r.group, "user namespaces: containers run on the subordinate ids of {}:{}", r.user, r.group);
                Some(r)
            }
        };
        // Build contexts a crash left behind.
        let _ = std::fs::remove_dir_all(config.data_root.join("build"));
        let db_path = config.data_root.join("berth.db");
        let db = redb::Database::create(&db_path).map_err(|e| DaemonError::Db {
            path: db_path.clone(),
            message: e.to_string(),
        })?;
        let db = Arc::new(db);
        let table = JsonTable::open(db.clone(), store::CONTAINERS)?;
        let networks = network::Networks::open(
            JsonTable::open(db.clone(), store::NETWORKS)?,
            config.network.clone(),
            &config.exec_root,
        )?;
        let images = Arc::new(ImageStore::open(&config.data_root, db)?);
        let volumes = Volumes::open(&config.data_root)
            .map_err(|source| DaemonError::Dir {
                path: config.data_root.join("volumes"),
                source,
            })?
            .with_owner(remap.as_ref().map(|r| r.mapping.root()));
        let id = daemon_id(&config.data_root).map_err(|source| DaemonError::Dir {
            path: config.data_root.join("engine-id"),
            source,
        })?;
        let driver = match config.storage_driver.as_deref() {
            Some("vfs") => "vfs",
            _ => probe_driver(&config.data_root),
        };
        let daemon = Arc::new(Daemon {
            driver,
            remap,
            config,
            events: EventBus::default(),
            table,
            containers: Containers::default(),
            execs: Execs::default(),
            images,
            volumes,
            networks,
            create_lock: tokio::sync::Mutex::new(()),
            id,
            started: std::time::Instant::now(),
        });
        daemon.init_dns();
        daemon
            .init_networks()
            .map_err(|e| DaemonError::Network(e.message))?;
        daemon.recover().await;
        daemon.recover_networks().await;
        daemon.recover_userns();
        daemon.start_by_policy();
        Ok(daemon)
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.config.data_root.join("containers").join(id)
    }

    /// Where a container's root filesystem is mounted on the host.
    pub fn rootfs_dir(&self, id: &str) -> PathBuf {
        berth_image::rootfs::merged_dir(&self.container_dir(id))
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    /// The shim's socket of a container (or of one of its execs). Kept short: a Unix socket
    /// path has at most 107 bytes.
    pub fn shim_socket(&self, id: &str, exec: Option<&str>) -> PathBuf {
        let dir = self.config.exec_root.join("s");
        let _ = std::fs::create_dir_all(&dir);
        match exec {
            Some(e) => dir.join(format!("{}-{e}.sock", &id[..16])),
            None => dir.join(format!("{}.sock", &id[..16])),
        }
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.config.exec_root.join("runtime")
    }

    pub fn runtime(&self) -> berth_runtime::Runtime {
        berth_runtime::Runtime::new(self.runtime_root())
    }

    /// The layer directories a container stacks (top-most first): those recorded when it
    /// was made (the image may be gone since, its layers held for the container), else the
    /// image's.
    pub fn container_layers(
        &self,
        id: &str,
        image_id: &str,
    ) -> Result<Vec<PathBuf>, berth_api::ApiError> {
        if let Ok(c) = self.containers.find(id) {
            let layers = c.record().layers;
            if !layers.is_empty() {
                return Ok(layers.into_iter().map(PathBuf::from).collect());
            }
        }
        self.images.layer_dirs(image_id).map_err(images::api_err)
    }

    /// Mounts (or, with vfs, copies) a container's root filesystem; idempotent. A remapped
    /// container's (`mapping`) is seen through idmapped mounts, or chowned into its range.
    pub fn mount_rootfs(
        &self,
        id: &str,
        image_id: &str,
        mapping: Option<&berth_runtime::userns::IdMapping>,
    ) -> Result<(), berth_api::ApiError> {
        let layers = self.container_layers(id, image_id)?;
        let want = if self.driver == "vfs" {
            berth_image::rootfs::Driver::Vfs
        } else {
            berth_image::rootfs::Driver::Overlay
        };
        let dir = self.container_dir(id);
        let err = |e: &dyn std::fmt::Display| {
            berth_api::ApiError::system(format!("prepare rootfs of {id}: {e}"))
        };
        let Some(mapping) = mapping else {
            return berth_image::rootfs::prepare_as(&layers, &dir, want)
                .map(|_| ())
                .map_err(|e| err(&e));
        };
        // A user namespace with the container's mapping, only for the idmapped mounts.
        let holder =
            berth_runtime::userns::new_user_namespace(mapping, false).map_err(|e| err(&e))?;
        let userns = holder.open("user").map_err(|e| err(&e))?;
        drop(holder);
        let to_host = |uid: u32, gid: u32| {
            (
                mapping.uid_to_host(uid).unwrap_or(uid),
                mapping.gid_to_host(gid).unwrap_or(gid),
            )
        };
        let (root_uid, root_gid) = mapping.root();
        let remap = berth_image::rootfs::Remap {
            userns: std::os::fd::AsFd::as_fd(&userns),
            root_uid,
            root_gid,
            to_host: &to_host,
        };
        berth_image::rootfs::prepare_remapped(&layers, &dir, want, &remap)
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    /// `overlay2`, or `vfs` where overlayfs cannot be mounted.
    pub fn storage_driver(&self) -> String {
        self.driver.to_string()
    }

    /// Publishes a container event with docker's attributes (name, image, labels).
    pub fn container_event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let r = c.record();
        let mut attrs = std::collections::BTreeMap::new();
        for (k, v) in r.labels() {
            if let Some(v) = v.as_str() {
                attrs.insert(k, v.to_string());
            }
        }
        attrs.insert("name".to_string(), r.name.clone());
        attrs.insert("image".to_string(), r.image_name.clone());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("container", action, &r.id, attrs);
    }

    /// A stable identifier of this daemon's data root (`docker info`'s ID).
    pub fn daemon_id(&self) -> &str {
        &self.id
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

/// Reads the engine ID from the data root, making one the first time.
fn daemon_id(data_root: &std::path::Path) -> std::io::Result<String> {
    let path = data_root.join("engine-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => {
            let bytes: [u8; 16] = rand::random();
            let h = hex::encode(bytes);
            let id = format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            );
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &id)?;
            std::fs::rename(&tmp, &path)?;
            Ok(id)
        }
    }
}

/// The container's id in the runtime: a prefix, so that the runtime's own socket paths under
/// the exec root stay within the Unix socket path limit.
pub fn runtime_id(id: &str) -> &str {
    &id[..32.min(id.len())]
}

/// `overlay2` when an overlay mount works under the data root, else `vfs` (berth inside a
/// container whose filesystem refuses overlay).
fn probe_driver(data_root: &std::path::Path) -> &'static str {
    let dir = data_root.join(".overlay-probe");
    let _ = std::fs::remove_dir_all(&dir);
    let made = ["lower", "upper", "work", "merged"]
        .iter()
        .all(|d| std::fs::create_dir_all(dir.join(d)).is_ok());
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        dir.join("lower").display(),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    let merged = dir.join("merged");
    let ok = made
        && nix::mount::mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .is_ok();
    if ok {
        let _ = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if ok {
        "overlay2"
    } else {
        "vfs"
    }
}
