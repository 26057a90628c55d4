//! `docker diff`: what a container's upper dir changed against its layers,
//! computed as docker's overlay driver does.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{io_err, RootfsError};
use crate::sys;

/// The API's `Kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

impl Serialize for ChangeKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

/// An item of `/containers/{id}/changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Kind")]
    pub kind: ChangeKind,
}

/// Changes of `upper` against `layers` (top-most first), sorted by path. The
/// parent directory of an added or deleted entry shows as modified.
pub fn changes(layers: &[PathBuf], upper: &Path) -> Result<Vec<Change>, RootfsError> {
    let mut out = Vec::new();
    let mut changed_dirs = HashSet::new();
    walk(layers, upper, Path::new("/"), &mut out, &mut changed_dirs)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(
    layers: &[PathBuf],
    dir: &Path,
    rel: &Path,
    out: &mut Vec<Change>,
    changed_dirs: &mut HashSet<PathBuf>,
) -> Result<(), RootfsError> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io_err(dir))?;
    names.sort();
    for name in names {
        let p = dir.join(&name);
        let path = rel.join(&name);
        let md = fs::symlink_metadata(&p).map_err(io_err(&p))?;
        let deleted =
            sys::is_whiteout(&md) || (md.is_dir() && sys::is_opaque(&p).map_err(io_err(&p))?);
        let mut kind = Some(ChangeKind::Added);
        if deleted {
            kind = Some(ChangeKind::Deleted);
        } else {
            let inner = path.strip_prefix("/").unwrap_or(&path);
            for l in layers {
                let Ok(lmd) = fs::symlink_metadata(l.join(inner)) else {
                    continue;
                };
                if sys::is_whiteout(&lmd) {
                    break;
                }
                // A directory only there because something below it changed.
                if lmd.is_dir()
                    && md.is_dir()
                    && lmd.size() == md.size()
                    && lmd.mode() == md.mode()
                    && lmd.mtime() == md.mtime()
                    && lmd.mtime_nsec() == md.mtime_nsec()
                {
                    kind = None;
                } else {
                    kind = Some(ChangeKind::Modified);
                }
                break;
            }
        }
        if md.is_dir() && kind.is_some() {
            changed_dirs.insert(path.clone());
        }
        if let Some(k) = kind {
            if k != ChangeKind::Modified {
                if let Some(parent) = path.parent() {
                    if parent != Path::new("/") && changed_dirs.insert(parent.to_path_buf()) {
                        out.push(Change {
                            path: parent.display().to_string(),
                            kind: ChangeKind::Modified,
                        });
                    }
                }
            }
            out.push(Change {
                path: path.display().to_string(),
                kind: k,
            });
        }
        if md.is_dir() {
            walk(layers, &p, &path, out, changed_dirs)?;
        }
    }
    Ok(())
}
