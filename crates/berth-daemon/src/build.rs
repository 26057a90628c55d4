//! The daemon's side of `docker build`: berth-build's [`Engine`] on top of the
//! daemon's containers and image store. A build runs on a blocking thread;
//! container operations are async and are driven from there with the
//! runtime's handle.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_build::builder::{Engine, EngineError, EngineImage, OutputStream, StepImage};
use berth_image::reference::Reference;
use berth_registry::client::{self, AuthConfigs, Progress, RegistryError};
use nix::fcntl::{Flock, FlockArg};
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
    /// The client's registry credentials (`X-Registry-Config`), for pulls of base images.
    auths: AuthConfigs,
}

impl DaemonEngine {
    /// Must be made on the runtime (it keeps the current handle).
    pub fn new(daemon: Arc<Daemon>, auths: AuthConfigs) -> DaemonEngine {
        DaemonEngine {
            daemon,
            handle: Handle::current(),
            auths,
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

    fn pull_image(
        &self,
        name: &str,
        platform: Option<&str>,
        progress: &mut dyn FnMut(&Value),
    ) -> Result<EngineImage, EngineError> {
        let r = Reference::parse_normalized(name)
            .map_err(|e| err(format!("invalid reference format {name:?}: {e}")))?;
        let auth = self.auths.for_domain(&r.domain);
        let path = r.path.clone();
        let cfg = self.daemon.config.registry.clone();
        let images = self.daemon.images.clone();
        let platform = platform.map(String::from);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let pull = self.handle.spawn(async move {
            let progress = Progress::new(tx);
            let res = client::pull::resolve(&cfg, &r, platform.as_deref(), &auth).await?;
            let name = res.reference.familiar_string();
            client::pull::fetch(res, images, &progress).await?;
            Ok::<_, RegistryError>(name)
        });
        // The channel closes when the pull ends (its Progress dropped).
        while let Some(v) = rx.blocking_recv() {
            progress(&v);
        }
        let pulled = self
            .handle
            .block_on(pull)
            .map_err(|e| err(format!("failed to pull {name}: {e}")))?
            .map_err(|e| {
                // Name the image when the registry's message does not (a failed connection).
                let msg = e.to_string();
                if msg.contains(&path) {
                    err(msg)
                } else {
                    err(format!("failed to pull {name}: {msg}"))
                }
            })?;
        self.daemon
            .events
            .publish("image", "pull", &pulled, Default::default());
        self.find_image(&pulled)?
            .ok_or_else(|| err(format!("pulled {pulled}, but it is not in the image store")))
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

    fn cache_mount_root(&self) -> PathBuf {
        cache_mount_root(&self.daemon)
    }

    fn download(&self, url: &str, dest: &Path) -> Result<(), EngineError> {
        self.handle.block_on(download(url, dest))
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

/// GETs `url` into `dest` (ADD of a URL): the system's CAs for https, redirects followed,
/// the file's mtime set to `Last-Modified` or the epoch, as dockerd.
async fn download(url: &str, dest: &Path) -> Result<(), EngineError> {
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;

    let failed = |e: &dyn std::fmt::Display| err(format!("failed to GET {url}: {e}"));
    let req = hyper::Request::get(url)
        .body(client::http::empty())
        .map_err(|e| failed(&e))?;
    let resp = client::http::send(&client::http::Tls::system(), true, req)
        .await
        .map_err(|e| failed(&e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(err(format!(
            "failed to GET {url} with status {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )));
    }
    let modified = resp
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .and_then(|t| u64::try_from(t.timestamp()).ok())
        .map_or(std::time::UNIX_EPOCH, |secs| {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
        });
    let write_err = |e: std::io::Error| err(format!("download {url} to {}: {e}", dest.display()));
    let mut file = tokio::fs::File::create(dest).await.map_err(write_err)?;
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| failed(&e))?;
        if let Ok(data) = frame.into_data() {
            file.write_all(&data).await.map_err(write_err)?;
        }
    }
    file.flush().await.map_err(write_err)?;
    let file = file.into_std().await;
    file.set_modified(modified).map_err(write_err)?;
    Ok(())
}

/// A `RUN --mount=type=cache` directory the daemon keeps (`<data-root>/cache-mounts/<sha256
/// of id>`, its id in `<hash>.id` beside it).
pub struct CacheMount {
    pub dir: PathBuf,
    pub id: String,
    pub size: u64,
    /// A build holds it now.
    pub in_use: bool,
    pub created: i64,
}

fn cache_mount_root(d: &Daemon) -> PathBuf {
    d.config.data_root.join("cache-mounts")
}

/// The cache mount directories there are.
pub fn cache_mounts(d: &Daemon) -> Vec<CacheMount> {
    let root = cache_mount_root(d);
    let Ok(rd) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut out: Vec<CacheMount> = rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let dir = e.path();
            let in_use = std::fs::File::open(&dir)
                .map(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).is_err())
                .unwrap_or(false);
            let created = e
                .metadata()
                .ok()
                .and_then(|m| m.created().or_else(|_| m.modified()).ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |t| t.as_secs() as i64);
            CacheMount {
                id: std::fs::read_to_string(dir.with_extension("id")).unwrap_or_default(),
                size: crate::container::list::dir_size(&dir),
                in_use,
                created,
                dir,
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Removes the cache mount directories no build holds; returns them.
pub fn prune_cache_mounts(d: &Daemon) -> Vec<CacheMount> {
    cache_mounts(d)
        .into_iter()
        .filter(|m| {
            // Held while it goes, so that no build takes it meanwhile.
            let Ok(file) = std::fs::File::open(&m.dir) else {
                return false;
            };
            let Ok(_lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
                return false;
            };
            let gone = std::fs::remove_dir_all(&m.dir).is_ok();
            let _ = std::fs::remove_file(m.dir.with_extension("id"));
            gone
        })
        .collect()
}
