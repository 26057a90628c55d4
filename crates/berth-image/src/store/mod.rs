//! The image store: what the daemon calls.

mod build;
pub mod changes;
mod config;
mod content;
mod delete;
mod holds;
mod import;
mod info;
mod layers;
mod load;
mod meta;
pub mod pull;
mod save;
#[cfg(test)]
mod tests;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use build::CacheEntry;
pub use info::{DeleteItem, HistoryItem, ImageInfo};

use crate::layer;
use crate::reference::Reference;
use crate::ImageError;
use content::ContentStore;
use layers::{chain_ids, LayerStore, Lease, Leases};
use meta::{ImageRecord, Snapshot};

/// Images on disk and in the metadata store. Cheap to share in an `Arc`.
pub struct ImageStore {
    root: PathBuf,
    db: Arc<redb::Database>,
    content: ContentStore,
    layers: LayerStore,
    leases: Leases,
}

/// A layer unpacked (or found already unpacked) and held against GC.
pub(crate) struct IngestedLayer {
    pub diff_id: String,
    pub size: u64,
}

impl ImageStore {
    /// `root` is the daemon's data root; blobs go to `root/content`, layers to
    /// `root/layers`, metadata to the `images` and `refs` tables of `db`.
    pub fn open(root: &Path, db: Arc<redb::Database>) -> Result<ImageStore, ImageError> {
        fs::create_dir_all(root)
            .map_err(|e| ImageError::io(format!("create {}", root.display()), e))?;
        let content = ContentStore::open(root)?;
        let layers = LayerStore::open(root)?;
        meta::ensure_tables(&db)?;
        Ok(ImageStore {
            root: root.to_path_buf(),
            db,
            content,
            layers,
            leases: Leases::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn snapshot(&self) -> Result<Snapshot, ImageError> {
        meta::read_snapshot(&self.db)
    }

    pub fn list(&self) -> Result<Vec<ImageInfo>, ImageError> {
        let snap = self.snapshot()?;
        let mut out: Vec<ImageInfo> = snap.images.values().map(|r| self.info(&snap, r)).collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Finds an image by reference, full id or unique id prefix, as docker does.
    pub fn resolve(&self, name: &str) -> Result<ImageInfo, ImageError> {
        let snap = self.snapshot()?;
        let rec = snap.resolve(name)?;
        Ok(self.info(&snap, rec))
    }

    /// The raw image config JSON, byte for byte.
    pub fn config_bytes(&self, id: &str) -> Result<Vec<u8>, ImageError> {
        let snap = self.snapshot()?;
        let rec = snap.resolve(id)?;
        self.content.read(&rec.config_digest)
    }

    /// Lower dirs of an image, top-most first (as overlayfs' `lowerdir=` wants).
    pub fn layer_dirs(&self, id: &str) -> Result<Vec<PathBuf>, ImageError> {
        let snap = self.snapshot()?;
        let rec = snap.resolve(id)?;
        let mut dirs = chain_ids(&rec.diff_ids)
            .iter()
            .map(|c| self.layers.path(c))
            .collect::<Result<Vec<_>, _>>()?;
        dirs.reverse();
        Ok(dirs)
    }

    /// `docker tag`: `reference` (default tag `latest`) now names the image.
    pub fn tag(&self, name_or_id: &str, reference: &str) -> Result<(), ImageError> {
        let r = parse_tag_reference(reference)?;
        let txn = self.db.begin_write()?;
        let snap = meta::write_snapshot(&txn)?;
        let mut rec = snap.resolve(name_or_id)?.clone();
        meta::put_ref(&txn, &r.to_string(), &rec.id)?;
        rec.last_tag_time = Some(now_rfc3339());
        meta::put_image(&txn, &rec)?;
        txn.commit()?;
        Ok(())
    }

    /// Stores the config blob and records the image (and its tags) in one
    /// transaction. The caller holds leases on the layers it unpacked.
    pub(crate) fn register(
        &self,
        config_bytes: &[u8],
        layer_sizes: Vec<u64>,
        parent: &str,
        extra_blobs: Vec<String>,
        tags: &[Reference],
        lease: &mut Lease<'_>,
    ) -> Result<String, ImageError> {
        let cfg = config::parse(config_bytes)?;
        let diff_ids = config::diff_ids(&cfg)?;
        if diff_ids.len() != layer_sizes.len() {
            return Err(ImageError::InvalidArgument(format!(
                "image config lists {} layers but {} were given",
                diff_ids.len(),
                layer_sizes.len()
            )));
        }
        for c in chain_ids(&diff_ids) {
            if !self.layers.exists(&c) {
                return Err(ImageError::Corrupt(format!("layer {c} is missing")));
            }
        }
        let digest = content::sha256_digest(config_bytes);
        lease.add(digest.clone());
        self.content.write_bytes(config_bytes)?;
        let txn = self.db.begin_write()?;
        let snap = meta::write_snapshot(&txn)?;
        let mut rec = match snap.images.get(&digest) {
            Some(existing) => existing.clone(),
            None => ImageRecord {
                id: digest.clone(),
                config_digest: digest.clone(),
                manifest_digest: None,
                size: layer_sizes.iter().sum(),
                diff_ids,
                layer_sizes,
                created: config::created(&cfg).0,
                parent: parent.to_string(),
                last_tag_time: None,
                blobs: Vec::new(),
            },
        };
        for b in extra_blobs {
            if !rec.blobs.contains(&b) {
                rec.blobs.push(b);
            }
        }
        for t in tags {
            meta::put_ref(&txn, &meta::ref_key(t).to_string(), &digest)?;
            rec.last_tag_time = Some(now_rfc3339());
        }
        meta::put_image(&txn, &rec)?;
        txn.commit()?;
        Ok(digest)
    }

    /// Unpacks a layer tar on top of the chain `parent_chain` (None for a base
    /// layer) and holds a lease on it until `lease` is dropped.
    pub(crate) fn ingest_layer(
        &self,
        tar: impl Read,
        what: &str,
        parent_chain: Option<&str>,
        keep_blob: bool,
        lease: &mut Lease<'_>,
    ) -> Result<IngestedLayer, ImageError> {
        let tmp = self.layers.tmp_dir()?;
        let applied = if keep_blob {
            let mut w = self.content.writer()?;
            // The blob holds the uncompressed stream, so its digest is the diff id.
            let plain = layer::decompress(tar).map_err(|e| ImageError::layer(what, e))?;
            let tee = TeeReader {
                r: plain,
                w: &mut w,
            };
            let applied =
                layer::apply(tee, &tmp.path, true).map_err(|e| ImageError::layer(what, e))?;
            lease.add(applied.diff_id.clone());
            self.content.commit(w, Some(&applied.diff_id))?;
            applied
        } else {
            layer::apply(tar, &tmp.path, true).map_err(|e| ImageError::layer(what, e))?
        };
        let chain = match parent_chain {
            None => applied.diff_id.clone(),
            Some(p) => chain_ids(&[p.to_string(), applied.diff_id.clone()])
                .pop()
                .unwrap_or_default(),
        };
        lease.add(chain.clone());
        self.layers.commit(tmp, &chain)?;
        Ok(IngestedLayer {
            diff_id: applied.diff_id,
            size: applied.size,
        })
    }
}

/// Copies what is read from `r` into `w` (a blob being written).
struct TeeReader<'a, R, W> {
    r: R,
    w: &'a mut W,
}

impl<R: Read, W: std::io::Write> Read for TeeReader<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.r.read(buf)?;
        self.w.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// A reference `docker tag` accepts: named, tagged (default `latest`), no digest.
pub(crate) fn parse_tag_reference(s: &str) -> Result<Reference, ImageError> {
    let r = Reference::parse_normalized(s)?;
    if r.digest.is_some() {
        return Err(ImageError::InvalidArgument(
            "refusing to create a tag with a digest reference".into(),
        ));
    }
    if r.familiar_name() == "sha256" {
        return Err(ImageError::InvalidArgument(
            "refusing to create an ambiguous tag using digest algorithm as name".into(),
        ));
    }
    Ok(r.with_default_tag())
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// `sha256:0123456789ab…` → `0123456789ab`
pub(crate) fn short_id(id: &str) -> String {
    let h = id.strip_prefix("sha256:").unwrap_or(id);
    h.chars().take(12).collect()
}

// The daemon shares one store across tasks.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ImageStore>();
};
