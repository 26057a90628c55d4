//! A container's persistent record, kept in the metadata store (one JSON value per id).
//! `Config` and `HostConfig` are kept as the Engine API sent them (with defaults filled in),
//! so that `inspect` gives back exactly what a Docker client expects.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `State` of `docker inspect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// Only for a container with a health check (`State.Health` of docker).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub health: Option<Health>,
}

/// `State.Health`: the health check's status, failures in a row and its last results.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthLog>,
}

/// One health check run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLog {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl State {
    pub fn created() -> State {
        State {
            status: "created".into(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            ..Default::default()
        }
    }
}

/// A mount as `inspect` shows it under `Mounts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub name: String,
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub driver: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
    /// Anonymous volumes are removed with `rm -v`.
    #[serde(skip_serializing, default)]
    pub anonymous: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image_name: String,
    /// `sha256:...`
    pub image_id: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: Value,
    pub host_config: Value,
    pub state: State,
    pub restart_count: i64,
    pub driver: String,
    pub mounts: Vec<MountPoint>,
    /// Exec ids that belong to this container.
    #[serde(default)]
    pub exec_ids: Vec<String>,
    /// Set when the user stopped it (for `unless-stopped`).
    #[serde(default)]
    pub has_been_manually_stopped: bool,
    /// The image's layer directories, top-most first, held for this container.
    #[serde(default)]
    pub layers: Vec<String>,
    /// Its endpoints by network name (`NetworkSettings.Networks`).
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, crate::network::Endpoint>,
    /// Published ports while running: (`80/tcp`, binding).
    #[serde(default)]
    pub ports: Vec<(String, crate::network::ports::PortBinding)>,
    /// The address and bridge published ports lead to while running.
    #[serde(default)]
    pub port_target: Option<(String, String)>,
}

impl Record {
    pub fn tty(&self) -> bool {
        self.config["Tty"].as_bool().unwrap_or(false)
    }
    pub fn open_stdin(&self) -> bool {
        self.config["OpenStdin"].as_bool().unwrap_or(false)
    }
    pub fn stdin_once(&self) -> bool {
        self.config["StdinOnce"].as_bool().unwrap_or(false)
    }
    pub fn labels(&self) -> serde_json::Map<String, Value> {
        self.config["Labels"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
    pub fn auto_remove(&self) -> bool {
        self.host_config["AutoRemove"].as_bool().unwrap_or(false)
    }
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
    /// The command line as `ps` shows it.
    pub fn command(&self) -> String {
        std::iter::once(self.path.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
    pub fn stop_signal(&self) -> String {
        self.config["StopSignal"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("SIGTERM")
            .to_string()
    }
    pub fn stop_timeout(&self) -> i64 {
        self.config["StopTimeout"].as_i64().unwrap_or(10)
    }
}
