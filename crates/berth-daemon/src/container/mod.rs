//! Containers: the in-memory objects (record, attach hub, exit notifications, shim link)
//! and the daemon's operations on them, one module per operation group.

pub mod attach;
pub(crate) mod cgroup;
mod create;
pub mod exec;
pub(crate) mod files;
pub mod health;
pub mod lifecycle;
mod limits;
pub mod list;
pub mod logs;
mod names;
mod oom;
pub mod record;
pub mod recover;
pub mod restart;
mod security;
mod shim;
mod spec;
pub mod stats;
pub mod update;
pub(crate) mod userns;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use berth_api::ApiError;
use berth_shim::protocol::Frame;
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, watch};

pub use exec::Exec;
pub use record::{MountPoint, Record, State};

/// A chunk of output: stream 1 = stdout, 2 = stderr (the multiplexing stream ids).
#[derive(Debug, Clone)]
pub struct Output {
    pub stream: u8,
    pub data: Bytes,
}

/// What waiters watch: how many times it exited so far, the last code, whether removed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExitState {
    pub exits: u64,
    pub code: i64,
    pub running: bool,
    pub removed: bool,
}

pub struct Container {
    pub id: String,
    record: Mutex<Record>,
    /// Output of the running process to every attached client.
    pub hub: broadcast::Sender<Output>,
    /// Frames to the shim (stdin, resize, signals), while connected.
    shim: Mutex<Option<mpsc::UnboundedSender<Frame>>>,
    /// Stdin that arrived before the process started (attach comes before start).
    pending_stdin: Mutex<Vec<Frame>>,
    pub exit: watch::Sender<ExitState>,
    /// Serialises start/stop/restart/remove of this container.
    pub op: tokio::sync::Mutex<()>,
    /// The restart policy's back-off.
    restart: Mutex<restart::Backoff>,
}

impl Container {
    pub fn new(record: Record) -> Arc<Container> {
        let running = record.state.running;
        Arc::new(Container {
            id: record.id.clone(),
            record: Mutex::new(record),
            hub: broadcast::channel(1024).0,
            shim: Mutex::new(None),
            pending_stdin: Mutex::new(Vec::new()),
            exit: watch::channel(ExitState {
                running,
                ..Default::default()
            })
            .0,
            op: tokio::sync::Mutex::new(()),
            restart: Mutex::new(restart::Backoff::default()),
        })
    }

    /// A copy of the record.
    pub fn record(&self) -> Record {
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Changes the record in memory (the caller persists it).
    pub fn update<T>(&self, f: impl FnOnce(&mut Record) -> T) -> T {
        f(&mut self.record.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn name(&self) -> String {
        self.update(|r| r.name.clone())
    }

    pub fn is_running(&self) -> bool {
        self.update(|r| r.state.running)
    }

    /// Sends a frame to the shim; false when no shim is connected.
    pub fn send(&self, frame: Frame) -> bool {
        let guard = self.shim.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().is_some_and(|tx| tx.send(frame).is_ok())
    }

    /// Sends stdin to the shim, or keeps it until the process starts.
    pub fn send_stdin(&self, frame: Frame) {
        let guard = self.shim.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(tx) => {
                let _ = tx.send(frame);
            }
            None => self
                .pending_stdin
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(frame),
        }
    }

    fn set_shim(&self, tx: Option<mpsc::UnboundedSender<Frame>>) {
        let mut guard = self.shim.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = &tx {
            let pending =
                std::mem::take(&mut *self.pending_stdin.lock().unwrap_or_else(|p| p.into_inner()));
            for frame in pending {
                let _ = tx.send(frame);
            }
        }
        *guard = tx;
    }
}

/// Every container the daemon knows, by id.
#[derive(Default)]
pub struct Containers {
    by_id: RwLock<HashMap<String, Arc<Container>>>,
}

impl Containers {
    pub fn insert(&self, c: Arc<Container>) {
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(c.id.clone(), c);
    }

    pub fn remove(&self, id: &str) {
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    pub fn all(&self) -> Vec<Arc<Container>> {
        self.by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Finds a container as docker does: full id, name (with or without `/`), unique id prefix.
    pub fn find(&self, name_or_id: &str) -> Result<Arc<Container>, ApiError> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(name_or_id) {
            return Ok(c.clone());
        }
        let name = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        if let Some(c) = map.values().find(|c| c.name() == name) {
            return Ok(c.clone());
        }
        if !name_or_id.is_empty() {
            let matches: Vec<&Arc<Container>> = map
                .iter()
                .filter(|(id, _)| id.starts_with(name_or_id))
                .map(|(_, c)| c)
                .collect();
            if matches.len() == 1 {
                return Ok(matches[0].clone());
            }
            if matches.len() > 1 {
                return Err(ApiError::invalid(format!(
                    "multiple IDs found with provided prefix: {name_or_id}"
                )));
            }
        }
        Err(no_such_container(name_or_id))
    }

    pub fn name_taken(&self, name: &str) -> Option<String> {
        self.by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|c| c.name() == name)
            .map(|c| c.id.clone())
    }
}

/// A JSON list of strings (a lone string counts as a list of one, as dockerd reads
/// `Cmd`-like fields).
pub fn str_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        serde_json::Value::String(s) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

pub fn no_such_container(name: &str) -> ApiError {
    ApiError::not_found(format!("No such container: {name}"))
}

/// Now, as docker writes times in records (RFC 3339 with nanoseconds, UTC).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
