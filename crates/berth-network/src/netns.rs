//! Network namespaces kept alive by a bind mount of their nsfs file (like
//! `ip netns add`), and running code inside one.
//!
//! Entering a namespace (`setns`) changes the calling *thread*. Doing that on a tokio
//! worker, or on a blocking-pool thread that is later reused, would leave unrelated code
//! running in a container's namespace. So every operation here that needs to be inside
//! a namespace runs on a fresh `std::thread` that enters it and then exits; the
//! caller's thread never changes namespace.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::statfs::{fstatfs, NSFS_MAGIC};

use crate::netlink::{Netlink, NetlinkError};

/// The calling thread's own network namespace, whatever namespace its process is in.
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// What went wrong with a network namespace, naming its file.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("create netns {}: {err}", .path.display())]
    Create { path: PathBuf, err: io::Error },
    #[error("create netns {}: bring up lo: {err}", .path.display())]
    Loopback { path: PathBuf, err: NetlinkError },
    #[error("open netns {}: {err}", .path.display())]
    Open { path: PathBuf, err: io::Error },
    #[error("open netns {}: not a network namespace (is it mounted?)", .path.display())]
    NotNetns { path: PathBuf },
    #[error("enter netns {}: {err}", .path.display())]
    Enter { path: PathBuf, err: io::Error },
    #[error("remove netns {}: {err}", .path.display())]
    Remove { path: PathBuf, err: io::Error },
    #[error("start a thread for netns {}: {err}", .path.display())]
    Spawn { path: PathBuf, err: io::Error },
}

impl NetnsError {
    /// The errno behind the error, if there is one (`libc::ENOENT`, `libc::EEXIST`, ...).
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetnsError::Create { err, .. }
            | NetnsError::Open { err, .. }
            | NetnsError::Enter { err, .. }
            | NetnsError::Remove { err, .. }
            | NetnsError::Spawn { err, .. } => err.raw_os_error(),
            NetnsError::Loopback { err, .. } => err.errno(),
            NetnsError::NotNetns { .. } => Some(libc::EINVAL),
        }
    }
}

fn io_err(errno: Errno) -> io::Error {
    io::Error::from_raw_os_error(errno as i32)
}

/// Makes the empty file a namespace is bind-mounted on (and its parent directories); the
/// file must not exist yet.
fn mount_point(path: &Path) -> Result<(), NetnsError> {
    let create_err = |err| NetnsError::Create {
        path: path.to_path_buf(),
        err,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(create_err)?;
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .map_err(create_err)?;
    Ok(())
}

/// Creates a network namespace kept alive by a bind mount at `path` (parent directories
/// and the file are created; the file must not exist yet), with `lo` up. On failure
/// nothing is left behind: no file, no mount.
pub fn create(path: &Path) -> Result<(), NetnsError> {
    mount_point(path)?;

    let target = path.to_path_buf();
    let result = spawn(path, move || -> Result<(), NetnsError> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| NetnsError::Create {
            path: target.clone(),
            err: io_err(e),
        })?;
        loopback_up().map_err(|err| NetnsError::Loopback {
            path: target.clone(),
            err,
        })?;
        // Threads share the mount namespace, so the mount is visible to the caller.
        mount(
            Some(THREAD_NETNS),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| NetnsError::Create {
            path: target.clone(),
            err: io_err(e),
        })
    })
    .and_then(|inner| inner);
    if result.is_err() {
        // The mount is the last step, so a failure never leaves one; the file is ours.
        let _ = fs::remove_file(path);
    }
    result
}

/// Keeps the existing network namespace `source` (`/proc/PID/ns/net` of a process that
/// made it) at `path` with a bind mount, with `lo` up; the file must not exist yet. On
/// failure nothing is left behind.
pub fn create_from(path: &Path, source: &Path) -> Result<(), NetnsError> {
    mount_point(path)?;
    let mounted = mount(
        Some(source),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| NetnsError::Create {
        path: path.to_path_buf(),
        err: io_err(e),
    });
    let result = mounted.and_then(|()| {
        let target = path.to_path_buf();
        run_in(path, move || {
            loopback_up().map_err(|err| NetnsError::Loopback { path: target, err })
        })
        .and_then(|inner| inner)
    });
    if result.is_err() {
        let _ = remove(path);
    }
    result
}

