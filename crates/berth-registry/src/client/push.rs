//! `docker push`: layers gzip'd as they are uploaded (one streamed PATCH, then PUT with the
//! digest), skipped when the registry has them (HEAD) or mounted from another repository
//! of the same registry; then the config and a Docker schema 2 manifest.

use std::io::{self, Read, Write};
use std::sync::Arc;

use berth_image::reference::Reference;
use berth_image::{BlobSource, ImageStore};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, Semaphore};

use super::auth::{encode, AuthConfig};
use super::config::RegistryConfig;
use super::http::resolve as resolve_url;
use super::manifest::{DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST};
use super::progress::{short, Progress, Throttle};
use super::session::{unexpected, Repository};
use super::RegistryError;

/// Parallel layer uploads, as dockerd's `max-concurrent-uploads` default.
const MAX_UPLOADS: usize = 5;

/// What a push of one tag did.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub tag: String,
    pub digest: String,
    pub size: usize,
}

/// A pushed blob.
#[derive(Debug, Clone)]
struct Blob {
    digest: String,
    size: u64,
}

/// Pushes the image `r` (a tagged reference) names.
pub async fn push(
    cfg: &RegistryConfig,
    store: Arc<ImageStore>,
    r: &Reference,
    auth: &AuthConfig,
    progress: &Progress,
) -> Result<Pushed, RegistryError> {
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    let image = store.image_for_push(&r.to_string())?;
    let prefix = format!("{}/", r.domain);
    let this_repo = format!("{}/{}", r.domain, r.path);
    // Other repositories of this registry a layer may be mounted from.
    let mut also = Vec::new();
    for d in &image.diff_ids {
        for s in store.blob_sources(d) {
            if let Some(path) = s.repository.strip_prefix(&prefix) {
                let scope = format!("repository:{path}:pull");
                if s.repository != this_repo && !also.contains(&scope) {
                    also.push(scope);
                }
            }
        }
    }
    let repo = Arc::new(Repository::open(cfg, &r.domain, &r.path, "pull,push", &also, auth).await?);
    let ids: Vec<String> = image.diff_ids.iter().map(|d| short(d)).collect();
    for id in ids.iter().rev() {
        progress.layer(id, "Preparing");
    }
    let sem = Arc::new(Semaphore::new(MAX_UPLOADS));
    let mut tasks = Vec::new();
    for (i, d) in image.diff_ids.iter().enumerate().rev() {
        let (repo, store, progress, sem, d, id, prefix, this_repo) = (
            repo.clone(),
            store.clone(),
            progress.clone(),
            sem.clone(),
            d.clone(),
            ids[i].clone(),
            prefix.clone(),
            this_repo.clone(),
        );
        tasks.push((
            i,
            tokio::spawn(async move {
                let _permit = match sem.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        progress.layer(&id, "Waiting");
                        sem.acquire_owned()
                            .await
                            .map_err(|_| RegistryError::Registry("upload queue closed".into()))?
                    }
                };
                push_layer(&repo, &store, &d, &id, &prefix, &this_repo, &progress).await
            }),
        ));
    }
    let mut layers = vec![None; image.diff_ids.len()];
    let mut first_err = None;
    for (i, t) in tasks {
        match t.await {
            Ok(Ok(b)) => layers[i] = Some(b),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(RegistryError::Registry(format!("push task: {e}")));
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&image.config)));
    if !blob_exists(&repo, &config_digest).await? {
        upload_bytes(&repo, &config_digest, Bytes::from(image.config.clone())).await?;
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": image.config.len(), "digest": config_digest},
        "layers": layers.iter().flatten().map(|b| json!({
            "mediaType": DOCKER_LAYER_GZIP, "size": b.size, "digest": b.digest
        })).collect::<Vec<_>>(),
    });
    let body = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| RegistryError::Registry(format!("encode manifest: {e}")))?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let size = body.len();
    let resp = repo
        .send(
            Method::PUT,
            &repo.url(&format!("manifests/{tag}")),
            &[("content-type", DOCKER_MANIFEST.to_string())],
            Some(Bytes::from(body)),
        )
        .await?;
    if !resp.status().is_success() {
        return Err(unexpected(&format!("put manifest {tag}"), resp).await);
    }
    let digest_ref = Reference {
        tag: None,
        digest: Some(digest.clone()),
        ..r.clone()
    };
    store.add_repo_digest(&image.id, &digest_ref)?;
    progress.message(format!("{tag}: digest: {digest} size: {size}"));
    progress.send(json!({
        "progressDetail": {},
        "aux": {"Tag": tag, "Digest": digest, "Size": size}
    }));
    Ok(Pushed { tag, digest, size })
}

async fn blob_exists(repo: &Repository, digest: &str) -> Result<bool, RegistryError> {
    let resp = repo
        .send(
            Method::HEAD,
            &repo.url(&format!("blobs/{digest}")),
            &[],
            None,
        )
        .await?;
    match resp.status().as_u16() {
        200 => Ok(true),
        404 => Ok(false),
        _ => Err(unexpected(&format!("check blob {digest}"), resp).await),
    }
}

fn location(
    repo: &Repository,
    resp: &hyper::Response<hyper::body::Incoming>,
) -> Result<String, RegistryError> {
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RegistryError::Registry("upload answer without Location".into()))?;
    let base: hyper::Uri = format!("{}/v2/", repo.endpoint.base)
        .parse()
        .map_err(|e| RegistryError::Registry(format!("registry base URL: {e}")))?;
    Ok(resolve_url(&base, loc))
}

