//! What the daemon tells a shim: written as JSON to a file whose path is the shim's argument.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimConfig {
    /// The container's id (libcontainer's container id as well).
    pub id: String,
    /// libcontainer's state root.
    pub runtime_root: PathBuf,
    /// The bundle holding `config.json`, for a container's init; `None` for an exec.
    pub bundle: Option<PathBuf>,
    /// The process to run in the running container, for an exec.
    pub exec: Option<berth_runtime::Process>,
    /// The process's args, env and root, to check the executable before creating anything.
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub rootfs: PathBuf,
    /// Mounts over the rootfs, as (destination, host source); an empty source is a tmpfs.
    /// The executable check looks through them, as the container will.
    #[serde(default)]
    pub mounts: Vec<(String, String)>,
    pub tty: bool,
    /// Keep a stdin pipe open to the process.
    pub stdin: bool,
    /// json-file log to append the output to, without rotation: what shim configs without
    /// `log` asked for. Ignored when `log` is given.
    pub log_path: Option<PathBuf>,
    /// The logging driver of a container's init (none for an exec). Added in berth 0.2; an
    /// older daemon's config has none, see `docs/shim-protocol.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogConfig>,
    /// Where the shim serves its protocol.
    pub socket: PathBuf,
    /// Where the exit code is recorded (written to a temp file, then renamed).
    pub exit_file: PathBuf,
}

/// A container's logging driver, as the daemon resolved and validated it
/// (`HostConfig.LogConfig` over the daemon's defaults).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogConfig {
    /// `json-file`, `local`, `syslog`, `gelf` or `none`.
    pub driver: String,
    /// The driver's `--log-opt`s.
    #[serde(default)]
    pub opts: BTreeMap<String, String>,
    /// The file written by `json-file` and `local` (rotated files are `<path>.1`, ...).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// What tags (`{{.Name}}`, ...) and GELF's extra fields name.
    #[serde(default)]
    pub info: LogInfo,
}

/// The container, as log messages name it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogInfo {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub image_name: String,
    pub command: String,
    pub created: String,
}

/// The one line a shim prints on its stdout once it is ready (or has failed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ready {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub exit_code: i32,
}
