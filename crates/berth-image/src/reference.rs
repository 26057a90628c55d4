//! Docker image references: parsing and normalisation as `distribution/reference`
//! does it, so `busybox` and `docker.io/library/busybox:latest` are the same name
//! and the error texts match what docker clients expect.

use std::fmt;

pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format: repository name must be lowercase")]
    NameContainsUppercase,
    #[error("repository name must have at least one component")]
    NameEmpty,
    #[error("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")]
    NameTooLong,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("invalid checksum digest format")]
    DigestFormat,
    #[error("unsupported digest algorithm")]
    DigestAlgorithm,
}

/// A fully normalised named reference: `docker.io/library/busybox:latest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// What a user may type where docker accepts "an image": a name or an image id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyReference {
    /// `sha256:<64 hex>` (a bare 64-hex string is taken as an id too).
    Id(String),
    Named(Reference),
}

impl Reference {
    /// `ParseNormalizedNamed`: accepts familiar names, adds no default tag.
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if is_full_hex_id(s) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = remainder.split(':').next().unwrap_or_default();
        if remote_name.to_lowercase() != remote_name {
            return Err(ReferenceError::Uppercase(remote_name.to_string()));
        }
        Reference::parse(&format!("{domain}/{remainder}"))
    }

    /// Like `parse_normalized`, then `latest` when neither tag nor digest is given.
    pub fn parse_tagged(s: &str) -> Result<Reference, ReferenceError> {
        Ok(Reference::parse_normalized(s)?.with_default_tag())
    }

    /// The strict grammar (`reference.Parse`) on an already-qualified string.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::NameEmpty);
        }
        let parsed = parse_grammar(s);
        let Some((name, tag, digest)) = parsed else {
            if parse_grammar(&s.to_lowercase()).is_some() {
                return Err(ReferenceError::NameContainsUppercase);
            }
            return Err(ReferenceError::InvalidFormat);
        };
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        if let Some(d) = digest {
            validate_digest(d)?;
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if is_domain(first) && !all_path_components(name) => {
                (first.to_string(), rest.to_string())
            }
            Some((first, rest)) if looks_like_domain(first) => {
                (first.to_string(), rest.to_string())
            }
            _ => (String::new(), name.to_string()),
        };
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".to_string());
        }
        self
    }

    /// `docker.io/library/busybox`
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// `busybox`, `localhost:5000/a/b`
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// `busybox:latest`, `busybox@sha256:…`
    pub fn familiar_string(&self) -> String {
        self.render(self.familiar_name())
    }

    fn render(&self, mut out: String) -> String {
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d);
        }
        out
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(self.name()))
    }
}

impl AnyReference {
    /// `ParseAnyReference`
    pub fn parse(s: &str) -> Result<AnyReference, ReferenceError> {
        if is_full_hex_id(s) {
            return Ok(AnyReference::Id(format!("sha256:{s}")));
        }
        if let Some((alg, hex)) = s.split_once(':') {
            if alg == "sha256" && hex.len() == 64 && is_lower_hex(hex) {
                return Ok(AnyReference::Id(s.to_string()));
            }
        }
        Ok(AnyReference::Named(Reference::parse_normalized(s)?))
    }
}

pub(crate) fn is_lower_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && is_lower_hex(s)
}

fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            if !first.contains(['.', ':']) && first != "localhost" && first.to_lowercase() == first
            {
                (DEFAULT_DOMAIN.to_string(), name.to_string())
            } else {
                (first.to_string(), name[i + 1..].to_string())
            }
        }
        None => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// Splits `name[:tag][@digest]` and checks each part against the grammar.
