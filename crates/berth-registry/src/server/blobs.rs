//! Blob endpoints: HEAD/GET (with `Range`), DELETE, and the upload protocol (monolithic
//! POST, POST+PUT, chunked PATCH, status, cancel, cross-repository mount).

use std::collections::HashMap;

use http::{header, HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::server::digest::Digest;
use crate::server::error::{ApiError, Code};
use crate::server::names::valid_name;
use crate::server::response::{self, Body};
use crate::server::{Registry, Rejection};

type Answer = Result<Response<Body>, Rejection>;

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|e| ApiError::new(Code::DigestInvalid, e.to_string()))
}

fn blob_unknown(d: &Digest) -> ApiError {
    ApiError::new(Code::BlobUnknown, format!("blob unknown to registry: {d}"))
        .with_detail(serde_json::json!({ "digest": d.to_string() }))
}

/// A byte range of a `Range: bytes=...` header, resolved against the blob's size.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 {
                return None;
            }
            (size.saturating_sub(n), size.checked_sub(1)?)
        }
        (s, "") => (s.parse().ok()?, size.checked_sub(1)?),
        (s, e) => (
            s.parse().ok()?,
            e.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && start < size).then_some((start, end))
}

pub fn get(reg: &Registry, name: &str, digest: &str, req: &Request<Incoming>) -> Answer {
    let d = parse_digest(digest)?;
    let Some(size) = reg.storage.has_layer(name, &d)? else {
        return Err(blob_unknown(&d).into());
    };
    let head = req.method() == http::Method::HEAD;
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(r) => match parse_range(r, size) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
            None => {
                let mut resp = response::error(&ApiError::new(
                    Code::RangeInvalid,
                    format!("range {r:?} is not satisfiable for blob {d} of {size} bytes"),
                ));
                response::set(&mut resp, header::CONTENT_RANGE, &format!("bytes */{size}"));
                return Ok(resp);
            }
        },
    };
    let body = if head || len == 0 {
        response::full(bytes::Bytes::new())
    } else {
        response::file_body(reg.storage.blob_path(&d), start, len)
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    response::set(&mut r, header::CONTENT_LENGTH, &len.to_string());
    response::set(&mut r, header::CONTENT_TYPE, "application/octet-stream");
    response::set(&mut r, "Docker-Content-Digest", &d.to_string());
    response::set(&mut r, header::ETAG, &format!("\"{d}\""));
    response::set(&mut r, header::ACCEPT_RANGES, "bytes");
    response::set(&mut r, header::CACHE_CONTROL, "max-age=31536000");
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{size}", start + len - 1);
        response::set(&mut r, header::CONTENT_RANGE, &range);
    }
    Ok(r)
}

/// Unlinks a blob from a repository; the content goes at the next `gc`.
pub fn delete(reg: &Registry, name: &str, digest: &str) -> Answer {
    let d = parse_digest(digest)?;
    if !reg.storage.unlink_layer(name, &d)? {
        return Err(blob_unknown(&d).into());
    }
    let mut r = response::empty(StatusCode::ACCEPTED);
    response::set(&mut r, "Docker-Content-Digest", &d.to_string());
    Ok(r)
}

fn created(name: &str, d: &Digest) -> Response<Body> {
    let mut r = response::empty(StatusCode::CREATED);
    response::set(&mut r, header::LOCATION, &format!("/v2/{name}/blobs/{d}"));
    response::set(&mut r, "Docker-Content-Digest", &d.to_string());
    r
}

/// The answer telling where an upload continues and how much of it is stored.
fn in_progress(status: StatusCode, name: &str, uuid: &str, size: u64) -> Response<Body> {
    let mut r = response::empty(status);
    response::set(
        &mut r,
        header::LOCATION,
        &format!("/v2/{name}/blobs/uploads/{uuid}"),
    );
    // distribution sends "0-0" for an empty upload too.
    response::set(
        &mut r,
        header::RANGE,
        &format!("0-{}", size.saturating_sub(1)),
    );
    response::set(&mut r, "Docker-Upload-UUID", uuid);
    r
}

