//! `/images/...` routes and `/commit`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_api::ApiError;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::filters::{parse as parse_filters, truthy};
use super::io::{blocking_body, channel_body, BodyReader};
use super::{AppState, HttpResult};
use crate::images::api_err;

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(create))
        .route("/images/load", post(load))
        .route("/images/get", get(save_many))
        .route("/images/prune", post(prune))
        .route("/images/search", get(search))
        .route("/commit", post(commit))
        .route("/auth", post(auth))
        .route("/distribution/{*rest}", get(distribution))
        .route(
            "/images/{*rest}",
            get(by_name_get).post(by_name_post).delete(by_name_delete),
        )
}

fn json_stream_response(rx: mpsc::Receiver<Bytes>) -> Response {
    let mut resp = Response::new(channel_body(rx));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

fn line(v: Value) -> Bytes {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

async fn list(State(d): State<AppState>, Query(q): Q) -> HttpResult<Json<Vec<Value>>> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    for key in filters.keys() {
        if !matches!(
            key.as_str(),
            "dangling" | "label" | "reference" | "before" | "since" | "until"
        ) {
            return Err(ApiError::invalid(format!("invalid filter '{key}'")).into());
        }
    }
    let all = d.images.list().map_err(api_err)?;
    let created_of = |n: &str| d.images.resolve(n).ok().map(|i| i.created);
    let mut out = Vec::new();
    for img in all {
        let dangling = img.repo_tags.is_empty();
        if let Some(v) = filters.get("dangling") {
            let want = v.iter().any(|x| x == "true" || x == "1");
            if want != dangling {
                continue;
            }
        }
        if let Some(labels) = filters.get("label") {
            let ok = labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => img.labels.get(k).map(String::as_str) == Some(v),
                None => img.labels.contains_key(l.as_str()),
            });
            if !ok {
                continue;
            }
        }
        if let Some(refs) = filters.get("reference") {
            let ok = img
                .repo_tags
                .iter()
                .any(|t| refs.iter().any(|r| reference_matches(r, t)));
            if !ok {
                continue;
            }
        }
        if let Some(b) = filters
            .get("before")
            .and_then(|v| v.first())
            .and_then(|n| created_of(n))
        {
            if img.created >= b {
                continue;
            }
        }
        if let Some(s) = filters
            .get("since")
            .and_then(|v| v.first())
            .and_then(|n| created_of(n))
        {
            if img.created <= s {
                continue;
            }
        }
        let mut v = serde_json::to_value(&img).unwrap_or(Value::Null);
        v["Containers"] = json!(-1);
        // As dockerd: with a reference filter, only the matching tags are listed.
        if let Some(refs) = filters.get("reference") {
            let tags: Vec<&String> = img
                .repo_tags
                .iter()
                .filter(|t| refs.iter().any(|r| reference_matches(r, t)))
                .collect();
            v["RepoTags"] = json!(tags);
        }
        out.push(v);
    }
    out.sort_by(|a, b| b["Created"].as_i64().cmp(&a["Created"].as_i64()));
    Ok(Json(out))
}

/// docker's `reference` filter: a glob on the familiar name, with or without the tag.
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let name = tag.rsplit_once(':').map_or(tag, |(n, _)| n);
    glob(pattern, tag) || glob(pattern, name)
}

fn glob(p: &str, s: &str) -> bool {
    fn rec(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                rec(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && rec(p, &s[1..]))
            }
            (Some(b'?'), Some(_)) => rec(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &s[1..]),
            _ => false,
        }
    }
    rec(p.as_bytes(), s.as_bytes())
}

/// The `repo` and `tag` query parameters as one reference (`repo`, `repo:tag`), if any.
fn repo_tag(q: &HashMap<String, String>) -> Option<String> {
    let repo = q.get("repo").filter(|r| !r.is_empty())?;
    Some(match q.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo.clone(),
    })
}

/// `POST /images/create`: `fromSrc` imports a tar; `fromImage` would pull from a registry.
async fn create(
    State(d): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> HttpResult<Response> {
    let changes = changes_param(&pairs);
    let q: HashMap<String, String> = pairs.into_iter().collect();
    if q.get("fromImage").is_some_and(|s| !s.is_empty()) {
        return super::registry::pull(d, &q, &headers).await;
    }
    let src = q.get("fromSrc").cloned().unwrap_or_default();
    if src != "-" {
        return Err(ApiError::invalid(format!(
            "import from {src}: only \"-\" (the request body) is supported; URLs need network access"
        ))
        .into());
    }
    let reference = repo_tag(&q);
    let message = q.get("message").cloned();
    let reader = BodyReader::new(body);
    let images = d.clone();
    let result = tokio::task::spawn_blocking(move || {
        images
            .images
            .import(reader, &changes, message.as_deref(), reference.as_deref())
    })
    .await
    .map_err(|e| ApiError::system(e.to_string()))?;
    let id = result.map_err(api_err)?;
    d.events.publish("image", "import", &id, Default::default());
    let (tx, rx) = mpsc::channel(1);
    let _ = tx.send(line(json!({"status": id}))).await;
    Ok(json_stream_response(rx))
}

/// go-units' HumanSize as docker's progress bars print it (`2.1MB`).
fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    format!("{}{}", (v * 1000.0).round() / 1000.0, units[u])
}

