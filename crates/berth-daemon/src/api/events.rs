//! `GET /events` (replay with `since`/`until`, then live) and `GET /system/df`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::filters::parse as parse_filters;
use super::io::channel_body;
use super::{AppState, HttpResult};
use crate::container::logs::parse_time;
use crate::events::Event;

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(events))
        .route("/system/df", get(df))
}

fn wanted(e: &Event, f: &HashMap<String, Vec<String>>) -> bool {
    let attr = |k: &str| e.actor.attributes.get(k).cloned().unwrap_or_default();
    f.iter().all(|(k, vals)| {
        vals.iter().any(|v| match k.as_str() {
            "type" => e.kind == *v,
            "event" => e.action == *v || e.action.split(':').next() == Some(v.as_str()),
            "container" => {
                e.kind == "container" && (e.actor.id.starts_with(v.as_str()) || attr("name") == *v)
            }
            "image" => attr("image") == *v || e.actor.id == *v,
            "volume" => e.kind == "volume" && e.actor.id == *v,
            "label" => match v.split_once('=') {
                Some((lk, lv)) => attr(lk) == lv,
                None => e.actor.attributes.contains_key(v.as_str()),
            },
            _ => true,
        })
    })
}

fn encode(e: &Event) -> Bytes {
    let mut b = serde_json::to_vec(e).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

async fn events(State(d): State<AppState>, Query(q): Q) -> HttpResult<Response> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let since = q.get("since").and_then(|s| parse_time(s));
    let until = q.get("until").and_then(|s| parse_time(s));
    let (past, mut live) = d.events.subscribe();
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let in_range = |e: &Event| {
            let t = e.time_nano as i128;
            since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
        };
        if since.is_some() {
            for e in past.iter().filter(|e| in_range(e) && wanted(e, &filters)) {
                if tx.send(encode(e)).await.is_err() {
                    return;
                }
            }
        }
        let deadline = until.map(|u| {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as i128;
            std::time::Duration::from_nanos((u - now).max(0) as u64)
        });
        let sleep =
            tokio::time::sleep(deadline.unwrap_or(std::time::Duration::from_secs(u64::MAX / 4)));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return,
                _ = tx.closed() => return,
                e = live.recv() => match e {
                    Ok(e) => {
                        if wanted(&e, &filters) && tx.send(encode(&e)).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
        }
    });
    let mut resp = Response::new(channel_body(rx));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    Ok(resp)
}

async fn df(State(d): State<AppState>) -> HttpResult<Json<Value>> {
    let images = d.images.list().map_err(crate::images::api_err)?;
    let mut containers = d.list_containers(true, None, true, &HashMap::new())?;
    // Beyond Docker: a container's log files are its disk use too, so they count in SizeRw.
    for v in &mut containers {
        let id = v["Id"].as_str().unwrap_or_default().to_string();
        if let Ok(c) = d.find_container(&id) {
            let logs = d.log_bytes(&c.record());
            for key in ["SizeRw", "SizeRootFs"] {
                if let Some(n) = v[key].as_u64() {
                    v[key] = json!(n + logs);
                }
            }
        }
    }
    let mut imgs = Vec::new();
    let mut layers_size = 0i64;
    for i in images {
        let users = containers
            .iter()
            .filter(|c| c["ImageID"] == i.id.as_str())
            .count();
        layers_size += i.size;
        let mut v = serde_json::to_value(&i).unwrap_or(Value::Null);
        v["Containers"] = json!(users);
        imgs.push(v);
    }
    let vols: Vec<Value> = d
        .volumes
        .list()
        .into_iter()
        .map(|mut v| {
            let name = v["Name"].as_str().unwrap_or("").to_string();
            let refs = d
                .containers
                .all()
                .iter()
                .filter(|c| c.record().mounts.iter().any(|m| m.name == name))
                .count();
            let size = crate::container::list::dir_size(&d.volumes.data_path(&name));
            v["UsageData"] = json!({"Size": size, "RefCount": refs});
            v
        })
        .collect();
    let (cache, builder_size) = super::build::cache_usage(&d)?;
    Ok(Json(json!({
        "LayersSize": layers_size,
        "Images": imgs,
        "Containers": containers,
        "Volumes": vols,
        "BuildCache": cache,
        "BuilderSize": builder_size
    })))
}
