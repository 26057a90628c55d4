//! The "vfs" fallback: layers copied, bottom first, into one directory with
//! their overlay whiteouts applied.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{io_err, RootfsError};
use crate::sys;

/// `layers` top-most first, as for overlayfs.
pub(super) fn copy_layers(layers: &[PathBuf], dest: &Path) -> Result<(), RootfsError> {
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    for layer in layers.iter().rev() {
        let mut links = HashMap::new();
        copy_dir(layer, dest, &mut links)?;
    }
    Ok(())
}

fn remove(p: &Path) -> Result<(), RootfsError> {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(p).map_err(io_err(p)),
        Ok(_) => fs::remove_file(p).map_err(io_err(p)),
        Err(_) => Ok(()),
    }
}

fn copy_dir(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<(), RootfsError> {
    let mut names: Vec<_> = fs::read_dir(src)
        .map_err(io_err(src))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io_err(src))?;
    names.sort();
    for name in names {
        let s = src.join(&name);
        let d = dst.join(&name);
        let md = fs::symlink_metadata(&s).map_err(io_err(&s))?;
        let ft = md.file_type();
        if sys::is_whiteout(&md) {
            remove(&d)?;
            continue;
        }
        if ft.is_dir() {
            match fs::symlink_metadata(&d) {
                Ok(m) if m.is_dir() => {
                    if sys::is_opaque(&s).map_err(io_err(&s))? {
                        for e in fs::read_dir(&d).map_err(io_err(&d))?.flatten() {
                            remove(&e.path())?;
                        }
                    }
                }
                Ok(_) => {
                    remove(&d)?;
                    fs::create_dir(&d).map_err(io_err(&d))?;
                }
                Err(_) => fs::create_dir(&d).map_err(io_err(&d))?,
            }
            copy_dir(&s, &d, links)?;
            attrs(&s, &d, &md)?;
            continue;
        }
        remove(&d)?;
        if ft.is_file() && md.nlink() > 1 {
            if let Some(first) = links.get(&(md.dev(), md.ino())) {
                fs::hard_link(first, &d).map_err(io_err(&d))?;
                continue;
            }
            links.insert((md.dev(), md.ino()), d.clone());
        }
        if ft.is_symlink() {
            let t = fs::read_link(&s).map_err(io_err(&s))?;
            std::os::unix::fs::symlink(t, &d).map_err(io_err(&d))?;
        } else if ft.is_file() {
            fs::copy(&s, &d).map_err(io_err(&d))?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                libc::S_IFCHR
            } else if ft.is_block_device() {
                libc::S_IFBLK
            } else {
                libc::S_IFIFO
            };
            let rdev = md.rdev();
            sys::mknod(
                &d,
                kind,
                0o600,
                libc::major(rdev) as u64,
                libc::minor(rdev) as u64,
            )
            .map_err(io_err(&d))?;
        } else {
            continue;
        }
        attrs(&s, &d, &md)?;
    }
    Ok(())
}

fn attrs(src: &Path, dst: &Path, md: &fs::Metadata) -> Result<(), RootfsError> {
    sys::lchown(dst, md.uid(), md.gid()).map_err(io_err(dst))?;
    if !md.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(io_err(dst))?;
    }
    for n in sys::list_xattrs(src).map_err(io_err(src))? {
        if n.starts_with("trusted.overlay.") {
            continue;
        }
        if let Some(v) = sys::get_xattr(src, &n).map_err(io_err(src))? {
            if let Err(e) = sys::set_xattr(dst, &n, &v) {
                tracing::debug!(path = %dst.display(), xattr = %n, error = %e, "cannot copy xattr");
            }
        }
    }
    sys::set_times(dst, md.atime(), md.mtime()).map_err(io_err(dst))
}
