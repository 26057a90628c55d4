//! `docker pull`: the manifest (through an index to the platform's), the config, then the
//! layers: three downloads at a time, each unpacked while it arrives, stored only when
//! both its blob digest and its diff id check out; the image registered last.

use std::sync::Arc;

use berth_image::reference::Reference;
use berth_image::{BlobSource, ImageStore};
use bytes::Bytes;
use hyper::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::auth::AuthConfig;
use super::config::RegistryConfig;
use super::download::{download, Growing};
use super::http::read_body;
use super::manifest::{self, Descriptor, Fetched, Platform};
use super::progress::{short, Progress};
use super::session::{unexpected, Repository};
use super::RegistryError;

/// Parallel layer downloads, as dockerd's `max-concurrent-downloads` default.
const MAX_DOWNLOADS: usize = 3;

/// An image found in the registry, not downloaded yet.
pub struct Resolved {
    repo: Arc<Repository>,
    /// The reference asked for, normalised (a tag or a digest).
    pub reference: Reference,
    /// Digest of the manifest (or index) the reference names.
    pub digest: String,
    manifest: Bytes,
    config: Bytes,
    layers: Vec<Descriptor>,
    diff_ids: Vec<String>,
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub id: String,
    pub digest: String,
    /// false: the image and its references were all there already.
    pub changed: bool,
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// `tag` or `digest` of a reference, as the registry's URLs take it.
fn tag_or_digest(r: &Reference) -> String {
    r.digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into())
}

/// docker's words for "not there" and "not allowed".
fn not_found(r: &Reference, code: Option<String>, msg: String) -> RegistryError {
    let name = r.familiar_name();
    match code.as_deref() {
        Some("MANIFEST_UNKNOWN") | None => {
            let what = match (&r.digest, &r.tag) {
                (Some(d), _) => format!("{name}@{d}"),
                (None, Some(t)) => format!("{name}:{t}"),
                _ => format!("{name}:latest"),
            };
            RegistryError::NotFound(format!("manifest for {what} not found: {msg}"))
        }
        _ => RegistryError::NotFound(format!(
            "pull access denied for {name}, repository does not exist or may require 'docker login': {msg}"
        )),
    }
}

/// GET a manifest by tag or digest: (body, content type).
pub(crate) async fn get_manifest(
    repo: &Repository,
    r: &Reference,
    which: &str,
) -> Result<(Bytes, String), RegistryError> {
    let url = repo.url(&format!("manifests/{which}"));
    let resp = repo
        .send(
            Method::GET,
            &url,
            &[("accept", manifest::ACCEPT.to_string())],
            None,
        )
        .await?;
    let status = resp.status();
    if status == 404 || status == 401 || status == 403 {
        let body = read_body(resp, 1 << 16).await.unwrap_or_default();
        let code = super::errors::code(&body);
        let msg = super::errors::message(&body).unwrap_or_else(|| {
            if status == 404 {
                "manifest unknown: manifest unknown".into()
            } else {
                "denied: requested access to the resource is denied".into()
            }
        });
        let code = if status == 404 {
            code
        } else {
            Some("DENIED".into())
        };
        return Err(not_found(r, code, msg));
    }
    if !status.is_success() {
        return Err(unexpected(&format!("fetch manifest {which}"), resp).await);
    }
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok((read_body(resp, 4 << 20).await?, ctype))
}

/// A small blob (the config), checked against its digest.
pub(crate) async fn get_small_blob(
    repo: &Repository,
    d: &Descriptor,
) -> Result<Bytes, RegistryError> {
    let url = repo.url(&format!("blobs/{}", d.digest));
    let resp = repo.send(Method::GET, &url, &[], None).await?;
    if !resp.status().is_success() {
        return Err(unexpected(&format!("fetch blob {}", d.digest), resp).await);
    }
    let body = read_body(resp, 32 << 20).await?;
    let actual = sha256(&body);
    if actual != d.digest {
        return Err(RegistryError::DigestMismatch {
            what: format!("blob {}", d.digest),
            expected: d.digest.clone(),
            actual,
        });
    }
    Ok(body)
}

