//! `/containers/...` routes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use berth_api::stream::content_type;
use berth_api::ApiError;
use berth_shim::protocol::Frame;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::filters::{parse as parse_filters, truthy};
use super::io::{channel_body, hijack, read_all};
use super::{AppState, HttpResult, RequestVersion};
use crate::container::attach::{self, parse_detach_keys, StdinEnd, Streams};
use crate::container::logs::{self, LogOptions};
use crate::Daemon;

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/json", get(list))
        .route("/containers/create", post(create))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/attach", post(attach_route))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/logs", get(logs_route))
        .route("/containers/{id}/stats", get(stats_route))
        .route("/containers/{id}/update", post(update_route))
        .route("/containers/{id}", delete(remove))
}

pub(crate) fn bad_json(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("invalid JSON: {e}"))
}

/// Parses an optional JSON body (an empty one is `{}`).
pub(crate) async fn json_body(body: Body) -> Result<Value, ApiError> {
    let bytes = read_all(body).await.map_err(ApiError::invalid)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(bad_json)
}

async fn list(State(d): State<AppState>, Query(q): Q) -> HttpResult<Json<Vec<Value>>> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0);
    let all = truthy(q.get("all")) || limit.is_some();
    Ok(Json(d.list_containers(
        all,
        limit.map(|l| l as usize),
        truthy(q.get("size")),
        &filters,
    )?))
}

async fn create(State(d): State<AppState>, Query(q): Q, body: Body) -> HttpResult<Response> {
    let body = json_body(body).await?;
    let (id, warnings) = d
        .create_container(q.get("name").map(String::as_str), body)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": id, "Warnings": warnings})),
    )
        .into_response())
}

async fn inspect(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<Json<Value>> {
    Ok(Json(d.inspect_container(&id, truthy(q.get("size")))?))
}

async fn start(State(d): State<AppState>, Path(id): Path<String>) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    d.start_container(&c).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn timeout(q: &HashMap<String, String>) -> Result<Option<i64>, ApiError> {
    match q.get("t").filter(|t| !t.is_empty()) {
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(format!("invalid value for t: {t}"))),
        None => Ok(None),
    }
}

/// The `signal` query parameter, unless empty.
fn signal_param(q: &HashMap<String, String>) -> Option<&str> {
    q.get("signal")
        .filter(|s| !s.is_empty())
        .map(String::as_str)
}

