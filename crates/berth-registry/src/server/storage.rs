//! The filesystem layout under `--root`:
//!
//! ```text
//! blobs/sha256/<hex[..2]>/<hex>                     content, named by its digest
//! repositories/<name>/_layers/sha256/<hex>          the repository may serve this blob
//! repositories/<name>/_manifests/revisions/sha256/<hex>   a manifest of the repository (holds its media type)
//! repositories/<name>/_manifests/tags/<tag>         the digest a tag points at
//! repositories/<name>/_referrers/sha256/<subject hex>/<hex>  descriptor of a manifest whose subject is <subject>
//! uploads/<uuid>/{data,info}                        uploads in progress (see uploads.rs)
//! tmp/                                              files being written, renamed into place when whole
//! ```
//!
//! Every file that readers see appears by `rename` after an `fsync`, so a crash leaves
//! either the old state or the new one, never half a blob; leftovers in `tmp/` are removed
//! when the server starts.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::server::digest::Digest;

#[derive(Debug, thiserror::Error)]
#[error("storage: {op} {path:?}: {err}")]
pub struct StorageError {
    pub op: &'static str,
    pub path: PathBuf,
    pub err: io::Error,
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// Wraps an io::Error with what was done on which path.
pub fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |err| StorageError {
        op,
        path: path.to_path_buf(),
        err,
    }
}

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn remove_if_there(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(err("remove", path)(e)),
    }
}

