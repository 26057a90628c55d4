//! What the builder needs from a container engine. The daemon implements it;
//! berth-build itself never talks to a daemon.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// An image the builder can start a stage from.
#[derive(Debug, Clone)]
pub struct EngineImage {
    /// `sha256:...`
    pub id: String,
    /// The whole image config (`config`, `history`, `rootfs`, ...).
    pub config: Value,
}

impl EngineImage {
    /// The docker-keyed runtime config (`Env`, `Cmd`, ...), empty when absent.
    pub fn runtime_config(&self) -> serde_json::Map<String, Value> {
        self.config
            .get("config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }
}

/// Which output of a RUN container a chunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// What a step's image records besides its layers.
#[derive(Debug, Clone)]
pub struct StepImage<'a> {
    /// The docker-keyed runtime config (`Env`, `Cmd`, ...).
    pub config: Value,
    /// Its history entry (none when empty).
    pub created_by: &'a str,
    /// The image's `author` (MAINTAINER), empty for none.
    pub author: &'a str,
}

/// An engine operation failed; the message names the object.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EngineError(pub String);

/// The engine operations a build uses. Calls block; the daemon runs a build
/// on a blocking thread.
pub trait Engine: Sync {
    /// A local image by name or id; `None` when there is none.
    fn find_image(&self, name: &str) -> Result<Option<EngineImage>, EngineError>;

    /// Pulls an image from its registry (`--pull`, or a base that is not
    /// local), for `platform` (`os/arch`, the host's when `None`), telling
    /// `progress` the pull's JSON messages.
    fn pull_image(
        &self,
        name: &str,
        platform: Option<&str>,
        progress: &mut dyn FnMut(&Value),
    ) -> Result<EngineImage, EngineError>;

    /// Creates (does not start) a container of `image` with the docker-keyed
    /// container config `config` (`Cmd`, `Env`, `HostConfig`, ...).
    fn create_container(&self, image: &str, config: Value) -> Result<String, EngineError>;

    /// Mounts the container's root filesystem and returns where it is.
    fn mount_rootfs(&self, container: &str) -> Result<PathBuf, EngineError>;

    /// Starts the container, hands its output to `output` and returns its exit code.
    fn run_container(
        &self,
        container: &str,
        output: &mut dyn FnMut(OutputStream, &[u8]),
    ) -> Result<i64, EngineError>;

    /// The container's changes become an image `image` (no new layer when
    /// nothing changed, as docker commits).
    fn commit_container(
        &self,
        container: &str,
        image: &StepImage<'_>,
    ) -> Result<String, EngineError>;

    /// A new image `image` with the layers of `parent` (none for `scratch`).
    fn derive_image(
        &self,
        parent: Option<&str>,
        image: &StepImage<'_>,
    ) -> Result<String, EngineError>;

    fn remove_container(&self, container: &str) -> Result<(), EngineError>;

    /// Where the directories of `RUN --mount=type=cache` are kept across builds.
    fn cache_mount_root(&self) -> PathBuf;

    /// Downloads `url` (http or https, redirects followed) into the file `dest`,
    /// whose mtime becomes the response's `Last-Modified` (the epoch without one),
    /// as docker's ADD of a URL.
    fn download(&self, url: &str, dest: &Path) -> Result<(), EngineError>;

    /// A local image and its parents, nearest first; empty when there is no such image.
    fn image_lineage(&self, name: &str) -> Result<Vec<String>, EngineError>;

    fn tag_image(&self, image: &str, reference: &str) -> Result<(), EngineError>;

    /// The image a build step with this cache key made before, if it still exists.
    fn cache_lookup(&self, key: &str) -> Option<String>;

    fn cache_store(&self, key: &str, image: &str) -> Result<(), EngineError>;
}
