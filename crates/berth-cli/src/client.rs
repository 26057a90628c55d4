//! Engine API client over HTTP/1.1 on unix or tcp sockets.

use std::fmt;
use std::io;
use std::pin::Pin;
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

/// A plain duplex stream: unix or tcp.
pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
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
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

pub struct Client {
    host: String,
    addr: Addr,
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
                format!("{p}:2375")
            })
        } else if host.starts_with('/') {
            Addr::Unix(host.to_string())
        } else {
            return Err(anyhow!("unable to parse docker host `{host}`"));
        };
        Ok(Client {
            host: host.to_string(),
            addr,
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
        r.map_err(|_| ConnectError(self.host.clone()).into())
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
        let io = TokioIo::new(self.dial().await?);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
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
        Ok(sender.send_request(req.body(body)?).await?)
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
}
