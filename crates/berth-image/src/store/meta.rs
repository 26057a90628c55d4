//! Image metadata in redb: table `images` (id → JSON [`ImageRecord`]) and
//! table `refs` (full normalised reference → image id).

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::reference::{AnyReference, Reference};
use crate::ImageError;

pub(crate) const IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("images");
pub(crate) const REFS: TableDefinition<&str, &str> = TableDefinition::new("refs");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ImageRecord {
    pub id: String,
    pub config_digest: String,
    #[serde(default)]
    pub manifest_digest: Option<String>,
    pub diff_ids: Vec<String>,
    /// Content bytes of each layer, bottom first.
    pub layer_sizes: Vec<u64>,
    /// Unix seconds, from the config's `created`.
    pub created: i64,
    pub size: u64,
    /// The image this one was committed on top of ("" if none).
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub last_tag_time: Option<String>,
    /// More blobs this image keeps alive (manifests, compressed layers).
    #[serde(default)]
    pub blobs: Vec<String>,
}

/// Both tables, read at one instant.
#[derive(Debug, Default, Clone)]
pub(crate) struct Snapshot {
    pub images: BTreeMap<String, ImageRecord>,
    pub refs: BTreeMap<String, String>,
}

pub(crate) fn ensure_tables(db: &redb::Database) -> Result<(), ImageError> {
    let txn = db.begin_write()?;
    txn.open_table(IMAGES)?;
    txn.open_table(REFS)?;
    txn.open_table(super::holds::HOLDS)?;
    txn.open_table(super::build::BUILD_CACHE)?;
    txn.commit()?;
    Ok(())
}

fn collect(
    images: &impl ReadableTable<&'static str, &'static [u8]>,
    refs: &impl ReadableTable<&'static str, &'static str>,
) -> Result<Snapshot, ImageError> {
    let mut s = Snapshot::default();
    for row in images.iter()? {
        let (k, v) = row?;
        let rec: ImageRecord = serde_json::from_slice(v.value())
            .map_err(|e| ImageError::Corrupt(format!("image record {}: {e}", k.value())))?;
        s.images.insert(k.value().to_string(), rec);
    }
    for row in refs.iter()? {
        let (k, v) = row?;
        s.refs.insert(k.value().to_string(), v.value().to_string());
    }
    Ok(s)
}

pub(crate) fn read_snapshot(db: &redb::Database) -> Result<Snapshot, ImageError> {
    let txn = db.begin_read()?;
    let images = txn.open_table(IMAGES)?;
    let refs = txn.open_table(REFS)?;
    collect(&images, &refs)
}

pub(crate) fn write_snapshot(txn: &WriteTransaction) -> Result<Snapshot, ImageError> {
    let images = txn.open_table(IMAGES)?;
    let refs = txn.open_table(REFS)?;
    collect(&images, &refs)
}

pub(crate) fn put_image(txn: &WriteTransaction, rec: &ImageRecord) -> Result<(), ImageError> {
    let bytes = serde_json::to_vec(rec)
        .map_err(|e| ImageError::Corrupt(format!("encode image record: {e}")))?;
    txn.open_table(IMAGES)?
        .insert(rec.id.as_str(), bytes.as_slice())?;
    Ok(())
}

pub(crate) fn remove_image(txn: &WriteTransaction, id: &str) -> Result<(), ImageError> {
    txn.open_table(IMAGES)?.remove(id)?;
    Ok(())
}

pub(crate) fn put_ref(txn: &WriteTransaction, reference: &str, id: &str) -> Result<(), ImageError> {
    txn.open_table(REFS)?.insert(reference, id)?;
    Ok(())
}

pub(crate) fn remove_ref(txn: &WriteTransaction, reference: &str) -> Result<(), ImageError> {
    txn.open_table(REFS)?.remove(reference)?;
    Ok(())
}

/// The key a reference is stored under: docker's reference store keeps a
/// digest over a tag when both are given, and a bare name means `:latest`.
pub(crate) fn ref_key(r: &Reference) -> Reference {
    let mut r = r.clone();
    if r.digest.is_some() {
        r.tag = None;
    }
    r.with_default_tag()
}

