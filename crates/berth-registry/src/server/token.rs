//! Bearer tokens, docker's token protocol: a client refused with
//! `WWW-Authenticate: Bearer realm=...,service=...,scope=...` asks the realm for a token
//! (`GET <realm>?service=&scope=repository:NAME:pull,push`, with basic credentials) and
//! retries with `Authorization: Bearer <token>`.
//!
//! Tokens are JWTs signed with HMAC-SHA256 under a shared secret (`--token-key`), so a
//! separate token server holding the same key can issue them. With `--htpasswd` too, this
//! server is its own token server: it answers on the path of `--token-realm` after
//! checking the credentials, granting the requested actions to any known user.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::server::auth::Auth;
use crate::server::error::{ApiError, Code};
use crate::server::response::{self, Body};
use crate::server::Rejection;

/// Shortest accepted secret: HMAC-SHA256 wants at least 256 bits.
const MIN_KEY: usize = 32;

#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// Where clients get tokens (`https://host:port/token`).
    pub realm: String,
    /// The audience of tokens (`service=` of the challenge).
    pub service: String,
    /// The `iss` of tokens.
    pub issuer: String,
    /// A file holding the shared secret (at least 32 bytes, e.g. `openssl rand -hex 32`).
    pub key: PathBuf,
    /// Lifetime of the tokens this server issues, in seconds.
    pub expiry_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("could not read token key {path:?}: {err}")]
    ReadKey { path: PathBuf, err: std::io::Error },
    #[error("token key {path:?} is too short: {len} bytes, at least {MIN_KEY} needed")]
    ShortKey { path: PathBuf, len: usize },
    #[error("token is malformed")]
    Malformed,
    #[error("token signature is invalid")]
    Signature,
    #[error("token was issued by {0:?}, not by this registry's issuer")]
    Issuer(String),
    #[error("token is for service {0:?}, not this registry's")]
    Audience(String),
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYet,
}

