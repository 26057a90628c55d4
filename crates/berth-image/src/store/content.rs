//! Content-addressed blobs: `content/sha256/<hex>`, written to `content/tmp`,
//! fsync'd, verified and renamed, so a crash never leaves a partial blob.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::reference::is_lower_hex;
use crate::{sys, ImageError};

pub(crate) struct ContentStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

/// Checks `sha256:<64 hex>` and returns the hex part.
pub(crate) fn digest_hex(digest: &str) -> Result<&str, ImageError> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && is_lower_hex(h) => Ok(h),
        _ => Err(ImageError::InvalidArgument(format!(
            "invalid digest {digest:?}"
        ))),
    }
}

pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl ContentStore {
    pub(crate) fn open(root: &Path) -> Result<ContentStore, ImageError> {
        let blobs = root.join("content/sha256");
        let tmp = root.join("content/tmp");
        for d in [&blobs, &tmp] {
            fs::create_dir_all(d)
                .map_err(|e| ImageError::io(format!("create {}", d.display()), e))?;
        }
        // Anything in tmp is from an ingest that never finished.
        if let Ok(rd) = fs::read_dir(&tmp) {
            for e in rd.flatten() {
                let p = e.path();
                let r = if p.is_dir() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
                if let Err(e) = r {
                    tracing::warn!(path = %p.display(), error = %e, "cannot remove stale temp file");
                }
            }
        }
        Ok(ContentStore { blobs, tmp })
    }

    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    pub(crate) fn path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.blobs.join(digest_hex(digest)?))
    }

    pub(crate) fn exists(&self, digest: &str) -> bool {
        self.path(digest).map(|p| p.exists()).unwrap_or(false)
    }

    pub(crate) fn read(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let p = self.path(digest)?;
        fs::read(&p).map_err(|e| ImageError::io(format!("read blob {digest}"), e))
    }

    pub(crate) fn open_blob(&self, digest: &str) -> Result<(fs::File, u64), ImageError> {
        let p = self.path(digest)?;
        let f = fs::File::open(&p).map_err(|e| ImageError::io(format!("open blob {digest}"), e))?;
        let len = f
            .metadata()
            .map_err(|e| ImageError::io(format!("stat blob {digest}"), e))?
            .len();
        Ok((f, len))
    }

    pub(crate) fn size(&self, digest: &str) -> u64 {
        self.path(digest)
            .ok()
            .and_then(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .unwrap_or(0)
    }

    pub(crate) fn writer(&self) -> Result<BlobWriter, ImageError> {
        let path = self.tmp.join(format!("ingest-{}", sys::random_hex(8)));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ImageError::io(format!("create {}", path.display()), e))?;
        Ok(BlobWriter {
            file: Some(file),
            path,
            hasher: Sha256::new(),
            done: false,
        })
    }

    /// Stores `bytes`, returning their digest.
    pub(crate) fn write_bytes(&self, bytes: &[u8]) -> Result<String, ImageError> {
        let digest = sha256_digest(bytes);
        if self.exists(&digest) {
            return Ok(digest);
        }
        let mut w = self.writer()?;
        w.write_all(bytes)
            .map_err(|e| ImageError::io("write blob", e))?;
        self.commit(w, Some(&digest))
    }

    /// fsync, verify against `expected`, rename into place.
    pub(crate) fn commit(
        &self,
        mut w: BlobWriter,
        expected: Option<&str>,
    ) -> Result<String, ImageError> {
        let file = w
            .file
            .take()
            .ok_or_else(|| ImageError::Corrupt("blob writer used twice".into()))?;
        file.sync_all()
            .map_err(|e| ImageError::io("fsync blob", e))?;
        drop(file);
        let digest = format!("sha256:{}", hex::encode(w.hasher.clone().finalize()));
        if let Some(exp) = expected {
            if exp != digest {
                return Err(ImageError::DigestMismatch {
                    expected: exp.to_string(),
                    actual: digest,
                });
            }
        }
        let dest = self.path(&digest)?;
        if dest.exists() {
            return Ok(digest);
        }
        fs::rename(&w.path, &dest)
            .map_err(|e| ImageError::io(format!("store blob {digest}"), e))?;
        w.done = true;
        sys::sync_dir(&self.blobs).map_err(|e| ImageError::io("fsync content dir", e))?;
        Ok(digest)
    }

    pub(crate) fn delete(&self, digest: &str) -> Result<(), ImageError> {
        let p = self.path(digest)?;
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::io(format!("remove blob {digest}"), e)),
        }
    }

    pub(crate) fn list(&self) -> Result<Vec<String>, ImageError> {
        let rd = fs::read_dir(&self.blobs).map_err(|e| ImageError::io("list blobs", e))?;
        Ok(rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(|n| format!("sha256:{n}")))
            .collect())
    }
}

/// A blob being written; dropped unfinished, its temp file goes away.
pub(crate) struct BlobWriter {
    file: Option<fs::File>,
    path: PathBuf,
    hasher: Sha256,
    done: bool,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer closed"))?;
        let n = f.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}
