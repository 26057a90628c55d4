//! Start, exit, stop, kill, restart, wait, remove, rename.

use std::sync::Arc;
use std::time::Duration;

use berth_api::ApiError;
use berth_shim::protocol::Frame;
use berth_shim::ShimConfig;

use super::record::State;
use super::shim::{self, Link, ShimEvent};
use super::{no_such_container, now, Container, ExitState};
use crate::Daemon;

/// Signal names and numbers as docker accepts them (`KILL`, `SIGKILL`, `9`).
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => {
            let rt = name.strip_prefix("RTMIN+")?.parse::<i32>().ok()?;
            return (rt <= 30).then_some(34 + rt);
        }
    };
    Some(n)
}

impl Daemon {
    pub(crate) fn persist(&self, c: &Container) {
        if let Err(e) = self.table.put(&c.id, &c.record()) {
            tracing::error!("persist container {}: {e}", c.id);
        }
    }

    /// `POST /containers/{id}/start`. A container with `AutoRemove` that fails to start is
    /// removed, as dockerd does (a client waiting for `removed` would wait forever).
    pub async fn start_container(self: &Arc<Self>, c: &Arc<Container>) -> Result<(), ApiError> {
        let result = self.start_inner(c).await;
        if let Err(e) = &result {
            if e.kind != berth_api::ErrorKind::NotModified && c.record().auto_remove() {
                let _ = self.remove_container(c, true, true).await;
            }
        }
        result
    }

    async fn start_inner(self: &Arc<Self>, c: &Arc<Container>) -> Result<(), ApiError> {
        let _op = c.op.lock().await;
        if c.is_running() {
            return Err(ApiError::not_modified());
        }
        self.reset_restart(c);
        self.start_locked(c).await
    }

    /// A start with the container's operation lock held (a user's, or the restart policy's).
    pub(super) async fn start_locked(self: &Arc<Self>, c: &Arc<Container>) -> Result<(), ApiError> {
        let record = c.record();
        let mapping = self.container_mapping(&record.host_config);
        self.mount_rootfs(&c.id, &record.image_id, mapping)?;
        self.userns_up(c)?;
        if let Err(e) = self.network_up(c).await {
            self.userns_down(&c.id);
            return Err(e);
        }
        let launched = self.launch(c).await;
        if launched.is_err() {
            self.network_down(c).await;
            self.userns_down(&c.id);
        }
        launched
    }