/// One granted scope, as the token's `access` claim holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses `type:name:action,action`; the name is everything between the first and the
    /// last `:`, as a registry-qualified name may hold a port.
    pub fn parse(s: &str) -> Option<Scope> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Some(Scope {
            kind: kind.to_string(),
            name: name.to_string(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<Scope>,
}

pub struct Issuer {
    config: TokenConfig,
    key: hmac::Key,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Clock skew tolerated between a token server and this one.
const LEEWAY: u64 = 60;

impl Issuer {
    pub fn load(config: TokenConfig) -> Result<Issuer, TokenError> {
        let raw = std::fs::read(&config.key).map_err(|err| TokenError::ReadKey {
            path: config.key.clone(),
            err,
        })?;
        let secret = raw.trim_ascii();
        if secret.len() < MIN_KEY {
            return Err(TokenError::ShortKey {
                path: config.key.clone(),
                len: secret.len(),
            });
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        Ok(Issuer { config, key })
    }

    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// The path part of the realm URL, where this server answers token requests.
    pub fn realm_path(&self) -> &str {
        let r = &self.config.realm;
        let after_scheme = r.split_once("://").map_or(r.as_str(), |(_, rest)| rest);
        match after_scheme.find('/') {
            Some(i) => after_scheme[i..].split('?').next().unwrap_or("/"),
            None => "/",
        }
    }

    pub fn issue(&self, subject: &str, access: Vec<Scope>) -> String {
        let t = now();
        let claims = Claims {
            iss: self.config.issuer.clone(),
            sub: subject.to_string(),
            aud: self.config.service.clone(),
            exp: t + self.config.expiry_secs,
            nbf: t.saturating_sub(LEEWAY),
            iat: t,
            jti: format!("{:032x}", rand::random::<u128>()),
            access,
        };
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise"));
        let signed = format!("{header}.{body}");
        let sig = hmac::sign(&self.key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(b), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|x| serde_json::from_slice(&x).ok())
            .ok_or(TokenError::Malformed)?;
        if header["alg"] != "HS256" {
            return Err(TokenError::Signature);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        hmac::verify(&self.key, format!("{h}.{b}").as_bytes(), &sig)
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(b)
            .ok()
            .and_then(|x| serde_json::from_slice(&x).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.iss != self.config.issuer {
            return Err(TokenError::Issuer(claims.iss));
        }
        if claims.aud != self.config.service {
            return Err(TokenError::Audience(claims.aud));
        }
        let t = now();
        if claims.exp + LEEWAY < t {
            return Err(TokenError::Expired);
        }
        if claims.nbf > t + LEEWAY {
            return Err(TokenError::NotYet);
        }
        Ok(claims)
    }
}

/// The actions a known user is granted of those asked for.
fn grant(requested: Scope) -> Option<Scope> {
    let allowed: &[&str] = match (requested.kind.as_str(), requested.name.as_str()) {
        ("repository", _) => &["pull", "push", "delete", "*"],
        ("registry", "catalog") => &["*"],
        _ => return None,
    };
    let actions: Vec<String> = requested
        .actions
        .into_iter()
        .filter(|a| allowed.contains(&a.as_str()))
        .collect();
    (!actions.is_empty()).then_some(Scope {
        kind: requested.kind,
        name: requested.name,
        actions,
    })
}

/// Largest form body a `POST` to the token endpoint may have.
const MAX_FORM: usize = 64 << 10;

/// An OAuth2 error answer (`{"error": ...}`), as token servers send to `POST` requests.
fn oauth_error(status: StatusCode, error: &str, description: String) -> Rejection {
    Rejection::Response(Box::new(response::json(
        status,
        &serde_json::json!({ "error": error, "error_description": description }),
    )))
}

/// The token endpoint: `GET <realm>?service=&scope=` with basic credentials (docker's token
/// protocol), or `POST <realm>` with an OAuth2 password grant form (`grant_type=password`,
/// `username`, `password`, `service`, `scope`), as containerd tries first.
pub async fn handle(auth: &Auth, req: Request<Incoming>) -> Result<Response<Body>, Rejection> {
    let issuer = auth
        .issuer()
        .expect("token requests are routed only in token mode");
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    let mut add = |raw: &[u8]| {
        for (k, v) in form_urlencoded::parse(raw) {
            params
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
    };
    let oauth = req.method() == http::Method::POST;
    let user = if oauth {
        let body = http_body_util::Limited::new(req.into_body(), MAX_FORM)
            .collect()
            .await
            .map_err(|e| {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("token request form: {e}"),
                )
            })?
            .to_bytes();
        add(&body);
        let first = |k: &str| params.get(k).and_then(|v| v.first()).cloned();
        let grant_type = first("grant_type").unwrap_or_default();
        if grant_type != "password" {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {grant_type:?} is not supported, only \"password\""),
            ));
        }
        let (user, pass) = (
            first("username").unwrap_or_default(),
            first("password").unwrap_or_default(),
        );
        if !auth.verify(&user, &pass).await {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_grant",
                format!("wrong username or password for {user:?}"),
            ));
        }
        user
    } else if req.method() == http::Method::GET {
        add(req.uri().query().unwrap_or("").as_bytes());
        match auth.basic_user(&req).await {
            Some(u) => u,
            None => return Err(auth.basic_challenge()),
        }
    } else {
        return Err(ApiError::new(
            Code::Unsupported,
            format!(
                "token endpoint: {} is not supported, use GET or POST",
                req.method()
            ),
        )
        .into());
    };
    if let Some(service) = params.get("service").and_then(|s| s.first()) {
        if *service != issuer.config().service {
            return Err(ApiError::new(
                Code::Denied,
                format!("token endpoint: unknown service {service:?}"),
            )
            .into());
        }
    }
    let access: Vec<Scope> = params
        .get("scope")
        .into_iter()
        .flatten()
        .flat_map(|s| s.split(' '))
        .filter_map(Scope::parse)
        .filter_map(grant)
        .collect();
    let scope = access
        .iter()
        .map(|s| format!("{}:{}:{}", s.kind, s.name, s.actions.join(",")))
        .collect::<Vec<_>>()
        .join(" ");
    let token = issuer.issue(&user, access);
    let mut answer = serde_json::json!({
        "access_token": token,
        "expires_in": issuer.config().expiry_secs,
    });
    if oauth {
        answer["scope"] = scope.into();
    } else {
        answer["token"] = token.into();
    }
    Ok(response::json(StatusCode::OK, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(dir: &std::path::Path, issuer: &str) -> Issuer {
        let key = dir.join("key");
        std::fs::write(&key, "0123456789abcdef0123456789abcdef\n").unwrap();
        Issuer::load(TokenConfig {
            realm: "https://127.0.0.1:5000/auth/token".into(),
            service: "reg".into(),
            issuer: issuer.into(),
            key,
            expiry_secs: 300,
        })
        .unwrap()
    }

    #[test]
    fn issues_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let i = issuer(dir.path(), "berth");
        assert_eq!(i.realm_path(), "/auth/token");
        let scope = Scope::parse("repository:a/b:pull,push").unwrap();
        assert_eq!(scope.name, "a/b");
        let t = i.issue("alice", vec![scope.clone()]);
        let c = i.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.access), ("alice", vec![scope]));
        // Tampered, or from another issuer: refused.
        let mut bad = t.clone();
        bad.insert(bad.len() - 2, 'A');
        assert!(i.verify(&bad).is_err());
        let other = issuer(dir.path(), "someone-else");
        assert!(matches!(
            i.verify(&other.issue("x", vec![])),
            Err(TokenError::Issuer(_))
        ));
    }
}
