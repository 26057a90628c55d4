//! The registry endpoints: pull (`POST /images/create?fromImage=`), push
//! (`POST /images/{name}/push`) and `POST /auth`, answered with docker's JSON progress
//! streams. The work is berth-registry's client; this is the wire.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_api::{ApiError, ErrorKind};
use berth_image::reference::Reference;
use berth_registry::client::{self, AuthConfig, Progress, RegistryError};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::io::channel_body;
use super::{AppState, HttpResult};

pub fn reg_err(e: RegistryError) -> ApiError {
    let kind = match e.status() {
        400 => ErrorKind::InvalidParameter,
        401 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        _ => ErrorKind::System,
    };
    ApiError::new(kind, e.to_string())
}

fn auth_of(headers: &HeaderMap) -> Result<AuthConfig, ApiError> {
    let v = headers
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    AuthConfig::from_header(v).map_err(reg_err)
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

fn error_line(e: &RegistryError) -> Value {
    let msg = e.to_string();
    json!({"errorDetail": {"message": msg}, "error": msg})
}

/// A progress channel and the streamed response reading it; `job` runs with the sender
/// and its error (if any) ends the stream as docker's `errorDetail`.
fn stream<F>(job: impl FnOnce(Progress) -> F + Send + 'static) -> Response
where
    F: std::future::Future<Output = Result<(), RegistryError>> + Send + 'static,
{
    let (vtx, mut vrx) = mpsc::unbounded_channel::<Value>();
    let (btx, brx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        while let Some(v) = vrx.recv().await {
            if btx.send(line(&v)).await.is_err() {
                break;
            }
        }
    });
    let progress = Progress::new(vtx.clone());
    tokio::spawn(async move {
        if let Err(e) = job(progress).await {
            tracing::info!(error = %e, "registry operation failed");
            let _ = vtx.send(error_line(&e));
        }
    });
    let mut resp = Response::new(channel_body(brx));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

fn parse_ref(s: &str) -> Result<Reference, ApiError> {
    Reference::parse_normalized(s).map_err(|e| ApiError::invalid(e.to_string()))
}

/// `POST /images/create?fromImage=NAME&tag=TAG|DIGEST&platform=`: no tag (and none in
/// `fromImage`) pulls every tag.
pub async fn pull(
    d: AppState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> HttpResult<Response> {
    let auth = auth_of(headers)?;
    let image = q.get("fromImage").cloned().unwrap_or_default();
    let tag = q.get("tag").cloned().unwrap_or_default();
    let mut r = parse_ref(&image)?;
    if !tag.is_empty() {
        if tag.contains(':') {
            r.digest = Some(tag.clone());
            r.tag = None;
        } else {
            r.tag = Some(tag.clone());
        }
        // Validate the combination as docker does.
        parse_ref(&r.to_string())?;
    }
    let platform = q.get("platform").cloned().filter(|p| !p.is_empty());
    let cfg = d.config.registry.clone();
    if r.tag.is_none() && r.digest.is_none() {
        let tags = client::pull::tags(&cfg, &r, &auth).await.map_err(reg_err)?;
        let name = r.familiar_name();
        return Ok(stream(move |progress| async move {
            let mut changed = false;
            for t in tags {
                let tr = Reference {
                    tag: Some(t),
                    ..r.clone()
                };
                let res = client::pull::resolve(&cfg, &tr, platform.as_deref(), &auth).await?;
                let pulled = client::pull::fetch(res, d.images.clone(), &progress).await?;
                changed |= pulled.changed;
                d.events
                    .publish("image", "pull", &tr.familiar_string(), Default::default());
            }
            progress.message(if changed {
                format!("Status: Downloaded newer image for {name}")
            } else {
                format!("Status: Image is up to date for {name}")
            });
            Ok(())
        }));
    }
    let res = client::pull::resolve(&cfg, &r, platform.as_deref(), &auth)
        .await
        .map_err(reg_err)?;
    let name = res.reference.familiar_string();
    Ok(stream(move |progress| async move {
        client::pull::fetch(res, d.images.clone(), &progress).await?;
        d.events.publish("image", "pull", &name, Default::default());
        Ok(())
    }))
}

/// `POST /images/{name}/push?tag=`: no tag pushes every tag of the repository.
pub async fn push(
    d: AppState,
    name: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> HttpResult<Response> {
    let auth = auth_of(headers)?;
    let mut r = parse_ref(name)?;
    let tag = q.get("tag").cloned().unwrap_or_default();
    if !tag.is_empty() {
        r.tag = Some(tag);
    }
    let refs: Vec<Reference> = if r.tag.is_some() {
        d.images.resolve(&r.to_string()).map_err(|_| {
            ApiError::not_found(format!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            ))
        })?;
        vec![r.clone()]
    } else {
        let mut tagged: Vec<Reference> = Vec::new();
        for img in d.images.list().map_err(crate::images::api_err)? {
            for t in d
                .images
                .references_of(&img.id)
                .map_err(crate::images::api_err)?
            {
                if t.domain == r.domain && t.path == r.path && t.tag.is_some() {
                    tagged.push(t);
                }
            }
        }
        tagged.sort_by(|a, b| a.tag.cmp(&b.tag));
        if tagged.is_empty() {
            return Err(ApiError::not_found(format!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            ))
            .into());
        }
        tagged
    };
    let cfg = d.config.registry.clone();
    let repo_name = r.name();
    Ok(stream(move |progress| async move {
        progress.message(format!("The push refers to repository [{repo_name}]"));
        for t in refs {
            client::push::push(&cfg, d.images.clone(), &t, &auth, &progress).await?;
            d.events
                .publish("image", "push", &t.familiar_string(), Default::default());
        }
        Ok(())
    }))
}

/// `POST /auth`: checks credentials against the registry.
pub async fn auth(d: AppState, body: Bytes) -> HttpResult<Response> {
    let mut a: AuthConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("invalid auth configuration: {e}")))?;
    a.fill_from_auth();
    client::login::login(&d.config.registry, &a)
        .await
        .map_err(reg_err)?;
    Ok(Json(json!({"Status": "Login Succeeded", "IdentityToken": ""})).into_response())
}

