//! Engine API client over HTTP/1.1 on unix or tcp sockets.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{anyhow, Result};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

pub const MAX_API: (u32, u32) = (1, 45);
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

pub type Body = BoxBody<Bytes, io::Error>;

/// An error the daemon answered with; printed as docker does.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error response from daemon: {}", self.message)
    }
}

impl std::error::Error for ApiError {}

/// The daemon could not be reached at all.
#[derive(Debug)]
pub struct ConnectError(pub String);

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cannot connect to the Docker daemon at {}. Is the docker daemon running?",
            self.0
        )
    }
}

impl std::error::Error for ConnectError {}

pub fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(|a| a.status == 404)
}

#[derive(Clone, Debug)]
enum Addr {
    Unix(String),
    Tcp(String),
}

/// A duplex stream: unix, tcp or TLS over tcp.
pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
    /// With the last read error, kept to explain a request that failed because the
    /// daemon refused the handshake (its alert may end an idle connection quietly).
    Tls(
        Box<tokio_rustls::client::TlsStream<TcpStream>>,
        Arc<std::sync::Mutex<Option<String>>>,
    ),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s, err) => {
                let r = Pin::new(s.as_mut()).poll_read(cx, buf);
                if let Poll::Ready(Err(e)) = &r {
                    *err.lock().unwrap() = Some(e.to_string());
                }
                r
            }
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s, _) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s, _) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s, _) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The docker CLI's TLS options: `--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`,
/// `--tlskey`, with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// `--tls` (implied by `--tlsverify`).
    pub tls: bool,
    /// `--tlsverify`; `None` when not given (then `DOCKER_TLS_VERIFY` decides).
    pub verify: Option<bool>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl TlsOptions {
    /// The client TLS configuration these options ask for, or `None` for plain tcp.
    /// As the docker CLI: certificate files default to `DOCKER_CERT_PATH` (else the docker
    /// config dir), a default client cert/key that does not exist is left out, and without
    /// verification the server's certificate is not checked.
    pub fn client_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>> {
        let verify = self.verify.unwrap_or_else(|| {
            std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty())
        });
        // Giving --tlsverify at all, even as false, turns TLS on (as in the docker CLI).
        if !(self.tls || verify || self.verify.is_some()) {
            return Ok(None);
        }
        let dir = cert_dir();
        let ca = self.ca.clone().unwrap_or_else(|| dir.join("ca.pem"));
        let defaulted = |given: &Option<PathBuf>, name: &str| match given {
            Some(p) => Some(p.clone()),
            None => Some(dir.join(name)).filter(|p| p.exists()),
        };
        let cert = defaulted(&self.cert, "cert.pem");
        let key = defaulted(&self.key, "key.pem");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if verify {
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(&ca, "CA certificate")? {
                roots
                    .add(c)
                    .map_err(|e| anyhow!("could not read CA certificate {ca:?}: {e}"))?;
            }
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoServerVerify(provider)))
        };
        let config = match (cert, key) {
            (Some(cert), Some(key)) => {
                let pair_err = |e: &dyn fmt::Display| {
                    anyhow!("could not load X509 key pair (cert: {cert:?}, key: {key:?}): {e}")
                };
                let certs = read_certs(&cert, "certificate").map_err(|e| pair_err(&e))?;
                let pem = std::fs::read(&key).map_err(|e| pair_err(&e))?;
                use rustls_pki_types::pem::PemObject;
                let k = rustls_pki_types::PrivateKeyDer::from_pem_slice(&pem)
                    .map_err(|e| pair_err(&e))?;
                builder
                    .with_client_auth_cert(certs, k)
                    .map_err(|e| pair_err(&e))?
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(anyhow!(
                    "could not load X509 key pair: both the certificate and the key are needed"
                ))
            }
            (None, None) => builder.with_no_client_auth(),
        };
        Ok(Some(Arc::new(config)))
    }
}

/// `DOCKER_CERT_PATH`, else the docker config dir (`DOCKER_CONFIG` or `~/.docker`).
fn cert_dir() -> PathBuf {
    for var in ["DOCKER_CERT_PATH", "DOCKER_CONFIG"] {
        if let Some(d) = std::env::var_os(var).filter(|d| !d.is_empty()) {
            return PathBuf::from(d);
        }
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker")
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|e| anyhow!("could not read {what} {path:?}: {e}"))?;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("could not read {what} {path:?}: {e}"))?;
    if certs.is_empty() {
        return Err(anyhow!(
            "could not read {what} {path:?}: no PEM certificate found"
        ));
    }
    Ok(certs)
}

/// `--tls` without `--tlsverify`: the server's certificate is not checked (Go's
/// `InsecureSkipVerify`), but its handshake signatures still are.
#[derive(Debug)]
struct NoServerVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoServerVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub struct Client {
    host: String,
    addr: Addr,
    tls: Option<Arc<rustls::ClientConfig>>,
    version: std::sync::Mutex<Option<String>>,
}

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

