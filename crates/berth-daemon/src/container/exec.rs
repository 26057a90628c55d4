//! `docker exec`: another process in a running container, with its own shim.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_api::ApiError;
use berth_runtime::Process;
use berth_shim::protocol::Frame;
use berth_shim::ShimConfig;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, watch};

use super::security;
use super::shim::{self, ShimEvent};
use super::spec::{process_env, resolve_user};
use super::{Container, ExitState, Output};
use crate::Daemon;

#[derive(Debug, Clone, Default)]
struct ExecState {
    running: bool,
    exit_code: Option<i64>,
    pid: i64,
    started: bool,
}

pub struct Exec {
    pub id: String,
    pub container_id: String,
    /// The exec config as posted (`Cmd`, `Env`, `Tty`, `AttachStdin`, ...).
    pub config: Value,
    state: Mutex<ExecState>,
    pub hub: broadcast::Sender<Output>,
    shim: Mutex<Option<mpsc::UnboundedSender<Frame>>>,
    pub exit: watch::Sender<ExitState>,
}

impl Exec {
    pub fn tty(&self) -> bool {
        self.config["Tty"].as_bool().unwrap_or(false)
    }
    pub fn send(&self, frame: Frame) -> bool {
        let g = self.shim.lock().unwrap_or_else(|p| p.into_inner());
        g.as_ref().is_some_and(|tx| tx.send(frame).is_ok())
    }
    fn st<T>(&self, f: impl FnOnce(&mut ExecState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
    pub fn is_running(&self) -> bool {
        self.st(|s| s.running)
    }

    /// `GET /exec/{id}/json`.
    pub fn inspect(&self) -> Value {
        let s = self.st(|s| s.clone());
        let cmd: Vec<String> = self.config["Cmd"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "ID": self.id,
            "Running": s.running,
            "ExitCode": s.exit_code,
            "ProcessConfig": {
                "tty": self.tty(),
                "entrypoint": cmd.first().cloned().unwrap_or_default(),
                "arguments": cmd.get(1..).unwrap_or(&[]),
                "privileged": self.config["Privileged"].as_bool().unwrap_or(false),
                "user": self.config["User"].as_str().unwrap_or("")
            },
            "OpenStdin": self.config["AttachStdin"].as_bool().unwrap_or(false),
            "OpenStderr": self.config["AttachStderr"].as_bool().unwrap_or(false),
            "OpenStdout": self.config["AttachStdout"].as_bool().unwrap_or(false),
            "CanRemove": false,
            "ContainerID": self.container_id,
            "DetachKeys": self.config["DetachKeys"].as_str().unwrap_or(""),
            "Pid": s.pid
        })
    }
}

#[derive(Default)]
pub struct Execs {
    map: Mutex<HashMap<String, Arc<Exec>>>,
}

impl Execs {
    pub fn get(&self, id: &str) -> Result<Arc<Exec>, ApiError> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }
    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
    fn insert(&self, e: Arc<Exec>) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(e.id.clone(), e);
    }
}

