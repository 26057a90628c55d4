//! TLS for `tcp://` hosts, as dockerd does it: `--tls` serves TLS with the daemon's
//! certificate; `--tlsverify` also requires a client certificate signed by `--tlscacert`.
//!
//! Handshakes run in their own tasks, so a client that stalls or fails its handshake never
//! holds up the accept loop; finished connections are handed to axum through a channel.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::TlsConfig;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {what} {path:?}: {err}")]
    Read {
        what: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("could not parse {what} {path:?}: {detail}")]
    Parse {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|err| TlsError::Read {
        what,
        path: path.to_path_buf(),
        err,
    })
}

/// Every certificate of a PEM file; a file without one is an error naming it.
pub fn load_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Parse {
            what,
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Parse {
            what,
            path: path.to_path_buf(),
            detail: "no PEM certificate found".to_string(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#1, PKCS#8 or SEC1) of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("TLS key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Parse {
        what: "TLS key",
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// A root store from a CA file, or from the system's bundle without one.
pub fn load_roots(ca: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for c in load_certs("CA certificate", path)? {
                roots.add(c).map_err(|e| TlsError::Parse {
                    what: "CA certificate",
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })?;
            }
        }
        None => {
            roots = berth_registry::client::http::system_roots();
            if roots.is_empty() {
                return Err(TlsError::Config(
                    "no CA certificate given and no system CA bundle found".to_string(),
                ));
            }
        }
    }
    Ok(roots)
}

/// The rustls provider: ring, chosen explicitly so that another crate enabling a second
/// provider cannot make the process default ambiguous.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration of the daemon's TLS hosts. With `verify`, clients must present
/// a certificate signed by the CA (dockerd's `RequireAndVerifyClientCert`); with a CA but no
/// `verify`, a certificate is checked only when given (`VerifyClientCertIfGiven`).
pub fn server_config(cfg: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs("TLS certificate", &cfg.cert)?;
    let key = load_key(&cfg.key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = if cfg.verify || cfg.ca.is_some() {
        let roots = Arc::new(load_roots(cfg.ca.as_deref())?);
        let v = WebPkiClientVerifier::builder_with_provider(roots, provider());
        let v = if cfg.verify {
            v
        } else {
            v.allow_unauthenticated()
        };
        let v = v.build().map_err(|e| TlsError::Config(e.to_string()))?;
        builder.with_client_cert_verifier(v)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Parse {
            what: "TLS key pair",
            path: cfg.key.clone(),
            detail: format!("does not match {}: {e}", cfg.cert.display()),
        })?;
    Ok(Arc::new(config))
}

/// A TCP listener whose connections are TLS streams, for `axum::serve`.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl TlsListener {
    /// Starts accepting on `tcp`; each handshake runs in its own task.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, rx) = mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        if !matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionRefused
                                | std::io::ErrorKind::ConnectionAborted
                                | std::io::ErrorKind::ConnectionReset
                        ) {
                            tracing::error!("accept error: {e}");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let handshake = async {
                        if looks_like_http(&stream).await {
                            // As Go's server: a plain HTTP request gets a hint, not silence.
                            refuse_plain_http(stream).await;
                            return None;
                        }
                        Some(acceptor.accept(stream).await)
                    };
                    let Ok(done) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await else {
                        tracing::info!("http: TLS handshake error from {peer}: timed out");
                        return;
                    };
                    match done {
                        None => {}
                        Some(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Some(Err(e)) => {
                            tracing::info!("http: TLS handshake error from {peer}: {e}")
                        }
                    }
                });
            }
        });
        Ok(TlsListener {
            rx,
            local,
            accept_task,
        })
    }
}

/// Whether a new connection starts with a plain HTTP request rather than a TLS record
/// (Go's `tlsRecordHeaderLooksLikeHTTP`).
async fn looks_like_http(stream: &TcpStream) -> bool {
    let mut head = [0u8; 5];
    match stream.peek(&mut head).await {
        Ok(5) => matches!(&head, b"GET /" | b"HEAD " | b"POST " | b"PUT /" | b"OPTIO"),
        _ => false,
    }
}

/// Answers a plain HTTP request on a TLS port as Go's server does, then closes.
async fn refuse_plain_http(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream
        .write_all(
            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
        )
        .await;
    let _ = stream.shutdown().await;
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task only ends when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
