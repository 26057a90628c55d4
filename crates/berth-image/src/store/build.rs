//! What the builder needs besides `commit`: config-only images (a new config
//! on the parent's layers, an `empty_layer` history entry, as docker commits
//! a step that changed no file) and the build cache table (step key → image).

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::{json, Value};

use super::import::full_runtime_config;
use super::layers::chain_ids;
use super::{config, now_rfc3339, ImageStore};
use crate::ImageError;

pub(crate) const BUILD_CACHE: TableDefinition<&str, &str> = TableDefinition::new("build_cache");

/// One build cache record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub key: String,
    pub image: String,
}

impl ImageStore {
    /// A new image with `parent`'s layers (none without a parent) and the
    /// docker-keyed runtime config `runtime`; `created_by` (when not empty)
    /// is appended to the history as an empty layer.
    pub fn derive(
        &self,
        parent: Option<&str>,
        runtime: Value,
        created_by: &str,
        author: &str,
    ) -> Result<String, ImageError> {
        let (parent_id, diff_ids, sizes, mut history) = self.parent_parts(parent)?;
        let mut lease = self.leases.hold(chain_ids(&diff_ids));
        let created = now_rfc3339();
        if !created_by.is_empty() {
            history
                .push(json!({"created": created, "created_by": created_by, "empty_layer": true}));
        }
        let cfg = config::build(config::NewConfig {
            config: full_runtime_config(runtime.as_object().cloned().unwrap_or_default()),
            diff_ids,
            history,
            created: &created,
            author,
            comment: "",
        })?;
        self.register(&cfg, sizes, &parent_id, Vec::new(), &[], &mut lease)
    }

    /// A build step's container changes as an image: a new layer from the
    /// overlay upper dir, or a config-only image when nothing changed.
    pub fn commit_step(
        &self,
        parent: &str,
        upper: &Path,
        runtime: Value,
        created_by: &str,
        author: &str,
    ) -> Result<String, ImageError> {
        let empty = std::fs::read_dir(upper)
            .map_err(|e| ImageError::io(format!("read {}", upper.display()), e))?
            .next()
            .is_none();
        if empty {
            return self.derive(Some(parent), runtime, created_by, author);
        }
        self.commit(Some(parent), upper, runtime, author, "", created_by, None)
    }

    /// The image a build step with `key` made, if that image still exists.
    pub fn build_cache_get(&self, key: &str) -> Result<Option<String>, ImageError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BUILD_CACHE)?;
        let Some(id) = table.get(key)?.map(|v| v.value().to_string()) else {
            return Ok(None);
        };
        let snap = self.snapshot()?;
        Ok(snap.images.contains_key(&id).then_some(id))
    }

    pub fn build_cache_put(&self, key: &str, image: &str) -> Result<(), ImageError> {
        let txn = self.db.begin_write()?;
        txn.open_table(BUILD_CACHE)?.insert(key, image)?;
        txn.commit()?;
        Ok(())
    }

    /// Every cache record whose image still exists (stale ones are dropped).
    pub fn build_cache(&self) -> Result<Vec<CacheEntry>, ImageError> {
        let snap = self.snapshot()?;
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BUILD_CACHE)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            if snap.images.contains_key(v.value()) {
                out.push(CacheEntry {
                    key: k.value().to_string(),
                    image: v.value().to_string(),
                });
            }
        }
        Ok(out)
    }

    /// `builder prune`: forgets every cache record; returns the keys removed.
    pub fn build_cache_prune(&self) -> Result<Vec<String>, ImageError> {
        let txn = self.db.begin_write()?;
        let keys: Vec<String> = {
            let table = txn.open_table(BUILD_CACHE)?;
            let mut keys = Vec::new();
            for row in table.iter()? {
                keys.push(row?.0.value().to_string());
            }
            keys
        };
        {
            let mut table = txn.open_table(BUILD_CACHE)?;
            for k in &keys {
                table.remove(k.as_str())?;
            }
        }
        txn.commit()?;
        Ok(keys)
    }
}
