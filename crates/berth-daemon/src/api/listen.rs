//! Listeners for `-H` hosts: `unix://` sockets and `tcp://` addresses.

use std::path::Path;
use std::sync::Arc;

use std::os::fd::{AsRawFd, RawFd};

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use axum::Router;
use tokio::net::{TcpListener, UnixListener};

use super::tls::TlsListener;

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("invalid host {0:?}: expected unix:///path or tcp://addr:port")]
    InvalidHost(String),
    #[error("listen on {host}: {source}")]
    Bind {
        host: String,
        source: std::io::Error,
    },
}

/// A bound listener, ready to serve.
pub enum Bound {
    Unix(UnixListener),
    Tcp(TcpListener),
    /// A `tcp://` host served over TLS.
    Tls(TlsListener),
}

/// Binds one `-H` host. A stale unix socket (left by a crash) is replaced.
pub async fn bind(host: &str) -> Result<Bound, ListenError> {
    bind_with(host, None).await
}

/// Binds one `-H` host; with a TLS configuration, `tcp://` hosts serve TLS (default port
/// 2376 instead of 2375, as in dockerd). Unix sockets never use TLS.
pub async fn bind_with(
    host: &str,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Bound, ListenError> {
    let bind_err = |source| ListenError::Bind {
        host: host.to_string(),
        source,
    };
    if let Some(path) = host.strip_prefix("unix://") {
        let path = Path::new(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(bind_err)?;
        }
        if path.exists() {
            std::fs::remove_file(path).map_err(bind_err)?;
        }
        let l = UnixListener::bind(path).map_err(bind_err)?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660));
        Ok(Bound::Unix(l))
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        let addr = addr.trim_end_matches('/');
        let port = if tls.is_some() { 2376 } else { 2375 };
        let addr = if addr.is_empty() {
            format!("127.0.0.1:{port}")
        } else if addr.starts_with(':') {
            format!("127.0.0.1{addr}")
        } else if addr.contains(':') {
            addr.to_string()
        } else {
            format!("{addr}:{port}")
        };
        let l = TcpListener::bind(&addr).await.map_err(bind_err)?;
        match tls {
            Some(config) => Ok(Bound::Tls(TlsListener::new(l, config).map_err(bind_err)?)),
            None => Ok(Bound::Tcp(l)),
        }
    } else if host.starts_with('/') {
        Box::pin(bind_with(&format!("unix://{host}"), None)).await
    } else {
        Err(ListenError::InvalidHost(host.to_string()))
    }
}

/// The socket of a connection on a unix listener (in each request's extensions as
/// `ConnectInfo<ConnFd>`): hijacked streams wait on it until the client has read the
/// response head (see `io::hijack`).
#[derive(Debug, Clone, Copy)]
pub struct ConnFd(pub Option<RawFd>);

impl Connected<IncomingStream<'_, UnixListener>> for ConnFd {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        ConnFd(Some(stream.io().as_raw_fd()))
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for ConnFd {
    fn connect_info(_stream: IncomingStream<'_, TcpListener>) -> Self {
        ConnFd(None)
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ConnFd {
    fn connect_info(_stream: IncomingStream<'_, TlsListener>) -> Self {
        ConnFd(None)
    }
}

/// Serves the router on a bound listener until the process ends.
pub async fn serve(bound: Bound, router: Router) -> std::io::Result<()> {
    let app = router.into_make_service_with_connect_info::<ConnFd>();
    match bound {
        Bound::Unix(l) => axum::serve(l, app).await,
        Bound::Tcp(l) => axum::serve(l, app).await,
        Bound::Tls(l) => axum::serve(l, app).await,
    }
}
