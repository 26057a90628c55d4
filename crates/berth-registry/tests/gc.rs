//! `gc` removes what no manifest references, and nothing else.

mod common;

use std::time::Duration;

use berth_registry::server::gc::{collect, GcOptions};
use common::*;

fn blob_exists(root: &std::path::Path, d: &str) -> bool {
    root.join("blobs/sha256")
        .join(&d[7..9])
        .join(&d[7..])
        .exists()
}

#[test]
fn gc_removes_only_unreferenced_blobs() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let reg = TestRegistry::start(r);
    let tagged = push_image(
        reg.addr,
        "app",
        "v1",
        b"{\"a\":1}",
        &[b"shared layer", b"tagged layer"],
    );
    let shared = sha256(b"shared layer");
    // An image that loses its tag: its manifest stays (untagged) until --delete-untagged.
    let untagged = push_image(
        reg.addr,
        "app",
        "v0",
        b"{\"a\":0}",
        &[b"shared layer", b"old layer"],
    );
    assert_eq!(
        request(reg.addr, "DELETE", "/v2/app/manifests/v0", &[], b"").status,
        202
    );
    // A blob no manifest mentions, and one whose only manifest was deleted.
    let orphan = push_blob(reg.addr, "app", b"orphan");
    let gone = push_image(reg.addr, "other/repo", "x", b"{\"a\":2}", &[b"gone layer"]);
    assert_eq!(
        request(
            reg.addr,
            "DELETE",
            &format!("/v2/other/repo/manifests/{gone}"),
            &[],
            b""
        )
        .status,
        202
    );
    // An upload in progress is left alone.
    let up = request(reg.addr, "POST", "/v2/app/blobs/uploads/", &[], b"");
    let loc = up.header("Location").unwrap().to_string();
    assert_eq!(
        request(reg.addr, "PATCH", &loc, &[], b"partial").status,
        202
    );

    let opts = |dry_run, delete_untagged, grace| GcOptions {
        root: r.to_path_buf(),
        dry_run,
        delete_untagged,
        grace,
        upload_max_age: Duration::from_secs(7 * 24 * 3600),
    };
    // Within the grace period nothing goes.
    let report = collect(&opts(false, false, Duration::from_secs(3600))).unwrap();
    assert!(report.blobs_removed.is_empty());
    assert_eq!(
        report.blobs_too_young, 4,
        "orphan, gone's config, layer and manifest"
    );
    assert!(report.uploads_removed.is_empty());
    // An upload abandoned long ago goes.
    let old = request(reg.addr, "POST", "/v2/app/blobs/uploads/", &[], b"");
    let old_uuid = old.header("Docker-Upload-UUID").unwrap().to_string();
    let info = r.join("uploads").join(&old_uuid).join("info");
    std::fs::write(&info, r#"{"name":"app","started":1000}"#).unwrap();
    // A dry run reports without removing.
    let report = collect(&opts(true, false, Duration::ZERO)).unwrap();
    assert_eq!(report.blobs_removed.len(), 4);
    assert_eq!(report.uploads_removed, std::slice::from_ref(&old_uuid));
    assert!(blob_exists(r, &orphan));
    assert!(info.exists());

    let report = collect(&opts(false, false, Duration::ZERO)).unwrap();
    assert_eq!(report.uploads_removed, std::slice::from_ref(&old_uuid));
    assert!(!info.exists());
    let mut removed: Vec<String> = report.blobs_removed.iter().map(|d| d.to_string()).collect();
    removed.sort();
    let mut expected = vec![
        orphan.clone(),
        gone.clone(),
        sha256(b"{\"a\":2}"),
        sha256(b"gone layer"),
    ];
    expected.sort();
    assert_eq!(removed, expected);
    for d in &expected {
        assert!(!blob_exists(r, d), "{d} should be gone");
    }
    for d in [
        &tagged,
        &untagged,
        &shared,
        &sha256(b"old layer"),
        &sha256(b"tagged layer"),
    ] {
        assert!(blob_exists(r, d), "{d} is referenced and must stay");
    }
    assert_eq!(
        request(
            reg.addr,
            "HEAD",
            &format!("/v2/app/blobs/{orphan}"),
            &[],
            b""
        )
        .status,
        404
    );
    assert_eq!(get(reg.addr, "/v2/app/manifests/v1").status, 200);
    assert_eq!(
        get(reg.addr, &format!("/v2/app/manifests/{untagged}")).status,
        200
    );

    // --delete-untagged drops v0's manifest and the layer only it used.
    let report = collect(&opts(false, true, Duration::ZERO)).unwrap();
    assert_eq!(report.manifests_removed.len(), 1);
    assert_eq!(report.manifests_removed[0].1.to_string(), untagged);
    assert!(!blob_exists(r, &sha256(b"old layer")));
    assert!(!blob_exists(r, &untagged));
    assert!(blob_exists(r, &shared) && blob_exists(r, &tagged));
    assert_eq!(
        get(reg.addr, &format!("/v2/app/manifests/{untagged}")).status,
        404
    );

    // The upload goes on as if nothing happened.
    let d = sha256(b"partial rest");
    let r2 = request(reg.addr, "PUT", &format!("{loc}?digest={d}"), &[], b" rest");
    assert_eq!(r2.status, 201);
    // The tagged image still pulls whole.
    let m = get(reg.addr, "/v2/app/manifests/v1").json();
    for l in m["layers"].as_array().unwrap() {
        let path = format!("/v2/app/blobs/{}", l["digest"].as_str().unwrap());
        assert_eq!(request(reg.addr, "HEAD", &path, &[], b"").status, 200);
    }
}

#[test]
fn gc_keeps_children_of_tagged_indexes_and_referrers() {
    let root = tempfile::tempdir().unwrap();
    let reg = TestRegistry::start(root.path());
    let child = push_image(reg.addr, "multi", "tmp", b"{\"c\":1}", &[b"child layer"]);
    let child_size = get(reg.addr, "/v2/multi/manifests/tmp").body.len();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": child_size,
                       "platform": {"os": "linux", "architecture": "amd64"}}],
    }))
    .unwrap();
    push_manifest(reg.addr, "multi", "latest", OCI_INDEX, &index);
    assert_eq!(
        request(reg.addr, "DELETE", "/v2/multi/manifests/tmp", &[], b"").status,
        202
    );
    let empty = push_blob(reg.addr, "multi", b"{}");
    let sig = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": child, "size": child_size},
    }))
    .unwrap();
    let sig_digest = push_manifest(reg.addr, "multi", &sha256(&sig), OCI_MANIFEST, &sig);

    let report = collect(&GcOptions {
        root: root.path().to_path_buf(),
        dry_run: false,
        delete_untagged: true,
        grace: Duration::ZERO,
        upload_max_age: Duration::from_secs(3600),
    })
    .unwrap();
    assert!(
        report.manifests_removed.is_empty(),
        "{:?}",
        report.manifests_removed
    );
    assert!(
        report.blobs_removed.is_empty(),
        "{:?}",
        report.blobs_removed
    );
    assert_eq!(
        get(reg.addr, &format!("/v2/multi/manifests/{child}")).status,
        200
    );
    assert_eq!(
        get(reg.addr, &format!("/v2/multi/manifests/{sig_digest}")).status,
        200
    );
}
