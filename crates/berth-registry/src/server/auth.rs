//! Who may do what: no auth, `--htpasswd` basic auth (bcrypt entries as `htpasswd -B`
//! writes them), or bearer tokens (`--token-*`, see `token`). Each request needs an
//! `Access`; a refusal is a 401 with the `WWW-Authenticate` challenge of the mode.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http::{header, Request, StatusCode};
use hyper::body::Incoming;
use sha2::{Digest as _, Sha256};

use crate::server::error::{ApiError, Code};
use crate::server::response;
use crate::server::token::{Issuer, Scope, TokenConfig};
use crate::server::Rejection;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// An htpasswd file of `user:bcrypt-hash` lines.
    pub htpasswd: Option<PathBuf>,
    /// The realm of the basic auth challenge.
    pub realm: String,
    /// Bearer tokens instead of basic auth.
    pub token: Option<TokenConfig>,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            htpasswd: None,
            realm: "berth-registry".to_string(),
            token: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("could not read htpasswd file {path:?}: {err}")]
    ReadHtpasswd { path: PathBuf, err: std::io::Error },
    #[error("htpasswd file {path:?} line {line}: {reason}")]
    BadHtpasswd {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(transparent)]
    Token(#[from] crate::server::token::TokenError),
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `GET /v2/`: any authenticated client.
    Any,
    Catalog,
    Pull(String),
    Push(String),
    Delete(String),
}

impl Access {
    /// The scope a token must carry, as the challenge names it.
    fn scope(&self) -> Option<String> {
        match self {
            Access::Any => None,
            Access::Catalog => Some("registry:catalog:*".into()),
            Access::Pull(n) => Some(format!("repository:{n}:pull")),
            Access::Push(n) => Some(format!("repository:{n}:pull,push")),
            Access::Delete(n) => Some(format!("repository:{n}:delete")),
        }
    }
}

/// What an authenticated client may do.
#[derive(Debug, Clone)]
pub enum Grant {
    All,
    Scopes(Vec<Scope>),
}

impl Grant {
    pub fn allows(&self, a: &Access) -> bool {
        let Grant::Scopes(scopes) = self else {
            return true;
        };
        let has = |kind: &str, name: &str, action: &str| {
            scopes.iter().any(|s| {
                s.kind == kind
                    && s.name == name
                    && s.actions.iter().any(|x| x == action || x == "*")
            })
        };
        match a {
            Access::Any => true,
            Access::Catalog => has("registry", "catalog", "*"),
            Access::Pull(n) => has("repository", n, "pull"),
            Access::Push(n) => has("repository", n, "push"),
            Access::Delete(n) => has("repository", n, "delete"),
        }
    }
}

pub struct Auth {
    users: HashMap<String, String>,
    realm: String,
    issuer: Option<Issuer>,
    /// Hashes of credentials bcrypt already accepted: clients send them on every request
    /// and bcrypt is slow on purpose.
    verified: Arc<Mutex<HashSet<[u8; 32]>>>,
}

fn parse_htpasswd(path: &PathBuf) -> Result<HashMap<String, String>, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|err| AuthError::ReadHtpasswd {
        path: path.clone(),
        err,
    })?;
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| AuthError::BadHtpasswd {
            path: path.clone(),
            line: i + 1,
            reason: reason.to_string(),
        };
        let (user, hash) = line
            .split_once(':')
            .ok_or_else(|| bad("expected user:hash"))?;
        if !hash.starts_with("$2") {
            return Err(bad("only bcrypt entries are supported (htpasswd -B)"));
        }
        users.insert(user.to_string(), hash.to_string());
    }
    Ok(users)
}

