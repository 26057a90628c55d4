//! Thin wrappers over the few syscalls std lacks: xattrs, mknod, timestamps
//! that must not follow symlinks.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) const OVERLAY_OPAQUE: &str = "trusted.overlay.opaque";

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn cname(n: &str) -> io::Result<CString> {
    CString::new(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Names of the extended attributes of `p` itself (not of a symlink's target).
pub(crate) fn list_xattrs(p: &Path) -> io::Result<Vec<String>> {
    let c = cpath(p)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `c` is a valid NUL-terminated path and `buf` is writable for `buf.len()` bytes.
        let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf.truncate(n as usize);
            break;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            _ => return Err(e),
        }
    }
    Ok(buf
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

/// The value of xattr `name` on `p` itself; `None` when absent.
pub(crate) fn get_xattr(p: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let c = cpath(p)?;
    let n = cname(name)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: valid NUL-terminated strings; `buf` is writable for `buf.len()` bytes.
        let r =
            unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            _ => return Err(e),
        }
    }
}

pub(crate) fn set_xattr(p: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = cpath(p)?;
    let n = cname(name)?;
    // SAFETY: valid NUL-terminated strings; `value` is readable for `value.len()` bytes.
    let r = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(crate) fn is_opaque(p: &Path) -> io::Result<bool> {
    Ok(get_xattr(p, OVERLAY_OPAQUE)?.as_deref() == Some(b"y"))
}

/// An overlayfs whiteout: a character device 0/0.
pub(crate) fn is_whiteout(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    md.file_type().is_char_device() && md.rdev() == 0
}

pub(crate) fn mknod(
    p: &Path,
    kind: libc::mode_t,
    perm: u32,
    major: u64,
    minor: u64,
) -> io::Result<()> {
    let dev = nix::sys::stat::makedev(major, minor);
    let mode = nix::sys::stat::Mode::from_bits_truncate(perm as libc::mode_t);
    let kind = nix::sys::stat::SFlag::from_bits_truncate(kind);
    nix::sys::stat::mknod(p, kind, mode, dev).map_err(io::Error::from)
}

pub(crate) fn make_whiteout(p: &Path) -> io::Result<()> {
    mknod(p, libc::S_IFCHR, 0, 0, 0)
}

/// Sets atime and mtime of `p` itself (a symlink is not followed).
pub(crate) fn set_times(p: &Path, atime: i64, mtime: i64) -> io::Result<()> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let a = TimeSpec::new(atime, 0);
    let m = TimeSpec::new(mtime, 0);
    utimensat(None, p, &a, &m, UtimensatFlags::NoFollowSymlink).map_err(io::Error::from)
}

pub(crate) fn lchown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
}

pub(crate) fn os(s: &[u8]) -> &OsStr {
    OsStr::from_bytes(s)
}

/// fsync a directory so a rename into it survives a crash.
pub(crate) fn sync_dir(p: &Path) -> io::Result<()> {
    std::fs::File::open(p)?.sync_all()
}

/// A random lower-case hex string for temp names.
pub(crate) fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}
