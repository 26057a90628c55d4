//! Shared by the registry's integration tests: a server run in-process on 127.0.0.1:0
//! (stopped on drop), a raw HTTP/1.1 client, and small builders of blobs and manifests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_registry::server::{AuthConfig, Config, Server, TlsFiles};
use sha2::{Digest as _, Sha256};

/// A registry serving until dropped.
pub struct TestRegistry {
    pub addr: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
}

impl TestRegistry {
    pub fn start(root: &Path) -> TestRegistry {
        TestRegistry::start_with(
            root,
            AuthConfig::default(),
            None,
            "127.0.0.1:0".parse().unwrap(),
        )
    }

    pub fn start_with(
        root: &Path,
        auth: AuthConfig,
        tls: Option<TlsFiles>,
        addr: SocketAddr,
    ) -> TestRegistry {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            addr,
            root: root.to_path_buf(),
            auth,
            tls,
        };
        let server = rt.block_on(Server::bind(config)).expect("registry starts");
        let addr = server.local_addr().unwrap();
        rt.spawn(server.run());
        TestRegistry { addr, rt: Some(rt) }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

/// A free port on 127.0.0.1 (for configurations that must name their own address).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The code of the first error of an error body.
    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// One request on its own connection, read to the end.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (and close) before taking a whole body it refuses.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[], b"")
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Pushes a blob in one request (POST with `?digest=`), asserting it is created.
pub fn push_blob(addr: SocketAddr, name: &str, data: &[u8]) -> String {
    let d = sha256(data);
    let r = request(
        addr,
        "POST",
        &format!("/v2/{name}/blobs/uploads/?digest={d}"),
        &[],
        data,
    );
    assert_eq!(
        r.status,
        201,
        "push blob {d} to {name}: {}",
        String::from_utf8_lossy(&r.body)
    );
    d
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// An image manifest (`media_type`) over a config and layers already pushed.
pub fn image_manifest(media_type: &str, config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    let config_type = if media_type == OCI_MANIFEST {
        "application/vnd.oci.image.config.v1+json"
    } else {
        "application/vnd.docker.container.image.v1+json"
    };
    let layer_type = if media_type == OCI_MANIFEST {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    };
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": sha256(config), "size": config.len()},
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": layer_type, "digest": sha256(l), "size": l.len()
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// Pushes a manifest under `reference`, asserting it is created; returns its digest.
pub fn push_manifest(
    addr: SocketAddr,
    name: &str,
    reference: &str,
    media_type: &str,
    data: &[u8],
) -> String {
    let r = request(
        addr,
        "PUT",
        &format!("/v2/{name}/manifests/{reference}"),
        &[("Content-Type", media_type)],
        data,
    );
    assert_eq!(
        r.status,
        201,
        "push manifest {name}:{reference}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.header("Docker-Content-Digest").unwrap().to_string()
}

/// Pushes config + layers + manifest as an image; returns the manifest digest.
pub fn push_image(
    addr: SocketAddr,
    name: &str,
    tag: &str,
    config: &[u8],
    layers: &[&[u8]],
) -> String {
    push_blob(addr, name, config);
    for l in layers {
        push_blob(addr, name, l);
    }
    let m = image_manifest(OCI_MANIFEST, config, layers);
    push_manifest(addr, name, tag, OCI_MANIFEST, &m)
}

/// Runs a command, panicking with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A test CA and a server certificate for 127.0.0.1 signed by it, made with openssl.
pub struct TestCerts {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_certs(dir: &Path) -> TestCerts {
    let p = |n: &str| dir.join(n);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=berth test CA",
        ])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.crt")));
    TestCerts {
        ca: p("ca.crt"),
        cert: p("server.crt"),
        key: p("server.key"),
    }
}

/// An htpasswd file with `user:password` entries hashed as `htpasswd -B` does ($2y$).
pub fn make_htpasswd(path: &Path, users: &[(&str, &str)]) {
    let mut text = String::new();
    for (u, pw) in users {
        let h = bcrypt::hash_with_result(pw, 5)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        text.push_str(&format!("{u}:{h}\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// A skopeo policy accepting anything, so tests do not depend on /etc/containers.
pub fn skopeo_policy(dir: &Path) -> PathBuf {
    let p = dir.join("policy.json");
    std::fs::write(&p, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    p
}

/// An OCI layout at `dir` holding a busybox image (Debian's busybox-static) tagged `tag`;
/// returns the manifest digest.
pub fn busybox_oci_layout(dir: &Path, tag: &str) -> String {
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox (apt install busybox-static)");
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    h.set_mtime(0);
    tar.append_data(&mut h, "bin/", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    h.set_mtime(0);
    tar.append_data(&mut h, "bin/busybox", &busybox[..])
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    h.set_mtime(0);
    tar.append_link(&mut h, "bin/sh", "busybox").unwrap();
    let layer_tar = tar.into_inner().unwrap();
    let diff_id = sha256(&layer_tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer_tar).unwrap();
    let layer = gz.finish().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let manifest = image_manifest(OCI_MANIFEST, &config, &[&layer]);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for b in [&layer, &config, &manifest] {
        std::fs::write(blobs.join(&sha256(b)[7..]), b).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let digest = sha256(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    digest
}

/// The manifest digest an OCI layout's index.json lists for `tag`.
pub fn oci_layout_digest(dir: &Path, tag: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no {tag} in {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}
