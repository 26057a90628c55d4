//! `/containers/{id}/exec` and `/exec/{id}/...` routes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use berth_api::stream::{content_type, frame, StdStream};
use berth_api::ApiError;
use berth_shim::protocol::Frame;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use super::containers::json_body;
use super::io::hijack;
use super::{AppState, HttpResult, RequestVersion};
use crate::container::attach::{self, parse_detach_keys, StdinEnd, Streams};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/resize", post(resize))
        .route("/exec/{id}/json", get(inspect))
}

async fn create(
    State(d): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let c = d.find_container(&id)?;
    let config = json_body(body).await?;
    if let Some(keys) = config["DetachKeys"].as_str().filter(|k| !k.is_empty()) {
        parse_detach_keys(keys).map_err(ApiError::invalid)?;
    }
    let exec_id = d.create_exec(&c, config)?;
    Ok((StatusCode::CREATED, Json(json!({"Id": exec_id}))).into_response())
}

async fn start(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Extension(RequestVersion(v)): Extension<RequestVersion>,
    req: Request,
) -> HttpResult<Response> {
    let exec = d.execs.get(&id)?;
    let (parts, body) = req.into_parts();
    let opts = json_body(body).await?;
    let detach = opts["Detach"].as_bool().unwrap_or(false);
    let tty = exec.tty();
    let rx = exec.hub.subscribe();
    let exit = exec.exit.subscribe();
    let console = crate::container::lifecycle::console_size(&opts["ConsoleSize"]);
    if detach {
        d.start_exec(&exec, console).await?;
        return Ok(StatusCode::OK.into_response());
    }
    // As dockerd: what can be checked is refused before the hijack; the process starts only
    // after the response head is out, so a client that reads the head through a buffered
    // reader (docker-py) cannot swallow the first output along with it. A start failure
    // after the hijack goes to the client as output, and the exit code (126/127) to inspect.
    d.check_exec_startable(&exec)?;
    let cfg = &exec.config;
    let streams = Streams {
        stdout: cfg["AttachStdout"].as_bool().unwrap_or(true),
        stderr: cfg["AttachStderr"].as_bool().unwrap_or(true),
        multiplex: !tty,
    };
    let stdin = cfg["AttachStdin"].as_bool().unwrap_or(false);
    let keys = cfg["DetachKeys"]
        .as_str()
        .filter(|k| !k.is_empty())
        .and_then(|k| parse_detach_keys(k).ok())
        .unwrap_or_else(|| vec![16, 17]);
    let req = Request::from_parts(parts, Body::empty());
    let ct = content_type(!tty, v.minor >= 42);
    Ok(hijack(req, ct, move |(input, mut output)| async move {
        if let Err(e) = d.start_exec(&exec, console).await {
            let msg = format!("{}\r\n", e.message);
            let bytes = if tty {
                msg.into_bytes()
            } else {
                frame(StdStream::Stdout, msg.as_bytes())
            };
            let _ = output.write_all(&bytes).await;
            let _ = output.shutdown().await;
            return;
        }
        let mut out_task = tokio::spawn(attach::relay_output(output, rx, exit, streams, 0));
        if stdin {
            let e2 = exec.clone();
            let relay = attach::relay_stdin(input, &keys, |data| {
                e2.send(Frame::Stdin(data));
                true
            });
            tokio::select! {
                end = relay => {
                    if end == StdinEnd::Detached {
                        out_task.abort();
                        return;
                    }
                    exec.send(Frame::CloseStdin);
                }
                _ = &mut out_task => return,
            }
        }
        let _ = out_task.await;
    }))
}

async fn resize(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> HttpResult<StatusCode> {
    let exec = d.execs.get(&id)?;
    let h = q.get("h").and_then(|v| v.parse().ok()).unwrap_or(0u16);
    let w = q.get("w").and_then(|v| v.parse().ok()).unwrap_or(0u16);
    exec.send(Frame::Resize(h, w));
    Ok(StatusCode::OK)
}

async fn inspect(State(d): State<AppState>, Path(id): Path<String>) -> HttpResult<Json<Value>> {
    Ok(Json(d.execs.get(&id)?.inspect()))
}