/// POST `/blobs/uploads/`: mount from another repository, a monolithic upload with
/// `?digest=`, or the start of a session.
pub async fn start_upload(
    reg: &Registry,
    name: &str,
    q: &HashMap<String, String>,
    req: Request<Incoming>,
    may_mount: impl Fn(&str) -> bool,
) -> Answer {
    if let (Some(mount), Some(from)) = (q.get("mount"), q.get("from")) {
        let d = parse_digest(mount)?;
        if valid_name(from) && may_mount(from) && reg.storage.has_layer(from, &d)?.is_some() {
            reg.storage.link_layer(name, &d)?;
            reg.storage.touch(&reg.storage.blob_path(&d));
            return Ok(created(name, &d));
        }
        // Not mountable: the client gets an upload session and pushes the blob.
    }
    let uuid = reg.uploads.start(name)?;
    if let Some(digest) = q.get("digest") {
        let d = parse_digest(digest)?;
        reg.uploads.finish(name, &uuid, req.into_body(), &d).await?;
        return Ok(created(name, &d));
    }
    Ok(in_progress(StatusCode::ACCEPTED, name, &uuid, 0))
}

pub fn upload_status(reg: &Registry, name: &str, uuid: &str) -> Answer {
    let size = reg.uploads.size(name, uuid)?;
    Ok(in_progress(StatusCode::NO_CONTENT, name, uuid, size))
}

/// The start offset of a `Content-Range: <start>-<end>` header of a PATCH.
fn content_range_start(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let bad = || ApiError::new(Code::RangeInvalid, format!("invalid Content-Range {v:?}"));
    let s = v.to_str().map_err(|_| bad())?;
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let start: u64 = a.parse().map_err(|_| bad())?;
    let end: u64 = b
        .split('/')
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| bad())?;
    if end < start {
        return Err(bad());
    }
    Ok(Some(start))
}

pub async fn upload_chunk(
    reg: &Registry,
    name: &str,
    uuid: &str,
    req: Request<Incoming>,
) -> Answer {
    let start = match content_range_start(req.headers()) {
        Ok(s) => s,
        Err(e) => return Ok(range_refused(reg, name, uuid, e)),
    };
    match reg.uploads.append(name, uuid, req.into_body(), start).await {
        Ok(size) => Ok(in_progress(StatusCode::ACCEPTED, name, uuid, size)),
        Err(e) if e.code == Code::RangeInvalid => Ok(range_refused(reg, name, uuid, e)),
        Err(e) => Err(e.into()),
    }
}

/// A 416 that still tells the client where the upload stands, so it can resume.
fn range_refused(reg: &Registry, name: &str, uuid: &str, e: ApiError) -> Response<Body> {
    let mut r = response::error(&e);
    if let Ok(size) = reg.uploads.size(name, uuid) {
        let loc = in_progress(StatusCode::OK, name, uuid, size);
        for h in [header::LOCATION, header::RANGE] {
            if let Some(v) = loc.headers().get(&h) {
                r.headers_mut().insert(h, v.clone());
            }
        }
        response::set(&mut r, "Docker-Upload-UUID", uuid);
    }
    r
}

pub async fn upload_finish(
    reg: &Registry,
    name: &str,
    uuid: &str,
    q: &HashMap<String, String>,
    req: Request<Incoming>,
) -> Answer {
    let Some(digest) = q.get("digest") else {
        return Err(ApiError::new(
            Code::DigestInvalid,
            format!("upload {uuid}: the digest query parameter is required to finish an upload"),
        )
        .into());
    };
    let d = parse_digest(digest)?;
    reg.uploads.finish(name, uuid, req.into_body(), &d).await?;
    Ok(created(name, &d))
}

pub async fn upload_cancel(reg: &Registry, name: &str, uuid: &str) -> Answer {
    reg.uploads.cancel(name, uuid).await?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-2", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