/// `GET /distribution/{name}/json`
pub async fn distribution(d: AppState, name: &str, headers: &HeaderMap) -> HttpResult<Response> {
    let auth = auth_of(headers)?;
    let r = parse_ref(name)?;
    let v = client::distribution::inspect(&d.config.registry, &r, &auth)
        .await
        .map_err(reg_err)?;
    Ok(Json(v).into_response())
}

/// `GET /images/search?term=&limit=&filters=`
pub async fn search(
    d: AppState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> HttpResult<Response> {
    let auth = auth_of(headers)?;
    let term = q.get("term").cloned().unwrap_or_default();
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("invalid limit {l:?}")))?,
        None => 25,
    };
    if !(1..=100).contains(&limit) {
        return Err(
            ApiError::invalid(format!("limit {limit} is outside the range of [1, 100]")).into(),
        );
    }
    let filters = super::filters::parse(q.get("filters").map(String::as_str))?;
    let mut stars = 0u64;
    for v in filters.get("stars").into_iter().flatten() {
        stars = v
            .parse()
            .map_err(|_| ApiError::invalid(format!("invalid filter 'stars={v}'")))?;
    }
    let official = filters
        .get("is-official")
        .and_then(|v| v.first())
        .map(|v| v == "true");
    let results = client::distribution::search(&d.config.registry, &term, limit, &auth)
        .await
        .map_err(reg_err)?;
    let out: Vec<Value> = results
        .into_iter()
        .filter(|r| r["star_count"].as_u64().unwrap_or(0) >= stars)
        .filter(|r| official.is_none_or(|o| r["is_official"].as_bool() == Some(o)))
        .collect();
    Ok(Json(out).into_response())
}