pub fn json_body(v: &Value) -> Body {
    full(serde_json::to_vec(v).unwrap_or_default())
}

/// Streams an async reader as a request body.
pub fn reader_body<R: AsyncRead + Send + Sync + Unpin + 'static>(r: R) -> Body {
    let s = futures_util::stream::unfold(r, |mut r| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), r))
            }
            Err(e) => Some((Err(e), r)),
        }
    });
    BodyExt::boxed(StreamBody::new(s))
}

/// Percent-encodes a query component.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Builds `path?k=v&...`, skipping pairs whose value is empty.
pub fn query(path: &str, pairs: &[(&str, String)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

impl Client {
    pub fn new(host: &str) -> Result<Client> {
        Self::with_tls(host, None)
    }

    /// A client of `host`; with a TLS configuration, `tcp://` hosts are reached over TLS
    /// (default port 2376 instead of 2375, as in the docker CLI).
    pub fn with_tls(host: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Client> {
        let port = if tls.is_some() { 2376 } else { 2375 };
        let addr = if let Some(p) = host.strip_prefix("unix://") {
            Addr::Unix(p.to_string())
        } else if let Some(p) = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
        {
            let p = p.trim_end_matches('/');
            Addr::Tcp(if p.contains(':') {
                p.to_string()
            } else {
                format!("{p}:{port}")
            })
        } else if host.starts_with('/') {
            Addr::Unix(host.to_string())
        } else {
            return Err(anyhow!("unable to parse docker host `{host}`"));
        };
        Ok(Client {
            host: host.to_string(),
            addr,
            tls,
            version: std::sync::Mutex::new(None),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    async fn dial(&self) -> Result<Conn> {
        let r = match &self.addr {
            Addr::Unix(p) => UnixStream::connect(p).await.map(Conn::Unix),
            Addr::Tcp(a) => TcpStream::connect(a).await.map(Conn::Tcp),
        };
        let conn = r.map_err(|_| ConnectError(self.host.clone()))?;
        match (conn, &self.tls) {
            (Conn::Tcp(tcp), Some(config)) => {
                let Addr::Tcp(a) = &self.addr else {
                    unreachable!("tcp connection to a unix address")
                };
                let name = server_name(a)?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| anyhow!("error during connect: {e}"))?;
                Ok(Conn::Tls(Box::new(tls), Default::default()))
            }
            (conn, _) => Ok(conn),
        }
    }

    fn host_header(&self) -> String {
        match &self.addr {
            Addr::Unix(_) => "api.moby.localhost".to_string(),
            Addr::Tcp(a) => a.clone(),
        }
    }

    /// The negotiated API version, e.g. "1.45" (pings the daemon once).
    pub async fn api_version(&self) -> Result<String> {
        if let Some(v) = self.version.lock().unwrap().clone() {
            return Ok(v);
        }
        let v = match std::env::var("DOCKER_API_VERSION") {
            Ok(v) if !v.is_empty() => v,
            _ => {
                let resp = self.raw(Method::GET, "/_ping", empty(), &[], false).await?;
                let server = resp
                    .headers()
                    .get("api-version")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                negotiate(server.as_deref())
            }
        };
        *self.version.lock().unwrap() = Some(v.clone());
        Ok(v)
    }

    async fn raw(
        &self,
        method: Method,
        uri: &str,
        body: Body,
        headers: &[(&str, &str)],
        upgrade: bool,
    ) -> Result<Response<Incoming>> {
        let conn = self.dial().await?;
        let tls_err = match &conn {
            Conn::Tls(_, err) => Some(err.clone()),
            _ => None,
        };
        let io = TokioIo::new(conn);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        // A TLS alert (e.g. the daemon wants a client certificate) ends the connection
        // task; its error says more than the cancelled request does.
        let (conn_err_tx, conn_err) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                let _ = conn_err_tx.send(e);
            }
        });
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("Host", self.host_header())
            .header(
                "User-Agent",
                concat!("berth-cli/", env!("CARGO_PKG_VERSION"), " (linux)"),
            );
        if upgrade {
            req = req.header("Connection", "Upgrade").header("Upgrade", "tcp");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        match sender.send_request(req.body(body)?).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                let Some(tls_err) = tls_err else {
                    return Err(e.into());
                };
                let cause = match conn_err.await {
                    Ok(ce) => std::error::Error::source(&ce)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| ce.to_string()),
                    Err(_) => match tls_err.lock().unwrap().clone() {
                        Some(read_err) => read_err,
                        None => return Err(e.into()),
                    },
                };
                Err(anyhow!("error during connect: {cause}"))
            }
        }
    }

    /// Sends a versioned request; HTTP errors become `ApiError`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>> {
        let v = self.api_version().await?;
        let resp = self
            .raw(method, &format!("/v{v}{path}"), body, headers, false)
            .await?;
        check(resp).await
    }

    pub async fn get(&self, path: &str) -> Result<Response<Incoming>> {
        self.send(Method::GET, path, empty(), &[]).await
    }

    pub async fn get_json(&self, path: &str) -> Result<Value> {
        read_json(self.get(path).await?).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Response<Incoming>> {
        match body {
            Some(v) => {
                self.send(
                    Method::POST,
                    path,
                    json_body(v),
                    &[("Content-Type", "application/json")],
                )
                .await
            }
            None => self.send(Method::POST, path, empty(), &[]).await,
        }
    }

    pub async fn post_json(&self, path: &str, body: Option<&Value>) -> Result<Value> {
        read_json(self.post(path, body).await?).await
    }

    pub async fn delete(&self, path: &str) -> Result<Response<Incoming>> {
        self.send(Method::DELETE, path, empty(), &[]).await
    }

    /// Opens a hijacked bidirectional stream (attach, exec start).
    pub async fn upgrade(
        &self,
        path: &str,
        body: Option<&Value>,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>> {
        let v = self.api_version().await?;
        let (b, h): (Body, &[(&str, &str)]) = match body {
            Some(v) => (json_body(v), &[("Content-Type", "application/json")]),
            None => (empty(), &[]),
        };
        let resp = self
            .raw(Method::POST, &format!("/v{v}{path}"), b, h, true)
            .await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            let resp = check(resp).await?;
            return Err(anyhow!(
                "daemon did not upgrade the connection (status {})",
                resp.status()
            ));
        }
        Ok(TokioIo::new(hyper::upgrade::on(resp).await?))
    }
}

