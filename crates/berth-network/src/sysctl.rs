//! Kernel parameters under `/proc/sys`, by their sysctl name.
//!
//! Everything under `/proc/sys/net` belongs to the network namespace of the *thread*
//! that opens the file: to set `net.ipv4.conf.eth0.*` of a container, call [`set`]
//! inside [`crate::netns::run_in`].

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

/// What went wrong with a kernel parameter, naming it.
#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    #[error("invalid sysctl name {key:?}")]
    InvalidKey { key: String },
    #[error("read sysctl {key}: {err}")]
    Read { key: String, err: io::Error },
    #[error("set sysctl {key} to {value:?}: {err}")]
    Write {
        key: String,
        value: String,
        err: io::Error,
    },
}

impl SysctlError {
    /// The errno behind the error, if there is one (`libc::ENOENT` for an unknown key or
    /// interface, ...).
    pub fn errno(&self) -> Option<i32> {
        match self {
            SysctlError::InvalidKey { .. } => None,
            SysctlError::Read { err, .. } | SysctlError::Write { err, .. } => err.raw_os_error(),
        }
    }
}

/// The file of `key`. Like sysctl(8), a key with a `/` is taken as a path, so that
/// interface names with dots can be named: `net/ipv4/conf/eth0.100/forwarding`.
fn key_path(key: &str) -> Result<PathBuf, SysctlError> {
    let parts: Vec<&str> = if key.contains('/') {
        key.split('/').collect()
    } else {
        key.split('.').collect()
    };
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
    {
        return Err(SysctlError::InvalidKey {
            key: key.to_string(),
        });
    }
    let mut path = PathBuf::from("/proc/sys");
    path.extend(parts);
    Ok(path)
}

/// The value of `key` ("net.ipv4.ip_forward"), without the trailing newline.
pub fn get(key: &str) -> Result<String, SysctlError> {
    let path = key_path(key)?;
    let value = fs::read_to_string(&path).map_err(|err| SysctlError::Read {
        key: key.to_string(),
        err,
    })?;
    Ok(value.trim_end_matches('\n').to_string())
}

/// Sets `key` ("net.ipv4.ip_forward", "net.ipv4.conf.berth0.route_localnet") to
/// `value`. Nothing is written when the value is already there (writing some keys has
/// side effects even when nothing changes, and a read-only /proc/sys is fine then).
pub fn set(key: &str, value: &str) -> Result<(), SysctlError> {
    let path = key_path(key)?;
    if let Ok(current) = get(key) {
        if same_value(&current, value) {
            return Ok(());
        }
    }
    let write_err = |err| SysctlError::Write {
        key: key.to_string(),
        value: value.to_string(),
        err,
    };
    // One write(2): /proc/sys parses each write on its own.
    let mut file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(write_err)?;
    file.write_all(value.as_bytes()).map_err(write_err)
}

/// Multi-valued keys (`net.ipv4.ip_local_port_range`) read back tab separated.
fn same_value(current: &str, wanted: &str) -> bool {
    current.split_whitespace().eq(wanted.split_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_proc_sys() {
        assert_eq!(
            key_path("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            key_path("net/ipv4/conf/eth0.100/forwarding").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/forwarding")
        );
        assert!(key_path("net..ipv4").is_err());
        assert!(key_path("net/../../etc/passwd").is_err());
        assert!(key_path("").is_err());
    }

    #[test]
    fn values_compare_by_words() {
        assert!(same_value("32768\t60999", "32768 60999"));
        assert!(same_value("1", "1"));
        assert!(!same_value("0", "1"));
    }

    #[test]
    fn errors_name_the_key() {
        let err = get("net.ipv4.conf.nosuchiface0.forwarding").unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENOENT));
        assert!(err
            .to_string()
            .starts_with("read sysctl net.ipv4.conf.nosuchiface0.forwarding: "));
    }
}
