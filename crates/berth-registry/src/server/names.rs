//! Repository names, tags and the routes of `/v2/...` paths. Names have any number of
//! `/`-separated components, so routes are recognised from the end of the path.

use crate::server::digest::Digest;
use crate::server::error::{ApiError, Code};

/// Longest repository name distribution accepts.
const NAME_MAX: usize = 255;

/// Whether `name` matches the spec's `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/...)*`.
pub fn valid_name(name: &str) -> bool {
    name.len() <= NAME_MAX && !name.is_empty() && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, ApiError> {
        if s.contains(':') {
            Digest::parse(s)
                .map(Reference::Digest)
                .map_err(|e| ApiError::new(Code::DigestInvalid, e.to_string()))
        } else if valid_tag(s) {
            Ok(Reference::Tag(s.to_string()))
        } else {
            Err(ApiError::new(
                Code::TagInvalid,
                format!("invalid tag {s:?}"),
            ))
        }
    }
}

/// What a `/v2/...` path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Base,
    Catalog,
    Tags { name: String },
    Manifest { name: String, reference: String },
    Blob { name: String, digest: String },
    UploadStart { name: String },
    Upload { name: String, uuid: String },
    Referrers { name: String, digest: String },
}

impl Route {
    /// The repository a route is about, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Catalog => None,
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
        }
    }
}

/// Parses the path of a request; `None` for paths outside the API. Names are checked
/// here, so a route always carries a valid repository name.
pub fn route(path: &str) -> Option<Result<Route, ApiError>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Ok(Route::Base));
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Ok(Route::Catalog));
    }
    let named = |name: &str, r: Route| {
        if valid_name(name) {
            Ok(r)
        } else {
            Err(ApiError::new(
                Code::NameInvalid,
                format!("invalid repository name {name:?}"),
            ))
        }
    };
    if let Some(name) = rest.strip_suffix("/tags/list") {
        let r = Route::Tags { name: name.into() };
        return Some(named(name, r));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        let r = Route::UploadStart { name: name.into() };
        return Some(named(name, r));
    }
    let (head, last) = rest.rsplit_once('/')?;
    if last.is_empty() {
        return None;
    }
    let last = last.to_string();
    let (name, r) = if let Some(name) = head.strip_suffix("/blobs/uploads") {
        (
            name,
            Route::Upload {
                name: name.into(),
                uuid: last,
            },
        )
    } else if let Some(name) = head.strip_suffix("/blobs") {
        (
            name,
            Route::Blob {
                name: name.into(),
                digest: last,
            },
        )
    } else if let Some(name) = head.strip_suffix("/manifests") {
        (
            name,
            Route::Manifest {
                name: name.into(),
                reference: last,
            },
        )
    } else if let Some(name) = head.strip_suffix("/referrers") {
        (
            name,
            Route::Referrers {
                name: name.into(),
                digest: last,
            },
        )
    } else {
        return None;
    };
    Some(named(name, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "library/busybox", "a/b/c", "a.b_c__d---e/f0"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "A", "a//b", "-a", "a-", "a..b", "a___b", "a/", "_a"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_tag("latest") && valid_tag("_v1.2-rc") && !valid_tag(".x") && !valid_tag(""));
    }

    #[test]
    fn routes_with_many_components() {
        let r = |p: &str| route(p).unwrap().unwrap();
        assert_eq!(r("/v2/"), Route::Base);
        assert_eq!(
            r("/v2/a/b/c/tags/list"),
            Route::Tags {
                name: "a/b/c".into()
            }
        );
        assert_eq!(
            r("/v2/x/blobs/uploads/blobs/sha256:ab"),
            Route::Blob {
                name: "x/blobs/uploads".into(),
                digest: "sha256:ab".into()
            }
        );
        assert_eq!(
            r("/v2/a/blobs/blobs/uploads/u1"),
            Route::Upload {
                name: "a/blobs".into(),
                uuid: "u1".into()
            }
        );
        assert_eq!(
            r("/v2/a/b/blobs/uploads/"),
            Route::UploadStart { name: "a/b".into() }
        );
        assert_eq!(
            r("/v2/a/manifests/latest"),
            Route::Manifest {
                name: "a".into(),
                reference: "latest".into()
            }
        );
        assert!(route("/v2/A/manifests/latest").unwrap().is_err());
        assert!(route("/v3/a").is_none());
    }
}
