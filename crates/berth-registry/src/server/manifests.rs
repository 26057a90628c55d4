//! Manifest endpoints: PUT (checked, size-limited), GET/HEAD with content negotiation,
//! DELETE by tag or digest. Manifests are stored as blobs; the repository records each
//! with the media type it was pushed with, which is the `Content-Type` it is served with.

use http::{header, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;

use crate::server::digest::Digest;
use crate::server::error::{ApiError, Code};
use crate::server::names::Reference;
use crate::server::response::{self, Body};
use crate::server::{Registry, Rejection};

type Answer = Result<Response<Body>, Rejection>;

/// Largest manifest accepted (distribution 2.8's and containerd's limit).
pub const MAX_MANIFEST: usize = 4 << 20;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];
/// Layers that clients fetch from elsewhere (`urls`), so they need not be in the registry.
const FOREIGN_LAYERS: &[&str] = &[
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub urls: Vec<String>,
    pub platform: Option<Platform>,
}

#[derive(Debug, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
}

/// The fields of any of the four manifest kinds that the registry looks at.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: Option<i64>,
    pub media_type: Option<String>,
    pub artifact_type: Option<String>,
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    pub manifests: Option<Vec<Descriptor>>,
    pub subject: Option<Descriptor>,
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Manifest {
    pub fn parse(data: &[u8]) -> Result<Manifest, ApiError> {
        serde_json::from_slice(data)
            .map_err(|e| ApiError::new(Code::ManifestInvalid, format!("manifest invalid: {e}")))
    }

    pub fn is_index(media_type: &str) -> bool {
        media_type == DOCKER_LIST || media_type == OCI_INDEX
    }

    /// The blobs (config, layers) a manifest needs, except foreign layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config.iter().chain(
            self.layers
                .iter()
                .filter(|l| !FOREIGN_LAYERS.contains(&l.media_type.as_str()) || l.urls.is_empty()),
        )
    }

    pub fn children(&self) -> impl Iterator<Item = &Descriptor> {
        self.manifests.iter().flatten()
    }
}

fn invalid(msg: String) -> ApiError {
    ApiError::new(Code::ManifestInvalid, msg)
}

fn unknown(name: &str, reference: &str) -> ApiError {
    ApiError::new(
        Code::ManifestUnknown,
        format!("manifest unknown: {name}:{reference}"),
    )
}

/// The media type a pushed manifest is stored under: the `Content-Type`, or the body's
/// `mediaType`, or (OCI allows leaving it out) what its fields say it is.
fn media_type_of(content_type: Option<&str>, m: &Manifest) -> Result<String, ApiError> {
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty() && *c != "application/json" && *c != "application/octet-stream");
    if m.schema_version == Some(1)
        || header.is_some_and(|h| DOCKER_SCHEMA1.contains(&h))
        || m.media_type
            .as_deref()
            .is_some_and(|h| DOCKER_SCHEMA1.contains(&h))
    {
        return Err(invalid("schema 1 manifests are not supported".into()));
    }
    if let (Some(h), Some(b)) = (header, m.media_type.as_deref()) {
        if h != b {
            return Err(invalid(format!(
                "manifest invalid: Content-Type {h} differs from the mediaType {b} of the manifest"
            )));
        }
    }
    let t = match header.or(m.media_type.as_deref()) {
        Some(t) => t.to_string(),
        None if m.manifests.is_some() => OCI_INDEX.to_string(),
        None if m.config.is_some() => OCI_MANIFEST.to_string(),
        None => {
            return Err(invalid(
                "manifest invalid: no media type, config or manifests".into(),
            ))
        }
    };
    match t.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST if m.config.is_none() => {
            Err(invalid(format!("manifest invalid: {t} without a config")))
        }
        DOCKER_LIST | OCI_INDEX if m.manifests.is_none() => {
            Err(invalid(format!("manifest invalid: {t} without manifests")))
        }
        DOCKER_MANIFEST | OCI_MANIFEST | DOCKER_LIST | OCI_INDEX => Ok(t),
        _ => Err(invalid(format!(
            "manifest invalid: unsupported media type {t}"
        ))),
    }
}