impl Auth {
    pub fn load(cfg: &AuthConfig) -> Result<Auth, AuthError> {
        let users = match &cfg.htpasswd {
            Some(p) => parse_htpasswd(p)?,
            None => HashMap::new(),
        };
        let issuer = match &cfg.token {
            Some(t) => Some(Issuer::load(t.clone())?),
            None => None,
        };
        Ok(Auth {
            users,
            realm: cfg.realm.clone(),
            issuer,
            verified: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    fn basic_enabled(&self) -> bool {
        !self.users.is_empty()
    }

    pub fn issuer(&self) -> Option<&Issuer> {
        self.issuer.as_ref()
    }

    /// Whether `path` is this server's own token endpoint: in token mode with an htpasswd
    /// file, at the path of the token realm.
    pub fn serves_tokens(&self, path: &str) -> bool {
        self.basic_enabled() && self.issuer.as_ref().is_some_and(|i| i.realm_path() == path)
    }

    /// The user of valid basic credentials in `req`, `None` without or with wrong ones.
    pub async fn basic_user(&self, req: &Request<Incoming>) -> Option<String> {
        let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
        let encoded = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        self.verify(user, pass).await.then(|| user.to_string())
    }

    /// Whether `pass` is the password of `user` in the htpasswd file.
    pub async fn verify(&self, user: &str, pass: &str) -> bool {
        let Some(hash) = self.users.get(user).cloned() else {
            return false;
        };
        let key: [u8; 32] = Sha256::new()
            .chain_update(user)
            .chain_update([0])
            .chain_update(pass)
            .chain_update([0])
            .chain_update(&hash)
            .finalize()
            .into();
        if self.verified.lock().expect("auth lock").contains(&key) {
            return true;
        }
        let pass = pass.to_string();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(pass, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        if ok {
            self.verified.lock().expect("auth lock").insert(key);
        }
        ok
    }

    /// Checks that `req` may do `needed`, returning what it may do.
    pub async fn authorize(
        &self,
        req: &Request<Incoming>,
        needed: &Access,
    ) -> Result<Grant, Rejection> {
        if let Some(issuer) = &self.issuer {
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                });
            let Some(token) = token else {
                return Err(self.bearer_challenge(issuer, needed, None, "authentication required"));
            };
            let claims = match issuer.verify(token.trim()) {
                Ok(c) => c,
                Err(e) => {
                    return Err(self.bearer_challenge(
                        issuer,
                        needed,
                        Some("invalid_token"),
                        &e.to_string(),
                    ))
                }
            };
            let grant = Grant::Scopes(claims.access);
            if !grant.allows(needed) {
                return Err(self.bearer_challenge(
                    issuer,
                    needed,
                    Some("insufficient_scope"),
                    "authentication required: the token does not grant this access",
                ));
            }
            return Ok(grant);
        }
        if self.basic_enabled() {
            if self.basic_user(req).await.is_none() {
                return Err(self.basic_challenge());
            }
            return Ok(Grant::All);
        }
        Ok(Grant::All)
    }

    pub fn basic_challenge(&self) -> Rejection {
        let mut r = response::error(&ApiError::new(
            Code::Unauthorized,
            "authentication required",
        ));
        response::set(
            &mut r,
            header::WWW_AUTHENTICATE,
            &format!("Basic realm=\"{}\"", self.realm.replace('"', "")),
        );
        Rejection::Response(Box::new(r))
    }

    fn bearer_challenge(
        &self,
        issuer: &Issuer,
        needed: &Access,
        error: Option<&str>,
        message: &str,
    ) -> Rejection {
        let cfg = issuer.config();
        let mut challenge = format!("Bearer realm=\"{}\",service=\"{}\"", cfg.realm, cfg.service);
        if let Some(scope) = needed.scope() {
            challenge.push_str(&format!(",scope=\"{scope}\""));
        }
        if let Some(e) = error {
            challenge.push_str(&format!(",error=\"{e}\""));
        }
        let mut e = ApiError::new(Code::Unauthorized, message);
        if let Access::Pull(n) | Access::Push(n) | Access::Delete(n) = needed {
            let action = match needed {
                Access::Pull(_) => "pull",
                Access::Push(_) => "push",
                _ => "delete",
            };
            e = e.with_detail(
                serde_json::json!([{"Type": "repository", "Name": n, "Action": action}]),
            );
        }
        let mut r = response::error(&e);
        debug_assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        response::set(&mut r, header::WWW_AUTHENTICATE, &challenge);
        Rejection::Response(Box::new(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htpasswd_takes_bcrypt_only_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("htpasswd");
        std::fs::write(
            &p,
            "# users\nalice:$2y$05$abcdefghijklmnopqrstuuJ3l6m0pQ1c8yNQd0cXy0mIYk0iZ2Fe\n\n",
        )
        .unwrap();
        assert_eq!(parse_htpasswd(&p).unwrap().len(), 1);
        std::fs::write(
            &p,
            "alice:$2y$05$x\nbob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n",
        )
        .unwrap();
        let e = parse_htpasswd(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("bcrypt"), "{e}");
        std::fs::write(&p, "nocolon\n").unwrap();
        assert!(parse_htpasswd(&p)
            .unwrap_err()
            .to_string()
            .contains("line 1"));
    }

    #[test]
    fn grants_follow_scopes() {
        let g = Grant::Scopes(vec![
            Scope::parse("repository:a/b:pull").unwrap(),
            Scope::parse("repository:c:*").unwrap(),
        ]);
        assert!(g.allows(&Access::Any));
        assert!(g.allows(&Access::Pull("a/b".into())));
        assert!(!g.allows(&Access::Push("a/b".into())));
        assert!(!g.allows(&Access::Pull("a".into())));
        assert!(g.allows(&Access::Delete("c".into())));
        assert!(!g.allows(&Access::Catalog));
        assert!(Grant::All.allows(&Access::Catalog));
    }
}
