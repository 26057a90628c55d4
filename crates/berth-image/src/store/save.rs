//! `docker save`: a docker-archive that is also an OCI image layout, as
//! Docker 25+ writes it: `blobs/sha256/*`, `index.json`, `oci-layout`,
//! `manifest.json`, `repositories`.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use serde_json::{json, Value};

use super::layers::chain_ids;
use super::meta::ref_key;
use super::{content, ImageStore};
use crate::reference::{AnyReference, Reference};
use crate::ImageError;

pub(crate) const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

impl ImageStore {
    /// `docker save`: every named image (a bare repository name means all its
    /// tags) into one tar streamed to `out`.
    pub fn save(&self, names: &[String], out: impl Write) -> Result<(), ImageError> {
        let snap = self.snapshot()?;
        // image id → tags to write, in the order first named.
        let mut order: Vec<String> = Vec::new();
        let mut tags: BTreeMap<String, Vec<Reference>> = BTreeMap::new();
        for name in names {
            let mut add = |id: &str, r: Option<Reference>| {
                if !tags.contains_key(id) {
                    order.push(id.to_string());
                }
                let t = tags.entry(id.to_string()).or_default();
                if let Some(r) = r {
                    if !t.contains(&r) {
                        t.push(r);
                    }
                }
            };
            match AnyReference::parse(name)? {
                AnyReference::Named(r) if r.tag.is_none() && r.digest.is_none() => {
                    let repo = r.name();
                    let mut found = false;
                    for (k, id) in &snap.refs {
                        if let Ok(kr) = Reference::parse(k) {
                            if kr.name() == repo && kr.digest.is_none() {
                                add(id, Some(kr));
                                found = true;
                            }
                        }
                    }
                    if !found {
                        let rec = snap.resolve(name)?;
                        add(&rec.id, None);
                    }
                }
                AnyReference::Named(r) => {
                    let rec = snap.resolve(name)?;
                    let key = ref_key(&r);
                    let is_ref =
                        snap.refs.get(&key.to_string()) == Some(&rec.id) && key.digest.is_none();
                    add(&rec.id, is_ref.then_some(key));
                }
                AnyReference::Id(_) => {
                    let rec = snap.resolve(name)?;
                    add(&rec.id, None);
                }
            }
        }

        let mut keep = Vec::new();
        for id in &order {
            if let Some(rec) = snap.images.get(id) {
                keep.push(rec.config_digest.clone());
                keep.extend(rec.diff_ids.iter().cloned());
                keep.extend(chain_ids(&rec.diff_ids));
            }
        }
        let _lease = self.leases.hold(keep);

        let mut tw = tar::Builder::new(out);
        dir_entry(&mut tw, "blobs/")?;
        dir_entry(&mut tw, "blobs/sha256/")?;
        let mut written = HashSet::new();
        let mut manifest_json = Vec::new();
        let mut index = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for id in &order {
            let Some(rec) = snap.images.get(id) else {
                continue;
            };
            let mut layers = Vec::new();
            let mut layer_paths = Vec::new();
            for d in &rec.diff_ids {
                let hex = content::digest_hex(d)?;
                if !self.content.exists(d) {
                    return Err(ImageError::Corrupt(format!(
                        "layer blob {d} of image {id} is missing"
                    )));
                }
                let size = self.content.size(d);
                if written.insert(d.clone()) {
                    let (f, len) = self.content.open_blob(d)?;
                    file_entry(&mut tw, &format!("blobs/sha256/{hex}"), len, f)?;
                }
                layers.push(json!({"mediaType": MEDIA_LAYER, "digest": d, "size": size}));
                layer_paths.push(format!("blobs/sha256/{hex}"));
            }
            let cfg = self.content.read(&rec.config_digest)?;
            let cfg_hex = content::digest_hex(&rec.config_digest)?;
            if written.insert(rec.config_digest.clone()) {
                file_entry(
                    &mut tw,
                    &format!("blobs/sha256/{cfg_hex}"),
                    cfg.len() as u64,
                    &cfg[..],
                )?;
            }
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_MANIFEST,
                "config": {"mediaType": MEDIA_CONFIG, "digest": rec.config_digest, "size": cfg.len()},
                "layers": layers,
            });
            let mbytes = to_vec(&manifest)?;
            let mdigest = content::sha256_digest(&mbytes);
            if written.insert(mdigest.clone()) {
                let mhex = content::digest_hex(&mdigest)?;
                file_entry(
                    &mut tw,
                    &format!("blobs/sha256/{mhex}"),
                    mbytes.len() as u64,
                    &mbytes[..],
                )?;
            }
            let desc =
                json!({"mediaType": MEDIA_MANIFEST, "digest": mdigest, "size": mbytes.len()});
            let image_tags = tags.get(id).cloned().unwrap_or_default();
            if image_tags.is_empty() {
                index.push(desc.clone());
            }
            for t in &image_tags {
                let mut d = desc.clone();
                d["annotations"] = json!({
                    "io.containerd.image.name": t.to_string(),
                    "org.opencontainers.image.ref.name": t.tag.clone().unwrap_or_default(),
                });
                index.push(d);
                if let (Some(tag), Some(top)) = (&t.tag, rec.diff_ids.last()) {
                    let top = top.strip_prefix("sha256:").unwrap_or(top).to_string();
                    repositories
                        .entry(t.familiar_name())
                        .or_default()
                        .insert(tag.clone(), top);
                }
            }
            let repo_tags: Value = if image_tags.is_empty() {
                Value::Null
            } else {
                json!(image_tags
                    .iter()
                    .map(|t| t.familiar_string())
                    .collect::<Vec<_>>())
            };
            manifest_json.push(json!({
                "Config": format!("blobs/sha256/{cfg_hex}"),
                "RepoTags": repo_tags,
                "Layers": layer_paths,
            }));
        }
        let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": index});
        for (name, v) in [
            ("index.json", to_vec(&index)?),
            ("manifest.json", to_vec(&Value::Array(manifest_json))?),
            (
                "oci-layout",
                to_vec(&json!({"imageLayoutVersion": "1.0.0"}))?,
            ),
            ("repositories", to_vec(&json!(repositories))?),
        ] {
            file_entry(&mut tw, name, v.len() as u64, &v[..])?;
        }
        tw.into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| ImageError::io("write image archive", e))?;
        Ok(())
    }
}

fn to_vec(v: &Value) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(v).map_err(|e| ImageError::Corrupt(format!("encode JSON: {e}")))
}

fn dir_entry<W: Write>(tw: &mut tar::Builder<W>, name: &str) -> Result<(), ImageError> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    h.set_mtime(0);
    tw.append_data(&mut h, name, io::empty())
        .map_err(|e| ImageError::io("write image archive", e))
}

fn file_entry<W: Write>(
    tw: &mut tar::Builder<W>,
    name: &str,
    len: u64,
    r: impl io::Read,
) -> Result<(), ImageError> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(len);
    h.set_mtime(0);
    tw.append_data(&mut h, name, r)
        .map_err(|e| ImageError::io(format!("write {name} to image archive"), e))
}
