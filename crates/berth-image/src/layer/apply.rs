//! Applying a layer tar to a directory.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tar::EntryType;

use super::path::{clean_entry_path, resolve_in_root};
use super::{decompress, IdMap, LayerError, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
use crate::sys;

/// What applying a layer produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `sha256:` + hex of the uncompressed tar stream.
    pub diff_id: String,
    /// Bytes of file content in the layer.
    pub size: u64,
}

/// Hashes everything read through it (unless made with `hasher: None`).
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Some(Sha256::new()),
            count: 0,
        }
    }
    pub(crate) fn finish(self) -> (String, u64) {
        let hex = self.hasher.map(|h| hex::encode(h.finalize()));
        (format!("sha256:{}", hex.unwrap_or_default()), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// Applies a layer tar (plain or gzip) to `dest`. With `overlay_whiteouts`,
/// OCI whiteouts become overlayfs whiteouts (for a layer directory used as a
/// lower dir); without, they delete what they name (for a flattened tree).
pub fn apply(
    reader: impl Read,
    dest: &Path,
    overlay_whiteouts: bool,
) -> Result<Applied, LayerError> {
    apply_mapped(reader, dest, overlay_whiteouts, None)
}

/// [`apply`] with the owners in the tar translated by `ids` (into a remapped container:
/// the container's ids to host ids).
pub fn apply_mapped(
    reader: impl Read,
    dest: &Path,
    overlay_whiteouts: bool,
    ids: Option<IdMap>,
) -> Result<Applied, LayerError> {
    apply_stream(
        HashingReader::new(decompress(reader)?),
        dest,
        overlay_whiteouts,
        ids,
    )
}

/// [`apply`] of a plain tar stream whose digest the caller computes itself (as the store
/// does while keeping a copy of the tar): `diff_id` is left empty, the stream is still read
/// to its end.
pub fn apply_unhashed(
    reader: impl Read,
    dest: &Path,
    overlay_whiteouts: bool,
) -> Result<Applied, LayerError> {
    let hr = HashingReader {
        inner: reader,
        hasher: None,
        count: 0,
    };
    let mut applied = apply_stream(hr, dest, overlay_whiteouts, None)?;
    applied.diff_id.clear();
    Ok(applied)
}

fn apply_stream<R: Read>(
    mut hr: HashingReader<R>,
    dest: &Path,
    overlay_whiteouts: bool,
    ids: Option<IdMap>,
) -> Result<Applied, LayerError> {
    let mut state = State {
        root: dest,
        ids,
        overlay: overlay_whiteouts,
        size: 0,
        dirs: Vec::new(),
        written: HashSet::new(),
    };
    {
        let mut ar = tar::Archive::new(&mut hr);
        for entry in ar.entries().map_err(LayerError::Tar)? {
            let mut entry = entry.map_err(LayerError::Tar)?;
            state.entry(&mut entry)?;
        }
    }
    // The hash covers the whole stream, including the end-of-archive padding
    // the tar reader stops short of.
    io::copy(&mut hr, &mut io::sink()).map_err(LayerError::Tar)?;
    // Directory times last: creating children changed them.
    for (p, mtime) in state.dirs.iter().rev() {
        sys::set_times(p, *mtime, *mtime).map_err(|e| LayerError::io(p, e))?;
    }
    let (diff_id, _) = hr.finish();
    Ok(Applied {
        diff_id,
        size: state.size,
    })
}

struct State<'a> {
    root: &'a Path,
    ids: Option<IdMap>,
    overlay: bool,
    size: u64,
    dirs: Vec<(PathBuf, i64)>,
    /// Paths this layer created, kept by an opaque marker in delete mode.
    written: HashSet<PathBuf>,
}

impl State<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), LayerError> {
        let raw = entry.path().map_err(LayerError::Tar)?.into_owned();
        let rel = clean_entry_path(&raw)?;
        let name = rel.file_name().map(|n| n.as_bytes().to_vec());
        let parent_rel = rel.parent().unwrap_or(Path::new(""));
        let parent = resolve_in_root(self.root, parent_rel, true)?;
        let header = entry.header().clone();
        let kind = header.entry_type();
        let xattrs = entry_xattrs(entry)?;
        let meta = Meta {
            header: &header,
            xattrs: &xattrs,
        };

