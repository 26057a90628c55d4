//! `POST /build` as dockerd's legacy builder answers it (the context as a tar
//! body, a JSON stream of `stream`/`aux`/`error` lines), and `/build/prune`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use berth_api::ApiError;
use berth_build::builder::{self, BuildError, BuildRequest, Progress};
use berth_registry::client::AuthConfigs;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::filters::truthy;
use super::io::{channel_body, BodyReader};
use super::{AppState, HttpResult};
use crate::build::DaemonEngine;
use crate::images::api_err;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/build", post(build))
        .route("/build/prune", post(prune))
}

fn line(v: Value) -> Bytes {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

/// A JSON object of strings in a query parameter (`buildargs`, `labels`);
/// a null value (an arg named without a value) is left out.
fn string_map(q: &[(String, String)], key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some((_, raw)) = q.iter().find(|(k, _)| k == key) else {
        return Ok(BTreeMap::new());
    };
    if raw.is_empty() {
        return Ok(BTreeMap::new());
    }
    let v: BTreeMap<String, Option<String>> = serde_json::from_str(raw)
        .map_err(|e| ApiError::invalid(format!("invalid {key} {raw:?}: {e}")))?;
    Ok(v.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// The build options of the request (everything but the context).
fn request(q: &[(String, String)]) -> Result<(BuildRequest, bool), ApiError> {
    // The first value of a repeated parameter, as Go's FormValue (docker-py sends
    // `dockerfile` twice for a Dockerfile from outside the context: its name, then its text).
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(remote) = get("remote").filter(|r| !r.is_empty()) {
        return Err(ApiError::invalid(format!(
            "unable to prepare context: remote build contexts are not supported by berth (no network access here): {remote}"
        )));
    }
    if let Some(p) = get("platform").filter(|p| !p.is_empty()) {
        let host = format!("linux/{}", host_arch());
        if p != "linux" && p != host {
            return Err(ApiError::invalid(format!(
                "\"{p}\": berth builds only for the host platform ({host})"
            )));
        }
    }
    let tags: Vec<String> = q
        .iter()
        .filter(|(k, v)| k == "t" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    for t in &tags {
        berth_image::reference::Reference::parse_normalized(t)
            .map_err(|e| ApiError::invalid(format!("invalid tag {t:?}: {e}")))?;
    }
    let network = get("networkmode").unwrap_or_default();
    if let Some(i) = get("isolation").filter(|i| !i.is_empty() && i != "default") {
        return Err(ApiError::invalid(format!("Unsupported isolation: {i:?}")));
    }
    if truthy(get("squash").as_ref()) {
        return Err(ApiError::invalid(
            "squash is only supported with experimental mode",
        ));
    }
    let cache_from = match get("cachefrom").filter(|c| !c.is_empty()) {
        Some(raw) => serde_json::from_str::<Vec<String>>(&raw)
            .map_err(|e| ApiError::invalid(format!("invalid cachefrom {raw:?}: {e}")))?,
        None => Vec::new(),
    };
    let req = BuildRequest {
        dockerfile_path: get("dockerfile")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "Dockerfile".into()),
        build_args: string_map(q, "buildargs")?,
        labels: string_map(q, "labels")?,
        target: get("target").filter(|t| !t.is_empty()),
        no_cache: truthy(get("nocache").as_ref()),
        pull: truthy(get("pull").as_ref()),
        remove: get("rm").is_none_or(|v| truthy(Some(&v))),
        force_remove: truthy(get("forcerm").as_ref()),
        network: if network == "default" {
            String::new()
        } else {
            network
        },
        tags,
        run_host_config: run_host_config(q)?,
        cache_from,
        ..BuildRequest::default()
    };
    Ok((req, truthy(get("q").as_ref())))
}

/// The HostConfig of RUN containers from the build's limits and options
/// (dockerd reads a malformed number as 0, i.e. unset).
fn run_host_config(q: &[(String, String)]) -> Result<serde_json::Map<String, Value>, ApiError> {
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut hc = serde_json::Map::new();
    for (param, key) in [
        ("memory", "Memory"),
        ("memswap", "MemorySwap"),
        ("cpushares", "CpuShares"),
        ("cpuperiod", "CpuPeriod"),
        ("cpuquota", "CpuQuota"),
    ] {
        if let Some(n) = get(param).and_then(|v| v.parse::<i64>().ok()) {
            if n != 0 {
                hc.insert(key.into(), json!(n));
            }
        }
    }
    if let Some(s) = get("shmsize").filter(|s| !s.is_empty()) {
        let n: i64 = s
            .parse()
            .map_err(|e| ApiError::invalid(format!("invalid shmsize {s:?}: {e}")))?;
        hc.insert("ShmSize".into(), json!(n));
    }
    for (param, key) in [
        ("cpusetcpus", "CpusetCpus"),
        ("cpusetmems", "CpusetMems"),
        ("cgroupparent", "CgroupParent"),
    ] {
        if let Some(v) = get(param).filter(|v| !v.is_empty()) {
            hc.insert(key.into(), json!(v));
        }
    }
    let hosts: Vec<&str> = q
        .iter()
        .filter(|(k, v)| k == "extrahosts" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    if !hosts.is_empty() {
        hc.insert("ExtraHosts".into(), json!(hosts));
    }
    if let Some(raw) = get("ulimits").filter(|u| !u.is_empty()) {
        let ulimits: Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::invalid(format!("invalid ulimits {raw:?}: {e}")))?;
        if !ulimits.is_null() {
            hc.insert("Ulimits".into(), ulimits);
        }
    }
    if q.iter().any(|(k, _)| k == "securityopt") {
        return Err(ApiError::invalid(
            "The daemon on this platform does not support setting security options on build",
        ));
    }
    Ok(hc)
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Unpacks the context tar (plain or gzip) into `dir`.
fn unpack_context(body: BodyReader, dir: &Path) -> Result<(), String> {
    let reader = berth_image::layer::decompress(body)
        .map_err(|e| format!("unable to read the build context: {e}"))?;
    let mut archive = tar::Archive::new(Padded {
        inner: reader,
        read: 0,
        pad: None,
    });
    archive.set_preserve_permissions(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    archive.unpack(dir).map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        format!("unable to unpack the build context: {e}{cause}")
    })
}

/// The docker CLI's `-f -` context ends right after the last file's data (no padding,
/// no end-of-archive blocks), which Go's tar reader accepts: zeros are added at the end.
struct Padded<R> {
    inner: R,
    read: u64,
    /// Zero bytes still to give once `inner` ended.
    pad: Option<u64>,
}

impl<R: std::io::Read> std::io::Read for Padded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pad.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 {
                self.read += n as u64;
                return Ok(n);
            }
            self.pad = Some((512 - self.read % 512) % 512 + 1024);
        }
        let left = self.pad.unwrap_or(0);
        let n = (buf.len() as u64).min(left) as usize;
        buf[..n].fill(0);
        self.pad = Some(left - n as u64);
        Ok(n)
    }
}

