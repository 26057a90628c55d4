//! Building responses: empty, JSON, errors, and file bodies streamed from disk.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

use crate::server::error::ApiError;

pub type Body = http_body_util::combinators::BoxBody<Bytes, io::Error>;

/// Bytes read from disk per frame when streaming a blob.
const READ_CHUNK: usize = 256 << 10;

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    bytes(
        status,
        "application/json",
        serde_json::to_vec(value).expect("json serialises"),
    )
}

pub fn bytes(status: StatusCode, content_type: &str, data: Vec<u8>) -> Response<Body> {
    let len = data.len();
    let mut r = Response::new(full(data));
    *r.status_mut() = status;
    set(&mut r, header::CONTENT_TYPE, content_type);
    set(&mut r, header::CONTENT_LENGTH, &len.to_string());
    r
}

pub fn error(e: &ApiError) -> Response<Body> {
    let body = e.body();
    bytes(
        e.code.status(),
        "application/json; charset=utf-8",
        body.into_bytes(),
    )
}

/// Sets a header; values made here are always valid header text.
pub fn set<K: header::IntoHeaderName>(r: &mut Response<Body>, name: K, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// A body streaming `len` bytes of a file from `offset`, read on a blocking thread in
/// large chunks ahead of the network.
pub fn file_body(path: PathBuf, offset: u64, len: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let run = || -> io::Result<()> {
            let mut f = fs::File::open(&path)?;
            f.seek(SeekFrom::Start(offset))?;
            let mut left = len;
            while left > 0 {
                let want = left.min(READ_CHUNK as u64) as usize;
                let mut buf = vec![0u8; want];
                f.read_exact(&mut buf)?;
                left -= want as u64;
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        };
        if let Err(e) = run() {
            let _ = tx.blocking_send(Err(io::Error::new(
                e.kind(),
                format!("reading {path:?}: {e}"),
            )));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map(Frame::data), rx))
    });
    StreamBody::new(stream).boxed()
}
