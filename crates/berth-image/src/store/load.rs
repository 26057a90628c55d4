//! `docker load`: docker-archive (with or without the OCI layout) and plain
//! OCI layout tars, gzip'd or not. The archive is staged file by file in
//! `content/tmp` (its manifest may come last), then its images are ingested.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::layers::chain_ids;
use super::meta::{ref_key, Snapshot};
use super::save::{MEDIA_INDEX, MEDIA_MANIFEST};
use super::{config, short_id, ImageStore};
use crate::layer::{self, clean_entry_path};
use crate::reference::Reference;
use crate::{sys, ImageError};

/// The archive's files, by cleaned path.
struct Staged {
    dir: PathBuf,
    files: HashMap<PathBuf, PathBuf>,
    links: HashMap<PathBuf, PathBuf>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Staged {
    fn path(&self, name: &str) -> Option<&Path> {
        let mut p = clean_entry_path(Path::new(name)).ok()?;
        for _ in 0..16 {
            if let Some(f) = self.files.get(&p) {
                return Some(f);
            }
            p = self.links.get(&p)?.clone();
        }
        None
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let p = self
            .path(name)
            .ok_or_else(|| invalid(format!("archive has no file {name}")))?;
        fs::read(p).map_err(|e| ImageError::io(format!("read {name} from archive"), e))
    }

    fn json(&self, name: &str) -> Result<Value, ImageError> {
        serde_json::from_slice(&self.read(name)?).map_err(|e| ImageError::json(name, e))
    }
}

/// One image found in the archive.
struct Found {
    config: String,
    layers: Vec<String>,
    tags: Vec<Reference>,
}

fn invalid(msg: String) -> ImageError {
    ImageError::InvalidArgument(msg)
}

impl ImageStore {
    /// Returns what docker prints: `Loaded image: busybox:latest` or
    /// `Loaded image ID: sha256:…`.
    pub fn load(&self, input: impl Read) -> Result<Vec<String>, ImageError> {
        self.load_with_progress(input, &mut |_, _| {})
    }

    /// As [`ImageStore::load`], telling `progress` about each layer as it is stored:
    /// (short id of the layer, bytes).
    pub fn load_with_progress(
        &self,
        input: impl Read,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<Vec<String>, ImageError> {
        let staged = self.stage(input)?;
        let found = if staged.path("manifest.json").is_some() {
            docker_archive(&staged)?
        } else if staged.path("index.json").is_some() {
            let index = staged.json("index.json")?;
            let mut out = Vec::new();
            oci_index(&staged, &index, None, &mut out, 0)?;
            out
        } else {
            return Err(invalid(
                "invalid image archive: no manifest.json or index.json".into(),
            ));
        };
        let mut lines = Vec::new();
        for f in found {
            self.load_one(&staged, f, &mut lines, progress)?;
        }
        Ok(lines)
    }

    fn stage(&self, input: impl Read) -> Result<Staged, ImageError> {
        let dir = self
            .content
            .tmp_dir()
            .join(format!("load-{}", sys::random_hex(8)));
        fs::create_dir(&dir).map_err(|e| ImageError::io(format!("create {}", dir.display()), e))?;
        let mut staged = Staged {
            dir,
            files: HashMap::new(),
            links: HashMap::new(),
        };
        let r = layer::decompress(input).map_err(|e| ImageError::layer("archive", e))?;
        let mut ar = tar::Archive::new(r);
        let read_err = |e: io::Error| invalid(format!("reading image archive: {e}"));
        for (n, entry) in ar.entries().map_err(read_err)?.enumerate() {
            let mut entry = entry.map_err(read_err)?;
            let raw = entry.path().map_err(read_err)?.into_owned();
            let name = clean_entry_path(&raw).map_err(|e| ImageError::layer("archive", e))?;
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let dest = staged.dir.join(n.to_string());
                    let mut f = fs::File::create(&dest)
                        .map_err(|e| ImageError::io("stage archive file", e))?;
                    io::copy(&mut entry, &mut f).map_err(read_err)?;
                    staged.files.insert(name, dest);
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let Some(target) = entry.link_name().map_err(read_err)? else {
                        continue;
                    };
                    let joined = if entry.header().entry_type() == tar::EntryType::Symlink {
                        name.parent().unwrap_or(Path::new("")).join(&target)
                    } else {
                        target.into_owned()
                    };
                    if let Ok(t) = clean_entry_path(&joined) {
                        staged.links.insert(name, t);
                    }
                }
                _ => {}
            }
        }
        Ok(staged)
    }