/// `POST /images/load`. Quiet (the docker CLI asks for it when its output is not a
/// terminal): the answer comes when the load is done, a bad archive as an error status.
/// Otherwise the answer streams at once: "Loading layer" progress for every layer as it is
/// stored, then the loaded names, or the error in the stream.
async fn load(State(d): State<AppState>, Query(q): Q, body: Body) -> HttpResult<Response> {
    let quiet = truthy(q.get("quiet"));
    let reader = BodyReader::new(body);
    let (tx, rx) = mpsc::channel(64);
    let daemon = d.clone();
    let progress_tx = tx.clone();
    let job = tokio::task::spawn_blocking(move || {
        let mut report = |id: &str, bytes: u64| {
            if quiet {
                return;
            }
            let size = human_size(bytes);
            let _ = progress_tx.blocking_send(line(json!({
                "status": "Loading layer",
                "progressDetail": {"current": bytes, "total": bytes},
                "progress": format!("[{}>] {size}/{size}", "=".repeat(49)),
                "id": id
            })));
        };
        daemon.images.load_with_progress(reader, &mut report)
    });
    if quiet {
        let result = job.await.map_err(|e| ApiError::system(e.to_string()))?;
        if let Err(e) = result {
            return Err(api_err(e).into());
        }
        tokio::spawn(finish_load(d, tx.clone(), result));
    } else {
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Ok(result) = job.await {
                finish_load(d, tx, result).await;
            }
        });
    }
    drop(tx);
    Ok(json_stream_response(rx))
}

/// The end of a load's stream: the loaded names (and their events), or the error.
async fn finish_load(
    d: AppState,
    tx: mpsc::Sender<Bytes>,
    result: Result<Vec<String>, berth_image::ImageError>,
) {
    match result {
        Ok(lines) => {
            for l in lines {
                d.events.publish("image", "load", &l, Default::default());
                let _ = tx.send(line(json!({"stream": format!("{l}\n")}))).await;
            }
        }
        Err(e) => {
            let msg = e.to_string();
            let _ = tx
                .send(line(json!({"errorDetail": {"message": msg}, "error": msg})))
                .await;
        }
    }
}

fn save_response(d: AppState, names: Vec<String>) -> Result<Response, ApiError> {
    for n in &names {
        d.images.resolve(n).map_err(api_err)?;
    }
    let body = blocking_body(move |w| d.images.save(&names, w).map_err(std::io::Error::other));
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(resp)
}

async fn save_many(
    State(d): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> HttpResult<Response> {
    let names: Vec<String> = q
        .into_iter()
        .filter(|(k, _)| k == "names")
        .map(|(_, v)| v)
        .collect();
    Ok(save_response(d, names)?)
}

async fn prune(State(d): State<AppState>, Query(q): Q) -> HttpResult<Json<Value>> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let all = filters
        .get("dangling")
        .is_some_and(|v| v.iter().any(|x| x == "false" || x == "0"));
    let (deleted, reclaimed) = d
        .images
        .prune(all, &|id| d.image_user(id).is_some())
        .map_err(api_err)?;
    let items: Vec<Value> = deleted
        .iter()
        .map(|i| serde_json::to_value(i).unwrap_or(Value::Null))
        .collect();
    Ok(Json(json!({
        "ImagesDeleted": if items.is_empty() { Value::Null } else { json!(items) },
        "SpaceReclaimed": reclaimed
    })))
}

async fn auth(State(d): State<AppState>, body: Bytes) -> HttpResult<Response> {
    super::registry::auth(d, body).await
}

async fn search(
    State(d): State<AppState>,
    Query(q): Q,
    headers: HeaderMap,
) -> HttpResult<Response> {
    super::registry::search(d, &q, &headers).await
}

