//! Writing a directory as a layer tar.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::{IdMap, LayerError, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
use crate::sys;

/// Tars `dir` in a deterministic order (entries sorted by name, a directory
/// before its children). With `convert_overlay_whiteouts`, overlayfs
/// whiteouts become `.wh.` entries and opaque directories get `.wh..wh..opq`.
pub fn write_dir(
    dir: &Path,
    out: impl Write,
    convert_overlay_whiteouts: bool,
) -> Result<(), LayerError> {
    write_dir_mapped(dir, out, convert_overlay_whiteouts, None)
}

/// [`write_dir`] with the owners of entries translated by `ids` (a remapped container's
/// files: host ids to the container's).
pub fn write_dir_mapped(
    dir: &Path,
    out: impl Write,
    convert_overlay_whiteouts: bool,
    ids: Option<IdMap>,
) -> Result<(), LayerError> {
    let mut w = Writer {
        b: tar::Builder::new(out),
        convert: convert_overlay_whiteouts,
        links: HashMap::new(),
        ids,
    };
    w.b.follow_symlinks(false);
    w.walk(dir, Path::new(""))?;
    w.b.finish().map_err(|e| LayerError::io(dir, e))?;
    Ok(())
}

struct Writer<W: Write> {
    b: tar::Builder<W>,
    convert: bool,
    /// (dev, ino) of multiply-linked files already written → their tar name.
    links: HashMap<(u64, u64), PathBuf>,
    ids: Option<IdMap>,
}

impl<W: Write> Writer<W> {
    fn header(&self, md: &fs::Metadata, kind: EntryType) -> Header {
        let mut h = header(md, kind);
        if let Some(map) = &self.ids {
            let (uid, gid) = map(md.uid(), md.gid());
            h.set_uid(uid as u64);
            h.set_gid(gid as u64);
        }
        h
    }

    fn walk(&mut self, dir: &Path, rel: &Path) -> Result<(), LayerError> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(|e| LayerError::io(dir, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| LayerError::io(dir, e))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            let md = fs::symlink_metadata(&path).map_err(|e| LayerError::io(&path, e))?;
            if self.convert && sys::is_whiteout(&md) {
                let wh = rel.with_file_name(format!("{WHITEOUT_PREFIX}{}", name.to_string_lossy()));
                let mut h = self.header(&md, EntryType::Regular);
                h.set_mode(0);
                self.append(&mut h, &wh, &path, io::empty())?;
                continue;
            }
            self.entry(&path, &rel, &md)?;
            if md.is_dir() {
                if self.convert && sys::is_opaque(&path).map_err(|e| LayerError::io(&path, e))? {
                    let mut h = self.header(&md, EntryType::Regular);
                    h.set_mode(0);
                    self.append(&mut h, &rel.join(WHITEOUT_OPAQUE), &path, io::empty())?;
                }
                self.walk(&path, &rel)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, rel: &Path, md: &fs::Metadata) -> Result<(), LayerError> {
        let ft = md.file_type();
        let io_err = |e| LayerError::io(path, e);
        self.xattrs(path)?;
        if ft.is_dir() {
            let mut h = self.header(md, EntryType::Directory);
            let mut name = rel.as_os_str().to_os_string();
            name.push("/");
            return self.append(&mut h, Path::new(&name), path, io::empty());
        }
        if ft.is_symlink() {
            let target = fs::read_link(path).map_err(io_err)?;
            let mut h = self.header(md, EntryType::Symlink);
            return self.b.append_link(&mut h, rel, &target).map_err(io_err);
        }
        if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = self.links.get(&key) {
                    let mut h = self.header(md, EntryType::Link);
                    let first = first.clone();
                    return self.b.append_link(&mut h, rel, &first).map_err(io_err);
                }
                self.links.insert(key, rel.to_path_buf());
            }
            let mut h = self.header(md, EntryType::Regular);
            h.set_size(md.len());
            let f = fs::File::open(path).map_err(io_err)?;
            return self.append(&mut h, rel, path, f);
        }
        let kind = if ft.is_char_device() {
            EntryType::Char
        } else if ft.is_block_device() {
            EntryType::Block
        } else if ft.is_fifo() {
            EntryType::Fifo
        } else {
            // Sockets are not archived (as docker does).
            return Ok(());
        };
        let mut h = self.header(md, kind);
        let rdev = md.rdev();
        h.set_device_major(libc::major(rdev)).map_err(io_err)?;
        h.set_device_minor(libc::minor(rdev)).map_err(io_err)?;
        self.append(&mut h, rel, path, io::empty())
    }

    fn append(
        &mut self,
        h: &mut Header,
        rel: &Path,
        path: &Path,
        data: impl io::Read,
    ) -> Result<(), LayerError> {
        self.b
            .append_data(h, rel, data)
            .map_err(|e| LayerError::io(path, e))
    }

    /// Extended attributes go in a PAX header before the entry; overlayfs'
    /// own attributes never leave the host.
    fn xattrs(&mut self, path: &Path) -> Result<(), LayerError> {
        let names = sys::list_xattrs(path).map_err(|e| LayerError::io(path, e))?;
        let mut recs: Vec<(String, Vec<u8>)> = Vec::new();
        for n in names {
            if n.starts_with("trusted.overlay.") {
                continue;
            }
            if let Some(v) = sys::get_xattr(path, &n).map_err(|e| LayerError::io(path, e))? {
                recs.push((format!("SCHILY.xattr.{n}"), v));
            }
        }
        if recs.is_empty() {
            return Ok(());
        }
        recs.sort();
        self.b
            .append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(|e| LayerError::io(path, e))
    }
}

fn header(md: &fs::Metadata, kind: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid() as u64);
    h.set_gid(md.gid() as u64);
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_size(0);
    h
}
