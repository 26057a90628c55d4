//! `/volumes/...` routes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_api::ApiError;
use serde_json::{json, Map, Value};

use super::containers::json_body;
use super::filters::{parse as parse_filters, truthy};
use super::{AppState, HttpResult};
use crate::Daemon;

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

fn matches(d: &Daemon, v: &Value, filters: &HashMap<String, Vec<String>>) -> bool {
    let name = v["Name"].as_str().unwrap_or("");
    let labels = v["Labels"].as_object().cloned().unwrap_or_default();
    filters.iter().all(|(k, vals)| match k.as_str() {
        "name" => vals.iter().any(|x| name.contains(x.as_str())),
        "driver" => vals.iter().any(|x| x == "local"),
        "dangling" => vals
            .iter()
            .any(|x| (x == "true" || x == "1") != d.volume_in_use(name)),
        "label" => vals.iter().all(|l| match l.split_once('=') {
            Some((k, val)) => labels.get(k).and_then(Value::as_str) == Some(val),
            None => labels.contains_key(l.as_str()),
        }),
        "label!" => !vals.iter().any(|l| match l.split_once('=') {
            Some((k, val)) => labels.get(k).and_then(Value::as_str) == Some(val),
            None => labels.contains_key(l.as_str()),
        }),
        _ => true,
    })
}

fn check_filters(f: &HashMap<String, Vec<String>>) -> Result<(), ApiError> {
    for k in f.keys() {
        if !matches!(
            k.as_str(),
            "name" | "driver" | "dangling" | "label" | "label!" | "all"
        ) {
            return Err(ApiError::invalid(format!("invalid filter '{k}'")));
        }
    }
    Ok(())
}

async fn list(State(d): State<AppState>, Query(q): Q) -> HttpResult<Json<Value>> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    check_filters(&filters)?;
    let vols: Vec<Value> = d
        .volumes
        .list()
        .into_iter()
        .filter(|v| matches(&d, v, &filters))
        .collect();
    Ok(Json(json!({"Volumes": vols, "Warnings": null})))
}

async fn create(State(d): State<AppState>, body: Body) -> HttpResult<Response> {
    let body = json_body(body).await?;
    let driver = body["Driver"].as_str().unwrap_or("local");
    if !driver.is_empty() && driver != "local" {
        return Err(ApiError::not_found(format!(
            "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
        ))
        .into());
    }
    let labels = body["Labels"].as_object().cloned().unwrap_or_else(Map::new);
    let opts = body["DriverOpts"]
        .as_object()
        .cloned()
        .unwrap_or_else(Map::new);
    let (v, created) = d.volumes.create(body["Name"].as_str(), labels, opts)?;
    if created {
        let name = v["Name"].as_str().unwrap_or("").to_string();
        d.events.publish(
            "volume",
            "create",
            &name,
            [("driver".to_string(), "local".to_string())].into(),
        );
    }
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn inspect(State(d): State<AppState>, Path(name): Path<String>) -> HttpResult<Json<Value>> {
    Ok(Json(d.volumes.get(&name)?))
}

async fn remove(
    State(d): State<AppState>,
    Path(name): Path<String>,
    Query(q): Q,
) -> HttpResult<StatusCode> {
    let users: Vec<String> = d
        .containers
        .all()
        .iter()
        .filter(|c| {
            c.record()
                .mounts
                .iter()
                .any(|m| m.kind == "volume" && m.name == name)
        })
        .map(|c| c.id.clone())
        .collect();
    if !users.is_empty() {
        return Err(ApiError::conflict(format!(
            "remove {name}: volume is in use - [{}]",
            users.join(", ")
        ))
        .into());
    }
    d.volumes
        .remove(&name, truthy(q.get("force")), &|_| false)?;
    d.events
        .publish("volume", "destroy", &name, Default::default());
    Ok(StatusCode::NO_CONTENT)
}

async fn prune(State(d): State<AppState>, Query(q): Q) -> HttpResult<Json<Value>> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    check_filters(&filters)?;
    let all = filters
        .get("all")
        .is_some_and(|v| v.iter().any(|x| x == "true" || x == "1"));
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for v in d.volumes.list() {
        let name = v["Name"].as_str().unwrap_or("").to_string();
        let anonymous = v["Labels"].get("com.docker.volume.anonymous").is_some();
        if d.volume_in_use(&name) || (!all && !anonymous) || !matches(&d, &v, &filters) {
            continue;
        }
        let size = crate::container::list::dir_size(&d.volumes.data_path(&name));
        if d.volumes.remove(&name, false, &|_| false).is_ok() {
            reclaimed += size;
            d.events
                .publish("volume", "destroy", &name, Default::default());
            deleted.push(name);
        }
    }
    Ok(Json(
        json!({"VolumesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": reclaimed}),
    ))
}
