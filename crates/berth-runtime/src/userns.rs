//! User namespaces for `berth daemon --userns-remap`: the id mapping of remapped containers,
//! and namespaces made with it ahead of the container (a user namespace to join, a network
//! namespace it owns, a user namespace file for idmapped mounts).
//!
//! A multi-threaded process (the daemon) may neither enter nor create a user namespace, so a
//! namespace is made by a short-lived forked child; the daemon writes its maps and keeps the
//! namespace by opening (or bind-mounting) the child's `/proc/PID/ns/*` files.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One line of a uid or gid map: `size` ids from `container` inside map to `host` outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

/// The uid and gid maps of a remapped container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMapping {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

fn to_host(ranges: &[IdRange], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|r| id >= r.container && id - r.container < r.size)
        .map(|r| r.host + (id - r.container))
}

fn to_container(ranges: &[IdRange], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|r| id >= r.host && id - r.host < r.size)
        .map(|r| r.container + (id - r.host))
}

fn map_text(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| format!("{} {} {}\n", r.container, r.host, r.size))
        .collect()
}

impl IdMapping {
    /// Container ids counted from 0 over the host ranges, in their order (how dockerd turns
    /// `/etc/subuid` ranges into a mapping).
    pub fn from_host_ranges(uids: &[(u32, u32)], gids: &[(u32, u32)]) -> IdMapping {
        let stack = |list: &[(u32, u32)]| {
            let mut next = 0u32;
            list.iter()
                .map(|&(host, size)| {
                    let r = IdRange {
                        container: next,
                        host,
                        size,
                    };
                    next = next.saturating_add(size);
                    r
                })
                .collect()
        };
        IdMapping {
            uids: stack(uids),
            gids: stack(gids),
        }
    }

    /// The host uid and gid of the container's root.
    pub fn root(&self) -> (u32, u32) {
        (
            self.uid_to_host(0).unwrap_or(0),
            self.gid_to_host(0).unwrap_or(0),
        )
    }

    pub fn uid_to_host(&self, id: u32) -> Option<u32> {
        to_host(&self.uids, id)
    }

    pub fn gid_to_host(&self, id: u32) -> Option<u32> {
        to_host(&self.gids, id)
    }

    pub fn uid_to_container(&self, id: u32) -> Option<u32> {
        to_container(&self.uids, id)
    }

    pub fn gid_to_container(&self, id: u32) -> Option<u32> {
        to_container(&self.gids, id)
    }

    /// `/proc/PID/uid_map` text.
    pub fn uid_map(&self) -> String {
        map_text(&self.uids)
    }

    /// `/proc/PID/gid_map` text.
    pub fn gid_map(&self) -> String {
        map_text(&self.gids)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("create a user namespace: {0}")]
    Create(io::Error),
    #[error("write the id maps of user namespace (process {pid}): {err}")]
    Map { pid: i32, err: io::Error },
    #[error("open {}: {err}", .path.display())]
    Open { path: PathBuf, err: io::Error },
    #[error("keep namespace at {}: {err}", .path.display())]
    Keep { path: PathBuf, err: io::Error },
    #[error("remove namespace file {}: {err}", .path.display())]
    Remove { path: PathBuf, err: io::Error },
}

/// A child process sitting in namespaces made for it; they stay reachable through
/// `/proc/PID/ns/*` until the holder is dropped (the child then exits and is reaped).
pub struct Holder {
    pid: libc::pid_t,
    release: Option<OwnedFd>,
}

impl Holder {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// `/proc/PID/ns/<kind>` of the holding child (`user`, `net`).
    pub fn ns_path(&self, kind: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/{kind}", self.pid))
    }

