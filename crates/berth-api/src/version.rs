//! API version negotiation: the daemon advertises [`API_VERSION`] and accepts requests down to
//! [`MIN_API_VERSION`], under `/v1.xx/...` or unversioned paths.

use std::cmp::Ordering;
use std::fmt;

/// The newest API version berth implements (Docker 26.1).
pub const API_VERSION: ApiVersion = ApiVersion {
    major: 1,
    minor: 45,
};
/// The oldest API version berth accepts, as dockerd 26.
pub const MIN_API_VERSION: ApiVersion = ApiVersion {
    major: 1,
    minor: 24,
};

/// An Engine API version such as `1.45`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    /// Parses `1.45` (no `v` prefix).
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.split_once('.')?;
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }

    pub fn at_least(self, major: u32, minor: u32) -> bool {
        self >= ApiVersion { major, minor }
    }
}

impl PartialOrd for ApiVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ApiVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor).cmp(&(other.major, other.minor))
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Splits a request path into its API version prefix (if any) and the rest:
/// `/v1.45/containers/json` -> `(Some(1.45), "/containers/json")`.
pub fn split_version(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let candidate = &rest[..end];
        if !candidate.is_empty() && candidate.chars().all(|c| c.is_ascii_digit() || c == '.') {
            let tail = &rest[end..];
            return (Some(candidate), if tail.is_empty() { "/" } else { tail });
        }
    }
    (None, path)
}

/// Checks a requested version against the supported range, with dockerd's messages.
pub fn check(requested: &str) -> Result<ApiVersion, String> {
    let v =
        ApiVersion::parse(requested).ok_or_else(|| format!("invalid API version: {requested}"))?;
    if v > API_VERSION {
        return Err(format!(
            "client version {v} is too new. Maximum supported API version is {API_VERSION}"
        ));
    }
    if v < MIN_API_VERSION {
        return Err(format!(
            "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_versioned_paths() {
        assert_eq!(
            split_version("/v1.45/containers/json"),
            (Some("1.45"), "/containers/json")
        );
        assert_eq!(
            split_version("/containers/json"),
            (None, "/containers/json")
        );
        assert_eq!(split_version("/v1.24/_ping"), (Some("1.24"), "/_ping"));
        assert_eq!(split_version("/volumes"), (None, "/volumes"));
        assert_eq!(split_version("/v1.45"), (Some("1.45"), "/"));
    }

    #[test]
    fn checks_range() {
        assert!(check("1.45").is_ok());
        assert!(check("1.24").is_ok());
        assert!(check("1.46").unwrap_err().contains("too new"));
        assert!(check("1.12").unwrap_err().contains("too old"));
        assert!(check("abc").is_err());
    }

    #[test]
    fn orders_versions() {
        assert!(ApiVersion::parse("1.9").unwrap() < ApiVersion::parse("1.10").unwrap());
        assert!(API_VERSION.at_least(1, 42));
    }
}