/// Names of the entries of a directory, sorted; an absent directory has none.
fn list_dir(dir: &Path) -> Result<Vec<String>> {
    let Some(rd) = not_found_is_none(fs::read_dir(dir)).map_err(err("read directory", dir))? else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for e in rd {
        let e = e.map_err(err("read directory", dir))?;
        if let Some(n) = e.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    names.sort();
    Ok(names)
}

impl Storage {
    /// Opens (creating) the layout under `root`.
    pub fn open(root: &Path) -> Result<Storage> {
        let s = Storage {
            root: root.to_path_buf(),
        };
        for d in ["blobs/sha256", "repositories", "uploads", "tmp"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(err("create directory", &p))?;
        }
        Ok(s)
    }

    /// Removes what a previous server left half written in `tmp/` (at its start only: a
    /// `gc` beside a running server must not touch it).
    pub fn clear_tmp(&self) -> Result<()> {
        let tmp = self.tmp_dir();
        fs::remove_dir_all(&tmp).map_err(err("remove", &tmp))?;
        fs::create_dir_all(&tmp).map_err(err("create directory", &tmp))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// A fresh path in `tmp/` to write a file at before renaming it into place.
    pub fn tmp_path(&self) -> PathBuf {
        self.tmp_dir()
            .join(format!("{:032x}", rand::random::<u128>()))
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm())
            .join(&d.hex()[..2])
            .join(d.hex())
    }

    /// The size of a stored blob, `None` when absent.
    pub fn blob_size(&self, d: &Digest) -> Result<Option<u64>> {
        let p = self.blob_path(d);
        Ok(not_found_is_none(fs::metadata(&p))
            .map_err(err("stat", &p))?
            .map(|m| m.len()))
    }

    /// Moves a whole, synced file into the blob store under `d`. When the blob is already
    /// there the file is dropped and the blob's time refreshed, so that a concurrent
    /// `gc` sees it as new.
    pub fn commit_blob(&self, file: &Path, d: &Digest) -> Result<()> {
        let dest = self.blob_path(d);
        if dest.exists() {
            remove_if_there(file)?;
            self.touch(&dest);
            return Ok(());
        }
        let dir = dest.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).map_err(err("create directory", dir))?;
        fs::rename(file, &dest).map_err(err("rename into", &dest))?;
        sync_dir(dir)
    }

    /// Marks a blob as just used (gc keeps blobs younger than its grace period).
    pub fn touch(&self, path: &Path) {
        // The registry owns its files, so a read-only handle may set their times.
        let _ = fs::File::open(path).and_then(|f| f.set_modified(std::time::SystemTime::now()));
    }

    /// Stores small content (a manifest) as a blob and returns its digest.
    pub fn put_small_blob(&self, data: &[u8]) -> Result<Digest> {
        let d = Digest::sha256_of(data);
        let tmp = self.tmp_path();
        write_synced(&tmp, data)?;
        self.commit_blob(&tmp, &d)?;
        Ok(d)
    }

    pub fn read_blob(&self, d: &Digest) -> Result<Option<Vec<u8>>> {
        let p = self.blob_path(d);
        not_found_is_none(fs::read(&p)).map_err(err("read", &p))
    }

    pub fn remove_blob(&self, d: &Digest) -> Result<bool> {
        remove_if_there(&self.blob_path(d))
    }

    /// Every blob digest in the store.
    pub fn all_blobs(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        let base = self.root.join("blobs/sha256");
        for prefix in list_dir(&base)? {
            for hex in list_dir(&base.join(&prefix))? {
                if let Ok(d) = Digest::parse(&format!("sha256:{hex}")) {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    pub fn repo_dir(&self, name: &str) -> PathBuf {
        self.root.join("repositories").join(name)
    }

    fn link_path(&self, name: &str, kind: &str, d: &Digest) -> PathBuf {
        self.repo_dir(name)
            .join(kind)
            .join(d.algorithm())
            .join(d.hex())
    }

    /// Whether a repository holds anything (manifests or blobs).
    pub fn repo_exists(&self, name: &str) -> bool {
        let dir = self.repo_dir(name);
        dir.join("_manifests").is_dir() || dir.join("_layers").is_dir()
    }

    /// Whether blob `d` is stored and linked into repository `name`.
    pub fn has_layer(&self, name: &str, d: &Digest) -> Result<Option<u64>> {
        if !self.link_path(name, "_layers", d).exists() {
            return Ok(None);
        }
        self.blob_size(d)
    }

    pub fn link_layer(&self, name: &str, d: &Digest) -> Result<()> {
        write_link(&self.link_path(name, "_layers", d), b"")
    }

    pub fn unlink_layer(&self, name: &str, d: &Digest) -> Result<bool> {
        remove_if_there(&self.link_path(name, "_layers", d))
    }

    /// Digests of the blobs linked into a repository.
    pub fn layers(&self, name: &str) -> Result<Vec<Digest>> {
        let dir = self.repo_dir(name).join("_layers/sha256");
        Ok(list_dir(&dir)?
            .into_iter()
            .filter_map(|h| Digest::parse(&format!("sha256:{h}")).ok())
            .collect())
    }

    fn revision_path(&self, name: &str, d: &Digest) -> PathBuf {
        self.link_path(name, "_manifests/revisions", d)
    }

    /// Records manifest `d` (stored as a blob) in repository `name` with its media type.
    pub fn link_manifest(&self, name: &str, d: &Digest, media_type: &str) -> Result<()> {
        write_link(&self.revision_path(name, d), media_type.as_bytes())
    }

    /// The media type of manifest `d` of repository `name`, `None` if it has no such manifest.
    pub fn manifest_media_type(&self, name: &str, d: &Digest) -> Result<Option<String>> {
        let p = self.revision_path(name, d);
        Ok(not_found_is_none(fs::read_to_string(&p))
            .map_err(err("read", &p))?
            .filter(|_| self.blob_path(d).exists()))
    }

    pub fn unlink_manifest(&self, name: &str, d: &Digest) -> Result<bool> {
        remove_if_there(&self.revision_path(name, d))
    }

    /// Digests of the manifests of a repository.
    pub fn manifests(&self, name: &str) -> Result<Vec<Digest>> {
        let dir = self.repo_dir(name).join("_manifests/revisions/sha256");
        Ok(list_dir(&dir)?
            .into_iter()
            .filter_map(|h| Digest::parse(&format!("sha256:{h}")).ok())
            .collect())
    }

    fn tag_path(&self, name: &str, tag: &str) -> PathBuf {
        self.repo_dir(name).join("_manifests/tags").join(tag)
    }

    pub fn set_tag(&self, name: &str, tag: &str, d: &Digest) -> Result<()> {
        let p = self.tag_path(name, tag);
        let dir = p.parent().expect("tag paths have a parent");
        fs::create_dir_all(dir).map_err(err("create directory", dir))?;
        let tmp = self.tmp_path();
        write_synced(&tmp, d.to_string().as_bytes())?;
        fs::rename(&tmp, &p).map_err(err("rename into", &p))
    }

    pub fn tag(&self, name: &str, tag: &str) -> Result<Option<Digest>> {
        let p = self.tag_path(name, tag);
        let Some(s) = not_found_is_none(fs::read_to_string(&p)).map_err(err("read", &p))? else {
            return Ok(None);
        };
        Ok(Digest::parse(s.trim()).ok())
    }

    pub fn remove_tag(&self, name: &str, tag: &str) -> Result<bool> {
        remove_if_there(&self.tag_path(name, tag))
    }

    /// Tags of a repository, sorted, with the digest each points at.
    pub fn tags(&self, name: &str) -> Result<Vec<(String, Digest)>> {
        let mut out = Vec::new();
        for t in list_dir(&self.repo_dir(name).join("_manifests/tags"))? {
            if let Some(d) = self.tag(name, &t)? {
                out.push((t, d));
            }
        }
        Ok(out)
    }

    fn referrers_dir(&self, name: &str, subject: &Digest) -> PathBuf {
        self.link_path(name, "_referrers", subject)
    }

    /// Records that manifest `d` refers to `subject`, with its descriptor (JSON).
    pub fn add_referrer(
        &self,
        name: &str,
        subject: &Digest,
        d: &Digest,
        desc: &[u8],
    ) -> Result<()> {
        write_link(&self.referrers_dir(name, subject).join(d.hex()), desc)
    }

    pub fn remove_referrer(&self, name: &str, subject: &Digest, d: &Digest) -> Result<bool> {
        remove_if_there(&self.referrers_dir(name, subject).join(d.hex()))
    }

    /// Descriptors (JSON) of the manifests whose subject is `subject`.
    pub fn referrers(&self, name: &str, subject: &Digest) -> Result<Vec<Vec<u8>>> {
        let dir = self.referrers_dir(name, subject);
        let mut out = Vec::new();
        for f in list_dir(&dir)? {
            let p = dir.join(f);
            if let Some(b) = not_found_is_none(fs::read(&p)).map_err(err("read", &p))? {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// Names of every repository, sorted. A repository is a directory under
    /// `repositories/` holding `_manifests` or `_layers`; names never have components
    /// starting with `_`, so the walk stops there.
    pub fn repositories(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let base = self.root.join("repositories");
        let mut stack = vec![String::new()];
        while let Some(prefix) = stack.pop() {
            for entry in list_dir(&base.join(&prefix))? {
                if entry.starts_with('_') {
                    continue;
                }
                let name = if prefix.is_empty() {
                    entry
                } else {
                    format!("{prefix}/{entry}")
                };
                if !base.join(&name).is_dir() {
                    continue;
                }
                if self.repo_exists(&name) {
                    out.push(name.clone());
                }
                stack.push(name);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Writes `data` to `path` and syncs it.
pub fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(err("create", path))?;
    f.write_all(data).map_err(err("write", path))?;
    f.sync_all().map_err(err("sync", path))
}

/// Writes a small link file, creating its directory (not synced: a lost link after a
/// crash makes the client push again, never serves wrong content).
fn write_link(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().expect("link paths have a parent");
    fs::create_dir_all(dir).map_err(err("create directory", dir))?;
    fs::write(path, data).map_err(err("write", path))
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(err("sync", dir))
}
