//! The daemon's side of `docker build`: berth-build's [`Engine`] on top of the
//! daemon's containers and image store. A build runs on a blocking thread;
//! container operations are async and are driven from there with the
//! runtime's handle.

use std::path::PathBuf;
use std::sync::Arc;

use berth_build::builder::{Engine, EngineError, EngineImage, OutputStream, StepImage};
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::Daemon;

/// What the task watching a RUN container hands to the build's thread.
enum Relay {
    Output(crate::container::Output),
    Done(Result<i64, EngineError>),
}

pub struct DaemonEngine {
    daemon: Arc<Daemon>,
    handle: Handle,
}

impl DaemonEngine {
    /// Must be made on the runtime (it keeps the current handle).
    pub fn new(daemon: Arc<Daemon>) -> DaemonEngine {
        DaemonEngine {
            daemon,
            handle: Handle::current(),
        }
    }
}

fn err(what: impl std::fmt::Display) -> EngineError {
    EngineError(what.to_string())
}

impl Engine for DaemonEngine {
    fn find_image(&self, name: &str) -> Result<Option<EngineImage>, EngineError> {
        let info = match self.daemon.images.resolve(name) {
            Ok(i) => i,
            Err(e) if e.status_kind() == berth_image::Kind::NotFound => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let bytes = self.daemon.images.config_bytes(&info.id).map_err(err)?;
        let config: Value = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("image config of {name}: {e}")))?;
        Ok(Some(EngineImage {
            id: info.id,
            config,
        }))
    }

    fn create_container(&self, image: &str, mut config: Value) -> Result<String, EngineError> {
        config["Image"] = Value::String(image.to_string());
        let (id, _) = self
            .handle
            .block_on(self.daemon.create_container(None, config))
            .map_err(|e| {
                err(format!(
                    "create a build container of {image}: {}",
                    e.message
                ))
            })?;
        Ok(id)
    }

    fn mount_rootfs(&self, container: &str) -> Result<PathBuf, EngineError> {
        let c = self
            .daemon
            .containers
            .find(container)
            .map_err(|e| err(e.message))?;
        let image = c.record().image_id;
        // Not idmapped even under --userns-remap: the builder writes COPY/ADD files from the
        // host as the image's own ids, which is how layers are kept on disk.
        self.daemon
            .mount_rootfs(&c.id, &image, None)
            .map_err(|e| err(e.message))?;
        Ok(self.daemon.rootfs_dir(&c.id))
    }

    fn run_container(
        &self,
        container: &str,
        output: &mut dyn FnMut(OutputStream, &[u8]),
    ) -> Result<i64, EngineError> {
        let c = self
            .daemon
            .containers
            .find(container)
            .map_err(|e| err(e.message))?;
        let daemon = self.daemon.clone();
        // The output callback may block (it feeds the response stream), so it runs here,
        // on the build's thread, fed from a task on the runtime.
        let (tx, rx) = std::sync::mpsc::channel::<Relay>();
        self.handle.spawn(async move {
            let mut out = c.hub.subscribe();
            let mut exit = c.exit.subscribe();
            let before = exit.borrow().exits;
            if let Err(e) = daemon.start_container(&c).await {
                let msg = format!("start build container {}: {}", &c.id[..12], e.message);
                let _ = tx.send(Relay::Done(Err(err(msg))));
                return;
            }
            loop {
                tokio::select! {
                    msg = out.recv() => match msg {
                        Ok(o) => { let _ = tx.send(Relay::Output(o)); }
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    },
                    changed = exit.wait_for(|e| e.exits > before && !e.running) => {
                        if changed.is_ok() {
                            loop {
                                match out.try_recv() {
                                    Ok(o) => { let _ = tx.send(Relay::Output(o)); }
                                    Err(TryRecvError::Lagged(_)) => {}
                                    Err(_) => break,
                                }
                            }
                        }
                        break;
                    }
                }
            }
            let code = c.exit.borrow().code;
            let _ = tx.send(Relay::Done(Ok(code)));
        });
        for msg in rx {
            match msg {
                Relay::Output(o) => {
                    let stream = if o.stream == 2 {
                        OutputStream::Stderr
                    } else {
                        OutputStream::Stdout
                    };
                    output(stream, &o.data)
                }
                Relay::Done(result) => return result,
            }
        }
        Err(err(format!(
            "build container {container} vanished while running"
        )))
    }

    fn commit_container(
        &self,
        container: &str,
        image: &StepImage<'_>,
    ) -> Result<String, EngineError> {
        let c = self
            .daemon
            .containers
            .find(container)
            .map_err(|e| err(e.message))?;
        let parent = c.record().image_id;
        let upper = berth_image::rootfs::upper_dir(&self.daemon.container_dir(&c.id));
        self.daemon
            .images
            .commit_step(
                &parent,
                &upper,
                image.config.clone(),
                image.created_by,
                image.author,
            )
            .map_err(|e| err(format!("commit build container {}: {e}", &c.id[..12])))
    }

    fn derive_image(
        &self,
        parent: Option<&str>,
        image: &StepImage<'_>,
    ) -> Result<String, EngineError> {
        self.daemon
            .images
            .derive(parent, image.config.clone(), image.created_by, image.author)
            .map_err(err)
    }

    fn remove_container(&self, container: &str) -> Result<(), EngineError> {
        let c = match self.daemon.containers.find(container) {
            Ok(c) => c,
            Err(_) => return Ok(()),
        };
        self.handle
            .block_on(self.daemon.remove_container(&c, true, true))
            .map_err(|e| {
                err(format!(
                    "remove build container {}: {}",
                    &c.id[..12],
                    e.message
                ))
            })
    }

    fn image_lineage(&self, name: &str) -> Result<Vec<String>, EngineError> {
        let first = match self.daemon.images.resolve(name) {
            Ok(i) => i,
            Err(e) if e.status_kind() == berth_image::Kind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        let images = self.daemon.images.list().map_err(err)?;
        let mut lineage = vec![first.id.clone()];
        let mut parent = first.parent;
        while !parent.is_empty() && !lineage.contains(&parent) {
            lineage.push(parent.clone());
            parent = images
                .iter()
                .find(|i| i.id == parent)
                .map(|i| i.parent.clone())
                .unwrap_or_default();
        }
        Ok(lineage)
    }

    fn tag_image(&self, image: &str, reference: &str) -> Result<(), EngineError> {
        self.daemon.images.tag(image, reference).map_err(err)?;
        let attrs = [("name".to_string(), reference.to_string())].into();
        self.daemon.events.publish("image", "tag", image, attrs);
        Ok(())
    }

    fn cache_lookup(&self, key: &str) -> Option<String> {
        self.daemon.images.build_cache_get(key).ok().flatten()
    }

    fn cache_store(&self, key: &str, image: &str) -> Result<(), EngineError> {
        self.daemon.images.build_cache_put(key, image).map_err(err)
    }
}