    /// The process of a start, once the root filesystem and the network are ready.
    async fn launch(self: &Arc<Self>, c: &Arc<Container>) -> Result<(), ApiError> {
        let record = c.record();
        let spec = self.container_spec(&record)?;
        if spec.resources.cpu_rt_runtime > 0 {
            self.cgroup(c)
                .reserve_realtime(spec.resources.cpu_rt_runtime, spec.resources.cpu_rt_period)
                .map_err(|e| {
                    ApiError::system(format!("real-time budget for container {}: {e}", c.id))
                })?;
        }
        let state = shim::state_dir(&self.config.exec_root, &c.id);
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state)
            .map_err(|e| ApiError::system(format!("state dir of {}: {e}", c.id)))?;
        berth_runtime::Runtime::write_bundle(&spec, &state)
            .map_err(|e| ApiError::system(e.to_string()))?;
        // A previous run's runtime state (after a crash) would make the id taken.
        let _ = self.runtime().delete(crate::runtime_id(&c.id), true);
        let config = ShimConfig {
            id: crate::runtime_id(&c.id).to_string(),
            runtime_root: self.runtime_root(),
            bundle: Some(state.clone()),
            exec: None,
            args: spec.process.args.clone(),
            env: spec.process.env.clone(),
            rootfs: spec.rootfs.clone(),
            mounts: shim_mounts(&spec.mounts),
            tty: record.tty(),
            stdin: record.open_stdin(),
            log_path: Some(self.log_path(&c.id)),
            log: Some(self.shim_log_config(&record)),
            socket: self.shim_socket(&c.id, None),
            exit_file: state.join("exit"),
        };
        let ready = shim::launch(&self.config.berth_exe, &config, &state).await?;
        if let Some(error) = ready.error {
            let message = if ready.exit_code == 126 || ready.exit_code == 127 {
                shim::start_error(&error)
            } else {
                error
            };
            c.update(|r| {
                r.state.exit_code = ready.exit_code as i64;
                r.state.error = message.clone();
            });
            self.persist(c);
            let _ = std::fs::remove_dir_all(&state);
            return Err(if ready.exit_code == 125 {
                ApiError::system(message)
            } else {
                ApiError::invalid(message)
            });
        }
        let mut link = shim::connect(&config.socket, c.hub.clone())
            .await
            .map_err(|e| ApiError::system(format!("connect to shim of {}: {e}", c.id)))?;
        if let Some((h, w)) = console_size(&record.host_config["ConsoleSize"]) {
            let _ = link.tx.send(Frame::Resize(h, w));
        }
        self.watch_oom(c);
        let _ = link.tx.send(Frame::Start);
        let pid = match shim::await_start(&mut link).await {
            Ok(pid) => pid,
            Err((_, msg)) => {
                c.update(|r| {
                    r.state.exit_code = 128;
                    r.state.error = msg.clone();
                });
                self.persist(c);
                return Err(ApiError::system(msg));
            }
        };
        c.update(|r| {
            r.state = State {
                status: "running".into(),
                running: true,
                pid: pid as i64,
                started_at: now(),
                finished_at: r.state.finished_at.clone(),
                health: r.state.health.take(),
                ..Default::default()
            };
            r.has_been_manually_stopped = false;
        });
        c.backoff(|b| b.exit_on_next = false);
        self.persist(c);
        c.exit.send_modify(|e| e.running = true);
        self.attach_link(c.clone(), link);
        self.container_event(c, "start", &[]);
        Ok(())
    }

    /// Keeps a shim link: its sender on the container, its events watched until exit.
    pub(crate) fn attach_link(self: &Arc<Self>, c: Arc<Container>, link: Link) {
        let Link { tx, mut events } = link;
        c.set_shim(Some(tx));
        self.start_health(&c);
        let daemon = self.clone();
        tokio::spawn(async move {
            let mut code = None;
            while let Some(ev) = events.recv().await {
                if let ShimEvent::Exited(c) = ev {
                    code = c;
                    break;
                }
            }
            let state = shim::state_dir(&daemon.config.exec_root, &c.id);
            let code = code
                .or_else(|| shim::read_exit_file(&state.join("exit")))
                .unwrap_or(255);
            daemon.handle_exit(&c, code).await;
        });
    }

    /// The container's process is gone: record it, tell waiters, clean up.
    pub(crate) async fn handle_exit(self: &Arc<Self>, c: &Arc<Container>, code: i32) {
        c.set_shim(None);
        self.note_oom(c, code).await;
        let restart = self.plan_restart(c, code);
        c.update(|r| {
            r.state.status = "exited".into();
            r.state.running = false;
            r.state.paused = false;
            r.state.pid = 0;
            r.state.exit_code = code as i64;
            r.state.finished_at = now();
            super::health::stopped(&mut r.state);
            if restart.is_some() {
                super::restart::mark_restarting(r);
            }
        });
        self.persist(c);
        let _ = std::fs::remove_dir_all(shim::state_dir(&self.config.exec_root, &c.id));
        self.network_down(c).await;
        self.userns_down(&c.id);
        self.container_event(c, "die", &[("exitCode", code.to_string())]);
        c.exit.send_modify(|e| {
            e.exits += 1;
            e.code = code as i64;
            e.running = restart.is_some();
        });
        if let Some(plan) = restart {
            self.spawn_restart(c, plan);
        } else if c.record().auto_remove() {
            let daemon = self.clone();
            let c = c.clone();
            tokio::spawn(async move {
                let _ = daemon.remove_container(&c, true, true).await;
            });
        }
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill_container(&self, c: &Arc<Container>, signal: &str) -> Result<(), ApiError> {
        let sig = parse_signal(signal)
            .ok_or_else(|| ApiError::invalid(format!("Invalid signal: {signal}")))?;
        // As docker: killing with KILL or the stop signal ends the restart policy's loop.
        let stops = sig == 9 || parse_signal(&c.record().stop_signal()) == Some(sig);
        if stops && self.cancel_restart(c) {
            return Ok(());
        }
        if !c.is_running() {
            return Err(ApiError::conflict(format!(
                "Cannot kill container: {}: Container {} is not running",
                c.name(),
                c.id
            )));
        }
        // As dockerd: any signal from a user counts as a manual stop (for unless-stopped);
        // SIGKILL or the stop signal also ends the restart loop.
        c.update(|r| r.has_been_manually_stopped = true);
        if stops {
            c.backoff(|b| b.exit_on_next = true);
        }
        self.signal(c, sig);
        self.container_event(c, "kill", &[("signal", sig.to_string())]);
        Ok(())
    }

    fn signal(&self, c: &Container, sig: i32) {
        // A frozen container gets no signal until it is thawed (docker does the same).
        if c.record().state.paused && (sig == 9 || sig == 15) {
            let _ = self.runtime().resume(crate::runtime_id(&c.id));
            c.update(|r| r.state.paused = false);
        }
        if !c.send(Frame::Signal(sig)) {
            // No shim link (it died): signal the process directly if it is still ours.
            let pid = c.record().state.pid as i32;
            if pid > 0 && process_alive(pid) {
                // SAFETY: kill(2) on the recorded pid, checked alive just above.
                unsafe { libc::kill(pid, sig) };
            }
        }
    }

    /// Waits until the container has exited more than `exits_before` times.
    async fn wait_exit(c: &Container, exits_before: u64, timeout: Option<Duration>) -> bool {
        let mut rx = c.exit.subscribe();
        let fut = rx.wait_for(|e| e.exits > exits_before || !e.running);
        match timeout {
            Some(t) => tokio::time::timeout(t, fut).await.is_ok(),
            None => fut.await.is_ok(),
        }
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after the timeout.
    pub async fn stop_container(
        &self,
        c: &Arc<Container>,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<(), ApiError> {
        let _op = c.op.lock().await;
        if self.cancel_restart(c) {
            self.container_event(c, "stop", &[]);
            return Ok(());
        }
        if !c.is_running() {
            return Err(ApiError::not_modified());
        }
        let record = c.record();
        let signal = signal
            .map(str::to_string)
            .unwrap_or_else(|| record.stop_signal());
        let sig = parse_signal(&signal)
            .ok_or_else(|| ApiError::invalid(format!("Invalid signal: {signal}")))?;
        let timeout = timeout.unwrap_or_else(|| record.stop_timeout());
        c.update(|r| r.has_been_manually_stopped = true);
        c.backoff(|b| b.exit_on_next = true);
        let before = c.exit.borrow().exits;
        self.signal(c, sig);
        self.container_event(c, "kill", &[("signal", sig.to_string())]);
        let wait = if timeout < 0 {
            None
        } else {
            Some(Duration::from_secs(timeout as u64))
        };
        if !Self::wait_exit(c, before, wait).await {
            self.signal(c, 9);
            self.container_event(c, "kill", &[("signal", "9".into())]);
            Self::wait_exit(c, before, Some(Duration::from_secs(30))).await;
        }
        self.container_event(c, "stop", &[]);
        Ok(())
    }

    pub async fn restart_container(
        self: &Arc<Self>,
        c: &Arc<Container>,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<(), ApiError> {
        match self.stop_container(c, signal, timeout).await {
            Ok(()) => {}
            Err(e) if e.kind == berth_api::ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        self.start_container(c).await?;
        self.container_event(c, "restart", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/wait`: `not-running` (default), `next-exit`, `removed`.
    pub async fn wait_container(
        c: &Arc<Container>,
        condition: &str,
    ) -> Result<ExitState, ApiError> {
        let mut rx = c.exit.subscribe();
        let start = *rx.borrow();
        let result = match condition {
            "next-exit" => rx
                .wait_for(|e| e.exits > start.exits || e.removed)
                .await
                .map(|e| *e)
                .ok(),
            "removed" => rx.wait_for(|e| e.removed).await.map(|e| *e).ok(),
            // As dockerd: an exit wakes these waiters even when the restart policy is
            // about to start the container again (it counts as running meanwhile).
            "not-running" | "" => rx
                .wait_for(|e| !e.running || e.exits > start.exits || e.removed)
                .await
                .map(|e| *e)
                .ok(),
            other => return Err(ApiError::invalid(format!("invalid condition: \"{other}\""))),
        };
        let fallback = *c.exit.borrow();
        Ok(result.unwrap_or(fallback))
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove_container(
        self: &Arc<Self>,
        c: &Arc<Container>,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError> {
        self.remove_restarting(c, force)?;
        if c.is_running() {
            if !force {
                return Err(ApiError::conflict(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    c.name()
                )));
            }
            let before = c.exit.borrow().exits;
            self.signal(c, 9);
            self.container_event(c, "kill", &[("signal", "9".into())]);
            Self::wait_exit(c, before, Some(Duration::from_secs(30))).await;
        }
        let _op = c.op.lock().await;
        if self.containers.find(&c.id).is_err() {
            return Ok(());
        }
        let record = c.record();
        let dir = self.container_dir(&c.id);
        berth_image::rootfs::remove(&dir)
            .map_err(|e| ApiError::system(format!("remove rootfs of {}: {e}", c.id)))?;
        let _ = self.runtime().delete(crate::runtime_id(&c.id), true);
        let _ = std::fs::remove_dir_all(shim::state_dir(&self.config.exec_root, &c.id));
        let _ = std::fs::remove_dir_all(&dir);
        self.table
            .delete(&c.id)
            .map_err(|e| ApiError::system(e.to_string()))?;
        self.containers.remove(&c.id);
        if let Err(e) = self.images.release_layers(&c.id) {
            tracing::warn!("release layers of {}: {e}", c.id);
        }
        for id in &record.exec_ids {
            self.execs.remove(id);
        }
        if volumes {
            for m in record.mounts.iter().filter(|m| m.anonymous) {
                let _ = self.volumes.remove(&m.name, false, &|_| false);
            }
        }
        c.exit.send_modify(|e| e.removed = true);
        self.container_event(c, "destroy", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/pause` and `/unpause`.
    pub async fn pause_container(&self, c: &Arc<Container>, pause: bool) -> Result<(), ApiError> {
        let _op = c.op.lock().await;
        let r = c.record();
        if !r.state.running {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if pause && r.state.paused {
            return Err(ApiError::conflict(format!(
                "Container {} is already paused",
                c.id
            )));
        }
        if !pause && !r.state.paused {
            return Err(ApiError::conflict(format!(
                "Container {} is not paused",
                c.id
            )));
        }
        let rt = self.runtime();
        let id = crate::runtime_id(&c.id).to_string();
        let result =
            tokio::task::spawn_blocking(move || if pause { rt.pause(&id) } else { rt.resume(&id) })
                .await
                .map_err(|e| ApiError::system(e.to_string()))?;
        result.map_err(|e| ApiError::system(e.to_string()))?;
        c.update(|r| {
            r.state.paused = pause;
            r.state.status = if pause { "paused" } else { "running" }.into();
        });
        self.persist(c);
        self.container_event(c, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// `POST /containers/{id}/rename`.
    pub fn rename_container(&self, c: &Arc<Container>, new_name: &str) -> Result<(), ApiError> {
        if !super::names::valid_name(new_name) {
            return Err(ApiError::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let new_name = new_name.trim_start_matches('/');
        let old = c.name();
        if old == new_name {
            return Err(ApiError::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        if let Some(other) = self.containers.name_taken(new_name) {
            return Err(ApiError::conflict(format!(
                "Conflict. The container name \"/{new_name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        c.update(|r| r.name = new_name.to_string());
        self.persist(c);
        self.container_event(c, "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }

    pub fn find_container(&self, name: &str) -> Result<Arc<Container>, ApiError> {
        if name.is_empty() {
            return Err(no_such_container(name));
        }
        self.containers.find(name)
    }
}

/// The mounts the shim's executable check must look through: binds by their host source,
/// tmpfs as empty.
pub fn shim_mounts(mounts: &[berth_runtime::Mount]) -> Vec<(String, String)> {
    mounts
        .iter()
        .filter(|m| m.kind == "bind" || m.kind == "tmpfs")
        .map(|m| {
            let source = if m.kind == "bind" {
                m.source.clone()
            } else {
                String::new()
            };
            (m.destination.clone(), source)
        })
        .collect()
}

/// `[height, width]` as the API sends a console size; None when unset or zero.
pub fn console_size(v: &serde_json::Value) -> Option<(u16, u16)> {
    let a = v.as_array()?;
    let h = a.first()?.as_u64()? as u16;
    let w = a.get(1)?.as_u64()? as u16;
    (h > 0 && w > 0).then_some((h, w))
}

/// Alive and not a zombie (`/proc/PID/stat` state), as the architecture asks.
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("term"), Some(15));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("SIGRTMIN+3"), Some(37));
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal("0"), None);
        assert!(process_alive(std::process::id() as i32));
    }
}