/// The tags of a repository (`pull -a`).
pub async fn tags(
    cfg: &RegistryConfig,
    r: &Reference,
    auth: &AuthConfig,
) -> Result<Vec<String>, RegistryError> {
    let repo = Repository::open(cfg, &r.domain, &r.path, "pull", &[], auth).await?;
    let resp = repo
        .send(Method::GET, &repo.url("tags/list"), &[], None)
        .await?;
    if resp.status() == 404 || resp.status() == 401 {
        let body = read_body(resp, 1 << 16).await.unwrap_or_default();
        let msg = super::errors::message(&body).unwrap_or_default();
        return Err(not_found(r, Some("NAME_UNKNOWN".into()), msg));
    }
    if !resp.status().is_success() {
        return Err(unexpected("list tags", resp).await);
    }
    let body = read_body(resp, 16 << 20).await?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| RegistryError::Registry(format!("tags of {}: invalid JSON: {e}", r.path)))?;
    let mut tags: Vec<String> = v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    tags.sort();
    Ok(tags)
}

/// Finds what `r` names in its registry, for `platform` (default: the host's).
pub async fn resolve(
    cfg: &RegistryConfig,
    r: &Reference,
    platform: Option<&str>,
    auth: &AuthConfig,
) -> Result<Resolved, RegistryError> {
    let r = r.clone().with_default_tag();
    let want: Platform = match platform.filter(|p| !p.is_empty()) {
        Some(p) => manifest::parse_platform(p)?,
        None => manifest::host_platform(),
    };
    let repo = Repository::open(cfg, &r.domain, &r.path, "pull", &[], auth).await?;
    let which = tag_or_digest(&r);
    let (body, ctype) = get_manifest(&repo, &r, &which).await?;
    let digest = sha256(&body);
    if let Some(d) = &r.digest {
        if *d != digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("manifest {}", r.familiar_string()),
                expected: d.clone(),
                actual: digest,
            });
        }
    }
    let mut fetched = manifest::parse(&body, &ctype, &r.familiar_string())?;
    let was_index = matches!(fetched, Fetched::Index(_));
    if let Fetched::Index(list) = &fetched {
        let Some(d) = manifest::choose(list, &want) else {
            let mut p = format!("{}/{}", want.os, want.architecture);
            if let Some(v) = &want.variant {
                p.push('/');
                p.push_str(v);
            }
            return Err(RegistryError::NotFound(format!(
                "no matching manifest for {p} in the manifest list entries"
            )));
        };
        let d = d.clone();
        let (child, ctype) = get_manifest(&repo, &r, &d.digest).await?;
        let actual = sha256(&child);
        if actual != d.digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("manifest {}", d.digest),
                expected: d.digest,
                actual,
            });
        }
        fetched = manifest::parse(&child, &ctype, &r.familiar_string())?;
        if matches!(fetched, Fetched::Index(_)) {
            return Err(RegistryError::Registry(format!(
                "{}: an index inside an index is not supported",
                r.familiar_string()
            )));
        }
    }
    let Fetched::Image { config, layers } = fetched else {
        return Err(RegistryError::Registry("manifest without config".into()));
    };
    for l in &layers {
        if !manifest::layer_supported(&l.media_type) {
            return Err(RegistryError::InvalidArgument(format!(
                "layer {}: unsupported media type {}",
                l.digest, l.media_type
            )));
        }
    }
    let config_bytes = get_small_blob(&repo, &config).await?;
    let cfg_json: Value = serde_json::from_slice(&config_bytes).map_err(|e| {
        RegistryError::Registry(format!("image config {}: invalid JSON: {e}", config.digest))
    })?;
    // A single-platform image pulled for a platform it is not: docker's refusal.
    if let (Some(p), false) = (platform.filter(|p| !p.is_empty()), was_index) {
        let os = cfg_json["os"].as_str().unwrap_or("");
        let arch = cfg_json["architecture"].as_str().unwrap_or("");
        if os != want.os || arch != want.architecture {
            return Err(RegistryError::NotFound(format!(
                "image with reference {} was found but does not match the specified platform: wanted {p}, actual: {os}/{arch}",
                r.familiar_string()
            )));
        }
    }
    let diff_ids: Vec<String> = cfg_json
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if diff_ids.len() != layers.len() {
        return Err(RegistryError::Registry(format!(
            "image config {} lists {} layers, the manifest {}",
            config.digest,
            diff_ids.len(),
            layers.len()
        )));
    }
    Ok(Resolved {
        repo: Arc::new(repo),
        reference: r,
        digest,
        manifest: body,
        config: config_bytes,
        layers,
        diff_ids,
    })
}