/// Reads the Dockerfile (`dockerfile` may be a path in the context).
fn read_dockerfile(ctx: &Path, name: &str) -> Result<String, String> {
    let rel = name.trim_start_matches('/');
    let mut candidates = vec![PathBuf::from(rel)];
    if name == "Dockerfile" {
        candidates.push(PathBuf::from("dockerfile"));
    }
    for c in &candidates {
        let p = ctx.join(c);
        if p.starts_with(ctx) && p.is_file() {
            let text =
                std::fs::read_to_string(&p).map_err(|e| format!("read Dockerfile {name}: {e}"))?;
            if text.trim().is_empty() {
                return Err(format!("The Dockerfile ({name}) cannot be empty"));
            }
            return Ok(text);
        }
    }
    Err(format!("Cannot locate specified Dockerfile: {name}"))
}

async fn build(
    State(d): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> HttpResult<Response> {
    let (mut req, quiet) = request(&q)?;
    let auths = headers
        .get("x-registry-config")
        .and_then(|v| v.to_str().ok())
        .map(AuthConfigs::from_header)
        .transpose()
        .map_err(super::registry::reg_err)?
        .unwrap_or_default();
    let ctx_root = d.config.data_root.join("build");
    std::fs::create_dir_all(&ctx_root)
        .map_err(|e| ApiError::system(format!("create {}: {e}", ctx_root.display())))?;
    let ctx = tempfile::Builder::new()
        .prefix("context-")
        .tempdir_in(&ctx_root)
        .map_err(|e| ApiError::system(format!("make a build context directory: {e}")))?;
    let reader = BodyReader::new(body);
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let engine = DaemonEngine::new(d.clone(), auths);
    tokio::task::spawn_blocking(move || {
        let send = |v: Value| {
            let _ = tx.blocking_send(line(v));
        };
        let result = unpack_context(reader, ctx.path())
            .and_then(|()| read_dockerfile(ctx.path(), &req.dockerfile_path))
            .map_err(|m| (m, None))
            .and_then(|text| {
                req.dockerfile = text;
                req.context = ctx.path().to_path_buf();
                let mut out = |p: Progress<'_>| match p {
                    Progress::Stream(s) if !quiet => send(json!({"stream": s})),
                    Progress::Aux(id) => send(json!({"aux": {"ID": id}})),
                    Progress::Status(v) if !quiet => send(v.clone()),
                    Progress::Stream(_) | Progress::Status(_) => {}
                };
                builder::build(&engine, &req, &mut out)
                    .map_err(|e: BuildError| (e.to_string(), e.code()))
            });
        match result {
            Ok(id) if quiet => send(json!({"stream": format!("{id}\n")})),
            Ok(_) => {}
            Err((message, code)) => {
                let mut detail = json!({"message": message});
                if let Some(c) = code {
                    detail["code"] = json!(c);
                }
                send(json!({"errorDetail": detail, "error": message}));
            }
        }
        drop(ctx);
    });
    let mut resp = Response::new(channel_body(rx));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// The bytes an image adds to its parent (what its build step cost).
fn own_size(images: &[berth_image::ImageInfo], id: &str) -> (i64, i64) {
    let Some(img) = images.iter().find(|i| i.id == id) else {
        return (0, 0);
    };
    let parent = images
        .iter()
        .find(|i| i.id == img.parent)
        .map_or(0, |p| p.size);
    ((img.size - parent).max(0), img.created)
}

/// `system df`'s `BuildCache` records (one per cached step) and their total size.
pub(super) fn cache_usage(d: &AppState) -> Result<(Vec<Value>, i64), ApiError> {
    let images = d.images.list().map_err(api_err)?;
    let mut total = 0;
    let mut out = Vec::new();
    for e in d.images.build_cache().map_err(api_err)? {
        let (size, created) = own_size(&images, &e.image);
        total += size;
        let tagged = images
            .iter()
            .any(|i| i.id == e.image && !i.repo_tags.is_empty());
        let created = chrono::DateTime::from_timestamp(created, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        out.push(json!({
            "ID": e.key.trim_start_matches("sha256:").chars().take(25).collect::<String>(),
            "Parents": null,
            "Type": "regular",
            "Description": format!("image {}", e.image),
            "InUse": false,
            "Shared": tagged,
            "Size": size,
            "CreatedAt": created,
            "LastUsedAt": null,
            "UsageCount": 1
        }));
    }
    for m in crate::build::cache_mounts(d) {
        total += m.size as i64;
        let created = chrono::DateTime::from_timestamp(m.created, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        out.push(json!({
            "ID": cache_mount_record_id(&m.dir),
            "Parents": null,
            "Type": "exec.cachemount",
            "Description": format!("cache mount {}", m.id),
            "InUse": m.in_use,
            "Shared": false,
            "Size": m.size,
            "CreatedAt": created,
            "LastUsedAt": null,
            "UsageCount": 1
        }));
    }
    Ok((out, total))
}

/// The record id of a cache mount: its directory's name, cut as cache keys are.
fn cache_mount_record_id(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().chars().take(25).collect())
        .unwrap_or_default()
}

/// `POST /build/prune`: the build cache is forgotten and the untagged images only it kept
/// (newest first, so children go before parents) are deleted when nothing uses them.
async fn prune(State(d): State<AppState>) -> HttpResult<Json<Value>> {
    let images = d.images.list().map_err(api_err)?;
    let entries = d.images.build_cache().map_err(api_err)?;
    let keys = d.images.build_cache_prune().map_err(api_err)?;
    let mut cached: Vec<&berth_image::ImageInfo> = images
        .iter()
        .filter(|i| i.repo_tags.is_empty() && entries.iter().any(|e| e.image == i.id))
        .collect();
    cached.sort_by(|a, b| b.created.cmp(&a.created).then(b.size.cmp(&a.size)));
    let mut reclaimed = 0i64;
    // A parent goes once its children are gone: passes until nothing more can go.
    loop {
        let before = cached.len();
        cached.retain(|img| {
            let (size, _) = own_size(&images, &img.id);
            let gone = d
                .images
                .delete(&img.id, false, &|id| d.image_user(id))
                .is_ok();
            if gone {
                reclaimed += size;
            }
            !gone
        });
        if cached.len() == before || cached.is_empty() {
            break;
        }
    }
    let mut ids: Vec<String> = keys
        .iter()
        .map(|k| k.trim_start_matches("sha256:").chars().take(25).collect())
        .collect();
    for m in crate::build::prune_cache_mounts(&d) {
        reclaimed += m.size as i64;
        ids.push(cache_mount_record_id(&m.dir));
    }
    Ok(Json(
        json!({"CachesDeleted": ids, "SpaceReclaimed": reclaimed}),
    ))
}
