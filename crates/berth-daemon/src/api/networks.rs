//! `/networks/...` routes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::containers::json_body;
use super::filters::parse as parse_filters;
use super::{AppState, HttpResult};

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

async fn list(State(d): State<AppState>, Query(q): Q) -> HttpResult<Json<Vec<Value>>> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    Ok(Json(d.list_networks(&filters)?))
}

async fn inspect(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<Json<Value>> {
    let n = d.inspect_network(&id)?;
    // `?scope=` narrows the lookup as with dockerd: a local network is not found as
    // `swarm` or `global`.
    if let Some(scope) = q.get("scope").filter(|s| !s.is_empty()) {
        if n["Scope"] != scope.as_str() {
            return Err(crate::network::not_found(&id).into());
        }
    }
    Ok(Json(n))
}

async fn create(State(d): State<AppState>, body: Body) -> HttpResult<Response> {
    let body = json_body(body).await?;
    let id = d.create_network(body).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warning": ""}))).into_response())
}

async fn remove(State(d): State<AppState>, Path(id): Path<String>) -> HttpResult<StatusCode> {
    d.remove_network(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn connect(
    State(d): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<StatusCode> {
    let body = json_body(body).await?;
    d.connect_network(&id, &body).await?;
    Ok(StatusCode::OK)
}

async fn disconnect(
    State(d): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<StatusCode> {
    let body = json_body(body).await?;
    d.disconnect_network(&id, &body).await?;
    Ok(StatusCode::OK)
}

async fn prune(State(d): State<AppState>, Query(q): Q) -> HttpResult<Json<Value>> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let deleted = d.prune_networks(&filters).await?;
    Ok(Json(json!({
        "NetworksDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }
    })))
}