fn parse_grammar(s: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (name_tag, digest) = match s.split_once('@') {
        Some((a, d)) => (a, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let (alg, hex) = d.split_once(':')?;
        if !is_algorithm(alg) || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
    }
    let last_slash = name_tag.rfind('/');
    let (name, tag) = match name_tag.rfind(':') {
        Some(c) if last_slash.is_none_or(|sl| c > sl) => (&name_tag[..c], Some(&name_tag[c + 1..])),
        _ => (name_tag, None),
    };
    if let Some(t) = tag {
        if !is_tag(t) {
            return None;
        }
    }
    if !is_name(name) {
        return None;
    }
    Some((name, tag, digest))
}

fn is_name(name: &str) -> bool {
    if all_path_components(name) {
        return true;
    }
    match name.split_once('/') {
        Some((first, rest)) => is_domain(first) && all_path_components(rest),
        None => false,
    }
}

fn all_path_components(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        let sep_start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[sep_start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
}

/// `host[:port]` where host is a dotted name or `[ipv6]`.
fn is_domain(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return false;
        };
        let ip = &rest[..end];
        if ip.is_empty() || !ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        (
            None,
            if after.is_empty() {
                None
            } else {
                Some(after.strip_prefix(':'))
            },
        )
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(Some(p))),
            None => (Some(s), None),
        }
    };
    if let Some(p) = port {
        match p {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return false,
        }
    }
    match host {
        None => true,
        Some(h) => !h.is_empty() && h.split('.').all(is_domain_component),
    }
}

fn is_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

/// The first segment is a registry, not a path component, when docker would say so.
fn looks_like_domain(first: &str) -> bool {
    is_domain(first) && (first.contains(['.', ':']) || first == "localhost")
}

fn is_tag(t: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

fn is_algorithm(a: &str) -> bool {
    let mut parts = a.split(['-', '_', '+', '.']);
    parts.all(|p| {
        let b = p.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|c| c.is_ascii_alphanumeric())
    })
}

fn validate_digest(d: &str) -> Result<(), ReferenceError> {
    let (alg, hex) = d.split_once(':').ok_or(ReferenceError::DigestFormat)?;
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ReferenceError::DigestAlgorithm),
    };
    if hex.len() != len || !is_lower_hex(hex) {
        return Err(ReferenceError::DigestFormat);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse_tagged(s)
            .map(|r| r.to_string())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            full("docker.io/library/busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("user/app:1.0"), "docker.io/user/app:1.0");
        assert_eq!(full("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
        assert_eq!(full("localhost/a"), "localhost/a:latest");
        assert_eq!(full("localhost:5000"), "docker.io/library/localhost:5000");
        assert_eq!(full("[::1]:5000/x"), "[::1]:5000/x:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(full(&format!("x@{d}")), format!("docker.io/library/x@{d}"));
        assert_eq!(
            full(&format!("x:1@{d}")),
            format!("docker.io/library/x:1@{d}")
        );
    }

    #[test]
    fn familiar_forms() {
        let r = Reference::parse_tagged("docker.io/library/busybox").unwrap();
        assert_eq!(r.familiar_string(), "busybox:latest");
        let r = Reference::parse_tagged("docker.io/library/a/b").unwrap();
        assert_eq!(r.familiar_string(), "library/a/b:latest");
        let r = Reference::parse_tagged("quay.io/x/y:2").unwrap();
        assert_eq!(r.familiar_string(), "quay.io/x/y:2");
    }

    #[test]
    fn errors_match_docker() {
        assert_eq!(
            full("Foo"),
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        assert_eq!(full("foo:"), "invalid reference format");
        assert_eq!(full("foo bar"), "invalid reference format");
        assert_eq!(full("-foo"), "invalid reference format");
        assert_eq!(full("foo//bar"), "invalid reference format");
        assert_eq!(full("foo@sha256:abc"), "invalid reference format");
        assert_eq!(full(""), "invalid reference format");
        let hex = "a".repeat(64);
        assert!(full(&hex).contains("cannot specify 64-byte hexadecimal strings"));
        assert_eq!(
            full(&format!("a/{}", "b".repeat(260))),
            "repository name must not be more than 255 characters"
        );
    }

    #[test]
    fn any_reference() {
        let hex = "b".repeat(64);
        assert_eq!(
            AnyReference::parse(&hex).unwrap(),
            AnyReference::Id(format!("sha256:{hex}"))
        );
        assert_eq!(
            AnyReference::parse(&format!("sha256:{hex}")).unwrap(),
            AnyReference::Id(format!("sha256:{hex}"))
        );
        assert!(matches!(
            AnyReference::parse("abc1").unwrap(),
            AnyReference::Named(_)
        ));
    }

    #[test]
    fn path_components() {
        assert!(is_path_component("a__b"));
        assert!(is_path_component("a---b"));
        assert!(is_path_component("a.b_c"));
        assert!(!is_path_component("a___b"));
        assert!(!is_path_component("a."));
        assert!(!is_path_component("a.-b"));
    }
}
