//! A lean HTTP/1.1 client for registries: one connection per request (plain TCP or rustls),
//! redirects followed for GET and HEAD.

use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;

use super::RegistryError;

pub type Body = BoxBody<Bytes, io::Error>;

/// As docker's registry transport: dial 30 s, TLS handshake 10 s.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// The system's CA bundles, as Debian and others install them.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The CAs the system trusts, found as Go finds them (so as dockerd): the file
/// `$SSL_CERT_FILE` or else the first system bundle there is, plus the certificates in
/// the `:`-separated directories of `$SSL_CERT_DIR`.
pub fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let add_file = |path: &Path, roots: &mut RootCertStore| match std::fs::read(path) {
        Ok(pem) => {
            let certs = CertificateDer::pem_slice_iter(&pem).flatten();
            roots.add_parsable_certificates(certs);
            true
        }
        Err(_) => false,
    };
    match std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        Some(file) => {
            add_file(Path::new(&file), &mut roots);
        }
        None => {
            for b in SYSTEM_BUNDLES {
                if add_file(Path::new(b), &mut roots) {
                    break;
                }
            }
        }
    }
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        for dir in std::env::split_paths(&dirs) {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                if e.path().is_file() {
                    add_file(&e.path(), &mut roots);
                }
            }
        }
    }
    roots
}

/// TLS settings for one registry host.
#[derive(Clone)]
pub struct Tls {
    verified: Arc<ClientConfig>,
    unverified: Arc<ClientConfig>,
}

impl Tls {
    /// The system's CAs plus `certs_dir/<host>/*.crt`; a client certificate
    /// `certs_dir/<host>/*.cert` with its `*.key` when there is one.
    pub fn for_host(certs_dir: &Path, host: &str) -> Tls {
        let mut roots = system_roots();
        if let Ok(rd) = std::fs::read_dir(certs_dir.join(host)) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().and_then(|x| x.to_str()) != Some("crt") {
                    continue;
                }
                match std::fs::read(&p) {
                    Ok(pem) => {
                        for c in CertificateDer::pem_slice_iter(&pem).flatten() {
                            if let Err(err) = roots.add(c) {
                                tracing::warn!(path = %p.display(), error = %err, "bad registry CA certificate");
                            }
                        }
                    }
                    Err(err) => {
                        tracing::warn!(path = %p.display(), error = %err, "cannot read registry CA certificate")
                    }
                }
            }
        }
        Tls::new(roots, client_cert(&certs_dir.join(host)), host)
    }

    /// The system's CAs only (plain HTTPS downloads, as ADD of a URL).
    pub fn system() -> Tls {
        Tls::new(system_roots(), None, "")
    }

    fn new(
        roots: RootCertStore,
        client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        host: &str,
    ) -> Tls {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let finish =
            |b: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>| match &client
            {
                Some((certs, key)) => b
                    .with_client_auth_cert(certs.clone(), key.clone_key())
                    .unwrap_or_else(|e| {
                        tracing::warn!(host, error = %e, "registry client certificate refused");
                        unreachable_config()
                    }),
                None => b.with_no_client_auth(),
            };
        let verified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map(|b| finish(b.with_root_certificates(roots)))
            .unwrap_or_else(|_| unreachable_config());
        let unverified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map(|b| {
                finish(
                    b.dangerous()
                        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider))),
                )
            })
            .unwrap_or_else(|_| unreachable_config());
        Tls {
            verified: Arc::new(verified),
            unverified: Arc::new(unverified),
        }
    }
}

/// A client certificate of a registry: `NAME.cert` with its `NAME.key` (as docker's certs.d).
fn client_cert(dir: &Path) -> Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let rd = std::fs::read_dir(dir).ok()?;
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("cert") {
            continue;
        }
        let key = p.with_extension("key");
        let (Ok(cert_pem), Ok(key_pem)) = (std::fs::read(&p), std::fs::read(&key)) else {
            tracing::warn!(cert = %p.display(), "registry client certificate without its .key");
            continue;
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .flatten()
            .collect();
        match PrivateKeyDer::from_pem_slice(&key_pem) {
            Ok(k) if !certs.is_empty() => return Some((certs, k)),
            _ => tracing::warn!(key = %key.display(), "cannot read registry client key"),
        }
    }
    None
}

/// ring supports the default protocol versions; this is never reached.
fn unreachable_config() -> ClientConfig {
    ClientConfig::builder()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth()
}

