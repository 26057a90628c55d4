//! Starting again after a stop or a crash: reconnect to the shims of running containers,
//! record exits that happened meanwhile, and remove what a crash left half-made.

use std::sync::Arc;

use super::record::Record;
use super::shim;
use super::Container;
use crate::Daemon;

impl Daemon {
    pub(crate) async fn recover(self: &Arc<Self>) {
        let records: Vec<Record> = match self.table.all::<Record>() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("load containers: {e}");
                Vec::new()
            }
        };
        for record in records {
            let c = Container::new(record.clone());
            self.containers.insert(c.clone());
            // A pending restart has no process: `start_by_policy` starts it.
            if !record.state.running || record.state.restarting {
                self.adopt_or_abort(&c).await;
                continue;
            }
            let state = shim::state_dir(&self.config.exec_root, &c.id);
            match shim::connect(&self.shim_socket(&c.id, None), c.hub.clone()).await {
                Ok(link) => {
                    tracing::info!("reconnected to the shim of {}", c.id);
                    // The watcher of the previous daemon died with it.
                    self.watch_oom(&c);
                    self.attach_link(c.clone(), link);
                }
                Err(_) => {
                    let code = match shim::read_exit_file(&state.join("exit")) {
                        Some(code) => code,
                        None => {
                            // The shim is gone without recording an exit: end what is left.
                            let pid = record.state.pid as i32;
                            if pid > 0 && super::lifecycle::process_alive(pid) {
                                // SAFETY: kill(2) on the pid the record names, alive just now.
                                unsafe { libc::kill(pid, libc::SIGKILL) };
                            }
                            137
                        }
                    };
                    self.handle_exit(&c, code).await;
                }
            }
        }
        self.remove_orphans();
    }

    /// A container recorded as not running may still have a shim: the daemon died during its
    /// start. A shim whose process started says so at once (Started): it is adopted as
    /// running. One still waiting for Start sees the connection close and removes what it
    /// created.
    async fn adopt_or_abort(self: &Arc<Self>, c: &Arc<Container>) {
        let socket = self.shim_socket(&c.id, None);
        if !socket.exists() {
            return;
        }
        let Ok(mut link) = shim::connect(&socket, c.hub.clone()).await else {
            let _ = std::fs::remove_file(&socket);
            return;
        };
        let first = tokio::time::timeout(std::time::Duration::from_millis(200), link.events.recv());
        if let Ok(Some(shim::ShimEvent::Started(pid))) = first.await {
            tracing::info!("adopting {} (started while the daemon was down)", c.id);
            c.update(|r| {
                r.state.status = "running".into();
                r.state.running = true;
                r.state.pid = pid as i64;
                r.state.started_at = super::now();
            });
            self.persist(c);
            c.exit.send_modify(|e| e.running = true);
            self.attach_link(c.clone(), link);
        }
        // Otherwise the link drops here and the shim gives up the created container.
    }

    /// Container directories and runtime state that no record owns (a crash during create
    /// or remove): unmount and delete them.
    fn remove_orphans(&self) {
        let known = |id: &str| self.containers.find(id).is_ok_and(|c| c.id.starts_with(id));
        if let Ok(rd) = std::fs::read_dir(self.config.data_root.join("containers")) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if id.len() == 64 && !known(&id) {
                    tracing::warn!("removing leftover container directory {id}");
                    let _ = berth_image::rootfs::remove(&e.path());
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        // Layer holds of containers that no longer exist (a crash during create or remove).
        for owner in self.images.layer_holders().unwrap_or_default() {
            if !known(&owner) {
                let _ = self.images.release_layers(&owner);
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.runtime_root()) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if id.len() < 12 || !known(&id) {
                    let _ = self.runtime().delete(&id, true);
                }
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.config.exec_root.join("containers")) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if !known(&id) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
}