impl Snapshot {
    /// docker's `GetImage`: reference, then full id, then id prefix.
    pub(crate) fn resolve(&self, name: &str) -> Result<&ImageRecord, ImageError> {
        match AnyReference::parse(name)? {
            AnyReference::Id(id) => self.images.get(&id).ok_or(ImageError::NotFound(id)),
            AnyReference::Named(r) => {
                let key = ref_key(&r);
                if let Some(rec) = self
                    .refs
                    .get(&key.to_string())
                    .and_then(|id| self.images.get(id))
                {
                    return Ok(rec);
                }
                if let Some(rec) = self.search_id(name) {
                    return Ok(rec);
                }
                Err(ImageError::NotFound(r.with_default_tag().familiar_string()))
            }
        }
    }

    /// Unique id prefix, with or without `sha256:`.
    fn search_id(&self, term: &str) -> Option<&ImageRecord> {
        let hex = term.strip_prefix("sha256:").unwrap_or(term);
        if !crate::reference::is_lower_hex(hex) {
            return None;
        }
        let prefix = format!("sha256:{hex}");
        let mut it = self
            .images
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix));
        let first = it.next()?;
        if it.next().is_some() {
            return None;
        }
        Some(first.1)
    }

    /// References pointing at `id`, sorted by familiar form as docker's
    /// reference store does.
    pub(crate) fn refs_of(&self, id: &str) -> Vec<Reference> {
        let mut refs: Vec<Reference> = self
            .refs
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .filter_map(|(k, _)| Reference::parse(k).ok())
            .collect();
        refs.sort_by_cached_key(|r| r.familiar_string());
        refs
    }

    pub(crate) fn repo_tags(&self, id: &str) -> Vec<String> {
        self.refs_of(id)
            .iter()
            .filter(|r| r.digest.is_none())
            .map(|r| r.familiar_string())
            .collect()
    }

    pub(crate) fn repo_digests(&self, id: &str) -> Vec<String> {
        self.refs_of(id)
            .iter()
            .filter(|r| r.digest.is_some())
            .map(|r| r.familiar_string())
            .collect()
    }

    pub(crate) fn children(&self, id: &str) -> Vec<&ImageRecord> {
        self.images.values().filter(|r| r.parent == id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            config_digest: id.into(),
            manifest_digest: None,
            diff_ids: vec![],
            layer_sizes: vec![],
            created: 0,
            size: 0,
            parent: String::new(),
            last_tag_time: None,
            blobs: vec![],
        }
    }

    #[test]
    fn resolve_rules() {
        let a = format!("sha256:ab{}", "1".repeat(62));
        let b = format!("sha256:ac{}", "2".repeat(62));
        let mut s = Snapshot::default();
        s.images.insert(a.clone(), rec(&a));
        s.images.insert(b.clone(), rec(&b));
        s.refs
            .insert("docker.io/library/busybox:latest".into(), a.clone());
        assert_eq!(s.resolve("busybox").unwrap().id, a);
        assert_eq!(s.resolve("docker.io/library/busybox:latest").unwrap().id, a);
        assert_eq!(s.resolve("ab").unwrap().id, a);
        assert_eq!(s.resolve("sha256:ac").unwrap().id, b);
        assert_eq!(s.resolve(&a).unwrap().id, a);
        assert_eq!(s.resolve(&a[7..]).unwrap().id, a);
        assert_eq!(
            s.resolve("a").unwrap_err().to_string(),
            "No such image: a:latest"
        );
        assert_eq!(
            s.resolve("foo").unwrap_err().to_string(),
            "No such image: foo:latest"
        );
        assert_eq!(
            s.resolve("busybox:1").unwrap_err().to_string(),
            "No such image: busybox:1"
        );
        assert_eq!(
            s.resolve("Foo").unwrap_err().to_string(),
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        let missing = format!("sha256:{}", "f".repeat(64));
        assert_eq!(
            s.resolve(&missing).unwrap_err().to_string(),
            format!("No such image: {missing}")
        );
    }
}
