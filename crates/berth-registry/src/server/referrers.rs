//! `GET /v2/<name>/referrers/<digest>`: the manifests whose `subject` is a digest, as an
//! OCI image index, optionally filtered by `artifactType`.

use std::collections::HashMap;

use http::{Response, StatusCode};

use crate::server::digest::Digest;
use crate::server::error::{ApiError, Code};
use crate::server::manifests::OCI_INDEX;
use crate::server::response::{self, Body};
use crate::server::{Registry, Rejection};

pub fn list(
    reg: &Registry,
    name: &str,
    digest: &str,
    q: &HashMap<String, String>,
) -> Result<Response<Body>, Rejection> {
    let subject =
        Digest::parse(digest).map_err(|e| ApiError::new(Code::DigestInvalid, e.to_string()))?;
    let filter = q.get("artifactType");
    let mut manifests = Vec::new();
    for raw in reg.storage.referrers(name, &subject)? {
        // A descriptor being rewritten is skipped rather than served half.
        let Ok(desc) = serde_json::from_slice::<serde_json::Value>(&raw) else {
            continue;
        };
        if let Some(want) = filter {
            if desc["artifactType"].as_str() != Some(want.as_str()) {
                continue;
            }
        }
        manifests.push(desc);
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    });
    let data = serde_json::to_vec(&index).expect("json serialises");
    let mut r = response::bytes(StatusCode::OK, OCI_INDEX, data);
    if filter.is_some() {
        response::set(&mut r, "OCI-Filters-Applied", "artifactType");
    }
    Ok(r)
}
