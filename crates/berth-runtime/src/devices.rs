//! Devices a container gets: host device nodes (`--device`, every one with `--privileged`),
//! device cgroup rules (`--device-cgroup-rule`), and the numbers of a block device for
//! blkio throttling.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("error gathering device information while adding custom device {path:?}: {reason}")]
    Gather { path: String, reason: String },
    #[error("invalid device cgroup format '{0}'")]
    Rule(String),
    #[error("invalid device mode: {0}")]
    Mode(String),
}

/// A device node to create in the container, with the cgroup access it is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNode {
    /// Where it appears in the container.
    pub path: String,
    /// `c` or `b`.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Cgroup access, a subset of `rwm`.
    pub access: String,
}

impl DeviceNode {
    /// The OCI `linux.devices` entry.
    pub fn oci_device(&self) -> Value {
        json!({"path": self.path, "type": self.kind.to_string(), "major": self.major,
            "minor": self.minor, "fileMode": self.file_mode, "uid": self.uid, "gid": self.gid})
    }

    /// The OCI `linux.resources.devices` rule allowing it.
    pub fn cgroup_rule(&self) -> Value {
        json!({"allow": true, "type": self.kind.to_string(), "major": self.major,
            "minor": self.minor, "access": self.access})
    }
}

fn valid_access(access: &str) -> bool {
    !access.is_empty()
        && access.len() <= 3
        && access.chars().all(|c| "rwm".contains(c))
        && access
            .chars()
            .collect::<std::collections::HashSet<_>>()
            .len()
            == access.len()
}

/// The node at `host` (following symlinks), or every node under it when it is a directory
/// (docker's `--device /dev/snd`), as seen at `container` with `access`.
pub fn host_devices(
    host: &str,
    container: &str,
    access: &str,
) -> Result<Vec<DeviceNode>, DeviceError> {
    if !valid_access(access) {
        return Err(DeviceError::Mode(access.to_string()));
    }
    let gather = |reason: String| DeviceError::Gather {
        path: host.to_string(),
        reason,
    };
    let container = if container.is_empty() {
        host
    } else {
        container
    };
    let meta = std::fs::metadata(host).map_err(|e| gather(io_reason(&e)))?;
    if meta.is_dir() {
        let mut out = Vec::new();
        walk(Path::new(host), &mut |path, meta| {
            let rel = path.strip_prefix(host).unwrap_or(path);
            let dest = Path::new(container).join(rel);
            if let Some(node) = node(&dest.to_string_lossy(), meta, access) {
                out.push(node);
            }
        });
        return Ok(out);
    }
    node(container, &meta, access)
        .map(|n| vec![n])
        .ok_or_else(|| gather("not a device node".into()))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}

fn node(container: &str, meta: &std::fs::Metadata, access: &str) -> Option<DeviceNode> {
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else {
        return None;
    };
    let rdev = meta.rdev();
    Some(DeviceNode {
        path: container.to_string(),
        kind,
        major: libc::major(rdev) as i64,
        minor: libc::minor(rdev) as i64,
        file_mode: meta.permissions().mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        access: access.to_string(),
    })
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, f);
        } else {
            f(&path, &meta);
        }
    }
}

/// Every device node of the host's `/dev`, for a privileged container: as runc does, not
/// those the container's own `/dev` mounts provide (pts, shm, mqueue) nor the console.
pub fn all_host_devices() -> Vec<DeviceNode> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/dev") else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if matches!(
            name.as_str(),
            "pts" | "shm" | "mqueue" | "fd" | ".lxc" | ".lxd-mounts" | ".udev" | "console" | "ptmx"
        ) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, &mut |p, m| {
                out.extend(node(&p.to_string_lossy(), m, "rwm"))
            });
        } else {
            out.extend(node(&path.to_string_lossy(), &meta, "rwm"));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// A `--device-cgroup-rule` (`c 1:3 rwm`, `a *:* rwm`) as an OCI device cgroup rule.
pub fn parse_cgroup_rule(rule: &str) -> Result<Value, DeviceError> {
    let bad = || DeviceError::Rule(rule.to_string());
    let fields: Vec<&str> = rule.split_whitespace().collect();
    let [kind, numbers, access] = fields.as_slice() else {
        return Err(bad());
    };
    if !matches!(*kind, "a" | "b" | "c") || !valid_access(access) {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let mut out = json!({"allow": true, "type": kind, "access": access});
    for (key, value) in [("major", major), ("minor", minor)] {
        if value != "*" {
            out[key] = json!(value.parse::<i64>().map_err(|_| bad())?);
        }
    }
    Ok(out)
}

/// `(major, minor)` of the block device at `path`, for `--device-*-bps/iops`.
pub fn block_device_numbers(path: &str) -> Result<(i64, i64), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {}", io_reason(&e)))?;
    if !meta.file_type().is_block_device() {
        return Err(format!("{path} is not a block device"));
    }
    let rdev = meta.rdev();
    Ok((libc::major(rdev) as i64, libc::minor(rdev) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_nodes() {
        let null = host_devices("/dev/null", "/dev/mynull", "rw").unwrap();
        assert_eq!(null.len(), 1);
        assert_eq!((null[0].kind, null[0].major, null[0].minor), ('c', 1, 3));
        assert_eq!(null[0].path, "/dev/mynull");
        assert_eq!(null[0].cgroup_rule()["access"], "rw");
        let same = host_devices("/dev/zero", "", "rwm").unwrap();
        assert_eq!(same[0].path, "/dev/zero");
        let err = host_devices("/dev/nope-not-here", "", "rwm").unwrap_err();
        assert!(err.to_string().contains("/dev/nope-not-here"), "{err}");
        assert!(host_devices("/etc/hostname", "", "rwm").is_err());
        assert!(matches!(
            host_devices("/dev/null", "", "rwx"),
            Err(DeviceError::Mode(_))
        ));
        assert!(all_host_devices().iter().any(|d| d.path == "/dev/null"));
        assert!(!all_host_devices()
            .iter()
            .any(|d| d.path.starts_with("/dev/pts")));
    }

    #[test]
    fn cgroup_rules() {
        assert_eq!(
            parse_cgroup_rule("c 1:3 rwm").unwrap(),
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        );
        assert_eq!(
            parse_cgroup_rule("a *:* r").unwrap(),
            json!({"allow": true, "type": "a", "access": "r"})
        );
        for bad in [
            "c 1:3",
            "x 1:3 rwm",
            "c 1 rwm",
            "c a:3 rwm",
            "c 1:3 rwq",
            "c 1:3 rr",
        ] {
            assert!(parse_cgroup_rule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn block_devices() {
        assert!(block_device_numbers("/dev/null").is_err());
        assert!(block_device_numbers("/nope").is_err());
    }
}
