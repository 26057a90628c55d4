//! The Engine API over HTTP/1.1: routes, version negotiation, dockerd's headers and errors.
//!
//! Handlers are thin: they parse the wire format and call the daemon's object model.

mod archive;
mod build;
mod containers;
mod events;
mod exec;
mod filters;
mod images;
mod io;
mod listen;
mod networks;
mod registry;
mod system;
mod tls;
mod volumes;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use berth_api::version::{self, API_VERSION};
use berth_api::ApiError;

pub use listen::{bind, bind_with, serve, Bound, ListenError};
pub use tls::{server_config as tls_server_config, TlsError, TlsListener};

use crate::Daemon;

/// Shared state of every handler.
pub type AppState = Arc<Daemon>;

/// An error leaving a handler: dockerd's status and `{"message": ...}` body.
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        let mut resp = Response::new(Body::from(self.0.body()));
        *resp.status_mut() = status;
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        resp
    }
}

pub type HttpResult<T> = Result<T, HttpError>;

/// The API version a request was made with (from its `/v1.xx` prefix, or the newest).
#[derive(Debug, Clone, Copy)]
pub struct RequestVersion(pub berth_api::version::ApiVersion);

/// Builds the router with every route, wrapped in the version/header middleware.
pub fn router(daemon: Arc<Daemon>) -> Router {
    let routes = Router::new()
        .merge(system::routes())
        .merge(events::routes())
        .merge(containers::routes())
        .merge(archive::routes())
        .merge(exec::routes())
        .merge(images::routes())
        .merge(build::routes())
        .merge(volumes::routes())
        .merge(networks::routes())
        .with_state(daemon);
    // Middleware on a router runs after route matching, so the version prefix is stripped by an
    // outer router whose only job is to hand the rewritten request to the real one.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(versioning))
}

/// Strips `/v1.xx` from the path (refusing versions out of range, as dockerd), records the
/// version for handlers, and adds dockerd's headers to every response.
async fn versioning(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let (requested, rest) = version::split_version(&path);
    let v = match requested {
        Some(s) => match version::check(s) {
            Ok(v) => v,
            Err(msg) => return with_headers(HttpError(ApiError::invalid(msg)).into_response()),
        },
        None => API_VERSION,
    };
    if requested.is_some() {
        let pq = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    req.extensions_mut().insert(RequestVersion(v));
    let resp = next.run(req).await;
    let resp =
        if resp.status() == StatusCode::NOT_FOUND && resp.headers().get("content-type").is_none() {
            HttpError(ApiError::not_found("page not found")).into_response()
        } else {
            resp
        };
    with_headers(resp)
}

fn with_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("api-version", HeaderValue::from_static(API_VERSION_STR));
    h.insert("ostype", HeaderValue::from_static("linux"));
    h.insert("server", HeaderValue::from_static(SERVER));
    h.insert("docker-experimental", HeaderValue::from_static("false"));
    resp
}

const API_VERSION_STR: &str = "1.45";
const SERVER: &str = concat!("Docker/", env!("CARGO_PKG_VERSION"), " (linux) berth");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_string_matches_constant() {
        assert_eq!(API_VERSION_STR, API_VERSION.to_string());
    }
}
