//! Unpacked layers, `layers/<chain-id hex>/`, shared by every image whose
//! layer stack has that chain id. A layer is unpacked into `layers/tmp-*` and
//! renamed into place, so a crash never leaves half a layer.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use super::content::digest_hex;
use crate::{sys, ImageError};

const TMP_PREFIX: &str = "tmp-";

pub(crate) struct LayerStore {
    dir: PathBuf,
}

/// `ChainID(L0) = DiffID(L0)`, `ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))`.
pub(crate) fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{prev} {d}")))
            ),
        };
        out.push(next);
    }
    out
}

impl LayerStore {
    pub(crate) fn open(root: &Path) -> Result<LayerStore, ImageError> {
        let dir = root.join("layers");
        fs::create_dir_all(&dir)
            .map_err(|e| ImageError::io(format!("create {}", dir.display()), e))?;
        for e in fs::read_dir(&dir)
            .map_err(|e| ImageError::io("list layers", e))?
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                if let Err(err) = fs::remove_dir_all(e.path()) {
                    tracing::warn!(path = %e.path().display(), error = %err, "cannot remove stale layer temp dir");
                }
            }
        }
        Ok(LayerStore { dir })
    }

    pub(crate) fn path(&self, chain_id: &str) -> Result<PathBuf, ImageError> {
        Ok(self.dir.join(digest_hex(chain_id)?))
    }

    pub(crate) fn exists(&self, chain_id: &str) -> bool {
        self.path(chain_id).map(|p| p.is_dir()).unwrap_or(false)
    }

    pub(crate) fn tmp_dir(&self) -> Result<TmpLayer, ImageError> {
        let p = self.dir.join(format!("{TMP_PREFIX}{}", sys::random_hex(8)));
        fs::create_dir(&p).map_err(|e| ImageError::io(format!("create {}", p.display()), e))?;
        Ok(TmpLayer {
            path: p,
            keep: false,
        })
    }

    /// Moves an unpacked temp dir into place as `chain_id` (or drops it when
    /// another image already brought the same layer).
    pub(crate) fn commit(&self, mut tmp: TmpLayer, chain_id: &str) -> Result<(), ImageError> {
        let dest = self.path(chain_id)?;
        if dest.exists() {
            return Ok(());
        }
        fs::rename(&tmp.path, &dest)
            .map_err(|e| ImageError::io(format!("store layer {chain_id}"), e))?;
        tmp.keep = true;
        sys::sync_dir(&self.dir).map_err(|e| ImageError::io("fsync layers dir", e))
    }

    /// Removes a layer: renamed away first (atomic), then deleted.
    pub(crate) fn remove(&self, chain_id: &str) -> Result<(), ImageError> {
        let p = self.path(chain_id)?;
        if !p.exists() {
            return Ok(());
        }
        let trash = self
            .dir
            .join(format!("{TMP_PREFIX}del-{}", sys::random_hex(8)));
        fs::rename(&p, &trash)
            .map_err(|e| ImageError::io(format!("remove layer {chain_id}"), e))?;
        fs::remove_dir_all(&trash)
            .map_err(|e| ImageError::io(format!("remove layer {chain_id}"), e))
    }

    pub(crate) fn list(&self) -> Vec<String> {
        fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| !n.starts_with(TMP_PREFIX))
                    .map(|n| format!("sha256:{n}"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A layer being unpacked; removed on drop unless committed.
pub(crate) struct TmpLayer {
    pub(crate) path: PathBuf,
    keep: bool,
}

impl Drop for TmpLayer {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Digests and chain ids an unfinished ingest holds, so garbage collection
/// running at the same time leaves them alone. Taking a lease and collecting
/// garbage both happen under the one mutex.
#[derive(Default)]
pub(crate) struct Leases {
    held: Mutex<HashMap<String, usize>>,
}

impl Leases {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn hold(&self, keys: impl IntoIterator<Item = String>) -> Lease<'_> {
        let keys: Vec<String> = keys.into_iter().collect();
        let mut m = self.lock();
        for k in &keys {
            *m.entry(k.clone()).or_default() += 1;
        }
        Lease { leases: self, keys }
    }
}

pub(crate) struct Lease<'a> {
    leases: &'a Leases,
    keys: Vec<String>,
}

impl Lease<'_> {
    pub(crate) fn add(&mut self, key: String) {
        *self.leases.lock().entry(key.clone()).or_default() += 1;
        self.keys.push(key);
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut m = self.leases.lock();
        for k in &self.keys {
            if let Some(n) = m.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    m.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_formula() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        let expect = format!("sha256:{}", hex::encode(Sha256::digest(format!("{a} {b}"))));
        assert_eq!(c[1], expect);
    }
}
