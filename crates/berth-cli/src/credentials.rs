//! docker's `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`): `auths` with base64
//! `user:password`, and credential helpers (`credsStore`, `credHelpers`) run as
//! `docker-credential-NAME get|store|erase`. The `X-Registry-Auth` header pull and push send.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{anyhow, Context, Result};
use base64::Engine;
use serde_json::{json, Map, Value};

/// The key docker.io's credentials are stored under.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// `--config`, when given: it wins over `DOCKER_CONFIG`.
static CONFIG_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

pub fn set_config_dir(dir: &str) {
    let _ = CONFIG_DIR.set(PathBuf::from(dir));
}

fn config_path() -> PathBuf {
    if let Some(d) = CONFIG_DIR.get() {
        return d.join("config.json");
    }
    let dir = std::env::var_os("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker")
        });
    dir.join("config.json")
}

fn read_config() -> Result<Map<String, Value>> {
    let p = config_path();
    match std::fs::read(&p) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(anyhow!("{}: invalid JSON", p.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
    }
}

fn write_config(m: &Map<String, Value>) -> Result<()> {
    let p = config_path();
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
    }
    let tmp = p.with_extension("json.tmp");
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(m.clone()))?;
    bytes.push(b'\n');
    std::fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &p).with_context(|| format!("write {}", p.display()))?;
    Ok(())
}

/// The key a registry's credentials go under: docker.io's legacy URL, else the host.
pub fn server_key(registry: &str) -> String {
    let host = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.into(),
        h => h.to_string(),
    }
}

/// The registry of an image reference (`127.0.0.1:5000/x` → `127.0.0.1:5000`).
pub fn registry_of_image(image: &str) -> String {
    match berth_image::reference::Reference::parse_normalized(image) {
        Ok(r) => server_key(&r.domain),
        Err(_) => DOCKER_HUB.into(),
    }
}

fn helper_for(cfg: &Map<String, Value>, key: &str) -> Option<String> {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    cfg.get("credHelpers")
        .and_then(|h| h.get(key).or_else(|| h.get(host)))
        .and_then(Value::as_str)
        .or_else(|| cfg.get("credsStore").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn run_helper(helper: &str, action: &str, input: &str) -> Result<String> {
    let prog = format!("docker-credential-{helper}");
    let mut child = Command::new(&prog)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {prog}"))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        let msg = if text.is_empty() {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        } else {
            text
        };
        return Err(anyhow!("{prog} {action}: {msg}"));
    }
    Ok(text)
}

/// (user, password) stored for `key`, if any.
pub fn get(key: &str) -> Result<Option<(String, String)>> {
    let cfg = read_config()?;
    if let Some(h) = helper_for(&cfg, key) {
        return match run_helper(&h, "get", key) {
            Ok(out) => {
                let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
                let user = v["Username"].as_str().unwrap_or("").to_string();
                let secret = v["Secret"].as_str().unwrap_or("").to_string();
                Ok((!secret.is_empty()).then_some((user, secret)))
            }
            Err(e) if e.to_string().contains("credentials not found") => Ok(None),
            Err(e) => Err(e),
        };
    }
    let Some(auth) = cfg
        .get("auths")
        .and_then(|a| a.get(key))
        .and_then(|e| e.get("auth"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .map_err(|e| anyhow!("invalid auth in config for {key}: {e}"))?;
    let s = String::from_utf8_lossy(&raw);
    Ok(s.split_once(':')
        .map(|(u, p)| (u.to_string(), p.to_string())))
}

pub fn store(key: &str, user: &str, password: &str) -> Result<()> {
    let mut cfg = read_config()?;
    if let Some(h) = helper_for(&cfg, key) {
        let input = json!({"ServerURL": key, "Username": user, "Secret": password}).to_string();
        run_helper(&h, "store", &input)?;
        // As docker: the entry stays in auths, without the secret.
        let auths = cfg.entry("auths").or_insert_with(|| json!({}));
        auths[key] = json!({});
        return write_config(&cfg);
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let auths = cfg.entry("auths").or_insert_with(|| json!({}));
    if !auths.is_object() {
        *auths = json!({});
    }
    auths[key] = json!({ "auth": auth });
    write_config(&cfg)
}

/// Removes the credentials of `key`; false when there were none.
pub fn erase(key: &str) -> Result<bool> {
    let mut cfg = read_config()?;
    let mut found = false;
    if let Some(h) = helper_for(&cfg, key) {
        found = run_helper(&h, "erase", key).is_ok();
    }
    if let Some(a) = cfg.get_mut("auths").and_then(Value::as_object_mut) {
        found |= a.remove(key).is_some();
    }
    write_config(&cfg)?;
    Ok(found)
}

/// `X-Registry-Auth` for an image's registry: base64url of the AuthConfig JSON, `{}` when
/// nothing is stored (as the docker CLI sends).
pub fn registry_auth_header(image: &str) -> String {
    let v = stored_auth(&registry_of_image(image)).unwrap_or_else(|| json!({}));
    base64::engine::general_purpose::URL_SAFE.encode(v.to_string())
}

/// The AuthConfig JSON of the credentials stored for `key`, if any.
fn stored_auth(key: &str) -> Option<Value> {
    let (u, p) = get(key).ok().flatten()?;
    Some(json!({"username": u, "password": p, "serveraddress": key}))
}

/// `X-Registry-Config` for a build: base64url of every stored registry's AuthConfig keyed by
/// its server address (`{}` when none), so the daemon can pull base images as the user.
pub fn registry_config_header() -> String {
    let mut all = serde_json::Map::new();
    if let Ok(cfg) = read_config() {
        let mut keys: Vec<String> = Vec::new();
        for section in ["auths", "credHelpers"] {
            if let Some(m) = cfg.get(section).and_then(Value::as_object) {
                keys.extend(m.keys().cloned());
            }
        }
        for key in keys {
            if let Some(auth) = stored_auth(&key) {
                all.insert(key, auth);
            }
        }
    }
    base64::engine::general_purpose::URL_SAFE.encode(Value::Object(all).to_string())
}
