//! A container's files: `cp` (`/archive`), `export`, `diff` (`/changes`), `top`.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_api::ApiError;
use serde_json::{json, Value};

use super::filters::truthy;
use super::io::{blocking_body, BodyReader};
use super::{AppState, HttpResult};
use crate::Daemon;

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/containers/{id}/archive",
            get(archive_get).put(archive_put).head(archive_head),
        )
        .route("/containers/{id}/export", get(export))
        .route("/containers/{id}/changes", get(changes))
        .route("/containers/{id}/top", get(top))
}

/// The host path of `path` inside container `id`, resolved without leaving its root.
fn host_path(d: &Daemon, id: &str, path: &str) -> Result<(PathBuf, PathBuf), ApiError> {
    let c = d.find_container(id)?;
    let r = c.record();
    let root = d.rootfs_dir(&c.id);
    d.mount_rootfs(&c.id, &r.image_id, d.container_mapping(&r.host_config))?;
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Ok((berth_shim::resolve_in_root(&root, &path), root))
}

fn stat_header(p: &FsPath, name: &str) -> Result<HeaderValue, ApiError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(p)
        .map_err(|_| ApiError::not_found(format!("Could not find the file {name} in container")))?;
    // Go's os.FileMode bits: directory 1<<31, symlink 1<<27.
    let mut mode = meta.mode() & 0o7777;
    if meta.is_dir() {
        mode |= 1 << 31;
    } else if meta.file_type().is_symlink() {
        mode |= 1 << 27;
    }
    let link = std::fs::read_link(p)
        .map(|l| l.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = FsPath::new(name)
        .file_name()
        .map_or("/".to_string(), |n| n.to_string_lossy().into_owned());
    let stat = json!({
        "name": base,
        "size": meta.len(),
        "mode": mode,
        "mtime": chrono::DateTime::from_timestamp(meta.mtime(), 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
        "linkTarget": link
    });
    let encoded = base64_encode(&serde_json::to_vec(&stat).unwrap_or_default());
    HeaderValue::from_str(&encoded).map_err(|e| ApiError::system(e.to_string()))
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn archive_head(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<Response> {
    let name = q.get("path").cloned().unwrap_or_default();
    let (p, _) = host_path(&d, &id, &name)?;
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut()
        .insert("x-docker-container-path-stat", stat_header(&p, &name)?);
    Ok(resp)
}

async fn archive_get(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<Response> {
    let name = q.get("path").cloned().unwrap_or_default();
    let (p, _) = host_path(&d, &id, &name)?;
    let stat = stat_header(&p, &name)?;
    let base = FsPath::new(&name)
        .file_name()
        .map_or(".".to_string(), |n| n.to_string_lossy().into_owned());
    let c = d.find_container(&id)?;
    // A remapped container's files carry its own ids in the tar, as dockerd writes them.
    let ids = d
        .container_mapping(&c.record().host_config)
        .map(crate::container::userns::to_container_ids);
    let body = blocking_body(move |w| {
        let mut b = tar::Builder::new(w);
        b.follow_symlinks(false);
        match ids {
            Some(ids) => append_mapped(&mut b, &p, FsPath::new(&base), &ids)?,
            None if p.is_dir() => b.append_dir_all(&base, &p)?,
            None => b.append_path_with_name(&p, &base)?,
        }
        b.finish()
    });
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-tar"),
    );
    h.insert("x-docker-container-path-stat", stat);
    Ok(resp)
}

/// Appends `path` (a directory with everything below it) as `name`, owners translated by
/// `ids`; sockets are left out, as docker does.
fn append_mapped<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    path: &FsPath,
    name: &FsPath,
    ids: &berth_image::layer::IdMap,
) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::symlink_metadata(path)?;
    let ft = md.file_type();
    if ft.is_socket() {
        return Ok(());
    }
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(&md, tar::HeaderMode::Complete);
    let (uid, gid) = ids(md.uid(), md.gid());
    h.set_uid(uid as u64);
    h.set_gid(gid as u64);
    if ft.is_symlink() {
        return b.append_link(&mut h, name, std::fs::read_link(path)?);
    }
    if ft.is_file() {
        return b.append_data(&mut h, name, std::fs::File::open(path)?);
    }
    h.set_size(0);
    b.append_data(&mut h, name, std::io::empty())?;
    if ft.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for n in names {
            append_mapped(b, &path.join(&n), &name.join(&n), ids)?;
        }
    }
    Ok(())
}