/// Downloads and stores what `resolve` found, telling `progress` as docker does.
pub async fn fetch(
    res: Resolved,
    store: Arc<ImageStore>,
    progress: &Progress,
) -> Result<Pulled, RegistryError> {
    let r = &res.reference;
    progress.header(&tag_or_digest(r), format!("Pulling from {}", r.path));
    let ids: Vec<String> = res.layers.iter().map(|l| short(&l.digest)).collect();
    // One pull of a blob at a time in this process (its partial file is shared): locks taken
    // in digest order, held until the layers are stored, so a second pull of the same layers
    // waits and then finds them stored.
    let mut digests: Vec<&str> = res
        .layers
        .iter()
        .enumerate()
        .filter(|(i, _)| !store.has_layer(&res.diff_ids[..=*i]))
        .map(|(_, l)| l.digest.as_str())
        .collect();
    digests.sort_unstable();
    digests.dedup();
    let mut blob_locks = Vec::new();
    for d in digests {
        blob_locks.push(super::download::lock_blob(d).await);
    }
    let mut needed = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if store.has_layer(&res.diff_ids[..=i]) {
            progress.layer(id, "Already exists");
        } else if needed
            .iter()
            .any(|&j: &usize| res.layers[j].digest == res.layers[i].digest)
        {
            // The same blob twice in one image: one download is enough, and
            // the second unpack finds it stored once the first is done.
            needed.push(i);
        } else {
            progress.layer(id, "Pulling fs layer");
            needed.push(i);
        }
    }
    let dir = store.downloads_dir()?;
    let growing: Vec<(usize, Arc<Growing>)> = needed
        .iter()
        .map(|&i| {
            let hex = res.layers[i].digest.trim_start_matches("sha256:");
            (i, Growing::new(dir.join(format!("{hex}.partial"))))
        })
        .collect();

    let sem = Arc::new(Semaphore::new(MAX_DOWNLOADS));
    let mut downloads = Vec::new();
    let mut started = std::collections::HashSet::new();
    for (i, g) in &growing {
        if !started.insert(res.layers[*i].digest.clone()) {
            continue;
        }
        let (repo, desc, g, p, id, sem) = (
            res.repo.clone(),
            res.layers[*i].clone(),
            g.clone(),
            progress.clone(),
            ids[*i].clone(),
            sem.clone(),
        );
        downloads.push(tokio::spawn(async move {
            let _permit = match sem.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    p.layer(&id, "Waiting");
                    sem.acquire_owned()
                        .await
                        .map_err(|_| RegistryError::Registry("download queue closed".into()))?
                }
            };
            download(&repo, &desc, &g, &p, &id).await
        }));
    }

    let job = {
        let store = store.clone();
        let progress = progress.clone();
        let diff_ids = res.diff_ids.clone();
        let layers = res.layers.clone();
        let ids = ids.clone();
        let growing = growing.clone();
        let config = res.config.clone();
        let manifest = res.manifest.clone();
        let mut refs = vec![r.clone()];
        if r.digest.is_none() {
            refs.push(Reference {
                tag: None,
                digest: Some(res.digest.clone()),
                ..r.clone()
            });
        }
        tokio::task::spawn_blocking(move || {
            super::unpack::store_all(
                &store, &progress, &diff_ids, &layers, &ids, &growing, &config, &manifest, &refs,
            )
        })
    };
    let stored = job
        .await
        .map_err(|e| RegistryError::Registry(format!("pull task: {e}")))?;
    let mut download_err = None;
    for d in downloads {
        if stored.is_err() {
            d.abort();
        }
        if let Ok(Err(e)) = d.await {
            download_err.get_or_insert(e);
        }
    }
    let reg = match (stored, download_err) {
        (Ok(reg), _) => reg,
        // The download's own error says more than "the unpack's input failed".
        (Err(_), Some(e)) => return Err(e),
        (Err(e), None) => return Err(e),
    };
    for (_, g) in &growing {
        let _ = std::fs::remove_file(&g.path);
    }
    drop(blob_locks);
    let repository = format!("{}/{}", r.domain, r.path);
    for (l, d) in res.layers.iter().zip(&res.diff_ids) {
        let src = BlobSource {
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
            size: l.size,
            repository: repository.clone(),
        };
        if let Err(e) = store.add_blob_source(d, src) {
            tracing::warn!(layer = %d, error = %e, "cannot record where a layer came from");
        }
    }
    progress.message(format!("Digest: {}", res.digest));
    let name = r.familiar_string();
    progress.message(if reg.changed {
        format!("Status: Downloaded newer image for {name}")
    } else {
        format!("Status: Image is up to date for {name}")
    });
    Ok(Pulled {
        id: reg.id,
        digest: res.digest,
        changed: reg.changed,
    })
}
