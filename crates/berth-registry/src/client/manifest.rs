//! Manifests and indexes (Docker schema 2 and OCI), and the platform choice in an index.

use serde::{Deserialize, Serialize};

use super::RegistryError;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What `Accept` lists when a manifest is fetched.
pub const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// A manifest or an index, as fetched.
#[derive(Debug, Clone)]
pub enum Fetched {
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    Index(Vec<Descriptor>),
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: String,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    manifests: Option<Vec<Descriptor>>,
}

/// Parses a manifest body; `content_type` is the registry's Content-Type header.
pub fn parse(body: &[u8], content_type: &str, what: &str) -> Result<Fetched, RegistryError> {
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|e| RegistryError::Registry(format!("manifest {what}: invalid JSON: {e}")))?;
    let media = if raw.media_type.is_empty() {
        content_type.split(';').next().unwrap_or("").trim()
    } else {
        raw.media_type.as_str()
    };
    if raw.schema_version == 1 || media.contains("distribution.manifest.v1") {
        return Err(RegistryError::InvalidArgument(format!(
            "{what}: Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of {what} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2."
        )));
    }
    if let Some(m) = raw.manifests {
        return Ok(Fetched::Index(m));
    }
    match raw.config {
        Some(config) => Ok(Fetched::Image {
            config,
            layers: raw.layers,
        }),
        None => Err(RegistryError::Registry(format!(
            "manifest {what}: unsupported media type {media:?}"
        ))),
    }
}

/// The host's platform, as images name it.
pub fn host_platform() -> Platform {
    let (arch, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        "powerpc64" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        other => (other, None),
    };
    Platform {
        os: "linux".into(),
        architecture: arch.into(),
        variant: variant.map(String::from),
    }
}

/// `os[/arch[/variant]]` as `--platform` takes it.
pub fn parse_platform(s: &str) -> Result<Platform, RegistryError> {
    let parts: Vec<&str> = s.split('/').collect();
    let bad = || {
        RegistryError::InvalidArgument(format!(
            "\"{s}\": unknown operating system or architecture: invalid argument"
        ))
    };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let host = host_platform();
    let mut arch = parts
        .get(1)
        .map_or(host.architecture.clone(), |a| a.to_lowercase());
    let mut variant = parts.get(2).map(|v| v.to_lowercase());
    match arch.as_str() {
        "x86_64" | "x86-64" => arch = "amd64".into(),
        "aarch64" => {
            arch = "arm64".into();
            variant = variant.or(Some("v8".into()));
        }
        "arm64" => variant = variant.or(Some("v8".into())),
        _ => {}
    }
    Ok(Platform {
        os: parts[0].to_lowercase(),
        architecture: arch,
        variant,
    })
}

/// The manifest of `want` in an index: same os and architecture, the variant when both
/// name one (arm64's `v8` may be left out).
pub fn choose<'a>(manifests: &'a [Descriptor], want: &Platform) -> Option<&'a Descriptor> {
    let matches = |d: &&Descriptor, strict: bool| {
        let Some(p) = &d.platform else { return false };
        if p.os != want.os || p.architecture != want.architecture {
            return false;
        }
        match (&p.variant, &want.variant) {
            (Some(a), Some(b)) => a == b,
            (None, Some(v)) if strict => v == "v8" && want.architecture == "arm64",
            _ => true,
        }
    };
    manifests
        .iter()
        .find(|d| matches(d, true))
        .or_else(|| manifests.iter().find(|d| matches(d, false)))
}

/// How a layer blob is compressed, by its media type.
pub fn layer_supported(media_type: &str) -> bool {
    media_type.is_empty()
        || media_type.ends_with(".tar")
        || media_type.ends_with("tar.gzip")
        || media_type.ends_with("tar+gzip")
        || media_type.ends_with("tar+zstd")
        || media_type.ends_with(".tar.zstd")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{arch}"),
            size: 1,
            platform: Some(Platform {
                os: "linux".into(),
                architecture: arch.into(),
                variant: variant.map(String::from),
            }),
        }
    }

    #[test]
    fn picks_the_platform_asked_for() {
        let list = vec![d("arm", Some("v7")), d("arm64", None), d("amd64", None)];
        let p = parse_platform("linux/arm64").unwrap();
        assert_eq!(choose(&list, &p).unwrap().digest, "sha256:arm64");
        let p = parse_platform("linux/amd64").unwrap();
        assert_eq!(choose(&list, &p).unwrap().digest, "sha256:amd64");
        let p = parse_platform("linux/arm/v6").unwrap();
        assert!(choose(&list, &p).is_none());
        assert!(parse_platform("linux//").is_err());
    }

    #[test]
    fn schema1_is_refused_like_docker() {
        let e = parse(br#"{"schemaVersion":1}"#, "", "x:1").unwrap_err();
        assert!(e.to_string().contains("schema 1 support has been removed"));
    }
}
