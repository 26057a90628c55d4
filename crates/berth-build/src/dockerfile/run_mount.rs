//! `RUN --mount=type=cache|bind|tmpfs|secret|ssh,...`: the CSV fields docker
//! accepts, with its defaults (bind and secret mounts read-only, cache and
//! tmpfs writable) and its error messages.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MountError {
    #[error("invalid field '{0}' must be a key=value pair")]
    NotKeyValue(String),
    #[error("unsupported mount type {0:?}")]
    UnsupportedType(String),
    #[error("invalid value for {0}: {1}")]
    InvalidValue(String, String),
    #[error("unexpected key '{0}' for mount type '{1}'")]
    KeyNotForType(String, &'static str),
    #[error("unsupported sharing value {0:?}")]
    UnsupportedSharing(String),
    #[error("invalid value {1} for {0}")]
    InvalidNumber(&'static str, String),
    #[error("unexpected key '{0}' in '{1}'")]
    UnknownKey(String, String),
    #[error("{0} not allowed for {1:?} type mounts")]
    FileInfoNotAllowed(&'static str, &'static str),
    #[error("secret mount should not have a from")]
    SecretFrom,
    #[error("secret mount should not define sharing")]
    SecretSharing,
    #[error("invalid secret mount. one of source, target required")]
    SecretWithoutTarget,
    #[error("both source and id can't be set")]
    SecretSourceAndId,
    #[error("invalid cache sharing set for {0} mount")]
    SharingNotCache(&'static str),
    #[error("invalid mount target {0:?}")]
    InvalidTarget(String),
    #[error("failed to parse csv mounts: unterminated quote in {0:?}")]
    Csv(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountType {
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

/// One `--mount` of a RUN instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountType,
    /// A stage name or index, or an image, for bind and cache mounts.
    pub from: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub read_only: bool,
    /// tmpfs size in bytes.
    pub size: Option<u64>,
    /// Cache or secret id.
    pub id: Option<String>,
    pub sharing: Option<Sharing>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub required: bool,
    pub env: Option<String>,
}

pub fn parse_mount(value: &str) -> Result<Mount, MountError> {
    let mut m = Mount {
        kind: MountType::Bind,
        from: None,
        source: None,
        target: None,
        read_only: false,
        size: None,
        id: None,
        sharing: None,
        mode: None,
        uid: None,
        gid: None,
        required: false,
        env: None,
    };
    let mut read_only_set = false;
    for field in csv_fields(value)? {
        let Some((key, value)) = field.split_once('=') else {
            match field.to_ascii_lowercase().as_str() {
                "readonly" | "ro" => (m.read_only, read_only_set) = (true, true),
                "readwrite" | "rw" => (m.read_only, read_only_set) = (false, true),
                "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                    m.required = true
                }
                "required" => return Err(MountError::KeyNotForType(field, m.kind.as_str())),
                _ => return Err(MountError::NotKeyValue(field)),
            }
            continue;
        };
        let key = key.to_ascii_lowercase();
        let value = value.to_string();
        match key.as_str() {
            "type" => {
                m.kind = match value.to_ascii_lowercase().as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => MountType::Ssh,
                    _ => return Err(MountError::UnsupportedType(value)),
                }
            }
            "from" => m.from = Some(value),
            "source" | "src" => m.source = Some(value),
            "target" | "dst" | "destination" => m.target = Some(value),
            "readonly" | "ro" => {
                m.read_only =
                    parse_bool(&value).ok_or(MountError::InvalidValue(key.clone(), value))?;
                read_only_set = true;
            }
            "readwrite" | "rw" => {
                m.read_only =
                    !parse_bool(&value).ok_or(MountError::InvalidValue(key.clone(), value))?;
                read_only_set = true;
            }
            "required" => {
                if !matches!(m.kind, MountType::Secret | MountType::Ssh) {
                    return Err(MountError::KeyNotForType(key, m.kind.as_str()));
                }
                m.required =
                    parse_bool(&value).ok_or(MountError::InvalidValue(key.clone(), value))?;
            }
            "size" => {
                if m.kind != MountType::Tmpfs {
                    return Err(MountError::KeyNotForType(key, m.kind.as_str()));
                }
                m.size =
                    Some(ram_in_bytes(&value).ok_or(MountError::InvalidValue(key.clone(), value))?);
            }
            "id" => m.id = Some(value),
            "sharing" => {
                m.sharing = Some(match value.to_ascii_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => return Err(MountError::UnsupportedSharing(value)),
                })
            }
            "mode" => {
                m.mode = Some(
                    u32::from_str_radix(&value, 8)
                        .map_err(|_| MountError::InvalidNumber("mode", value))?,
                )
            }
            "uid" => {
                m.uid = Some(
                    value
                        .parse()
                        .map_err(|_| MountError::InvalidNumber("uid", value))?,
                )
            }
            "gid" => {
                m.gid = Some(
                    value
                        .parse()
                        .map_err(|_| MountError::InvalidNumber("gid", value))?,
                )
            }
            "env" => m.env = Some(value),
            _ => return Err(MountError::UnknownKey(key, field)),
        }
    }
    validate(&mut m, read_only_set)?;
    Ok(m)
}

fn validate(m: &mut Mount, read_only_set: bool) -> Result<(), MountError> {
    let file_info_allowed = matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    );
    if !file_info_allowed {
        let kind = m.kind.as_str();
        if m.mode.is_some() {
            return Err(MountError::FileInfoNotAllowed("mode", kind));
        }
        if m.uid.is_some() {
            return Err(MountError::FileInfoNotAllowed("uid", kind));
        }
        if m.gid.is_some() {
            return Err(MountError::FileInfoNotAllowed("gid", kind));
        }
    }
    if !read_only_set {
        m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err(MountError::SecretFrom);
        }
        if m.sharing.is_some() {
            return Err(MountError::SecretSharing);
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err(MountError::SecretWithoutTarget);
        }
        if m.source.is_some() && m.id.is_some() {
            return Err(MountError::SecretSourceAndId);
        }
    }
    if m.sharing.is_some() && m.kind != MountType::Cache {
        return Err(MountError::SharingNotCache(m.kind.as_str()));
    }
    if matches!(
        m.kind,
        MountType::Bind | MountType::Cache | MountType::Tmpfs
    ) {
        match m.target.as_deref() {
            None | Some("") => return Err(MountError::InvalidTarget(String::new())),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Go's strconv.ParseBool.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// docker's units.RAMInBytes: `64m`, `1.5g`, `512kb`, `1024` (powers of 1024).
fn ram_in_bytes(v: &str) -> Option<u64> {
    let lower = v.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim_end_matches(['b', 'i']);
    let factor: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    if number < 0.0 {
        return None;
    }
    Some((number * factor as f64) as u64)
}

/// Comma-separated fields, a field may be double-quoted (`"a,b"`, `""` for a
/// quote inside).
fn csv_fields(value: &str) -> Result<Vec<String>, MountError> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(MountError::Csv(value.to_string()));
    }
    fields.push(field);
    Ok(fields.into_iter().filter(|f| !f.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_mount_defaults_to_writable() {
        let m = parse_mount("type=cache,target=/root/.cache,id=go,sharing=locked,mode=0755,uid=1")
            .unwrap();
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(m.id.as_deref(), Some("go"));
        assert_eq!(m.sharing, Some(Sharing::Locked));
        assert_eq!(m.mode, Some(0o755));
        assert_eq!(m.uid, Some(1));
        assert!(!m.read_only);
    }

    #[test]
    fn bind_mount_defaults_to_read_only() {
        let m = parse_mount("type=bind,from=build,source=/out,target=/in").unwrap();
        assert_eq!(m.kind, MountType::Bind);
        assert_eq!(m.from.as_deref(), Some("build"));
        assert!(m.read_only);
        let m = parse_mount("target=/in,rw").unwrap();
        assert_eq!(m.kind, MountType::Bind);
        assert!(!m.read_only);
    }

    #[test]
    fn tmpfs_size() {
        let m = parse_mount("type=tmpfs,dst=/tmp,size=64m").unwrap();
        assert_eq!(m.size, Some(64 << 20));
        assert!(!m.read_only);
        assert_eq!(
            parse_mount("type=tmpfs,dst=/tmp,size=lots")
                .unwrap_err()
                .to_string(),
            "invalid value for size: lots"
        );
    }

    #[test]
    fn secret_and_ssh() {
        let m = parse_mount("type=secret,id=tok,required").unwrap();
        assert!(m.required && m.read_only);
        assert!(parse_mount("type=ssh").is_ok());
    }

    #[test]
    fn errors() {
        let err = |s: &str| parse_mount(s).unwrap_err().to_string();
        assert_eq!(err("type=nfs,target=/x"), "unsupported mount type \"nfs\"");
        assert_eq!(
            err("type=cache,target=/x,bogus"),
            "invalid field 'bogus' must be a key=value pair"
        );
        assert_eq!(
            err("type=cache,target=/x,color=red"),
            "unexpected key 'color' in 'color=red'"
        );
        assert_eq!(
            err("type=bind,target=/x,mode=0644"),
            "mode not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            err("type=bind,target=/x,size=1"),
            "unexpected key 'size' for mount type 'bind'"
        );
        assert_eq!(
            err("type=cache,target=/x,sharing=all"),
            "unsupported sharing value \"all\""
        );
        assert_eq!(
            err("type=cache,target=/x,uid=me"),
            "invalid value me for uid"
        );
        assert_eq!(
            err("type=secret,from=a,id=x"),
            "secret mount should not have a from"
        );
        assert_eq!(
            err("type=secret"),
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(
            err("type=secret,id=a,src=b"),
            "both source and id can't be set"
        );
        assert_eq!(
            err("type=tmpfs,target=/x,sharing=shared"),
            "invalid cache sharing set for tmpfs mount"
        );
        assert_eq!(err("type=cache"), "invalid mount target \"\"");
        assert_eq!(
            err("type=cache,target=/x,ro=maybe"),
            "invalid value for ro: maybe"
        );
        assert_eq!(
            err("type=bind,target=\"/x"),
            "failed to parse csv mounts: unterminated quote in \"type=bind,target=\\\"/x\""
        );
    }

    #[test]
    fn quoted_csv_field() {
        let m = parse_mount("type=bind,\"target=/a,b\"").unwrap();
        assert_eq!(m.target.as_deref(), Some("/a,b"));
    }
}
