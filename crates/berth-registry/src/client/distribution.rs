//! `GET /distribution/{name}/json` (what `docker manifest`/`buildx` ask before a pull) and
//! `GET /images/search` (the registry's v1 search API, where it has one).

use berth_image::reference::Reference;
use hyper::{Method, Request};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::auth::{encode, AuthConfig};
use super::config::RegistryConfig;
use super::http::{self, read_body, Tls};
use super::manifest::{self, Fetched};
use super::pull::{get_manifest, get_small_blob};
use super::session::Repository;
use super::RegistryError;

/// The descriptor of the manifest `r` names, and the platforms it offers.
pub async fn inspect(
    cfg: &RegistryConfig,
    r: &Reference,
    auth: &AuthConfig,
) -> Result<Value, RegistryError> {
    let r = r.clone().with_default_tag();
    let repo = Repository::open(cfg, &r.domain, &r.path, "pull", &[], auth).await?;
    let which = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_default();
    let (body, ctype) = get_manifest(&repo, &r, &which).await?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let fetched = manifest::parse(&body, &ctype, &r.familiar_string())?;
    let media: String = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(String::from))
        .unwrap_or_else(|| ctype.split(';').next().unwrap_or("").trim().to_string());
    let platforms: Vec<Value> = match fetched {
        Fetched::Index(list) => list
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .map(|p| json!(p))
            .collect(),
        Fetched::Image { config, .. } => {
            let cfg_bytes = get_small_blob(&repo, &config).await?;
            let c: Value = serde_json::from_slice(&cfg_bytes).unwrap_or(Value::Null);
            let mut p = json!({
                "architecture": c["architecture"].as_str().unwrap_or(""),
                "os": c["os"].as_str().unwrap_or(""),
            });
            if let Some(v) = c["variant"].as_str() {
                p["variant"] = json!(v);
            }
            vec![p]
        }
    };
    Ok(json!({
        "Descriptor": {"mediaType": media, "digest": digest, "size": body.len()},
        "Platforms": platforms,
    }))
}

/// The registry's v1 search: `term` may name a registry (`host:port/term`).
pub async fn search(
    cfg: &RegistryConfig,
    term: &str,
    limit: usize,
    auth: &AuthConfig,
) -> Result<Vec<Value>, RegistryError> {
    let (domain, q) = match term.split_once('/') {
        Some((h, rest)) if h.contains('.') || h.contains(':') || h == "localhost" => {
            (h.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), term.to_string()),
    };
    let mut last = None;
    for ep in cfg.endpoints(&domain) {
        // Docker Hub's search lives on index.docker.io.
        let base = if ep.host == super::config::DOCKER_HUB_REGISTRY {
            "https://index.docker.io".to_string()
        } else {
            ep.base.clone()
        };
        let tls = Tls::for_host(&cfg.certs_dir, &ep.host);
        let url = format!("{base}/v1/search?q={}&n={limit}", encode(&q));
        let mut req = Request::builder().method(Method::GET).uri(&url);
        if !auth.username.is_empty() {
            use base64::Engine;
            let raw = format!("{}:{}", auth.username, auth.password);
            req = req.header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ),
            );
        }
        let req = req
            .body(http::empty())
            .map_err(|e| RegistryError::InvalidArgument(format!("{url}: {e}")))?;
        let resp = match http::send(&tls, ep.verify_tls, req).await {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let status = resp.status();
        if !status.is_success() {
            return Err(RegistryError::Registry(format!(
                "search is not supported by registry {domain}: GET /v1/search answered {status}"
            )));
        }
        let body = read_body(resp, 16 << 20).await?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            RegistryError::Registry(format!("search {term} at {domain}: invalid JSON: {e}"))
        })?;
        let prefix = if domain == "docker.io" {
            String::new()
        } else {
            format!("{domain}/")
        };
        return Ok(v["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                json!({
                    "name": format!("{prefix}{}", r["name"].as_str().unwrap_or("")),
                    "description": r["description"].as_str().unwrap_or(""),
                    "star_count": r["star_count"].as_u64().unwrap_or(0),
                    "is_official": r["is_official"].as_bool().unwrap_or(false),
                    "is_automated": r["is_automated"].as_bool().unwrap_or(false),
                })
            })
            .collect());
    }
    Err(last.unwrap_or_else(|| RegistryError::Connect {
        what: domain,
        message: "no endpoint".into(),
    }))
}
