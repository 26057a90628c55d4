//! `/_ping`, `/version`, `/info`, `/events`.

use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_api::version::{API_VERSION, MIN_API_VERSION};
use serde::Deserialize;
use serde_json::json;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
}

async fn ping() -> Response {
    let mut r = "OK".into_response();
    let h = r.headers_mut();
    h.insert(
        "cache-control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    h.insert("builder-version", HeaderValue::from_static("1"));
    h.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn version() -> Json<serde_json::Value> {
    let v = env!("CARGO_PKG_VERSION");
    Json(json!({
        "Platform": {"Name": "berth"},
        "Components": [{
            "Name": "Engine",
            "Version": v,
            "Details": {
                "ApiVersion": API_VERSION.to_string(),
                "MinAPIVersion": MIN_API_VERSION.to_string(),
                "Os": "linux",
                "Arch": go_arch(),
                "KernelVersion": kernel_version(),
                "GitCommit": "",
                "GoVersion": "n/a (rust)",
                "Experimental": "false",
                "BuildTime": ""
            }
        }],
        "Version": v,
        "ApiVersion": API_VERSION.to_string(),
        "MinAPIVersion": MIN_API_VERSION.to_string(),
        "GitCommit": "",
        "GoVersion": "n/a (rust)",
        "Os": "linux",
        "Arch": go_arch(),
        "KernelVersion": kernel_version(),
        "BuildTime": ""
    }))
}

/// `docker info`'s SecurityOptions, in dockerd's order.
fn security_options(d: &crate::Daemon) -> Vec<&'static str> {
    let mut out = Vec::new();
    if d.remap.is_some() {
        out.push("name=userns");
    }
    out.push("name=cgroupns");
    out
}

/// Architecture names as Go (and so Docker) spells them.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct NoQuery {}

async fn info(State(d): State<AppState>, _q: Query<NoQuery>) -> Json<serde_json::Value> {
    let all = d.containers.all();
    let containers = all.len();
    let running = all.iter().filter(|c| c.is_running()).count();
    let paused = all.iter().filter(|c| c.record().state.paused).count();
    let images = d.images.list().map(|l| l.len()).unwrap_or(0);
    let hostname = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".to_string());
    let cgv = cgroup_version();
    Json(json!({
        "ID": d.daemon_id(),
        "Containers": containers,
        "ContainersRunning": running - paused,
        "ContainersPaused": paused,
        "ContainersStopped": containers - running,
        "Images": images,
        "Driver": d.storage_driver(),
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "ipvlan", "macvlan", "null"], "Authorization": null,
                    "Log": ["json-file"]},
        "MemoryLimit": true,
        "SwapLimit": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "BridgeNfIptables": false,
        "BridgeNfIp6tables": false,
        "Debug": d.config.debug,
        "NFd": std::fs::read_dir("/proc/self/fd").map(|r| r.count()).unwrap_or(0),
        "OomKillDisable": cgv == "1",
        "NGoroutines": 0,
        "SystemTime": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgv,
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": os,
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": d.config.registry.info(),
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "DockerRootDir": d.config.data_root,
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": {"berth": {"path": "berth (libcontainer)"}},
        "DefaultRuntime": "berth",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false,
                  "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": ""},
        "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""},
        "SecurityOptions": security_options(&d),
        "Warnings": []
    }))
}
