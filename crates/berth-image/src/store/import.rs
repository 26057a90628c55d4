//! `docker import` and `docker commit`: one new layer, a new config.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use serde_json::{json, Map, Value};

use super::changes::apply_changes;
use super::layers::chain_ids;
use super::{config, now_rfc3339, parse_tag_reference, ImageStore};
use crate::{layer, ImageError};

impl ImageStore {
    /// `docker import`: a rootfs tar (plain or gzip) becomes a one-layer image.
    /// Returns the image id.
    pub fn import(
        &self,
        tar: impl Read,
        changes: &[String],
        message: Option<&str>,
        tag: Option<&str>,
    ) -> Result<String, ImageError> {
        let tags = tag
            .map(parse_tag_reference)
            .transpose()?
            .into_iter()
            .collect::<Vec<_>>();
        let mut runtime = Map::new();
        apply_changes(&mut runtime, changes)?;
        let mut lease = self.leases.hold([]);
        let l = self.ingest_layer(tar, "of imported tar", None, true, &mut lease)?;
        let created = now_rfc3339();
        let msg = message
            .filter(|m| !m.is_empty())
            .unwrap_or("Imported from -");
        let cfg = config::build(config::NewConfig {
            config: full_runtime_config(runtime),
            diff_ids: vec![l.diff_id.clone()],
            history: vec![json!({"created": created, "comment": msg})],
            created: &created,
            author: "",
            comment: msg,
        })?;
        self.register(&cfg, vec![l.size], "", Vec::new(), &tags, &mut lease)
    }

    /// `docker commit`: the container's overlay upper dir becomes a layer on top
    /// of `parent`; `config` is the already merged docker-keyed runtime config.
    #[allow(clippy::too_many_arguments)]
    pub fn commit(
        &self,
        parent: Option<&str>,
        upper: &Path,
        config: Value,
        author: &str,
        comment: &str,
        created_by: &str,
        tag: Option<&str>,
    ) -> Result<String, ImageError> {
        let tags = tag
            .map(parse_tag_reference)
            .transpose()?
            .into_iter()
            .collect::<Vec<_>>();
        let (parent_id, mut diff_ids, mut sizes, mut history) = self.parent_parts(parent)?;
        let mut lease = self.leases.hold(chain_ids(&diff_ids));

        // The upper dir as a tar blob first (its digest is the diff id), then
        // unpacked from that blob as the new layer.
        let mut w = self.content.writer()?;
        layer::write_dir(upper, &mut w, true)
            .map_err(|e| ImageError::layer(upper.display().to_string(), e))?;
        w.flush()
            .map_err(|e| ImageError::io("write layer blob", e))?;
        let blob_digest = {
            let tmp_digest = self.content.commit(w, None)?;
            lease.add(tmp_digest.clone());
            tmp_digest
        };
        let blob = fs::File::open(self.content.path(&blob_digest)?)
            .map_err(|e| ImageError::io(format!("open blob {blob_digest}"), e))?;
        let parent_chain = chain_ids(&diff_ids).pop();
        let l = self.ingest_layer(
            blob,
            &blob_digest,
            parent_chain.as_deref(),
            false,
            &mut lease,
        )?;
        if l.diff_id != blob_digest {
            return Err(ImageError::DigestMismatch {
                expected: blob_digest,
                actual: l.diff_id,
            });
        }
        diff_ids.push(l.diff_id);
        sizes.push(l.size);
        let created = now_rfc3339();
        let mut h = Map::new();
        h.insert("created".into(), json!(created));
        h.insert("created_by".into(), json!(created_by));
        if !author.is_empty() {
            h.insert("author".into(), json!(author));
        }
        if !comment.is_empty() {
            h.insert("comment".into(), json!(comment));
        }
        history.push(Value::Object(h));
        let runtime = config.as_object().cloned().unwrap_or_default();
        let cfg = config::build(config::NewConfig {
            config: full_runtime_config(runtime),
            diff_ids,
            history,
            created: &created,
            author,
            comment,
        })?;
        self.register(&cfg, sizes, &parent_id, Vec::new(), &tags, &mut lease)
    }
}

/// docker stores the whole `container.Config` shape in image configs.
pub(super) fn full_runtime_config(runtime: Map<String, Value>) -> Value {
    config::container_config(&json!({ "config": runtime }))
}

/// What a new image takes over from its parent: the parent's id, diff ids, layer sizes and
/// history (all empty without a parent).
pub(super) type ParentParts = (String, Vec<String>, Vec<u64>, Vec<Value>);

impl ImageStore {
    pub(super) fn parent_parts(&self, parent: Option<&str>) -> Result<ParentParts, ImageError> {
        let Some(p) = parent else {
            return Ok(Default::default());
        };
        let rec = self.snapshot()?.resolve(p)?.clone();
        let pcfg = config::parse(&self.content.read(&rec.config_digest)?)?;
        let history = pcfg
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok((rec.id, rec.diff_ids, rec.layer_sizes, history))
    }
}
