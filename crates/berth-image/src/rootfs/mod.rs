//! Container root filesystems: `dir/{diff,work,merged}` with an overlay mount
//! of the image's layers, or a plain copy ("vfs") where overlayfs is refused.

mod changes;
mod remap;
mod vfs;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use changes::{changes, Change, ChangeKind};
pub use remap::{as_container_root, prepare_remapped, Remap};

/// Which way the root filesystem was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Overlay,
    /// Layers copied into `merged`; the container writes there directly.
    Vfs,
}

impl Driver {
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Overlay => "overlay2",
            Driver::Vfs => "vfs",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("mount overlay on {}: {source}", dir.display())]
    Mount {
        dir: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("unmount {}: {source}", dir.display())]
    Unmount {
        dir: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("{} is still mounted; not removing it", .0.display())]
    StillMounted(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RootfsError + '_ {
    move |source| RootfsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

const VFS_MARKER: &str = "vfs";

/// The writable layer of a prepared root filesystem (`dir/diff`).
pub fn upper_dir(dir: &Path) -> PathBuf {
    dir.join("diff")
}

pub fn merged_dir(dir: &Path) -> PathBuf {
    dir.join("merged")
}

/// Makes `dir/{diff,work,merged}` and mounts the layers (top-most first) on
/// `merged`; copies them there instead when the kernel refuses overlayfs.
/// Idempotent.
pub fn prepare(layers: &[PathBuf], dir: &Path) -> Result<Driver, RootfsError> {
    if dir.join(VFS_MARKER).exists() {
        return Ok(Driver::Vfs);
    }
    match mount(layers, dir) {
        Ok(()) => Ok(Driver::Overlay),
        Err(RootfsError::Mount { source, .. }) => {
            tracing::warn!(dir = %dir.display(), error = %source, "overlay mount refused; copying layers (vfs)");
            let merged = merged_dir(dir);
            vfs::copy_layers(layers, &merged)?;
            fs::write(dir.join(VFS_MARKER), b"").map_err(io_err(dir))?;
            Ok(Driver::Vfs)
        }
        Err(e) => Err(e),
    }
}

/// As [`prepare`], but with the driver chosen by the caller: `Vfs` copies the layers even
/// where overlayfs works (`berth daemon --storage-driver vfs`).
pub fn prepare_as(layers: &[PathBuf], dir: &Path, want: Driver) -> Result<Driver, RootfsError> {
    if want == Driver::Overlay || dir.join(VFS_MARKER).exists() {
        return prepare(layers, dir);
    }
    let merged = merged_dir(dir);
    fs::create_dir_all(&merged).map_err(io_err(&merged))?;
    vfs::copy_layers(layers, &merged)?;
    fs::write(dir.join(VFS_MARKER), b"").map_err(io_err(dir))?;
    Ok(Driver::Vfs)
}

/// Mounts overlayfs on `dir/merged` (no fallback). Ok if already mounted.
pub fn mount(layers: &[PathBuf], dir: &Path) -> Result<(), RootfsError> {
    let (upper, work, merged) = (upper_dir(dir), dir.join("work"), merged_dir(dir));
    for d in [&upper, &work, &merged] {
        fs::create_dir_all(d).map_err(io_err(d))?;
    }
    if is_mounted(&merged)? {
        return Ok(());
    }
    let mut lowers: Vec<String> = layers.iter().map(|p| p.display().to_string()).collect();
    if lowers.is_empty() {
        // overlayfs needs a lower dir; an image without layers gets an empty one.
        let empty = dir.join("empty");
        fs::create_dir_all(&empty).map_err(io_err(&empty))?;
        lowers.push(empty.display().to_string());
    }
    let base = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    // redirect_dir/index off: a renamed directory is copied up whole, so the
    // upper dir converts to a plain layer tar.
    let with_opts = format!("{base},index=off,redirect_dir=off");
    let mut last = nix::Error::EINVAL;
    for data in [with_opts.as_str(), base.as_str()] {
        match nix::mount::mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data),
        ) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(RootfsError::Mount {
        dir: merged,
        source: last,
    })
}

/// Unmounts `dir/merged` (lazily); not an error when nothing is mounted.
pub fn unmount(dir: &Path) -> Result<(), RootfsError> {
    let merged = merged_dir(dir);
    if !merged.exists() || !is_mounted(&merged)? {
        return Ok(());
    }
    match nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
        Err(e) => Err(RootfsError::Unmount {
            dir: merged,
            source: e,
        }),
    }
}

/// Unmounts and deletes `dir`.
pub fn remove(dir: &Path) -> Result<(), RootfsError> {
    unmount(dir)?;
    let merged = merged_dir(dir);
    if merged.exists() && is_mounted(&merged)? {
        return Err(RootfsError::StillMounted(merged));
    }
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// A mount point sits on another device than its parent.
fn is_mounted(p: &Path) -> Result<bool, RootfsError> {
    let md = fs::symlink_metadata(p).map_err(io_err(p))?;
    let parent = p.parent().unwrap_or(Path::new("/"));
    let pmd = fs::symlink_metadata(parent).map_err(io_err(parent))?;
    Ok(md.dev() != pmd.dev() || md.ino() == pmd.ino())
}

#[cfg(test)]
mod tests;
