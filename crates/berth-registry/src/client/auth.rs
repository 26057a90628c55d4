//! Credentials (docker's AuthConfig, as the `X-Registry-Auth` header carries it) and the
//! registry's `WWW-Authenticate` challenges: bearer tokens from the realm, or basic auth.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::RegistryError;

/// `X-Registry-Config` (what `docker build` sends): the credentials of every registry the
/// client knows, keyed by server address (`https://index.docker.io/v1/`, `host:port`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfigs {
    /// (registry domain, its credentials)
    by_domain: Vec<(String, AuthConfig)>,
}

impl AuthConfigs {
    /// Decodes the header: base64url (padded or not) of a JSON map. Empty means none.
    pub fn from_header(value: &str) -> Result<AuthConfigs, RegistryError> {
        let map: std::collections::BTreeMap<String, AuthConfig> =
            decode_header("X-Registry-Config", value)?;
        let by_domain = map
            .into_iter()
            .map(|(server, mut a)| {
                a.fill_from_auth();
                (super::login::registry_of(&server), a)
            })
            .collect();
        Ok(AuthConfigs { by_domain })
    }

    /// The credentials for a registry (`docker.io`, `host:port`); none when not given.
    pub fn for_domain(&self, domain: &str) -> AuthConfig {
        self.by_domain
            .iter()
            .find(|(d, _)| d == domain)
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    }
}

/// A credentials header (`name`): base64url, padded or not, of JSON; empty is the default.
fn decode_header<T: serde::de::DeserializeOwned + Default>(
    name: &str,
    value: &str,
) -> Result<T, RegistryError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(T::default());
    }
    let bytes = decode_any(v)
        .ok_or_else(|| RegistryError::InvalidArgument(format!("{name}: invalid base64")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RegistryError::InvalidArgument(format!("{name}: invalid JSON: {e}")))
}

/// docker's `AuthConfig` JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// base64 of `user:password` (config.json's form).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

impl AuthConfig {
    /// Decodes `X-Registry-Auth`: base64url (padded or not) JSON. Empty or `{}` means none.
    pub fn from_header(value: &str) -> Result<AuthConfig, RegistryError> {
        let mut a: AuthConfig = decode_header("X-Registry-Auth", value)?;
        a.fill_from_auth();
        Ok(a)
    }

    /// The user and password from `auth` when they are not given apart.
    pub fn fill_from_auth(&mut self) {
        if self.username.is_empty() && !self.auth.is_empty() {
            if let Some(s) = decode_any(&self.auth).and_then(|b| String::from_utf8(b).ok()) {
                if let Some((u, p)) = s.split_once(':') {
                    self.username = u.to_string();
                    self.password = p.to_string();
                }
            }
        }
    }

    pub fn has_credentials(&self) -> bool {
        !self.username.is_empty() || !self.identitytoken.is_empty()
    }

    fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// base64 in any of its common spellings (standard or URL alphabet, padded or not).
pub fn decode_any(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
    },
    Basic,
}

impl Challenge {
    /// The first challenge of a response's `WWW-Authenticate` headers that berth understands.
    pub fn of(headers: &hyper::HeaderMap) -> Option<Challenge> {
        headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(Challenge::parse)
            .next()
    }

    pub fn parse(header: &str) -> Option<Challenge> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => {
                let params = parse_params(rest);
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                };
                Some(Challenge::Bearer {
                    realm: get("realm")?,
                    service: get("service"),
                })
            }
            _ => None,
        }
    }
}

/// `a="x", b=y` → [(a, x), (b, y)]; quoted values may hold commas and `\"`.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if chars.next().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((name.trim().to_string(), value.trim().to_string()));
    }
    out
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
}

/// What to put in `Authorization` for `challenge` with `scopes`, asking the token realm when
/// it is a bearer challenge. `Ok(None)`: nothing to answer a basic challenge with.
pub async fn authorize(
    tls: &super::http::Tls,
    verify: bool,
    challenge: &Challenge,
    scopes: &[String],
    auth: &AuthConfig,
) -> Result<Option<String>, RegistryError> {
    match challenge {
        Challenge::Basic => {
            if auth.username.is_empty() {
                return Ok(None);
            }
            Ok(Some(auth.basic()))
        }
        Challenge::Bearer { realm, service } => {
            if !auth.registrytoken.is_empty() {
                return Ok(Some(format!("Bearer {}", auth.registrytoken)));
            }
            let mut q = Vec::new();
            if let Some(s) = service {
                q.push(format!("service={}", encode(s)));
            }
            for s in scopes {
                q.push(format!("scope={}", encode(s)));
            }
            let mut url = realm.clone();
            if !q.is_empty() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&q.join("&"));
            }
            let mut req = hyper::Request::get(&url);
            if !auth.username.is_empty() {
                req = req.header("authorization", auth.basic());
            }
            let req = req
                .body(super::http::empty())
                .map_err(|e| RegistryError::InvalidArgument(format!("token realm {realm}: {e}")))?;
            let resp = super::http::send(tls, verify, req).await?;
            let status = resp.status();
            let body = super::http::read_body(resp, 1 << 20).await?;
            if status == 401 || status == 403 {
                let msg = super::errors::message(&body)
                    .unwrap_or_else(|| "incorrect username or password".into());
                return Err(RegistryError::Unauthorized(format!(
                    "Get \"{realm}\": unauthorized: {msg}"
                )));
            }
            if !status.is_success() {
                return Err(RegistryError::Registry(format!(
                    "token from {realm}: status {status}"
                )));
            }
            let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
                RegistryError::Registry(format!("token from {realm}: invalid JSON: {e}"))
            })?;
            let token = if t.token.is_empty() {
                t.access_token
            } else {
                t.token
            };
            Ok(Some(format!("Bearer {token}")))
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_config_picks_the_registry_of_an_image() {
        let json = r#"{"https://index.docker.io/v1/":{"username":"hub","password":"h"},
            "127.0.0.1:5000":{"auth":"dTpw"}}"#;
        let header = base64::engine::general_purpose::URL_SAFE.encode(json);
        let c = AuthConfigs::from_header(&header).unwrap();
        assert_eq!(c.for_domain("docker.io").username, "hub");
        let local = c.for_domain("127.0.0.1:5000");
        assert_eq!(
            (local.username.as_str(), local.password.as_str()),
            ("u", "p")
        );
        assert!(!c.for_domain("example.com").has_credentials());
        assert!(
            AuthConfigs::from_header("")
                .unwrap()
                .for_domain("docker.io")
                == AuthConfig::default()
        );
        assert!(AuthConfigs::from_header("!!").is_err());
    }

    #[test]
    fn parses_bearer_challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
    }

    #[test]
    fn decodes_the_docker_cli_header() {
        // base64url of {"username":"u","password":"p?>","serveraddress":"h"}
        let json = r#"{"username":"u","password":"p?>","serveraddress":"h"}"#;
        let h = base64::engine::general_purpose::URL_SAFE.encode(json);
        let a = AuthConfig::from_header(&h).unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p?>"));
        let a = AuthConfig::from_header(
            &base64::engine::general_purpose::STANDARD.encode(r#"{"auth":"dTpw"}"#),
        )
        .unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p"));
        assert_eq!(AuthConfig::from_header("").unwrap(), AuthConfig::default());
        assert!(AuthConfig::from_header("!!").is_err());
    }
}
