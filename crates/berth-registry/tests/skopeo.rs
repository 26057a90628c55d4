//! skopeo (containers/image) against the server: an image made from Debian's
//! busybox-static copied in from an OCI layout and back out, keeping its digest.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn skopeo(policy: &Path) -> Command {
    let mut c = Command::new("skopeo");
    c.arg("--policy").arg(policy);
    c
}

#[test]
fn skopeo_round_trip_keeps_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = TestRegistry::start(&root);
    let host = reg.host();
    let policy = skopeo_policy(dir.path());
    let src = dir.path().join("src");
    let digest = busybox_oci_layout(&src, "1.0");

    run(skopeo(&policy)
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:1.0", src.display()))
        .arg(format!("docker://{host}/library/busybox:1.0")));
    let r = request(
        reg.addr,
        "HEAD",
        "/v2/library/busybox/manifests/1.0",
        &[("Accept", OCI_MANIFEST)],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Docker-Content-Digest"), Some(digest.as_str()));
    assert_eq!(r.header("Content-Type"), Some(OCI_MANIFEST));

    // Out again into a fresh layout: same manifest, same blobs.
    let dst = dir.path().join("dst");
    run(skopeo(&policy)
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{host}/library/busybox:1.0"))
        .arg(format!("oci:{}:1.0", dst.display())));
    assert_eq!(oci_layout_digest(&dst, "1.0"), digest);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dst.join("blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(
        std::fs::read(dst.join("blobs/sha256").join(&layer[7..])).unwrap(),
        std::fs::read(src.join("blobs/sha256").join(&layer[7..])).unwrap()
    );

    // Registry to registry: the blobs are mounted across repositories.
    run(skopeo(&policy)
        .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
        .arg(format!("docker://{host}/library/busybox:1.0"))
        .arg(format!("docker://{host}/mirror/team/busybox:latest")));
    let r = request(
        reg.addr,
        "HEAD",
        "/v2/mirror/team/busybox/manifests/latest",
        &[("Accept", OCI_MANIFEST)],
        b"",
    );
    assert_eq!(r.header("Docker-Content-Digest"), Some(digest.as_str()));

    // Converted to Docker schema 2: stored and served with that media type.
    run(skopeo(&policy)
        .args(["copy", "--dest-tls-verify=false", "--format", "v2s2"])
        .arg(format!("oci:{}:1.0", src.display()))
        .arg(format!("docker://{host}/library/busybox:v2s2")));
    let r = request(
        reg.addr,
        "GET",
        "/v2/library/busybox/manifests/v2s2",
        &[("Accept", DOCKER_MANIFEST)],
        b"",
    );
    assert_eq!(
        (r.status, r.header("Content-Type")),
        (200, Some(DOCKER_MANIFEST))
    );
    let inspect = run(skopeo(&policy)
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{host}/library/busybox:v2s2")));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(
        inspect["Digest"],
        r.header("Docker-Content-Digest").unwrap()
    );
    let tags = run(skopeo(&policy)
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{host}/library/busybox")));
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["1.0", "v2s2"]));
}

#[test]
fn skopeo_copies_an_index_with_all() {
    let dir = tempfile::tempdir().unwrap();
    let reg = TestRegistry::start(&dir.path().join("registry"));
    let host = reg.host();
    let policy = skopeo_policy(dir.path());
    let src = dir.path().join("src");
    let image = busybox_oci_layout(&src, "single");
    // Wrap the image in an image index (linux/amd64) tagged "multi" in the layout.
    let blobs = src.join("blobs/sha256");
    let image_size = std::fs::metadata(blobs.join(&image[7..])).unwrap().len();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": image, "size": image_size,
                       "platform": {"os": "linux", "architecture": "amd64"}}],
    }))
    .unwrap();
    let index_digest = sha256(&index);
    std::fs::write(blobs.join(&index_digest[7..]), &index).unwrap();
    let layout = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_INDEX, "digest": index_digest, "size": index.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "multi"}}],
    });
    std::fs::write(src.join("index.json"), layout.to_string()).unwrap();

    run(skopeo(&policy)
        .args(["copy", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:multi", src.display()))
        .arg(format!("docker://{host}/multi/busybox:latest")));
    let r = request(
        reg.addr,
        "GET",
        "/v2/multi/busybox/manifests/latest",
        &[("Accept", OCI_INDEX)],
        b"",
    );
    assert_eq!((r.status, r.header("Content-Type")), (200, Some(OCI_INDEX)));
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(index_digest.as_str())
    );
    // A client without index support gets the amd64 image.
    let r = request(
        reg.addr,
        "GET",
        "/v2/multi/busybox/manifests/latest",
        &[("Accept", OCI_MANIFEST)],
        b"",
    );
    assert_eq!(r.header("Docker-Content-Digest"), Some(image.as_str()));

    let dst = dir.path().join("dst");
    run(skopeo(&policy)
        .args(["copy", "--all", "--src-tls-verify=false"])
        .arg(format!("docker://{host}/multi/busybox:latest"))
        .arg(format!("oci:{}:multi", dst.display())));
    assert_eq!(oci_layout_digest(&dst, "multi"), index_digest);
    assert!(dst.join("blobs/sha256").join(&image[7..]).exists());
}