async fn start_upload(
    repo: &Repository,
    query: &str,
) -> Result<hyper::Response<hyper::body::Incoming>, RegistryError> {
    repo.send(
        Method::POST,
        &repo.url(&format!("blobs/uploads/{query}")),
        &[("content-length", "0".into())],
        None,
    )
    .await
}

fn with_digest(loc: &str, digest: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={}", encode(digest))
}

/// A small blob in one POST + PUT.
async fn upload_bytes(repo: &Repository, digest: &str, body: Bytes) -> Result<(), RegistryError> {
    let resp = start_upload(repo, "").await?;
    if resp.status() != 202 {
        return Err(unexpected(&format!("start upload of {digest}"), resp).await);
    }
    let loc = location(repo, &resp)?;
    let resp = repo
        .send(
            Method::PUT,
            &with_digest(&loc, digest),
            &[("content-type", "application/octet-stream".into())],
            Some(body),
        )
        .await?;
    if resp.status() != 201 {
        return Err(unexpected(&format!("upload blob {digest}"), resp).await);
    }
    Ok(())
}

async fn push_layer(
    repo: &Repository,
    store: &ImageStore,
    diff_id: &str,
    id: &str,
    prefix: &str,
    this_repo: &str,
    progress: &Progress,
) -> Result<Blob, RegistryError> {
    let sources: Vec<BlobSource> = store
        .blob_sources(diff_id)
        .into_iter()
        .filter(|s| s.repository.starts_with(prefix) && s.media_type.contains("gzip"))
        .collect();
    // Known in this repository: HEAD is enough.
    for s in sources.iter().filter(|s| s.repository == this_repo) {
        if blob_exists(repo, &s.digest).await? {
            progress.layer(id, "Layer already exists");
            return Ok(Blob {
                digest: s.digest.clone(),
                size: s.size,
            });
        }
    }
    let mut upload_at = None;
    for s in sources.iter().filter(|s| s.repository != this_repo) {
        let from = &s.repository[prefix.len()..];
        let q = format!("?mount={}&from={}", encode(&s.digest), encode(from));
        let resp = start_upload(repo, &q).await?;
        match resp.status().as_u16() {
            201 => {
                // docker names the source by its path in the registry.
                progress.layer(id, &format!("Mounted from {from}"));
                store.add_blob_source(
                    diff_id,
                    BlobSource {
                        repository: this_repo.to_string(),
                        ..s.clone()
                    },
                )?;
                return Ok(Blob {
                    digest: s.digest.clone(),
                    size: s.size,
                });
            }
            202 => {
                upload_at = Some(location(repo, &resp)?);
                break;
            }
            _ => {}
        }
    }
    let loc = match upload_at {
        Some(l) => l,
        None => {
            let resp = start_upload(repo, "").await?;
            if resp.status() != 202 {
                return Err(unexpected(&format!("start upload of layer {id}"), resp).await);
            }
            location(repo, &resp)?
        }
    };
    let (file, total) = store.layer_tar(diff_id)?;
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    let p = progress.clone();
    let idc = id.to_string();
    let compress = tokio::task::spawn_blocking(move || gzip_into(file, total, tx, p, &idc));
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    });
    let body = BodyExt::boxed(StreamBody::new(stream));
    let resp = repo
        .send_stream(
            Method::PATCH,
            &loc,
            &[("content-type", "application/octet-stream".into())],
            body,
        )
        .await;
    let sent = compress
        .await
        .map_err(|e| RegistryError::Registry(format!("compress layer {id}: {e}")))?
        .map_err(|e| RegistryError::io(format!("compress layer {id}"), e))?;
    let resp = resp?;
    if resp.status() != 202 {
        return Err(unexpected(&format!("upload layer {id}"), resp).await);
    }
    let loc = location(repo, &resp)?;
    let resp = repo
        .send(Method::PUT, &with_digest(&loc, &sent.digest), &[], None)
        .await?;
    if resp.status() != 201 {
        return Err(unexpected(&format!("finish upload of layer {id}"), resp).await);
    }
    progress.layer(id, "Pushed");
    store.add_blob_source(
        diff_id,
        BlobSource {
            digest: sent.digest.clone(),
            media_type: DOCKER_LAYER_GZIP.into(),
            size: sent.size,
            repository: this_repo.to_string(),
        },
    )?;
    Ok(sent)
}

/// Sends what is written in chunks, hashing and counting it.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
    hasher: Sha256,
    size: u64,
}

impl ChannelWriter {
    fn flush_chunk(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload connection closed"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.hasher.update(b);
        self.size += b.len() as u64;
        self.buf.extend_from_slice(b);
        if self.buf.len() >= 256 * 1024 {
            self.flush_chunk()?;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn gzip_into(
    mut file: std::fs::File,
    total: u64,
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    progress: Progress,
    id: &str,
) -> io::Result<Blob> {
    let w = ChannelWriter {
        tx,
        buf: Vec::new(),
        hasher: Sha256::new(),
        size: 0,
    };
    let mut gz = berth_image::layer::LayerGzip::new(w);
    let mut bar = Throttle::new(progress, id, "Pushing");
    let mut buf = vec![0u8; 256 * 1024];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        gz.write_all(&buf[..n])?;
        done += n as u64;
        bar.update(done, total);
    }
    let mut w = gz.finish()?;
    w.flush_chunk()?;
    Ok(Blob {
        digest: format!("sha256:{}", hex::encode(w.hasher.finalize())),
        size: w.size,
    })
}