    fn load_one(
        &self,
        staged: &Staged,
        f: Found,
        lines: &mut Vec<String>,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<(), ImageError> {
        let cfg_bytes = staged.read(&f.config)?;
        let cfg = config::parse(&cfg_bytes)?;
        let diff_ids = config::diff_ids(&cfg)?;
        if diff_ids.len() != f.layers.len() {
            return Err(invalid(format!(
                "image config {} lists {} layers, the archive {}",
                f.config,
                diff_ids.len(),
                f.layers.len()
            )));
        }
        let chains = chain_ids(&diff_ids);
        let mut lease = self
            .leases
            .hold(chains.iter().cloned().chain(diff_ids.iter().cloned()));
        let snap = self.snapshot()?;
        let mut sizes = Vec::new();
        for (i, path) in f.layers.iter().enumerate() {
            if self.layers.exists(&chains[i]) && self.content.exists(&diff_ids[i]) {
                sizes.push(known_size(&snap, &chains[i]).unwrap_or(0));
                continue;
            }
            let p = staged
                .path(path)
                .ok_or_else(|| invalid(format!("archive has no layer {path}")))?;
            let file =
                fs::File::open(p).map_err(|e| ImageError::io(format!("open layer {path}"), e))?;
            let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
            let parent = if i == 0 {
                None
            } else {
                Some(chains[i - 1].as_str())
            };
            let l = self.ingest_layer(file, path, parent, true, &mut lease)?;
            if l.diff_id != diff_ids[i] {
                return Err(ImageError::DigestMismatch {
                    expected: diff_ids[i].clone(),
                    actual: l.diff_id,
                });
            }
            sizes.push(l.size);
            let short = diff_ids[i].trim_start_matches("sha256:");
            progress(&short[..12.min(short.len())], bytes);
        }
        let cfg_digest = super::content::sha256_digest(&cfg_bytes);
        for t in &f.tags {
            let key = ref_key(t).to_string();
            if let Some(old) = snap.refs.get(&key).filter(|old| **old != cfg_digest) {
                lines.push(format!(
                    "The image {} already exists, renaming the old one with ID {old} to empty string",
                    t.familiar_string()
                ));
            }
        }
        let id = self.register(&cfg_bytes, sizes, "", Vec::new(), &f.tags, &mut lease)?;
        if f.tags.is_empty() {
            lines.push(format!("Loaded image ID: {id}"));
        }
        for t in &f.tags {
            lines.push(format!("Loaded image: {}", t.familiar_string()));
        }
        tracing::debug!(image = %short_id(&id), "loaded image");
        Ok(())
    }
}

fn known_size(snap: &Snapshot, chain: &str) -> Option<u64> {
    snap.images.values().find_map(|r| {
        let i = chain_ids(&r.diff_ids).iter().position(|c| c == chain)?;
        r.layer_sizes.get(i).copied()
    })
}

fn docker_archive(staged: &Staged) -> Result<Vec<Found>, ImageError> {
    let m = staged.json("manifest.json")?;
    let entries = m
        .as_array()
        .ok_or_else(|| invalid("manifest.json is not a list".into()))?;
    let mut out = Vec::new();
    for e in entries {
        let config = e
            .get("Config")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("manifest.json entry without Config".into()))?
            .to_string();
        let layers = strings(e.get("Layers"));
        let tags = strings(e.get("RepoTags"))
            .iter()
            .map(|t| Ok(Reference::parse_normalized(t)?.with_default_tag()))
            .collect::<Result<Vec<_>, ImageError>>()?;
        out.push(Found {
            config,
            layers,
            tags,
        });
    }
    Ok(out)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn blob_path(digest: &str) -> Result<String, ImageError> {
    let (alg, hex) = digest
        .split_once(':')
        .filter(|(a, h)| !a.is_empty() && !h.is_empty() && !h.contains('/') && !a.contains('/'))
        .ok_or_else(|| invalid(format!("invalid digest {digest:?}")))?;
    Ok(format!("blobs/{alg}/{hex}"))
}

/// The tag an OCI index entry names, if any.
fn annotation_tag(desc: &Value) -> Option<Reference> {
    let a = desc.get("annotations")?;
    if let Some(n) = a.get("io.containerd.image.name").and_then(Value::as_str) {
        return Reference::parse_normalized(n)
            .ok()
            .map(|r| r.with_default_tag());
    }
    let n = a
        .get("org.opencontainers.image.ref.name")
        .and_then(Value::as_str)?;
    // A bare tag ("latest") names no repository.
    if n.contains(['/', ':', '@']) {
        return Reference::parse_normalized(n)
            .ok()
            .map(|r| r.with_default_tag());
    }
    None
}

fn oci_index(
    staged: &Staged,
    index: &Value,
    tag: Option<Reference>,
    out: &mut Vec<Found>,
    depth: usize,
) -> Result<(), ImageError> {
    if depth > 4 {
        return Err(invalid("OCI index nested too deeply".into()));
    }
    let manifests = index
        .get("manifests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let nested = depth > 0;
    let mut chosen: Vec<&Value> = Vec::new();
    if nested {
        // A multi-platform index: take the host's platform, else the first.
        let want = config::host_arch();
        let pick = manifests
            .iter()
            .find(|m| {
                m.pointer("/platform/architecture").and_then(Value::as_str) == Some(want)
                    && m.pointer("/platform/os").and_then(Value::as_str) == Some("linux")
            })
            .or_else(|| manifests.first());
        chosen.extend(pick);
    } else {
        chosen.extend(manifests.iter());
    }
    for desc in chosen {
        let digest = desc.get("digest").and_then(Value::as_str).unwrap_or("");
        let media = desc.get("mediaType").and_then(Value::as_str).unwrap_or("");
        let t = annotation_tag(desc).or_else(|| tag.clone());
        let body = staged.json(&blob_path(digest)?)?;
        let body_media = body
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or(media);
        if body_media == MEDIA_INDEX
            || body_media.ends_with("manifest.list.v2+json")
            || body.get("manifests").is_some()
        {
            oci_index(staged, &body, t, out, depth + 1)?;
            continue;
        }
        if body_media != MEDIA_MANIFEST
            && !body_media.ends_with("manifest.v2+json")
            && body.get("config").is_none()
        {
            continue;
        }
        let config = blob_path(
            body.pointer("/config/digest")
                .and_then(Value::as_str)
                .unwrap_or(""),
        )?;
        let layers = body
            .get("layers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|l| blob_path(l.get("digest").and_then(Value::as_str).unwrap_or("")))
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))?;
        // The same image under several tags appears once per tag.
        if let Some(f) = out.iter_mut().find(|f| f.config == config) {
            f.tags.extend(t);
            continue;
        }
        out.push(Found {
            config,
            layers,
            tags: t.into_iter().collect(),
        });
    }
    Ok(())
}
