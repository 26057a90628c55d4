//! Reading and writing OCI/docker image configs.

use serde_json::{json, Map, Value};

use crate::ImageError;

pub(crate) fn parse(bytes: &[u8]) -> Result<Value, ImageError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| ImageError::json("image config", e))?;
    if !v.is_object() {
        return Err(ImageError::InvalidArgument(
            "image config is not a JSON object".into(),
        ));
    }
    Ok(v)
}

pub(crate) fn diff_ids(cfg: &Value) -> Result<Vec<String>, ImageError> {
    let ids = cfg
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    ids.iter()
        .map(|v| {
            v.as_str()
                .filter(|s| super::content::digest_hex(s).is_ok())
                .map(str::to_string)
                .ok_or_else(|| {
                    ImageError::InvalidArgument(format!("image config: invalid diff id {v}"))
                })
        })
        .collect()
}

/// (unix seconds, RFC 3339 text) of `created`; 0 and docker's zero time when absent.
pub(crate) fn created(cfg: &Value) -> (i64, String) {
    let s = cfg.get("created").and_then(Value::as_str).unwrap_or("");
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => (
            t.timestamp(),
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ),
        Err(_) => (0, "0001-01-01T00:00:00Z".to_string()),
    }
}

/// The config's `config` object with every key docker's `ContainerConfig` has,
/// as `/images/{name}/json` shows it.
pub(crate) fn container_config(cfg: &Value) -> Value {
    let c = cfg
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = Map::new();
    let defaults = [
        ("Hostname", json!("")),
        ("Domainname", json!("")),
        ("User", json!("")),
        ("AttachStdin", json!(false)),
        ("AttachStdout", json!(false)),
        ("AttachStderr", json!(false)),
        ("Tty", json!(false)),
        ("OpenStdin", json!(false)),
        ("StdinOnce", json!(false)),
        ("Env", Value::Null),
        ("Cmd", Value::Null),
        ("Image", json!("")),
        ("Volumes", Value::Null),
        ("WorkingDir", json!("")),
        ("Entrypoint", Value::Null),
        ("OnBuild", Value::Null),
        ("Labels", Value::Null),
    ];
    for (k, d) in defaults {
        out.insert(k.to_string(), c.get(k).cloned().unwrap_or(d));
    }
    for (k, v) in c {
        out.entry(k).or_insert(v);
    }
    Value::Object(out)
}

/// A fresh image config: `config` is the docker-keyed runtime config.
pub(crate) struct NewConfig<'a> {
    pub config: Value,
    pub diff_ids: Vec<String>,
    pub history: Vec<Value>,
    pub created: &'a str,
    pub author: &'a str,
    pub comment: &'a str,
}

pub(crate) fn build(n: NewConfig<'_>) -> Result<Vec<u8>, ImageError> {
    let mut v = Map::new();
    v.insert("architecture".into(), json!(host_arch()));
    if !n.author.is_empty() {
        v.insert("author".into(), json!(n.author));
    }
    if !n.comment.is_empty() {
        v.insert("comment".into(), json!(n.comment));
    }
    v.insert("config".into(), n.config);
    v.insert("created".into(), json!(n.created));
    v.insert("history".into(), Value::Array(n.history));
    v.insert("os".into(), json!("linux"));
    v.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": n.diff_ids}),
    );
    serde_json::to_vec(&Value::Object(v))
        .map_err(|e| ImageError::Corrupt(format!("encode image config: {e}")))
}

pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

pub(crate) fn labels(cfg: &Value) -> std::collections::BTreeMap<String, String> {
    cfg.pointer("/config/Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}