/// The name the server's certificate must carry: the host part of `host:port`.
fn server_name(addr: &str) -> Result<rustls_pki_types::ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((h, _)) => h,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    rustls_pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| anyhow!("invalid TLS server name {host:?}: {e}"))
}

fn negotiate(server: Option<&str>) -> String {
    let max = format!("{}.{}", MAX_API.0, MAX_API.1);
    let Some(s) = server else { return max };
    let parse = |s: &str| -> Option<(u32, u32)> {
        let (a, b) = s.split_once('.')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    match parse(s) {
        Some(v) if v < MAX_API => s.to_string(),
        _ => max,
    }
}

/// Turns a non-2xx/3xx response into an `ApiError` with the daemon's message.
pub async fn check(resp: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.as_u16() < 400 {
        return Ok(resp);
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| {
            let t = String::from_utf8_lossy(&body).trim().to_string();
            if t.is_empty() {
                status.canonical_reason().unwrap_or("error").to_lowercase()
            } else {
                t
            }
        });
    Err(ApiError {
        status: status.as_u16(),
        message,
    }
    .into())
}

pub async fn read_bytes(resp: Response<Incoming>) -> Result<Bytes> {
    Ok(resp.into_body().collect().await?.to_bytes())
}

pub async fn read_json(resp: Response<Incoming>) -> Result<Value> {
    let b = read_bytes(resp).await?;
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_slice(&b)?)
}

/// Calls `f` for every complete line of a streamed body (events, pull progress).
pub async fn for_each_line(
    resp: Response<Incoming>,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame?.into_data() {
            buf.extend_from_slice(&d);
            while let Some(p) = buf.iter().position(|&c| c == b'\n') {
                let line: Vec<u8> = buf.drain(..=p).collect();
                f(&line[..line.len() - 1])?;
            }
        }
    }
    if !buf.is_empty() {
        f(&buf)?;
    }
    Ok(())
}

/// Copies a streamed body into a writer.
pub async fn copy_body<W: tokio::io::AsyncWrite + Unpin>(
    resp: Response<Incoming>,
    w: &mut W,
) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame?.into_data() {
            w.write_all(&d).await?;
        }
    }
    w.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(Some("1.50")), "1.45");
        assert_eq!(negotiate(Some("1.41")), "1.41");
        assert_eq!(negotiate(None), "1.45");
        assert_eq!(negotiate(Some("junk")), "1.45");
    }

    #[test]
    fn query_building() {
        assert_eq!(
            query("/x", &[("a", "1".into()), ("b", "".into())]),
            "/x?a=1"
        );
        assert_eq!(enc("a b/{\"c\"}"), "a%20b%2F%7B%22c%22%7D");
        assert_eq!(query("/x", &[]), "/x");
    }

    #[test]
    fn hosts() {
        assert!(Client::new("unix:///run/x.sock").is_ok());
        assert!(Client::new("tcp://1.2.3.4:2375").is_ok());
        assert!(Client::new("bogus://x").is_err());
    }

    #[test]
    fn tls_server_names() {
        assert!(matches!(
            server_name("127.0.0.1:2376").unwrap(),
            rustls_pki_types::ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:2376").unwrap(),
            rustls_pki_types::ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("example.com:2376").unwrap(),
            rustls_pki_types::ServerName::DnsName(_)
        ));
    }
}
