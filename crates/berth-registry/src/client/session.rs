//! A repository on a registry, reached at the first endpoint that answers, with the
//! authorization its challenge asked for.

use std::sync::Mutex;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use super::auth::{authorize, AuthConfig, Challenge};
use super::config::{Endpoint, RegistryConfig};
use super::http::{self, Body, Tls};
use super::RegistryError;

pub struct Repository {
    pub endpoint: Endpoint,
    /// The repository's path on the registry (`library/busybox`).
    pub name: String,
    tls: Tls,
    scopes: Vec<String>,
    auth: AuthConfig,
    authorization: Mutex<Option<String>>,
}

/// What a registry answered to `GET /v2/`.
struct Ping {
    challenge: Option<Challenge>,
}

async fn ping(tls: &Tls, ep: &Endpoint) -> Result<Ping, RegistryError> {
    let url = format!("{}/v2/", ep.base);
    let req = Request::get(&url)
        .body(http::empty())
        .map_err(|e| RegistryError::InvalidArgument(format!("{url}: {e}")))?;
    let resp = http::send(tls, ep.verify_tls, req).await?;
    let challenge = Challenge::of(resp.headers());
    let status = resp.status();
    if status.is_success() || status == 401 {
        return Ok(Ping { challenge });
    }
    Err(RegistryError::Connect {
        what: format!("Get \"{url}\""),
        message: format!("not a registry (status {status})"),
    })
}

impl Repository {
    /// Finds the repository `name` of registry `domain`; `actions` is `pull` or `pull,push`,
    /// `also` more scopes the token must carry (the source of a blob mount).
    pub async fn open(
        cfg: &RegistryConfig,
        domain: &str,
        name: &str,
        actions: &str,
        also: &[String],
        auth: &AuthConfig,
    ) -> Result<Repository, RegistryError> {
        let mut last = None;
        for ep in cfg.endpoints(domain) {
            let tls = Tls::for_host(&cfg.certs_dir, &ep.host);
            match ping(&tls, &ep).await {
                Ok(p) => {
                    let mut scopes = vec![format!("repository:{name}:{actions}")];
                    scopes.extend(also.iter().cloned());
                    let authorization = match &p.challenge {
                        Some(c) => authorize(&tls, ep.verify_tls, c, &scopes, auth).await?,
                        None => None,
                    };
                    return Ok(Repository {
                        endpoint: ep,
                        name: name.to_string(),
                        tls,
                        scopes,
                        auth: auth.clone(),
                        authorization: Mutex::new(authorization),
                    });
                }
                Err(e) if e.is_connect() => {
                    tracing::debug!(endpoint = %ep.base, error = %e, "registry endpoint failed");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Connect {
            what: domain.to_string(),
            message: "no endpoint".into(),
        }))
    }

    /// `<base>/v2/<name>/<rest>`
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{}", self.endpoint.base, self.name, rest)
    }

    /// The registry in the form references name it (`127.0.0.1:5000`).
    pub fn host(&self) -> &str {
        &self.endpoint.host
    }

    fn build(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Request<Body>, RegistryError> {
        let mut r = Request::builder().method(method.clone()).uri(url);
        if let Some(a) = self
            .authorization
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            r = r.header("authorization", a);
        }
        for (k, v) in headers {
            r = r.header(*k, v.as_str());
        }
        r.body(body)
            .map_err(|e| RegistryError::InvalidArgument(format!("{method} {url}: {e}")))
    }

    /// Sends a request with a small (or no) body; a 401 with a challenge is answered once
    /// with new authorization and the request sent again.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<Response<Incoming>, RegistryError> {
        let make = |b: &Option<Bytes>| match b {
            Some(b) => http::full(b.clone()),
            None => http::empty(),
        };
        let req = self.build(&method, url, headers, make(&body))?;
        let resp = http::send(&self.tls, self.endpoint.verify_tls, req).await?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        let challenge = Challenge::of(resp.headers());
        let Some(c) = challenge else { return Ok(resp) };
        let Some(a) = authorize(
            &self.tls,
            self.endpoint.verify_tls,
            &c,
            &self.scopes,
            &self.auth,
        )
        .await?
        else {
            return Ok(resp);
        };
        *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) = Some(a);
        let req = self.build(&method, url, headers, make(&body))?;
        http::send(&self.tls, self.endpoint.verify_tls, req).await
    }

    /// Sends a request with a streamed body (not repeatable: the session is authorized by
    /// the requests before it).
    pub async fn send_stream(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Response<Incoming>, RegistryError> {
        let req = self.build(&method, url, headers, body)?;
        http::send(&self.tls, self.endpoint.verify_tls, req).await
    }

    pub fn has_credentials(&self) -> bool {
        self.auth.has_credentials()
    }
}

/// The error of an unexpected answer, with the registry's own words when it gave some.
pub async fn unexpected(what: &str, resp: Response<Incoming>) -> RegistryError {
    let status = resp.status();
    let body = http::read_body(resp, 1 << 16).await.unwrap_or_default();
    let msg = super::errors::message(&body)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    match status.as_u16() {
        401 => RegistryError::Unauthorized(format!("{what}: unauthorized: {msg}")),
        _ => RegistryError::Registry(format!("{what}: status {status}: {msg}")),
    }
}
