#![recursion_limit = "256"]
//! The berth daemon: object model and orchestration (containers, images, events) and the
//! Engine API server in front of them.

pub mod api;
pub mod config;
pub mod events;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

pub use config::{Config, TlsConfig};
use events::EventBus;
use store::ContainerTable;

/// The daemon's state, shared by every request handler.
pub struct Daemon {
    pub config: Config,
    pub events: EventBus,
    #[allow(dead_code)]
    table: ContainerTable,
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
        let db_path = config.data_root.join("berth.db");
        let db = redb::Database::create(&db_path).map_err(|e| DaemonError::Db {
            path: db_path.clone(),
            message: e.to_string(),
        })?;
        let db = Arc::new(db);
        let table = ContainerTable::open(db)?;
        let id = daemon_id(&config.data_root).map_err(|source| DaemonError::Dir {
            path: config.data_root.join("engine-id"),
            source,
        })?;
        Ok(Arc::new(Daemon {
            config,
            events: EventBus::default(),
            table,
            id,
            started: std::time::Instant::now(),
        }))
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