        if let Some(n) = name.as_deref() {
            if n == WHITEOUT_OPAQUE.as_bytes() {
                return self.opaque(&parent);
            }
            if let Some(target) = n.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
                return self.whiteout(&parent, target, &raw);
            }
        }
        let Some(n) = name else {
            // The root itself ("./"): take its metadata only.
            if kind == EntryType::Directory {
                self.metadata(&meta, self.root, true)?;
            }
            return Ok(());
        };
        if !parent.starts_with(self.root) {
            return Err(LayerError::Escape(raw.display().to_string()));
        }
        ensure_dir(&parent)?;
        let path = parent.join(sys::os(&n));
        self.written.insert(path.clone());

        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&path) {
                    Ok(md) if md.is_dir() => {}
                    Ok(_) => {
                        remove_any(&path)?;
                        mkdir(&path)?;
                    }
                    Err(_) => mkdir(&path)?,
                }
                self.metadata(&meta, &path, true)?;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                remove_existing(&path)?;
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| LayerError::io(&path, e))?;
                let n = io::copy(entry, &mut f).map_err(LayerError::Tar)?;
                self.size += n;
                drop(f);
                self.metadata(&meta, &path, false)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(LayerError::Tar)?
                    .ok_or_else(|| invalid(&raw, "symlink without a target"))?;
                remove_existing(&path)?;
                std::os::unix::fs::symlink(&target, &path).map_err(|e| LayerError::io(&path, e))?;
                self.metadata(&meta, &path, false)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(LayerError::Tar)?
                    .ok_or_else(|| invalid(&raw, "hard link without a target"))?;
                let target_rel = clean_entry_path(&target)?;
                let src = resolve_in_root(self.root, &target_rel, false)?;
                if !src.starts_with(self.root) || fs::symlink_metadata(&src).is_err() {
                    return Err(LayerError::LinkTarget {
                        path: raw.display().to_string(),
                        target: target.display().to_string(),
                    });
                }
                if src == path {
                    return Ok(());
                }
                remove_existing(&path)?;
                fs::hard_link(&src, &path).map_err(|e| LayerError::io(&path, e))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let h = &header;
                let major = h.device_major().ok().flatten().unwrap_or(0) as u64;
                let minor = h.device_minor().ok().flatten().unwrap_or(0) as u64;
                let t = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                remove_existing(&path)?;
                sys::mknod(&path, t, 0o600, major, minor).map_err(|e| LayerError::io(&path, e))?;
                self.metadata(&meta, &path, false)?;
            }
            other => {
                tracing::debug!(entry = %raw.display(), kind = ?other, "skipping layer entry of unsupported type");
            }
        }
        Ok(())
    }

    fn whiteout(&mut self, parent: &Path, target: &[u8], raw: &Path) -> Result<(), LayerError> {
        if target.is_empty() || target == b"." || target == b".." || target.contains(&b'/') {
            return Err(invalid(raw, "invalid whiteout name"));
        }
        if !parent.starts_with(self.root) {
            return Err(LayerError::Escape(raw.display().to_string()));
        }
        let path = parent.join(sys::os(target));
        if self.overlay {
            ensure_dir(parent)?;
            remove_existing(&path)?;
            sys::make_whiteout(&path).map_err(|e| LayerError::io(&path, e))?;
        } else if fs::symlink_metadata(&path).is_ok() {
            remove_any(&path)?;
        }
        Ok(())
    }

    fn opaque(&mut self, dir: &Path) -> Result<(), LayerError> {
        if !dir.starts_with(self.root) {
            return Err(LayerError::Escape(dir.display().to_string()));
        }
        ensure_dir(dir)?;
        if self.overlay {
            return sys::set_xattr(dir, sys::OVERLAY_OPAQUE, b"y")
                .map_err(|e| LayerError::io(dir, e));
        }
        // Keep what this layer already put there; remove what lower layers did.
        for e in fs::read_dir(dir).map_err(|e| LayerError::io(dir, e))? {
            let p = e.map_err(|e| LayerError::io(dir, e))?.path();
            if !self.written.contains(&p) {
                remove_any(&p)?;
            }
        }
        Ok(())
    }

    fn metadata(&mut self, meta: &Meta<'_>, path: &Path, is_dir: bool) -> Result<(), LayerError> {
        let h = meta.header;
        let (uid, gid) = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
        let (uid, gid) = match &self.ids {
            Some(map) => map(uid, gid),
            None => (uid, gid),
        };
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = h.mtime().unwrap_or(0) as i64;
        let io = |e| LayerError::io(path, e);
        sys::lchown(path, uid, gid).map_err(io)?;
        let is_link = h.entry_type() == EntryType::Symlink;
        if !is_link {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io)?;
        }
        for (name, v) in meta.xattrs {
            if let Err(e) = sys::set_xattr(path, name, v) {
                // Some filesystems refuse some namespaces; docker ignores
                // those failures too.
                tracing::debug!(path = %path.display(), xattr = %name, error = %e, "cannot set xattr");
            }
        }
        if is_dir {
            self.dirs.push((path.to_path_buf(), mtime));
        } else {
            sys::set_times(path, mtime, mtime).map_err(io)?;
        }
        Ok(())
    }
}

struct Meta<'a> {
    header: &'a tar::Header,
    xattrs: &'a [(String, Vec<u8>)],
}

/// `SCHILY.xattr.*` PAX records of an entry.
fn entry_xattrs<R: Read>(entry: &mut tar::Entry<R>) -> Result<Vec<(String, Vec<u8>)>, LayerError> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(LayerError::Tar)? {
        for ext in exts {
            let ext = ext.map_err(LayerError::Tar)?;
            if let Ok(k) = ext.key() {
                if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                    out.push((name.to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(out)
}

fn invalid(path: &Path, reason: &str) -> LayerError {
    LayerError::InvalidEntry {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn mkdir(p: &Path) -> Result<(), LayerError> {
    fs::create_dir(p).map_err(|e| LayerError::io(p, e))
}

fn ensure_dir(p: &Path) -> Result<(), LayerError> {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(LayerError::io(
            p,
            io::Error::from(io::ErrorKind::NotADirectory),
        )),
        Err(_) => fs::create_dir_all(p).map_err(|e| LayerError::io(p, e)),
    }
}

/// Removes whatever is at `p` unless it is a directory (a directory is
/// replaced only by a non-directory entry, which calls `remove_any`).
fn remove_existing(p: &Path) -> Result<(), LayerError> {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(p).map_err(|e| LayerError::io(p, e)),
        Ok(_) => fs::remove_file(p).map_err(|e| LayerError::io(p, e)),
        Err(_) => Ok(()),
    }
}

fn remove_any(p: &Path) -> Result<(), LayerError> {
    remove_existing(p)
}