async fn archive_put(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
    body: Body,
) -> HttpResult<StatusCode> {
    let name = q.get("path").cloned().unwrap_or_default();
    let (p, _) = host_path(&d, &id, &name)?;
    if !p.exists() {
        return Err(ApiError::not_found(format!(
            "Could not find the file {name} in container {id}"
        ))
        .into());
    }
    if !p.is_dir() {
        return Err(
            ApiError::invalid(format!("extraction point is not a directory: {name}")).into(),
        );
    }
    let _ = truthy(q.get("noOverwriteDirNonDir"));
    let reader = BodyReader::new(body);
    let c = d.find_container(&id)?;
    let mapping = d.container_mapping(&c.record().host_config).cloned();
    let applied = tokio::task::spawn_blocking(move || match mapping {
        // Written as the container's root through its idmapped root filesystem, owners
        // translated to host ids, as dockerd does for a remapped container.
        Some(m) => {
            let (uid, gid) = m.root();
            let ids = crate::container::userns::to_host_ids(&m);
            berth_image::rootfs::as_container_root(uid, gid, move || {
                berth_image::layer::apply_mapped(reader, &p, false, Some(ids))
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())
            .and_then(|r| r)
        }
        None => berth_image::layer::apply(reader, &p, false)
            .map(drop)
            .map_err(|e| e.to_string()),
    })
    .await
    .map_err(|e| ApiError::system(e.to_string()))?;
    applied.map_err(|e| ApiError::invalid(format!("extract archive into {name}: {e}")))?;
    Ok(StatusCode::OK)
}

async fn export(State(d): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let (root, _) = host_path(&d, &id, "/")?;
    let c = d.find_container(&id)?;
    d.container_event(&c, "export", &[]);
    // A remapped container's files carry its own ids in the tar, as dockerd writes them.
    let ids = d
        .container_mapping(&c.record().host_config)
        .map(crate::container::userns::to_container_ids);
    let body = blocking_body(move |w| {
        berth_image::layer::write_dir_mapped(&root, w, false, ids).map_err(std::io::Error::other)
    });
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(resp)
}

async fn changes(State(d): State<AppState>, Path(id): Path<String>) -> HttpResult<Json<Value>> {
    let c = d.find_container(&id)?;
    let r = c.record();
    let layers = d.container_layers(&c.id, &r.image_id)?;
    let upper = berth_image::rootfs::upper_dir(&d.container_dir(&c.id));
    let list = berth_image::rootfs::changes(&layers, &upper)
        .map_err(|e| ApiError::system(format!("changes of {}: {e}", c.id)))?;
    Ok(Json(serde_json::to_value(list).unwrap_or(Value::Null)))
}

/// Pids in the container's cgroup (any hierarchy that has it).
fn cgroup_pids(cgroup: &str) -> Vec<u32> {
    let rel = cgroup.trim_start_matches('/');
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    for h in [
        "pids",
        "memory",
        "cpu,cpuacct",
        "cpu",
        "freezer",
        "unified",
        "systemd",
    ] {
        roots.push(PathBuf::from("/sys/fs/cgroup").join(h));
    }
    for root in roots {
        if let Ok(s) = std::fs::read_to_string(root.join(rel).join("cgroup.procs")) {
            let pids: Vec<u32> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if !pids.is_empty() {
                return pids;
            }
        }
    }
    Vec::new()
}

async fn top(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<Json<Value>> {
    let c = d.find_container(&id)?;
    if !c.is_running() {
        return Err(ApiError::conflict(format!("Container {} is not running", c.id)).into());
    }
    let args = q
        .get("ps_args")
        .cloned()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "-ef".into());
    let parent = d.cgroup_parent_of(&c.record());
    let cgroup = format!("{}/{}", parent.trim_end_matches('/'), c.id);
    let mut pids = cgroup_pids(&cgroup);
    if pids.is_empty() {
        pids.push(c.record().state.pid as u32);
    }
    let out = tokio::process::Command::new("ps")
        .args(args.split_whitespace())
        .output()
        .await
        .map_err(|e| ApiError::system(format!("ps: {e}")))?;
    if !out.status.success() {
        return Err(ApiError::system(format!(
            "Error running ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let titles: Vec<&str> = header.split_whitespace().collect();
    let pid_col = titles
        .iter()
        .position(|t| *t == "PID")
        .ok_or_else(|| ApiError::system("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for l in lines {
        let fields: Vec<&str> = l.split_whitespace().collect();
        let Some(pid) = fields.get(pid_col).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column takes the rest of the line (the command with its spaces).
        let mut row: Vec<String> = fields[..titles.len().saturating_sub(1).min(fields.len())]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if fields.len() >= titles.len() {
            row.push(fields[titles.len() - 1..].join(" "));
        }
        processes.push(row);
    }
    Ok(Json(json!({"Titles": titles, "Processes": processes})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64() {
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
    }
}
