//! Root filesystems of remapped containers (`--userns-remap`).
//!
//! Overlay: each layer and the container's own directory are cloned as detached idmapped
//! mounts (`open_tree` + `mount_setattr(MOUNT_ATTR_IDMAP)` with the container's user
//! namespace) and overlayfs is stacked on those. The layers stay shared and owned by 0 on
//! disk; inside the container they are owned by its root, and what its root creates is owned
//! by 0 on disk again, so diff, commit and export read the upper dir as for any container.
//! overlayfs works on its upper dir with its mounter's credentials, so the mount is made with
//! filesystem ids mapped by the idmap (the container root's host ids).
//!
//! Where that fails (a filesystem without idmapped mounts, the vfs driver), the layers are
//! copied and chowned into the container's range, as dockerd does.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{io_err, is_mounted, merged_dir, upper_dir, vfs, Driver, RootfsError, VFS_MARKER};
use crate::sys;

/// What a remapped root filesystem needs: the container's user namespace (for idmapped
/// mounts), its root's host ids, and the mapping of any container id pair to host ids (for
/// the chowning fallback).
pub struct Remap<'a> {
    pub userns: BorrowedFd<'a>,
    pub root_uid: u32,
    pub root_gid: u32,
    pub to_host: &'a (dyn Fn(u32, u32) -> (u32, u32) + Sync),
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A detached copy of the mount at `path`, idmapped with `userns`.
fn idmapped_clone(path: &Path, userns: BorrowedFd) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: open_tree reads the NUL-terminated path; the result is a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open_tree and is owned by nobody else.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: mount_setattr reads `attr` (a live, correctly sized struct) and the empty path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(tree)
}

/// Runs `f` on a fresh thread whose filesystem ids are `uid`/`gid` (a container root's host
/// ids) with its capabilities kept: what it creates through an idmapped mount is owned by
/// root on disk. The thread exits afterwards; no other code runs with these credentials.
pub fn as_container_root<R: Send + 'static>(
    uid: u32,
    gid: u32,
    f: impl FnOnce() -> R + Send + 'static,
) -> io::Result<R> {
    let handle = std::thread::Builder::new()
        .name("berth-as-root".to_string())
        .spawn(move || -> io::Result<R> {
            const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
            // SAFETY: prctl, setfsgid and setfsuid change only this thread's credentials.
            unsafe {
                if libc::prctl(libc::PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                libc::setfsgid(gid);
                libc::setfsuid(uid);
            }
            Ok(f())
        })?;
    match handle.join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Mounts overlayfs on `dir/merged` over idmapped clones of `layers` and of `dir` (for the
/// upper and work dirs). Ok if already mounted.
fn mount_idmapped(layers: &[PathBuf], dir: &Path, remap: &Remap) -> Result<(), RootfsError> {
    let (upper, work, merged) = (upper_dir(dir), dir.join("work"), merged_dir(dir));
    for d in [&upper, &work, &merged] {
        fs::create_dir_all(d).map_err(io_err(d))?;
    }
    if is_mounted(&merged)? {
        return Ok(());
    }
    let mut lowers: Vec<PathBuf> = layers.to_vec();
    if lowers.is_empty() {
        let empty = dir.join("empty");
        fs::create_dir_all(&empty).map_err(io_err(&empty))?;
        lowers.push(empty);
    }
    let mount_err = |e: io::Error| RootfsError::Mount {
        dir: merged.clone(),
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EINVAL)),
    };
    let mut trees = Vec::new();
    for l in &lowers {
        trees.push(idmapped_clone(l, remap.userns).map_err(mount_err)?);
    }
    let own = idmapped_clone(dir, remap.userns).map_err(mount_err)?;
    let fd_path = |fd: &OwnedFd| format!("/proc/self/fd/{}", fd.as_raw_fd());
    let lowerdir: Vec<String> = trees.iter().map(fd_path).collect();
    let data = format!(
        "lowerdir={},upperdir={}/diff,workdir={}/work,index=off,redirect_dir=off",
        lowerdir.join(":"),
        fd_path(&own),
        fd_path(&own)
    );
    let target = merged.clone();
    let mounted = as_container_root(remap.root_uid, remap.root_gid, move || {
        nix::mount::mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data.as_str()),
        )
    })
    .map_err(mount_err)?;
    // The overlay holds its own references to the layers: the detached clones can go.
    drop(trees);
    drop(own);
    mounted.map_err(|source| RootfsError::Mount {
        dir: merged,
        source,
    })
}

/// Chowns everything under `root` (not following symlinks) into the container's range,
/// keeping set-id bits that a chown clears.
fn chown_tree(root: &Path, to_host: &(dyn Fn(u32, u32) -> (u32, u32) + Sync)) -> io::Result<()> {
    let md = fs::symlink_metadata(root)?;
    let (uid, gid) = to_host(md.uid(), md.gid());
    sys::lchown(root, uid, gid)?;
    if !md.file_type().is_symlink() {
        fs::set_permissions(root, fs::Permissions::from_mode(md.mode() & 0o7777))?;
    }
    if md.is_dir() {
        for entry in fs::read_dir(root)? {
            chown_tree(&entry?.path(), to_host)?;
        }
    }
    Ok(())
}

/// Copies the layers into `dir/merged` and chowns the copy into the container's range.
fn copy_remapped(layers: &[PathBuf], dir: &Path, remap: &Remap) -> Result<Driver, RootfsError> {
    let merged = merged_dir(dir);
    fs::create_dir_all(&merged).map_err(io_err(&merged))?;
    vfs::copy_layers(layers, &merged)?;
    chown_tree(&merged, remap.to_host).map_err(io_err(&merged))?;
    fs::write(dir.join(VFS_MARKER), b"").map_err(io_err(dir))?;
    Ok(Driver::Vfs)
}

/// [`super::prepare_as`] for a remapped container: idmapped overlay, else a chowned copy.
/// Idempotent.
pub fn prepare_remapped(
    layers: &[PathBuf],
    dir: &Path,
    want: Driver,
    remap: &Remap,
) -> Result<Driver, RootfsError> {
    if dir.join(VFS_MARKER).exists() {
        return Ok(Driver::Vfs);
    }
    if want == Driver::Vfs {
        return copy_remapped(layers, dir, remap);
    }
    match mount_idmapped(layers, dir, remap) {
        Ok(()) => Ok(Driver::Overlay),
        Err(RootfsError::Mount { source, .. }) => {
            tracing::warn!(dir = %dir.display(), error = %source, "idmapped overlay refused; copying and chowning layers (vfs)");
            copy_remapped(layers, dir, remap)
        }
        Err(e) => Err(e),
    }
}