async fn stop(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    let signal = signal_param(&q);
    d.stop_container(&c, signal, timeout(&q)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    let signal = signal_param(&q);
    d.restart_container(&c, signal, timeout(&q)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kill(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    let signal = signal_param(&q).unwrap_or("KILL");
    d.kill_container(&c, signal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Headers go out at once (the docker CLI waits for them before it starts the container);
/// the status follows when the condition is met.
async fn wait(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<Response> {
    let c = d.find_container(&id)?;
    let condition = q.get("condition").cloned().unwrap_or_default();
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return Err(ApiError::invalid(format!("invalid condition: \"{condition}\"")).into());
    }
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        if let Ok(state) = Daemon::wait_container(&c, &condition).await {
            let err = c.record().state.error;
            let error = if err.is_empty() {
                Value::Null
            } else {
                json!({"Message": err})
            };
            let body = json!({"StatusCode": state.code, "Error": error});
            let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
            bytes.push(b'\n');
            let _ = tx.send(Bytes::from(bytes)).await;
        }
    });
    let mut resp = Response::new(channel_body(rx));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    Ok(resp)
}

async fn pause(State(d): State<AppState>, Path(id): Path<String>) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    d.pause_container(&c, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unpause(State(d): State<AppState>, Path(id): Path<String>) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    d.pause_container(&c, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rename(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    d.rename_container(&c, q.get("name").map_or("", String::as_str))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    d.remove_container(&c, truthy(q.get("force")), truthy(q.get("v")))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn prune(State(d): State<AppState>, Query(q): Q) -> HttpResult<Json<Value>> {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for c in d.containers.all() {
        let r = c.record();
        if r.state.running {
            continue;
        }
        if let Some(labels) = filters.get("label") {
            let own = r.labels();
            let ok = labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => own.get(k).and_then(Value::as_str) == Some(v),
                None => own.contains_key(l.as_str()),
            });
            if !ok {
                continue;
            }
        }
        reclaimed += crate::container::list::dir_size(&d.container_dir(&r.id).join("diff"));
        if d.remove_container(&c, false, false).await.is_ok() {
            deleted.push(r.id);
        }
    }
    d.events.publish(
        "container",
        "prune",
        "",
        [("reclaimed".to_string(), reclaimed.to_string())].into(),
    );
    Ok(Json(
        json!({"ContainersDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": reclaimed}),
    ))
}

async fn resize(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<StatusCode> {
    let c = d.find_container(&id)?;
    let h = q.get("h").and_then(|v| v.parse().ok()).unwrap_or(0u16);
    let w = q.get("w").and_then(|v| v.parse().ok()).unwrap_or(0u16);
    if !c.is_running() {
        return Err(ApiError::conflict(format!("Container {} is not running", c.id)).into());
    }
    c.send(Frame::Resize(h, w));
    Ok(StatusCode::OK)
}

async fn attach_route(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
    Extension(RequestVersion(v)): Extension<RequestVersion>,
    req: Request,
) -> HttpResult<Response> {
    let c = d.find_container(&id)?;
    let record = c.record();
    let keys = match q.get("detachKeys").filter(|k| !k.is_empty()) {
        Some(k) => parse_detach_keys(k).map_err(ApiError::invalid)?,
        None => vec![16, 17],
    };
    let tty = record.tty();
    let streams = Streams {
        stdout: truthy(q.get("stdout")),
        stderr: truthy(q.get("stderr")),
        multiplex: !tty,
    };
    let stream = truthy(q.get("stream"));
    let with_logs = truthy(q.get("logs"));
    let stdin = truthy(q.get("stdin")) && record.open_stdin();
    let stdin_once = record.stdin_once();
    let rx = c.hub.subscribe();
    let exit = c.exit.subscribe();
    let exits = exit.borrow().exits;
    let ct = content_type(!tty, v.minor >= 42);
    let log_path = d.log_file(&record);
    if stream {
        d.container_event(&c, "attach", &[]);
    }
    Ok(hijack(req, ct, move |(input, mut output)| async move {
        // Drivers without a log to read (none, syslog, gelf) replay nothing.
        if let Some(log_path) = log_path.filter(|_| with_logs) {
            let (tx, mut lrx) = mpsc::channel(64);
            let opts = LogOptions {
                stdout: streams.stdout,
                stderr: streams.stderr,
                multiplex: streams.multiplex,
                ..Default::default()
            };
            logs::stream(log_path, c.clone(), opts, tx);
            while let Some(b) = lrx.recv().await {
                if output.write_all(&b).await.is_err() {
                    return;
                }
            }
        }
        if !stream {
            let _ = output.shutdown().await;
            return;
        }
        let mut out_task = tokio::spawn(attach::relay_output(output, rx, exit, streams, exits));
        if stdin {
            let c2 = c.clone();
            let relay = attach::relay_stdin(input, &keys, |data| {
                c2.send_stdin(Frame::Stdin(data));
                true
            });
            tokio::select! {
                end = relay => match end {
                    StdinEnd::Detached => {
                        out_task.abort();
                        d.container_event(&c, "detach", &[]);
                        return;
                    }
                    StdinEnd::Eof => {
                        if stdin_once {
                            c.send_stdin(Frame::CloseStdin);
                        }
                    }
                },
                // The output ended (the process exited): stop reading stdin.
                _ = &mut out_task => return,
            }
        }
        let _ = out_task.await;
    }))
}

async fn logs_route(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
    Extension(RequestVersion(v)): Extension<RequestVersion>,
) -> HttpResult<Response> {
    let c = d.find_container(&id)?;
    let record = c.record();
    let opts = LogOptions {
        stdout: truthy(q.get("stdout")),
        stderr: truthy(q.get("stderr")),
        follow: truthy(q.get("follow")),
        timestamps: truthy(q.get("timestamps")),
        tail: q
            .get("tail")
            .filter(|t| t.as_str() != "all" && !t.is_empty())
            .and_then(|t| t.parse().ok()),
        since: q
            .get("since")
            .and_then(|s| logs::parse_time(s))
            .filter(|s| *s > 0),
        until: q
            .get("until")
            .and_then(|s| logs::parse_time(s))
            .filter(|s| *s > 0),
        multiplex: !record.tty(),
    };
    if !opts.stdout && !opts.stderr {
        return Err(
            ApiError::invalid("Bad parameters: you must choose at least one stream").into(),
        );
    }
    let Some(log_path) = d.log_file(&record) else {
        return Err(ApiError::new(
            berth_api::ErrorKind::NotImplemented,
            "configured logging driver does not support reading",
        )
        .into());
    };
    let (tx, rx) = mpsc::channel(64);
    logs::stream(log_path, c, opts, tx);
    let mut resp = Response::new(channel_body(rx));
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static(content_type(!record.tty(), v.minor >= 42)),
    );
    Ok(resp)
}

async fn stats_route(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> HttpResult<Response> {
    let c = d.find_container(&id)?;
    // docker's default is a stream.
    let stream = q.get("stream").is_none_or(|s| truthy(Some(s)));
    let (tx, rx) = mpsc::channel(4);
    d.stream_stats(c, stream, truthy(q.get("one-shot")), tx);
    let mut resp = Response::new(channel_body(rx));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    Ok(resp)
}

async fn update_route(
    State(d): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Json<Value>> {
    // The body is read first: a 404 sent before it would break the client's write.
    let body = json_body(body).await?;
    let c = d.find_container(&id)?;
    let warnings = d.update_container(&c, &body).await?;
    Ok(Json(json!({"Warnings": warnings})))
}