    /// Opens one of the child's namespaces; the fd keeps it alive on its own.
    pub fn open(&self, kind: &str) -> Result<OwnedFd, UsernsError> {
        let path = self.ns_path(kind);
        fs::File::open(&path)
            .map(OwnedFd::from)
            .map_err(|err| UsernsError::Open { path, err })
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // A byte (or the pipe's end) ends the child's read: it exits.
        if let Some(fd) = self.release.take() {
            let mut file = fs::File::from(fd);
            let _ = io::Write::write_all(&mut file, b"x");
        }
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a valid out-pointer.
        unsafe { libc::waitpid(self.pid, &mut status, 0) };
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Forks a child that enters `join` (a user namespace file, when given) and then unshares
/// `flags`; it reports 0 or the errno on `ready`, then blocks until `release` closes.
/// Only async-signal-safe calls run in the child, as required after forking a threaded
/// process.
fn fork_child(join: Option<&OwnedFd>, flags: libc::c_int) -> Result<Holder, UsernsError> {
    let (ready_r, ready_w) = pipe().map_err(UsernsError::Create)?;
    let (release_r, release_w) = pipe().map_err(UsernsError::Create)?;
    let join_fd = join.map_or(-1, |f| f.as_raw_fd());
    let (ready_fd, release_fd) = (ready_w.as_raw_fd(), release_r.as_raw_fd());
    let (parent_ready, parent_release) = (ready_r.as_raw_fd(), release_w.as_raw_fd());
    // SAFETY: the child only calls setns/unshare/write/read/_exit (async-signal-safe) on
    // descriptors inherited from the parent, then exits without returning into Rust.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(UsernsError::Create(io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see above; all pointers are to this stack frame's locals.
        unsafe {
            // The parent's ends: with them open here, the child would never see EOF.
            libc::close(parent_ready);
            libc::close(parent_release);
            let mut err: i32 = 0;
            if join_fd >= 0 && libc::setns(join_fd, libc::CLONE_NEWUSER) != 0 {
                err = *libc::__errno_location();
            }
            if err == 0 && flags != 0 && libc::unshare(flags) != 0 {
                err = *libc::__errno_location();
            }
            let bytes = err.to_ne_bytes();
            libc::write(ready_fd, bytes.as_ptr().cast(), bytes.len());
            let mut b = 0u8;
            libc::read(release_fd, (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(release_r);
    let holder = Holder {
        pid,
        release: Some(release_w),
    };
    let mut bytes = [0u8; 4];
    let mut file = fs::File::from(ready_r);
    io::Read::read_exact(&mut file, &mut bytes).map_err(UsernsError::Create)?;
    let errno = i32::from_ne_bytes(bytes);
    if errno != 0 {
        return Err(UsernsError::Create(io::Error::from_raw_os_error(errno)));
    }
    Ok(holder)
}

/// A new user namespace with `mapping` (and, with `net`, a network namespace it owns).
pub fn new_user_namespace(mapping: &IdMapping, net: bool) -> Result<Holder, UsernsError> {
    let flags = libc::CLONE_NEWUSER | if net { libc::CLONE_NEWNET } else { 0 };
    let holder = fork_child(None, flags)?;
    let pid = holder.pid;
    let write = |file: &str, text: &str| {
        fs::write(format!("/proc/{pid}/{file}"), text).map_err(|err| UsernsError::Map { pid, err })
    };
    write("gid_map", &mapping.gid_map())?;
    write("uid_map", &mapping.uid_map())?;
    Ok(holder)
}

/// A new network namespace owned by the user namespace at `userns` (a namespace file).
pub fn new_network_namespace_in(userns: &Path) -> Result<Holder, UsernsError> {
    let fd = fs::File::open(userns)
        .map(OwnedFd::from)
        .map_err(|err| UsernsError::Open {
            path: userns.to_path_buf(),
            err,
        })?;
    fork_child(Some(&fd), libc::CLONE_NEWNET)
}

/// Keeps the namespace file `source` (`/proc/PID/ns/user`) alive at `path` with a bind
/// mount (the file is created; it must not exist yet).
pub fn keep(source: &Path, path: &Path) -> Result<(), UsernsError> {
    let err = |err| UsernsError::Keep {
        path: path.to_path_buf(),
        err,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(err)?;
    }
    fs::write(path, b"").map_err(err)?;
    let mounted = nix::mount::mount(
        Some(source),
        path,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    );
    if let Err(e) = mounted {
        let _ = fs::remove_file(path);
        return Err(err(io::Error::from_raw_os_error(e as i32)));
    }
    Ok(())
}

/// Unmounts and deletes a namespace file made by [`keep`]; a missing one is fine.
pub fn release(path: &Path) -> Result<(), UsernsError> {
    for _ in 0..16 {
        let flags = nix::mount::MntFlags::MNT_DETACH | nix::mount::MntFlags::UMOUNT_NOFOLLOW;
        if nix::mount::umount2(path, flags).is_err() {
            break;
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(UsernsError::Remove {
            path: path.to_path_buf(),
            err,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_translates_both_ways() {
        let m = IdMapping::from_host_ranges(&[(100000, 65536), (300000, 10)], &[(200000, 65536)]);
        assert_eq!(m.root(), (100000, 200000));
        assert_eq!(m.uid_to_host(5), Some(100005));
        assert_eq!(m.uid_to_host(65536), Some(300000));
        assert_eq!(m.uid_to_host(65546), None);
        assert_eq!(m.uid_to_container(300009), Some(65545));
        assert_eq!(m.uid_to_container(0), None);
        assert_eq!(m.gid_to_container(200001), Some(1));
        assert_eq!(m.uid_map(), "0 100000 65536\n65536 300000 10\n");
        assert_eq!(m.gid_map(), "0 200000 65536\n");
    }
}
