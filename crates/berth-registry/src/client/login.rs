//! `docker login`: credentials checked against the registry (`POST /auth`).

use hyper::Request;

use super::auth::{authorize, AuthConfig, Challenge};
use super::config::RegistryConfig;
use super::http::{self, Tls};
use super::RegistryError;

/// The registry a login's server address names (`https://index.docker.io/v1/` → docker.io).
pub fn registry_of(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or("");
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

/// Checks `auth` against its registry; Ok is docker's "Login Succeeded".
pub async fn login(cfg: &RegistryConfig, auth: &AuthConfig) -> Result<(), RegistryError> {
    let domain = registry_of(&auth.serveraddress);
    let mut last = None;
    for ep in cfg.endpoints(&domain) {
        let tls = Tls::for_host(&cfg.certs_dir, &ep.host);
        let url = format!("{}/v2/", ep.base);
        let get = |authorization: Option<String>| {
            let mut r = Request::get(&url);
            if let Some(a) = authorization {
                r = r.header("authorization", a);
            }
            r.body(http::empty())
                .map_err(|e| RegistryError::InvalidArgument(format!("{url}: {e}")))
        };
        let resp = match http::send(&tls, ep.verify_tls, get(None)?).await {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        if resp.status().is_success() {
            return Ok(());
        }
        let challenge = Challenge::of(resp.headers());
        let status = resp.status();
        let Some(c) = challenge else {
            return Err(RegistryError::Registry(format!(
                "login attempt to {url} failed with status: {status}"
            )));
        };
        let authorization = authorize(&tls, ep.verify_tls, &c, &[], auth).await?;
        if matches!(c, Challenge::Bearer { .. }) {
            // The token realm took the credentials.
            return Ok(());
        }
        let resp = http::send(&tls, ep.verify_tls, get(authorization)?).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let s = resp.status();
        let reason = s.canonical_reason().unwrap_or("");
        return Err(RegistryError::Unauthorized(format!(
            "login attempt to {url} failed with status: {} {reason}",
            s.as_u16()
        )));
    }
    Err(last.unwrap_or_else(|| RegistryError::Connect {
        what: domain,
        message: "no endpoint".into(),
    }))
}
