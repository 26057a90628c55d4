//! What a registry client needs of the store: layers checked and unpacked one by one
//! (in parallel, in any order), the image registered when all are in, and for push the
//! layer tars and which registry blob each layer already is.

use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::mpsc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::layers::{chain_ids, Lease};
use super::meta::{self, ref_key};
use super::{content, ImageStore};
use crate::reference::Reference;
use crate::{layer, ImageError};

/// diff id → JSON list of [`BlobSource`]: the registry blobs a layer is known to be.
const BLOB_SOURCES: TableDefinition<&str, &[u8]> = TableDefinition::new("blob_sources");

/// A compressed blob in a registry that unpacks to a given layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlobSource {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// `registry/path` of the repository the blob was pulled from or pushed to.
    pub repository: String,
}

/// Layers and config of an image being pulled, held against garbage collection.
pub struct PullLease<'a>(Lease<'a>);

/// What push needs of a stored image.
#[derive(Debug, Clone)]
pub struct PushImage {
    pub id: String,
    pub config: Vec<u8>,
    pub diff_ids: Vec<String>,
}

/// How registering a pulled image changed the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub id: String,
    /// false when every reference already named this image.
    pub changed: bool,
}

impl ImageStore {
    /// Holds the layers `diff_ids` (and their chains) until the lease is dropped.
    pub fn hold_for_pull(&self, diff_ids: &[String]) -> PullLease<'_> {
        let keys = chain_ids(diff_ids)
            .into_iter()
            .chain(diff_ids.iter().cloned());
        PullLease(self.leases.hold(keys))
    }

    /// Whether the top layer of `diff_ids` (on the ones below it) is stored, with its tar.
    pub fn has_layer(&self, diff_ids: &[String]) -> bool {
        let (Some(chain), Some(top)) = (chain_ids(diff_ids).pop(), diff_ids.last()) else {
            return false;
        };
        self.layers.exists(&chain) && self.content.exists(top)
    }

    /// Where unfinished downloads are kept, so an interrupted pull can continue.
    pub fn downloads_dir(&self) -> Result<PathBuf, ImageError> {
        let d = self.root.join("downloads");
        fs::create_dir_all(&d).map_err(|e| ImageError::io(format!("create {}", d.display()), e))?;
        Ok(d)
    }

    /// Unpacks the top layer of `diff_ids` from `r` (plain, gzip or zstd), keeps its tar,
    /// and stores both only if the tar's digest is that diff id. Returns the bytes of
    /// file content. The caller holds a [`PullLease`] covering `diff_ids`.
    ///
    /// Decompression runs on a thread of its own, feeding the tar to this one (which keeps
    /// the copy, hashes it once and unpacks it): the two halves take about as long, so a
    /// pull uses both of a small machine's cores.
    pub fn store_layer(
        &self,
        r: impl Read + Send,
        what: &str,
        diff_ids: &[String],
    ) -> Result<u64, ImageError> {
        let (Some(chain), Some(expected)) = (chain_ids(diff_ids).pop(), diff_ids.last()) else {
            return Err(ImageError::InvalidArgument(format!(
                "layer {what}: no diff id"
            )));
        };
        let tmp = self.layers.tmp_dir()?;
        let mut w = self.content.writer()?;
        let applied = std::thread::scope(|s| {
            let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(8);
            s.spawn(move || inflate_into(r, &tx));
            let tee = super::TeeReader {
                r: ChunkReader {
                    rx,
                    chunk: Vec::new(),
                    pos: 0,
                },
                w: &mut w,
            };
            // The receiver goes with `tee` when apply returns, so a failed unpack also ends
            // the decompressing thread.
            layer::apply_unhashed(tee, &tmp.path, true)
        })
        .map_err(|e| ImageError::layer(what, e))?;
        // Verifies the tar's digest: a mismatch stores nothing (the unpacked dir goes with
        // `tmp`).
        self.content.commit(w, Some(expected))?;
        self.layers.commit(tmp, &chain)?;
        Ok(applied.size)
    }

    /// The content size of a stored layer, as an image that has it recorded.
    pub fn layer_size(&self, diff_ids: &[String]) -> Option<u64> {
        let chain = chain_ids(diff_ids).pop()?;
        let snap = self.snapshot().ok()?;
        snap.images.values().find_map(|r| {
            let i = chain_ids(&r.diff_ids).iter().position(|c| *c == chain)?;
            r.layer_sizes.get(i).copied()
        })
    }

    /// Records a pulled image: its config, its manifest (kept as a blob), the tags and
    /// digest references (`RepoDigests`) that now name it.
    pub fn register_pulled(
        &self,
        config: &[u8],
        layer_sizes: Vec<u64>,
        manifest: &[u8],
        refs: &[Reference],
        lease: &mut PullLease<'_>,
    ) -> Result<Registered, ImageError> {
        let id = content::sha256_digest(config);
        let before = self.snapshot()?;
        let changed = !before.images.contains_key(&id)
            || refs
                .iter()
                .any(|r| before.refs.get(&ref_key(r).to_string()) != Some(&id));
        let manifest_digest = self.content.write_bytes(manifest)?;
        lease.0.add(manifest_digest.clone());
        let id = self.register(
            config,
            layer_sizes,
            "",
            vec![manifest_digest],
            refs,
            &mut lease.0,
        )?;
        Ok(Registered { id, changed })
    }

    /// `RepoDigests` gains `reference` (`name@sha256:...`) for image `id`.
    pub fn add_repo_digest(&self, id: &str, reference: &Reference) -> Result<(), ImageError> {
        let txn = self.db.begin_write()?;
        let snap = meta::write_snapshot(&txn)?;
        let rec = snap.resolve(id)?;
        meta::put_ref(&txn, &ref_key(reference).to_string(), &rec.id)?;
        txn.commit()?;
        Ok(())
    }

    /// An image as push sends it.
    pub fn image_for_push(&self, name: &str) -> Result<PushImage, ImageError> {
        let snap = self.snapshot()?;
        let rec = snap.resolve(name)?;
        Ok(PushImage {
            id: rec.id.clone(),
            config: self.content.read(&rec.config_digest)?,
            diff_ids: rec.diff_ids.clone(),
        })
    }

    /// The references naming image `id` (full form, tags and digests).
    pub fn references_of(&self, id: &str) -> Result<Vec<Reference>, ImageError> {
        Ok(self.snapshot()?.refs_of(id))
    }

    /// A layer's uncompressed tar, and its length.
    pub fn layer_tar(&self, diff_id: &str) -> Result<(fs::File, u64), ImageError> {
        self.content.open_blob(diff_id)
    }

    /// Remembers that `diff_id` is the registry blob `source`.
    pub fn add_blob_source(&self, diff_id: &str, source: BlobSource) -> Result<(), ImageError> {
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(BLOB_SOURCES)?;
            let mut list: Vec<BlobSource> = match t.get(diff_id)? {
                Some(v) => serde_json::from_slice(v.value()).unwrap_or_default(),
                None => Vec::new(),
            };
            if list.contains(&source) {
                return Ok(());
            }
            list.retain(|s| !(s.digest == source.digest && s.repository == source.repository));
            list.push(source);
            let bytes = serde_json::to_vec(&list)
                .map_err(|e| ImageError::Corrupt(format!("encode blob sources: {e}")))?;
            t.insert(diff_id, bytes.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The registry blobs `diff_id` is known to be.
    pub fn blob_sources(&self, diff_id: &str) -> Vec<BlobSource> {
        let read = || -> Result<Vec<BlobSource>, ImageError> {
            let txn = self.db.begin_read()?;
            let t = match txn.open_table(BLOB_SOURCES) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            Ok(match t.get(diff_id)? {
                Some(v) => serde_json::from_slice(v.value()).unwrap_or_default(),
                None => Vec::new(),
            })
        };
        read().unwrap_or_default()
    }
}

/// Decompresses `r` into chunks on `tx` until its end, an error, or the receiver is gone.
fn inflate_into(r: impl Read, tx: &mpsc::SyncSender<io::Result<Vec<u8>>>) {
    let mut plain = match layer::decompress(r) {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(Err(io::Error::other(e.to_string())));
            return;
        }
    };
    loop {
        let mut chunk = vec![0u8; 256 * 1024];
        match plain.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                chunk.truncate(n);
                if tx.send(Ok(chunk)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// Reads the chunks [`inflate_into`] sends.
struct ChunkReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk?;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
