//! What the API shows of images: summaries, inspect, history.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::config;
use super::layers::chain_ids;
use super::meta::{ImageRecord, Snapshot};
use super::ImageStore;
use crate::ImageError;

/// An `/images/json` entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageInfo {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "ParentId")]
    pub parent: String,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    /// Unix seconds.
    #[serde(rename = "Created")]
    pub created: i64,
    /// Bytes, the sum of the layers' sizes.
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "SharedSize")]
    pub shared_size: i64,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    /// -1: not computed (as docker answers unless asked).
    #[serde(rename = "Containers")]
    pub containers: i64,
}

/// An item of `DELETE /images/{name}` and of prune's `ImagesDeleted`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

/// An `/images/{name}/history` item.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryItem {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "Comment")]
    pub comment: String,
}

impl ImageStore {
    pub(crate) fn info(&self, snap: &Snapshot, rec: &ImageRecord) -> ImageInfo {
        let labels = self
            .content
            .read(&rec.config_digest)
            .ok()
            .and_then(|b| config::parse(&b).ok())
            .map(|c| config::labels(&c))
            .unwrap_or_default();
        ImageInfo {
            id: rec.id.clone(),
            parent: rec.parent.clone(),
            repo_tags: snap.repo_tags(&rec.id),
            repo_digests: snap.repo_digests(&rec.id),
            created: rec.created,
            size: rec.size as i64,
            shared_size: -1,
            labels,
            containers: -1,
        }
    }

    /// `/images/{name}/json`
    pub fn inspect(&self, name: &str) -> Result<Value, ImageError> {
        let snap = self.snapshot()?;
        let rec = snap.resolve(name)?;
        let cfg = config::parse(&self.content.read(&rec.config_digest)?)?;
        let s = |k: &str| cfg.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let chains = chain_ids(&rec.diff_ids);
        let dirs: Vec<String> = chains
            .iter()
            .rev()
            .filter_map(|c| self.layers.path(c).ok())
            .map(|p| p.display().to_string())
            .collect();
        let mut data = serde_json::Map::new();
        if let Some((top, lower)) = dirs.split_first() {
            if !lower.is_empty() {
                data.insert("LowerDir".into(), json!(lower.join(":")));
            }
            data.insert("UpperDir".into(), json!(top));
            data.insert("MergedDir".into(), json!(format!("{top}-merged")));
            data.insert("WorkDir".into(), json!(format!("{top}-work")));
        }
        let mut out = json!({
            "Id": rec.id,
            "RepoTags": snap.repo_tags(&rec.id),
            "RepoDigests": snap.repo_digests(&rec.id),
            "Parent": rec.parent,
            "Comment": s("comment"),
            "Created": config::created(&cfg).1,
            "DockerVersion": s("docker_version"),
            "Author": s("author"),
            "Config": config::container_config(&cfg),
            "Architecture": s("architecture"),
            "Os": s("os"),
            "Size": rec.size,
            "GraphDriver": {"Name": "overlay2", "Data": data},
            "RootFS": {"Type": "layers", "Layers": rec.diff_ids},
            "Metadata": {"LastTagTime": rec.last_tag_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into())},
        });
        if let (Some(v), Some(o)) = (cfg.get("variant"), out.as_object_mut()) {
            o.insert("Variant".into(), v.clone());
        }
        Ok(out)
    }

    /// `/images/{name}/history`, newest first.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>, ImageError> {
        let snap = self.snapshot()?;
        let rec = snap.resolve(name)?;
        let cfg = config::parse(&self.content.read(&rec.config_digest)?)?;
        let hist = cfg
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut layer = 0usize;
        let mut out = Vec::new();
        for h in &hist {
            let empty = h
                .get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let mut size = 0i64;
            if !empty {
                size = rec.layer_sizes.get(layer).copied().unwrap_or(0) as i64;
                layer += 1;
            }
            let created = h
                .get("created")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0);
            let text = |k: &str| h.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            out.push(HistoryItem {
                id: "<missing>".into(),
                created,
                created_by: text("created_by"),
                tags: None,
                size,
                comment: text("comment"),
            });
        }
        out.reverse();
        // Ids and tags as far down as the parent chain is known.
        let mut id = rec.id.clone();
        for item in out.iter_mut() {
            let Some(r) = snap.images.get(&id) else { break };
            item.id = r.id.clone();
            let tags = snap.repo_tags(&r.id);
            item.tags = if tags.is_empty() { None } else { Some(tags) };
            if r.parent.is_empty() {
                break;
            }
            id = r.parent.clone();
        }
        Ok(out)
    }
}
