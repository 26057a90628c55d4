//! Bridges between HTTP bodies and the blocking readers/writers of tar and log code, and
//! the hijacked (upgraded) connections of attach and exec.

use std::io::{Read, Write};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::listen::ConnFd;

/// A response body fed by a channel of chunks.
pub fn channel_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Body::from_stream(stream)
}

/// A `std::io::Write` that sends what is written into a body channel (for blocking code).
pub struct BodyWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl BodyWriter {
    pub fn new(tx: mpsc::Sender<Bytes>) -> BodyWriter {
        BodyWriter {
            tx,
            buf: Vec::with_capacity(64 * 1024),
        }
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            self.tx
                .blocking_send(chunk)
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        }
        Ok(())
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Runs blocking `f` with a writer whose output becomes the response body.
pub fn blocking_body<F>(f: F) -> Body
where
    F: FnOnce(&mut BodyWriter) -> std::io::Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let mut w = BodyWriter::new(tx);
        if let Err(e) = f(&mut w) {
            tracing::warn!("streaming body: {e}");
        }
    });
    channel_body(rx)
}

/// A `std::io::Read` over a request body (for blocking code: tar extraction, import, load).
pub struct BodyReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl BodyReader {
    pub fn new(body: Body) -> BodyReader {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(c) => {
                        if tx.send(c).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

/// Reads a whole (small) request body.
pub async fn read_all(body: Body) -> Result<Bytes, String> {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string())
}

/// Waits (up to a second) until the client has read all that was sent on a unix socket: the
/// response head of a hijack. docker-py reads that head through a buffered reader and then
/// takes the raw socket, so output sent along with the head would be lost to it.
async fn head_read(fd: std::os::fd::RawFd) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let mut spins = 0u32;
    loop {
        let mut unread: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int; the fd is the live connection that
        // this hijack holds (the upgraded stream), and a failed call only ends the wait.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut unread) };
        if rc != 0 || unread <= 0 || std::time::Instant::now() > deadline {
            return;
        }
        // The client usually reads the head within microseconds: yield before sleeping.
        spins += 1;
        if spins < 100 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

pub type Conn = (
    Box<dyn AsyncRead + Send + Unpin>,
    Box<dyn AsyncWrite + Send + Unpin>,
);

/// Takes over the connection as dockerd does for attach/exec: `101 UPGRADED` when the
/// client asked for an upgrade, else a `200` whose body carries the output (no stdin).
/// `f` gets the connection's read and write halves.
pub fn hijack<F, Fut>(mut req: Request, content_type: &'static str, f: F) -> Response
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let wants_upgrade = req.headers().contains_key("upgrade");
    if wants_upgrade {
        let fd = req
            .extensions()
            .get::<ConnectInfo<ConnFd>>()
            .and_then(|c| c.0 .0);
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    if let Some(fd) = fd {
                        head_read(fd).await;
                    }
                    let io = hyper_util::rt::TokioIo::new(upgraded);
                    let (r, w) = tokio::io::split(io);
                    f((Box::new(r), Box::new(w))).await;
                }
                Err(e) => tracing::warn!("hijack: {e}"),
            }
        });
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = resp.headers_mut();
        h.insert("connection", HeaderValue::from_static("Upgrade"));
        h.insert("upgrade", HeaderValue::from_static("tcp"));
        h.insert("content-type", HeaderValue::from_static(content_type));
        return resp;
    }
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        f((Box::new(tokio::io::empty()), Box::new(ours))).await;
    });
    let stream = futures_util::stream::unfold(theirs, |mut r| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 32 * 1024];
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), r))
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    resp
}