async fn distribution(
    State(d): State<AppState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> HttpResult<Response> {
    match rest.strip_suffix("/json") {
        Some(name) => super::registry::distribution(d, name, &headers).await,
        None => Err(ApiError::not_found("page not found").into()),
    }
}

async fn by_name_get(
    State(d): State<AppState>,
    Path(rest): Path<String>,
    Query(q): Q,
) -> HttpResult<Response> {
    if let Some(name) = rest.strip_suffix("/json") {
        return Ok(Json(d.images.inspect(name).map_err(api_err)?).into_response());
    }
    if let Some(name) = rest.strip_suffix("/history") {
        return Ok(Json(d.images.history(name).map_err(api_err)?).into_response());
    }
    if let Some(name) = rest.strip_suffix("/get") {
        return Ok(save_response(d, vec![name.to_string()])?);
    }
    let _ = q;
    Err(ApiError::not_found("page not found").into())
}

async fn by_name_post(
    State(d): State<AppState>,
    Path(rest): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> HttpResult<Response> {
    if let Some(name) = rest.strip_suffix("/tag") {
        let repo = q.get("repo").cloned().unwrap_or_default();
        let tag = q.get("tag").cloned().unwrap_or_default();
        let reference = if tag.is_empty() {
            repo
        } else {
            format!("{repo}:{tag}")
        };
        d.images.tag(name, &reference).map_err(api_err)?;
        let id = d.images.resolve(name).map(|i| i.id).unwrap_or_default();
        d.events.publish(
            "image",
            "tag",
            &id,
            [("name".to_string(), reference)].into(),
        );
        return Ok(StatusCode::CREATED.into_response());
    }
    if let Some(name) = rest.strip_suffix("/push") {
        return super::registry::push(d, name, &q, &headers).await;
    }
    Err(ApiError::not_found("page not found").into())
}

async fn by_name_delete(
    State(d): State<AppState>,
    Path(rest): Path<String>,
    Query(q): Q,
) -> HttpResult<Json<Value>> {
    let image_id = d.images.resolve(&rest).map(|i| i.id).unwrap_or_default();
    let items = d
        .images
        .delete(&rest, truthy(q.get("force")), &|id| d.image_user(id))
        .map_err(api_err)?;
    for item in &items {
        let v = serde_json::to_value(item).unwrap_or(Value::Null);
        // As dockerd: both events name the image by its id (actor and `name`).
        if let Some(id) = v["Deleted"].as_str() {
            let attrs = [("name".to_string(), id.to_string())].into();
            d.events.publish("image", "delete", id, attrs);
        } else if v["Untagged"].is_string() {
            let attrs = [("name".to_string(), image_id.clone())].into();
            d.events.publish("image", "untag", &image_id, attrs);
        }
    }
    Ok(Json(serde_json::to_value(items).unwrap_or(Value::Null)))
}

/// The `changes` of commit and import: the parameter repeats, one instruction each (docker-py,
/// the docker CLI), and a value may also hold several lines.
fn changes_param(pairs: &[(String, String)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == "changes")
        .flat_map(|(_, v)| v.split('\n'))
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// `POST /commit`: the container's writable layer becomes an image.
async fn commit(
    State(d): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Body,
) -> HttpResult<Response> {
    let changes = changes_param(&pairs);
    let q: HashMap<String, String> = pairs.into_iter().collect();
    let name = q.get("container").cloned().unwrap_or_default();
    let c = d.find_container(&name)?;
    let record = c.record();
    let overrides = super::containers::json_body(body).await?;
    let mut config = record.config.as_object().cloned().unwrap_or_default();
    if let Some(o) = overrides.as_object() {
        for (k, v) in o {
            if !v.is_null() {
                config.insert(k.clone(), v.clone());
            }
        }
    }
    berth_image::apply_changes(&mut config, &changes).map_err(api_err)?;
    for k in ["Hostname", "Image"] {
        config.insert(k.into(), json!(""));
    }
    let reference = repo_tag(&q);
    let author = q.get("author").cloned().unwrap_or_default();
    let comment = q.get("comment").cloned().unwrap_or_default();
    let upper = berth_image::rootfs::upper_dir(&d.container_dir(&c.id));
    let created_by = record.command();
    let images = d.clone();
    let parent = record.image_id.clone();
    let id = tokio::task::spawn_blocking(move || {
        images.images.commit(
            Some(&parent),
            &upper,
            Value::Object(config),
            &author,
            &comment,
            &created_by,
            reference.as_deref(),
        )
    })
    .await
    .map_err(|e| ApiError::system(e.to_string()))?
    .map_err(api_err)?;
    d.container_event(&c, "commit", &[]);
    Ok((StatusCode::CREATED, Json(json!({"Id": id}))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:latest"));
        assert!(reference_matches("busybox:lat*", "busybox:latest"));
        assert!(!reference_matches("alpine", "busybox:latest"));
        assert!(!reference_matches("*", "a/b:latest"));
    }
}
