//! Remapped containers (`berth daemon --userns-remap`): which containers get a user
//! namespace, the settings dockerd refuses with one, and the namespace file a container
//! joins (made before it starts, so that its network namespace can be made inside it).

use std::path::PathBuf;

use berth_api::ApiError;
use berth_runtime::userns::{self, IdMapping};
use serde_json::Value;

use super::Container;
use crate::Daemon;

/// `--userns` values dockerd accepts.
fn valid_mode(mode: &str) -> bool {
    mode.is_empty() || mode == "host"
}

/// Refuses an unknown `UsernsMode` and, on a remapping daemon, what dockerd refuses in a
/// user namespace.
pub fn check(hc: &Value, remapping: bool) -> Result<(), ApiError> {
    let mode = |k: &str| hc[k].as_str().unwrap_or("");
    let userns = mode("UsernsMode");
    if !valid_mode(userns) {
        return Err(ApiError::invalid(format!("invalid USER mode: {userns}")));
    }
    if !remapping || userns == "host" {
        return Ok(());
    }
    if hc["Privileged"].as_bool().unwrap_or(false) {
        return Err(ApiError::invalid(
            "privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode",
        ));
    }
    if mode("NetworkMode") == "host" {
        return Err(ApiError::invalid(
            "cannot share the host's network namespace when user namespaces are enabled",
        ));
    }
    if mode("PidMode") == "host" {
        return Err(ApiError::invalid(
            "cannot share the host PID namespace when user namespaces are enabled",
        ));
    }
    // Beyond dockerd: the runtime cannot set up /dev/mqueue for the host's IPC namespace from
    // inside a user namespace, so refuse it here rather than fail at start.
    if mode("IpcMode") == "host" {
        return Err(ApiError::invalid(
            "cannot share the host IPC namespace when user namespaces are enabled (run with --userns=host)",
        ));
    }
    Ok(())
}

/// Container ids to host ids (an id outside the mapping becomes the container's root).
pub fn to_host_ids(m: &IdMapping) -> berth_image::layer::IdMap {
    let m = m.clone();
    let (root_uid, root_gid) = m.root();
    std::sync::Arc::new(move |uid, gid| {
        (
            m.uid_to_host(uid).unwrap_or(root_uid),
            m.gid_to_host(gid).unwrap_or(root_gid),
        )
    })
}

/// Host ids to container ids (an id outside the mapping becomes nobody, 65534).
pub fn to_container_ids(m: &IdMapping) -> berth_image::layer::IdMap {
    let m = m.clone();
    std::sync::Arc::new(move |uid, gid| {
        (
            m.uid_to_container(uid).unwrap_or(65534),
            m.gid_to_container(gid).unwrap_or(65534),
        )
    })
}

fn sys(e: impl std::fmt::Display) -> ApiError {
    ApiError::system(e.to_string())
}

impl Daemon {
    /// The id mapping of a container with this HostConfig: the daemon's, unless the
    /// container asked for the host's user namespace (`--userns=host`).
    pub fn container_mapping(&self, hc: &Value) -> Option<&IdMapping> {
        let host = hc["UsernsMode"].as_str() == Some("host");
        self.remap.as_ref().filter(|_| !host).map(|r| &r.mapping)
    }

    /// Where a remapped container's user namespace is kept while it runs.
    pub fn userns_path(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("userns").join(id)
    }

    /// Makes the user namespace a remapped container joins (none for the others).
    pub(crate) fn userns_up(&self, c: &Container) -> Result<(), ApiError> {
        let r = c.record();
        let Some(mapping) = self.container_mapping(&r.host_config) else {
            return Ok(());
        };
        let path = self.userns_path(&c.id);
        userns::release(&path).map_err(sys)?;
        let holder = userns::new_user_namespace(mapping, false).map_err(sys)?;
        userns::keep(&holder.ns_path("user"), &path).map_err(sys)
    }

    /// Releases the user namespace file after the container stopped (or failed to start).
    pub(crate) fn userns_down(&self, id: &str) {
        if let Err(e) = userns::release(&self.userns_path(id)) {
            tracing::warn!("user namespace of {id}: {e}");
        }
    }

    /// Removes namespace files no running container owns (after a crash).
    pub(crate) fn recover_userns(&self) {
        let dir = self.config.exec_root.join("userns");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let running = self.containers.find(&name).is_ok_and(|c| c.is_running());
            if !running {
                self.userns_down(&name);
            }
        }
    }

    /// The user namespace file of a remapped container's spec: its own, or the one of the
    /// container whose network (or IPC, PID) namespace it shares: namespaces are shared
    /// only within one user namespace.
    pub(crate) fn spec_userns(&self, r: &super::Record) -> Result<Option<PathBuf>, ApiError> {
        if self.container_mapping(&r.host_config).is_none() {
            return Ok(None);
        }
        for key in ["NetworkMode", "IpcMode", "PidMode"] {
            let Some(target) = r.host_config[key]
                .as_str()
                .and_then(|m| m.strip_prefix("container:"))
            else {
                continue;
            };
            let other = self.containers.find(target)?.record();
            if other.state.running {
                return Ok(Some(format!("/proc/{}/ns/user", other.state.pid).into()));
            }
        }
        Ok(Some(self.userns_path(&r.id)))
    }

    /// The generated files (hostname, hosts, resolv.conf) owned by the container's root.
    pub(crate) fn chown_generated_files(
        &self,
        id: &str,
        mapping: &IdMapping,
    ) -> Result<(), ApiError> {
        let (uid, gid) = mapping.root();
        let dir = self.container_dir(id);
        for name in ["hostname", "hosts", "resolv.conf"] {
            let path = dir.join(name);
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                .map_err(|e| ApiError::system(format!("chown {}: {e}", path.display())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dockerd_refusals() {
        assert!(check(&json!({}), true).is_ok());
        assert!(check(&json!({"UsernsMode": "host", "Privileged": true}), true).is_ok());
        assert!(check(&json!({"Privileged": true}), false).is_ok());
        let e = check(&json!({"Privileged": true}), true).unwrap_err();
        assert!(e.message.starts_with("privileged mode is incompatible"));
        assert!(check(&json!({"NetworkMode": "host"}), true).is_err());
        assert!(check(&json!({"PidMode": "host"}), true).is_err());
        assert!(check(&json!({"IpcMode": "host"}), true).is_err());
        assert!(check(&json!({"IpcMode": "host", "UsernsMode": "host"}), true).is_ok());
        assert!(check(&json!({"NetworkMode": "host", "UsernsMode": "host"}), true).is_ok());
        let e = check(&json!({"UsernsMode": "private"}), false).unwrap_err();
        assert_eq!(e.message, "invalid USER mode: private");
    }
}