/// Sends `req`, following up to 5 redirects of GET/HEAD requests (the Authorization header
/// is dropped when a redirect leaves the host, as registries' storage redirects expect).
pub async fn send(
    tls: &Tls,
    verify: bool,
    mut req: Request<Body>,
) -> Result<Response<Incoming>, RegistryError> {
    for _ in 0..6 {
        let method = req.method().clone();
        let headers = req.headers().clone();
        let uri = req.uri().clone();
        let resp = send_once(tls, verify, req).await?;
        let redirect =
            resp.status().is_redirection() && (method == Method::GET || method == Method::HEAD);
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(|l| resolve(&uri, l));
        let (true, Some(next)) = (redirect, location) else {
            return Ok(resp);
        };
        let next: Uri = next
            .parse()
            .map_err(|e| RegistryError::Registry(format!("bad redirect from {uri}: {e}")))?;
        let mut r = Request::builder().method(method).uri(next.clone());
        for (k, v) in &headers {
            if k == "host" || (k == "authorization" && next.authority() != uri.authority()) {
                continue;
            }
            r = r.header(k, v);
        }
        req = r
            .body(empty())
            .map_err(|e| RegistryError::Registry(format!("redirect to {next}: {e}")))?;
    }
    Err(RegistryError::Registry("too many redirects".into()))
}

/// `loc` (absolute, or a path) against `base`.
pub fn resolve(base: &Uri, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("https");
    let auth = base.authority().map(|a| a.as_str()).unwrap_or("");
    if loc.starts_with('/') {
        format!("{scheme}://{auth}{loc}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{auth}{dir}{loc}")
    }
}

async fn send_once(
    tls: &Tls,
    verify: bool,
    mut req: Request<Body>,
) -> Result<Response<Incoming>, RegistryError> {
    let uri = req.uri().clone();
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .ok_or_else(|| RegistryError::InvalidArgument(format!("no host in {uri}")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let what = go_request(req.method(), &uri);
    let connect_err = |e: io::Error| RegistryError::Connect {
        what: what.clone(),
        message: e.to_string(),
    };
    if !req.headers().contains_key("host") {
        if let Some(a) = uri.authority() {
            if let Ok(v) = a.as_str().parse() {
                req.headers_mut().insert("host", v);
            }
        }
    }
    if !req.headers().contains_key("user-agent") {
        req.headers_mut().insert(
            "user-agent",
            hyper::header::HeaderValue::from_static("berth/0.1 (docker-compatible)"),
        );
    }
    // Requests carry the path only; the authority is in the Host header.
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    *req.uri_mut() = path
        .parse()
        .map_err(|e| RegistryError::InvalidArgument(format!("{uri}: {e}")))?;
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| connect_err(io::Error::new(io::ErrorKind::TimedOut, "i/o timeout")))?
        .map_err(connect_err)?;
    let _ = tcp.set_nodelay(true);
    if https {
        let cfg = if verify {
            tls.verified.clone()
        } else {
            tls.unverified.clone()
        };
        let name = ServerName::try_from(host.clone())
            .map_err(|e| RegistryError::InvalidArgument(format!("server name {host}: {e}")))?;
        let handshake = tokio_rustls::TlsConnector::from(cfg).connect(name, tcp);
        let stream = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| {
                connect_err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "net/http: TLS handshake timeout",
                ))
            })?
            .map_err(connect_err)?;
        over(stream, req, &what).await
    } else {
        over(tcp, req, &what).await
    }
}

/// Go's spelling of a failed request, as docker prints it: `Get "https://host/v2/"`.
fn go_request(method: &Method, uri: &Uri) -> String {
    let m = method.as_str();
    let mut name = m[..1].to_string();
    name.push_str(&m[1..].to_lowercase());
    format!("{name} \"{uri}\"")
}

async fn over<T>(io: T, req: Request<Body>, what: &str) -> Result<Response<Incoming>, RegistryError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let err = |e: hyper::Error| RegistryError::Connect {
        what: what.to_string(),
        message: e.to_string(),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(err)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "registry connection ended");
        }
    });
    sender.send_request(req).await.map_err(err)
}

/// Reads a whole (small) body, at most `limit` bytes.
pub async fn read_body(resp: Response<Incoming>, limit: usize) -> Result<Bytes, RegistryError> {
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| RegistryError::Connect {
            what: "read response".into(),
            message: e.to_string(),
        })?;
        if let Ok(d) = frame.into_data() {
            out.extend_from_slice(&d);
            if out.len() > limit {
                return Err(RegistryError::Registry(format!(
                    "response larger than {limit} bytes"
                )));
            }
        }
    }
    Ok(Bytes::from(out))
}

/// Accepts any certificate: insecure registries only.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