async fn read_limited(req: Request<Incoming>) -> Result<Vec<u8>, ApiError> {
    let too_big = |n: u64| {
        ApiError::new(
            Code::ManifestTooBig,
            format!("manifest too big: {n} bytes exceed the limit of {MAX_MANIFEST} bytes"),
        )
    };
    // Read up to the limit before refusing, rather than on Content-Length alone: a client
    // still sending when the answer comes would see a reset connection, not the error.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut body = req.into_body();
    let mut data = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| invalid(format!("reading the manifest: {e}")))?;
        if let Ok(chunk) = frame.into_data() {
            data.extend_from_slice(&chunk);
            if data.len() > MAX_MANIFEST {
                return Err(too_big(declared.unwrap_or(data.len() as u64)));
            }
        }
    }
    Ok(data)
}

fn digest_of(d: &Descriptor) -> Result<Digest, ApiError> {
    Digest::parse(&d.digest).map_err(|e| invalid(format!("manifest invalid: {e}")))
}

fn blob_missing(kind: &str, d: &Digest) -> ApiError {
    ApiError::new(
        Code::ManifestBlobUnknown,
        format!("manifest references a {kind} unknown to the registry: {d}"),
    )
    .with_detail(serde_json::json!({ "digest": d.to_string() }))
}

pub async fn put(reg: &Registry, name: &str, reference: &str, req: Request<Incoming>) -> Answer {
    let reference = Reference::parse(reference)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let data = read_limited(req).await?;
    let digest = Digest::sha256_of(&data);
    if let Reference::Digest(want) = &reference {
        if *want != digest {
            return Err(ApiError::new(
                Code::DigestInvalid,
                format!("provided digest {want} did not match the manifest's content ({digest})"),
            )
            .into());
        }
    }
    let m = Manifest::parse(&data)?;
    let media_type = media_type_of(content_type.as_deref(), &m)?;
    if Manifest::is_index(&media_type) {
        for c in m.children() {
            let d = digest_of(c)?;
            if reg.storage.manifest_media_type(name, &d)?.is_none() {
                return Err(blob_missing("manifest", &d).into());
            }
        }
    } else {
        for b in m.blobs() {
            let d = digest_of(b)?;
            let Some(size) = reg.storage.has_layer(name, &d)? else {
                return Err(blob_missing("blob", &d).into());
            };
            if b.size >= 0 && b.size as u64 != size {
                return Err(invalid(format!(
                    "manifest invalid: descriptor of {d} says {} bytes, the blob has {size}",
                    b.size
                ))
                .into());
            }
        }
    }
    // Referenced blobs count as just used, so a `gc` running now keeps them even if no
    // manifest it has read refers to them.
    for b in m.blobs() {
        if let Ok(d) = Digest::parse(&b.digest) {
            reg.storage.touch(&reg.storage.blob_path(&d));
        }
    }
    reg.storage.put_small_blob(&data)?;
    reg.storage.link_manifest(name, &digest, &media_type)?;
    if let Reference::Tag(tag) = &reference {
        reg.storage.set_tag(name, tag, &digest)?;
    }
    let mut r = response::empty(StatusCode::CREATED);
    if let Some(subject) = &m.subject {
        let s = digest_of(subject)?;
        let desc = referrer_descriptor(&m, &media_type, &digest, data.len());
        reg.storage
            .add_referrer(name, &s, &digest, desc.to_string().as_bytes())?;
        response::set(&mut r, "OCI-Subject", &s.to_string());
    }
    response::set(
        &mut r,
        header::LOCATION,
        &format!("/v2/{name}/manifests/{digest}"),
    );
    response::set(&mut r, "Docker-Content-Digest", &digest.to_string());
    Ok(r)
}