impl Daemon {
    /// `POST /containers/{id}/exec`.
    pub fn create_exec(&self, c: &Arc<Container>, config: Value) -> Result<String, ApiError> {
        if !c.is_running() {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let cmd_empty = config["Cmd"].as_array().is_none_or(Vec::is_empty);
        if cmd_empty {
            return Err(ApiError::invalid("No exec command specified"));
        }
        let id = super::create::new_id();
        let exec = Arc::new(Exec {
            id: id.clone(),
            container_id: c.id.clone(),
            config,
            state: Mutex::new(ExecState::default()),
            hub: broadcast::channel(1024).0,
            shim: Mutex::new(None),
            exit: watch::channel(ExitState::default()).0,
        });
        self.execs.insert(exec.clone());
        c.update(|r| r.exec_ids.push(id.clone()));
        let cmd = command_line(&exec.config);
        self.container_event(c, &format!("exec_create: {cmd}"), &[("execID", id.clone())]);
        Ok(id)
    }

    /// Refuses an exec that already ran or whose container stopped (what `start_exec` checks
    /// first), without starting it.
    pub fn check_exec_startable(&self, exec: &Exec) -> Result<(), ApiError> {
        if exec.st(|s| s.started) {
            return Err(ApiError::conflict(format!(
                "Error: Exec command {} has already run",
                exec.id
            )));
        }
        let c = self.find_container(&exec.container_id)?;
        if !c.is_running() {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        Ok(())
    }

    /// Starts an exec's process; output flows to its hub from then on.
    pub async fn start_exec(
        self: &Arc<Self>,
        exec: &Arc<Exec>,
        console: Option<(u16, u16)>,
    ) -> Result<(), ApiError> {
        if exec.st(|s| std::mem::replace(&mut s.started, true)) {
            return Err(ApiError::conflict(format!(
                "Error: Exec command {} has already run",
                exec.id
            )));
        }
        let c = self.find_container(&exec.container_id)?;
        if !c.is_running() {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let record = c.record();
        let rootfs = self.rootfs_dir(&c.id);
        let cfg = &exec.config;
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let user = match cfg["User"].as_str() {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => record.config["User"].as_str().unwrap_or("").to_string(),
        };
        let (uid, gid, gids) =
            resolve_user(&rootfs, &user, &strs(&record.host_config["GroupAdd"]))?;
        let mut env = strs(&record.config["Env"]);
        env.extend(strs(&cfg["Env"]));
        let hostname = record.config["Hostname"].as_str().unwrap_or("");
        let tty = exec.tty();
        let cwd = match cfg["WorkingDir"].as_str() {
            Some(w) if !w.is_empty() => w.to_string(),
            _ => match record.config["WorkingDir"].as_str() {
                Some(w) if !w.is_empty() => w.to_string(),
                _ => "/".to_string(),
            },
        };
        let process = Process {
            args: strs(&cfg["Cmd"]),
            env: process_env(&env, hostname, tty),
            cwd,
            uid,
            gid,
            additional_gids: gids,
            terminal: tty,
            privileged: cfg["Privileged"].as_bool().unwrap_or(false)
                || record.host_config["Privileged"].as_bool().unwrap_or(false),
            cap_add: strs(&record.host_config["CapAdd"]),
            cap_drop: strs(&record.host_config["CapDrop"]),
            // As dockerd: an exec runs with the container's process settings.
            no_new_privileges: security::parse_security_opts(&record.host_config).unwrap_or(false),
            oom_score_adj: super::spec::oom_score_adj(&record.host_config),
            rlimits: security::rlimits(&record.host_config),
        };
        let state = shim::state_dir(&self.config.exec_root, &c.id);
        let short = &exec.id[..12];
        let mounts = match self.container_spec(&record) {
            Ok(spec) => super::lifecycle::shim_mounts(&spec.mounts),
            Err(_) => Vec::new(),
        };
        let config = ShimConfig {
            id: crate::runtime_id(&c.id).to_string(),
            runtime_root: self.runtime_root(),
            bundle: None,
            args: process.args.clone(),
            env: process.env.clone(),
            rootfs,
            mounts,
            exec: Some(process),
            tty,
            stdin: cfg["AttachStdin"].as_bool().unwrap_or(false),
            log_path: None,
            log: None,
            socket: self.shim_socket(&c.id, Some(short)),
            exit_file: state.join(format!("exec-{short}.exit")),
        };
        let t0 = std::time::Instant::now();
        let ready = shim::launch(&self.config.berth_exe, &config, &state).await?;
        tracing::debug!(exec = %exec.id, elapsed = ?t0.elapsed(), "exec shim ready");
        if let Some(error) = ready.error {
            exec.st(|s| s.exit_code = Some(ready.exit_code as i64));
            let message = format!(
                "OCI runtime exec failed: exec failed: unable to start container process: {error}: unknown"
            );
            return Err(ApiError::invalid(message));
        }
        let mut link = shim::connect(&config.socket, exec.hub.clone())
            .await
            .map_err(|e| ApiError::system(format!("connect to exec shim {}: {e}", exec.id)))?;
        if let Some((h, w)) = console {
            let _ = link.tx.send(Frame::Resize(h, w));
        }
        let _ = link.tx.send(Frame::Start);
        let pid = shim::await_start(&mut link).await.map_err(|(code, msg)| {
            exec.st(|s| s.exit_code = Some(code as i64));
            ApiError::system(format!("OCI runtime exec failed: {msg}"))
        })?;
        tracing::debug!(exec = %exec.id, elapsed = ?t0.elapsed(), "exec process started");
        exec.st(|s| {
            s.running = true;
            s.pid = pid as i64;
        });
        exec.exit.send_modify(|e| e.running = true);
        *exec.shim.lock().unwrap_or_else(|p| p.into_inner()) = Some(link.tx.clone());
        let cmd = command_line(cfg);
        self.container_event(
            &c,
            &format!("exec_start: {cmd}"),
            &[("execID", exec.id.clone())],
        );
        let daemon = self.clone();
        let exec = exec.clone();
        let exit_file = config.exit_file.clone();
        let mut events = link.events;
        tokio::spawn(async move {
            let mut code = None;
            while let Some(ev) = events.recv().await {
                if let ShimEvent::Exited(c) = ev {
                    code = c;
                    break;
                }
            }
            let code = code
                .or_else(|| shim::read_exit_file(&exit_file))
                .unwrap_or(126);
            let _ = std::fs::remove_file(&exit_file);
            let _ = std::fs::remove_file(exit_file.with_extension("json"));
            *exec.shim.lock().unwrap_or_else(|p| p.into_inner()) = None;
            exec.st(|s| {
                s.running = false;
                s.exit_code = Some(code as i64);
            });
            exec.exit.send_modify(|e| {
                e.exits += 1;
                e.code = code as i64;
                e.running = false;
            });
            daemon.container_event(
                &c,
                "exec_die",
                &[("execID", exec.id.clone()), ("exitCode", code.to_string())],
            );
        });
        Ok(())
    }
}

fn command_line(config: &Value) -> String {
    config["Cmd"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
