//! The registry server: an OCI Distribution Spec v2 registry on the local filesystem.
//!
//! `serve` binds, then each connection is served by hyper; requests are routed by
//! `names::route`, authorised by `auth`, and handled by `blobs`, `manifests`, `catalog`
//! and `referrers`. Storage and uploads live on disk (see `storage` for the layout).

pub mod auth;
mod blobs;
mod catalog;
pub mod digest;
pub mod error;
pub mod gc;
mod manifests;
pub mod names;
mod referrers;
mod response;
pub mod storage;
pub mod tls;
pub mod token;
pub mod uploads;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::server::auth::{Access, Auth};
use crate::server::error::{ApiError, Code};
use crate::server::names::Route;
use crate::server::response::Body;
use crate::server::storage::Storage;
use crate::server::uploads::Uploads;

pub use crate::server::auth::AuthConfig;
pub use crate::server::tls::TlsFiles;
pub use crate::server::token::TokenConfig;

/// How long a connection may take to send a request head.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Default storage root, as `berth registry serve --root`.
pub const DEFAULT_ROOT: &str = "/var/lib/berth/registry";

/// Everything `berth registry serve` is told.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub root: PathBuf,
    pub auth: AuthConfig,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("listen on {addr}: {err}")]
    Bind {
        addr: SocketAddr,
        err: std::io::Error,
    },
}

/// What every request handler shares.
pub struct Registry {
    storage: Storage,
    uploads: Uploads,
    auth: Auth,
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    registry: Arc<Registry>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Server {
    /// Opens the storage, loads credentials and keys, and binds the address.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let storage = Storage::open(&config.root)?;
        storage.clear_tmp()?;
        let auth = Auth::load(&config.auth)?;
        let tls = match &config.tls {
            Some(files) => Some(tls::acceptor(files)?),
            None => None,
        };
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|err| ServerError::Bind {
                addr: config.addr,
                err,
            })?;
        Ok(Server {
            listener,
            registry: Arc::new(Registry {
                uploads: Uploads::new(storage.clone()),
                storage,
                auth,
            }),
            tls,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until the task is dropped.
    pub async fn run(self) {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let registry = self.registry.clone();
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let registry = registry.clone();
                    async move { Ok::<_, Infallible>(handle(&registry, req).await) }
                });
                let mut http = hyper::server::conn::http1::Builder::new();
                // A client that opens a connection and sends no request head is let go.
                http.timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT);
                let served = match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => http.serve_connection(TokioIo::new(s), svc).await,
                        Err(e) => {
                            tracing::info!("TLS handshake with {peer}: {e}");
                            return;
                        }
                    },
                    None => http.serve_connection(TokioIo::new(stream), svc).await,
                };
                if let Err(e) = served {
                    tracing::debug!("connection from {peer}: {e}");
                }
            });
        }
    }
}

/// The query parameters of a request (the last value of each name wins).
fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn handle(reg: &Registry, req: Request<Incoming>) -> Response<Body> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = match route_request(reg, req).await {
        Ok(r) => r,
        Err(Rejection::Api(e)) => response::error(&e),
        Err(Rejection::Response(r)) => *r,
    };
    resp.headers_mut().insert(
        "Docker-Distribution-API-Version",
        http::HeaderValue::from_static("registry/2.0"),
    );
    // The access log: one line a request, as distribution writes at its info level (the
    // time is to the response head; a blob body streams on after it).
    tracing::info!(
        "{method} {path} {} {:.1}ms",
        resp.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    resp
}

/// Why a request gets no ordinary answer: an API error, or a ready response (a challenge).
pub enum Rejection {
    Api(ApiError),
    Response(Box<Response<Body>>),
}

impl From<ApiError> for Rejection {
    fn from(e: ApiError) -> Rejection {
        Rejection::Api(e)
    }
}

impl From<storage::StorageError> for Rejection {
    fn from(e: storage::StorageError) -> Rejection {
        Rejection::Api(e.into())
    }
}

async fn route_request(
    reg: &Registry,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let path = req.uri().path();
    if reg.auth.serves_tokens(path) {
        return token::handle(&reg.auth, req).await;
    }
    let route = match names::route(path) {
        None => {
            return Ok(response::bytes(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                b"404 page not found\n".to_vec(),
            ))
        }
        Some(r) => r?,
    };
    let method = req.method().clone();
    let q = query(&req);
    let needed = match (&route, &method) {
        (Route::Base, _) => Access::Any,
        (Route::Catalog, _) => Access::Catalog,
        (r, &Method::GET | &Method::HEAD) => Access::Pull(r.name().unwrap_or("").to_string()),
        (r, &Method::DELETE) => Access::Delete(r.name().unwrap_or("").to_string()),
        (r, _) => Access::Push(r.name().unwrap_or("").to_string()),
    };
    let grant = reg.auth.authorize(&req, &needed).await?;
    let unsupported = || {
        Rejection::Api(ApiError::new(
            Code::Unsupported,
            format!(
                "the operation is unsupported: {method} {}",
                req.uri().path()
            ),
        ))
    };
    match (route, &method) {
        (Route::Base, &Method::GET | &Method::HEAD) => {
            Ok(response::json(StatusCode::OK, &serde_json::json!({})))
        }
        (Route::Catalog, &Method::GET) => catalog::repositories(reg, &q),
        (Route::Tags { name }, &Method::GET) => catalog::tags(reg, &name, &q),
        (Route::Manifest { name, reference }, &Method::GET | &Method::HEAD) => {
            manifests::get(reg, &name, &reference, &req)
        }
        (Route::Manifest { name, reference }, &Method::PUT) => {
            manifests::put(reg, &name, &reference, req).await
        }
        (Route::Manifest { name, reference }, &Method::DELETE) => {
            manifests::delete(reg, &name, &reference)
        }
        (Route::Blob { name, digest }, &Method::GET | &Method::HEAD) => {
            blobs::get(reg, &name, &digest, &req)
        }
        (Route::Blob { name, digest }, &Method::DELETE) => blobs::delete(reg, &name, &digest),
        (Route::UploadStart { name }, &Method::POST) => {
            let may_mount = |from: &str| grant.allows(&Access::Pull(from.to_string()));
            blobs::start_upload(reg, &name, &q, req, may_mount).await
        }
        (Route::Upload { name, uuid }, &Method::GET) => blobs::upload_status(reg, &name, &uuid),
        (Route::Upload { name, uuid }, &Method::PATCH) => {
            blobs::upload_chunk(reg, &name, &uuid, req).await
        }
        (Route::Upload { name, uuid }, &Method::PUT) => {
            blobs::upload_finish(reg, &name, &uuid, &q, req).await
        }
        (Route::Upload { name, uuid }, &Method::DELETE) => {
            blobs::upload_cancel(reg, &name, &uuid).await
        }
        (Route::Referrers { name, digest }, &Method::GET) => {
            referrers::list(reg, &name, &digest, &q)
        }
        _ => Err(unsupported()),
    }
}