/// The descriptor a manifest has in its subject's referrers list: its `artifactType`, or
/// for an image manifest without one its config's media type, and its annotations.
fn referrer_descriptor(
    m: &Manifest,
    media_type: &str,
    d: &Digest,
    size: usize,
) -> serde_json::Value {
    let mut desc =
        serde_json::json!({ "mediaType": media_type, "digest": d.to_string(), "size": size });
    let artifact = m
        .artifact_type
        .clone()
        .or_else(|| m.config.as_ref().map(|c| c.media_type.clone()));
    if let Some(a) = artifact {
        desc["artifactType"] = a.into();
    }
    if let Some(a) = &m.annotations {
        desc["annotations"] = serde_json::Value::Object(a.clone());
    }
    desc
}

/// The media types an `Accept` header lists (without parameters).
fn accepted(req: &Request<Incoming>) -> Vec<String> {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn resolve(reg: &Registry, name: &str, reference: &Reference) -> Result<Option<Digest>, Rejection> {
    Ok(match reference {
        Reference::Tag(t) => reg.storage.tag(name, t)?,
        Reference::Digest(d) => Some(d.clone()),
    })
}

pub fn get(reg: &Registry, name: &str, reference: &str, req: &Request<Incoming>) -> Answer {
    let parsed = Reference::parse(reference)?;
    let Some(mut digest) = resolve(reg, name, &parsed)? else {
        return Err(unknown(name, reference).into());
    };
    let Some(mut media_type) = reg.storage.manifest_media_type(name, &digest)? else {
        return Err(unknown(name, reference).into());
    };
    let accept = accepted(req);
    let takes = |t: &str| accept.is_empty() || accept.iter().any(|a| a == t || a == "*/*");
    if !takes(&media_type) {
        // As distribution: a client that cannot read an index gets its linux/amd64 image.
        let m = reg
            .storage
            .read_blob(&digest)?
            .map(|b| Manifest::parse(&b))
            .transpose()?;
        let child = m.as_ref().and_then(|m| {
            m.children().find(|c| {
                c.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
            })
        });
        let child = match child {
            Some(c) if Manifest::is_index(&media_type) && takes(&c.media_type) => digest_of(c)?,
            _ => {
                return Err(ApiError::new(
                    Code::ManifestUnknown,
                    format!(
                        "manifest unknown: {name}:{reference} is a {media_type}, which the Accept header does not allow"
                    ),
                )
                .into())
            }
        };
        let Some(t) = reg.storage.manifest_media_type(name, &child)? else {
            return Err(unknown(name, &child.to_string()).into());
        };
        digest = child;
        media_type = t;
    }
    let Some(data) = reg.storage.read_blob(&digest)? else {
        return Err(unknown(name, reference).into());
    };
    let len = data.len();
    let mut r = if req.method() == http::Method::HEAD {
        let mut r = response::empty(StatusCode::OK);
        response::set(&mut r, header::CONTENT_TYPE, &media_type);
        r
    } else {
        response::bytes(StatusCode::OK, &media_type, data)
    };
    response::set(&mut r, header::CONTENT_LENGTH, &len.to_string());
    response::set(&mut r, "Docker-Content-Digest", &digest.to_string());
    response::set(&mut r, header::ETAG, &format!("\"{digest}\""));
    Ok(r)
}

/// DELETE by digest removes the manifest, the tags pointing at it and its referrers
/// entry; DELETE by tag removes the tag only.
pub fn delete(reg: &Registry, name: &str, reference: &str) -> Answer {
    match Reference::parse(reference)? {
        Reference::Tag(t) => {
            if !reg.storage.remove_tag(name, &t)? {
                return Err(unknown(name, reference).into());
            }
        }
        Reference::Digest(d) => {
            if reg.storage.manifest_media_type(name, &d)?.is_none() {
                return Err(unknown(name, reference).into());
            }
            if let Some(data) = reg.storage.read_blob(&d)? {
                if let Some(s) = Manifest::parse(&data).ok().and_then(|m| m.subject) {
                    if let Ok(s) = digest_of(&s) {
                        reg.storage.remove_referrer(name, &s, &d)?;
                    }
                }
            }
            for (tag, target) in reg.storage.tags(name)? {
                if target == d {
                    reg.storage.remove_tag(name, &tag)?;
                }
            }
            reg.storage.unlink_manifest(name, &d)?;
        }
    }
    Ok(response::empty(StatusCode::ACCEPTED))
}