/// Runs `f` on a fresh thread that entered the network namespace at `path`, and returns
/// its result (a panic in `f` is resumed on the caller's thread).
///
/// Everything `f` opens belongs to that namespace for good: sockets (a [`Netlink`]
/// opened there keeps working on it), and processes spawned with
/// `std::process::Command`, which inherit the thread's namespace (so `f` can run `ping`
/// or `ip` inside the container's network).
pub fn run_in<R: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, NetnsError> {
    let fd = open(path)?;
    let target = path.to_path_buf();
    spawn(path, move || {
        setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| NetnsError::Enter {
            path: target,
            err: io_err(e),
        })?;
        drop(fd);
        Ok(f())
    })
    .and_then(|inner| inner)
}

/// Runs `f` on a fresh thread in a new, anonymous network namespace (with `lo` up) that
/// disappears when `f` returns and nothing else holds it: a private "host" for tests.
/// Panics when the namespace cannot be made (not root, no `CLONE_NEWNET`).
pub fn run_in_new<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let handle = thread::Builder::new()
        .name("berth-netns-new".to_string())
        .spawn(move || {
            if let Err(e) = unshare(CloneFlags::CLONE_NEWNET) {
                panic!("unshare network namespace: {}", io_err(e));
            }
            if let Err(e) = loopback_up() {
                panic!("bring up lo in a new network namespace: {e}");
            }
            f()
        })
        .unwrap_or_else(|e| panic!("start a thread for a new network namespace: {e}"));
    match handle.join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Opens the network namespace at `path`, for [`Netlink::add_veth`]'s peer namespace,
/// [`Netlink::set_netns`] and the like. Fails with [`NetnsError::NotNetns`] when the
/// file is there but nothing is mounted on it (left over from a crash).
pub fn open(path: &Path) -> Result<OwnedFd, NetnsError> {
    let file = fs::File::open(path).map_err(|err| NetnsError::Open {
        path: path.to_path_buf(),
        err,
    })?;
    let fs = fstatfs(&file).map_err(|e| NetnsError::Open {
        path: path.to_path_buf(),
        err: io_err(e),
    })?;
    if fs.filesystem_type() != NSFS_MAGIC {
        return Err(NetnsError::NotNetns {
            path: path.to_path_buf(),
        });
    }
    Ok(file.into())
}

/// Unmounts and deletes the namespace file at `path`. A file that is missing or not
/// mounted is fine, so this also repairs what a crash left half done. The namespace
/// itself lives on while a process or an open fd still holds it.
pub fn remove(path: &Path) -> Result<(), NetnsError> {
    let remove_err = |err| NetnsError::Remove {
        path: path.to_path_buf(),
        err,
    };
    // Mounts may be stacked (a create over a crashed one): peel them all.
    for _ in 0..16 {
        match umount2(path, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
            Ok(()) => continue,
            // Not a mount point (any more), or no file at all.
            Err(Errno::EINVAL | Errno::ENOENT) => break,
            Err(e) => return Err(remove_err(io_err(e))),
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(remove_err(err)),
    }
}

/// The namespace files in `dir`, sorted (empty when `dir` does not exist or cannot be
/// read).
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// Runs `f` on a fresh, named thread and waits for it.
fn spawn<R: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, NetnsError> {
    let handle = thread::Builder::new()
        .name("berth-netns".to_string())
        .spawn(f)
        .map_err(|err| NetnsError::Spawn {
            path: path.to_path_buf(),
            err,
        })?;
    match handle.join() {
        Ok(r) => Ok(r),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn loopback_up() -> Result<(), NetlinkError> {
    let mut nl = Netlink::open()?;
    // In a new namespace lo is always index 1, but look it up rather than assume.
    match nl.link("lo")? {
        Some(lo) => nl.set_up(lo.index),
        None => Err(NetlinkError::Os {
            op: "get link lo".to_string(),
            err: io::Error::from_raw_os_error(libc::ENODEV),
            ext_ack: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file() {
        let err = NetnsError::Open {
            path: PathBuf::from("/run/berth/netns/abc"),
            err: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            err.to_string(),
            "open netns /run/berth/netns/abc: No such file or directory (os error 2)"
        );
        assert_eq!(err.errno(), Some(libc::ENOENT));
    }

    #[test]
    fn list_of_a_missing_dir_is_empty() {
        assert!(list(Path::new("/nonexistent/berth/netns")).is_empty());
    }

    #[test]
    fn open_refuses_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ns");
        fs::write(&path, b"").unwrap();
        assert!(matches!(open(&path), Err(NetnsError::NotNetns { .. })));
        // A plain file is removed without complaint (crash repair).
        remove(&path).unwrap();
        assert!(!path.exists());
        remove(&path).unwrap();
    }
}
