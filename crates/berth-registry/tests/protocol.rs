//! The distribution API over raw HTTP against an in-process server.

mod common;

use common::*;

#[test]
fn base_and_errors() {
    let root = tempfile::tempdir().unwrap();
    let reg = TestRegistry::start(root.path());
    let r = get(reg.addr, "/v2/");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Docker-Distribution-API-Version"),
        Some("registry/2.0")
    );
    assert_eq!(r.body, b"{}");

    let r = get(reg.addr, "/v2/nothing/here/manifests/latest");
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
    assert!(r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nothing/here:latest"));
    let r = get(reg.addr, "/v2/Bad/Name/manifests/latest");
    assert_eq!((r.status, r.error_code().as_str()), (400, "NAME_INVALID"));
    let r = get(reg.addr, "/v2/nothing/tags/list");
    assert_eq!((r.status, r.error_code().as_str()), (404, "NAME_UNKNOWN"));
    let r = get(reg.addr, "/v2/a/blobs/sha256:1234");
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
    let r = get(reg.addr, &format!("/v2/a/blobs/{}", sha256(b"x")));
    assert_eq!((r.status, r.error_code().as_str()), (404, "BLOB_UNKNOWN"));
    let r = request(reg.addr, "POST", "/v2/a/manifests/latest", &[], b"");
    assert_eq!((r.status, r.error_code().as_str()), (405, "UNSUPPORTED"));
}

#[test]
fn monolithic_upload_bad_digest_stores_nothing_and_ranges() {
    let root = tempfile::tempdir().unwrap();
    let reg = TestRegistry::start(root.path());
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let wrong = sha256(b"something else");
    let r = request(
        reg.addr,
        "POST",
        &format!("/v2/a/b/c/blobs/uploads/?digest={wrong}"),
        &[],
        &data,
    );
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
    let r = request(
        reg.addr,
        "HEAD",
        &format!("/v2/a/b/c/blobs/{}", sha256(&data)),
        &[],
        b"",
    );
    assert_eq!(r.status, 404);
    let files = walk(&root.path().join("blobs"));
    assert!(files.is_empty(), "a refused upload left blobs: {files:?}");
    assert!(
        walk(&root.path().join("uploads")).is_empty(),
        "a refused upload left its session"
    );

    let d = push_blob(reg.addr, "a/b/c", &data);
    let r = request(reg.addr, "HEAD", &format!("/v2/a/b/c/blobs/{d}"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("100000"));
    assert_eq!(r.header("Docker-Content-Digest"), Some(d.as_str()));
    assert!(r.body.is_empty());
    let r = get(reg.addr, &format!("/v2/a/b/c/blobs/{d}"));
    assert_eq!((r.status, r.body == data), (200, true));

    let r = request(
        reg.addr,
        "GET",
        &format!("/v2/a/b/c/blobs/{d}"),
        &[("Range", "bytes=10-19")],
        b"",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Range"), Some("bytes 10-19/100000"));
    assert_eq!(r.body, &data[10..20]);
    let r = request(
        reg.addr,
        "GET",
        &format!("/v2/a/b/c/blobs/{d}"),
        &[("Range", "bytes=99990-")],
        b"",
    );
    assert_eq!((r.status, &r.body[..]), (206, &data[99990..]));
    let r = request(
        reg.addr,
        "GET",
        &format!("/v2/a/b/c/blobs/{d}"),
        &[("Range", "bytes=100000-")],
        b"",
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */100000"));

    // Another repository does not see the blob until it is mounted.
    let r = request(reg.addr, "HEAD", &format!("/v2/other/blobs/{d}"), &[], b"");
    assert_eq!(r.status, 404);
    let r = request(
        reg.addr,
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={d}&from=a/b/c"),
        &[],
        b"",
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("Location").unwrap(),
        format!("/v2/other/blobs/{d}")
    );
    let r = request(reg.addr, "HEAD", &format!("/v2/other/blobs/{d}"), &[], b"");
    assert_eq!(r.status, 200);
    // Mounting what the source lacks falls back to an upload session.
    let missing = sha256(b"missing");
    let r = request(
        reg.addr,
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={missing}&from=a/b/c"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    assert!(r
        .header("Location")
        .unwrap()
        .starts_with("/v2/other/blobs/uploads/"));

    let r = request(
        reg.addr,
        "DELETE",
        &format!("/v2/other/blobs/{d}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    let r = request(reg.addr, "HEAD", &format!("/v2/other/blobs/{d}"), &[], b"");
    assert_eq!(r.status, 404);
    let r = request(reg.addr, "HEAD", &format!("/v2/a/b/c/blobs/{d}"), &[], b"");
    assert_eq!(
        r.status, 200,
        "deleting from one repository leaves the others"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn chunked_upload_survives_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (a, b) = data.split_at(120_000);
    let location = {
        let reg = TestRegistry::start(root.path());
        let r = request(reg.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"");
        assert_eq!(r.status, 202);
        assert_eq!(r.header("Range"), Some("0-0"));
        let uuid = r.header("Docker-Upload-UUID").unwrap().to_string();
        let loc = r.header("Location").unwrap().to_string();
        assert_eq!(loc, format!("/v2/team/app/blobs/uploads/{uuid}"));
        let r = request(
            reg.addr,
            "PATCH",
            &loc,
            &[
                ("Content-Range", "0-119999"),
                ("Content-Type", "application/octet-stream"),
            ],
            a,
        );
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("Range"), Some("0-119999"));
        assert_eq!(r.header("Docker-Upload-UUID"), Some(uuid.as_str()));
        // A chunk that does not continue the upload is refused, saying where it stands.
        let r = request(
            reg.addr,
            "PATCH",
            &loc,
            &[("Content-Range", "5-10")],
            &b[..6],
        );
        assert_eq!((r.status, r.error_code().as_str()), (416, "RANGE_INVALID"));
        assert_eq!(r.header("Range"), Some("0-119999"));
        loc
    };
    let reg = TestRegistry::start(root.path());
    let r = get(reg.addr, &location);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Range"), Some("0-119999"));
    let r = request(
        reg.addr,
        "PATCH",
        &location,
        &[("Content-Range", "120000-299999")],
        b,
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.header("Range"), Some("0-299999"));
    // The upload belongs to its repository.
    let other = location.replace("/team/app/", "/team/other/");
    assert_eq!(get(reg.addr, &other).error_code(), "BLOB_UPLOAD_UNKNOWN");
    let d = sha256(&data);
    let r = request(reg.addr, "PUT", &format!("{location}?digest={d}"), &[], b"");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("Location").unwrap(),
        format!("/v2/team/app/blobs/{d}")
    );
    assert_eq!(r.header("Docker-Content-Digest"), Some(d.as_str()));
    assert_eq!(get(reg.addr, &format!("/v2/team/app/blobs/{d}")).body, data);
    let r = get(reg.addr, &location);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "BLOB_UPLOAD_UNKNOWN")
    );

    // POST then PUT with the whole body; and a cancelled upload.
    let r = request(reg.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    let d = sha256(b"whole");
    let r = request(reg.addr, "PUT", &format!("{loc}?digest={d}"), &[], b"whole");
    assert_eq!(r.status, 201);
    let r = request(reg.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    request(reg.addr, "PATCH", &loc, &[], b"abc");
    let r = request(reg.addr, "DELETE", &loc, &[], b"");
    assert_eq!(r.status, 204);
    assert_eq!(get(reg.addr, &loc).error_code(), "BLOB_UPLOAD_UNKNOWN");
    // A PUT whose digest does not match the chunks stores nothing.
    let r = request(reg.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    request(reg.addr, "PATCH", &loc, &[], b"abc");
    let bad = sha256(b"abd");
    let r = request(reg.addr, "PUT", &format!("{loc}?digest={bad}"), &[], b"");
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
    assert_eq!(
        request(
            reg.addr,
            "HEAD",
            &format!("/v2/team/app/blobs/{bad}"),
            &[],
            b""
        )
        .status,
        404
    );
    assert!(!root
        .path()
        .join("blobs/sha256")
        .join(&bad[7..9])
        .join(&bad[7..])
        .exists());
}

#[test]
fn manifests_push_pull_negotiate_and_delete() {
    let root = tempfile::tempdir().unwrap();
    let reg = TestRegistry::start(root.path());
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"layer bytes";
    let m = image_manifest(DOCKER_MANIFEST, config, &[layer]);

    // Blobs missing: refused, naming the blob.
    let r = request(
        reg.addr,
        "PUT",
        "/v2/lib/app/manifests/v1",
        &[("Content-Type", DOCKER_MANIFEST)],
        &m,
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );
    assert_eq!(r.json()["errors"][0]["detail"]["digest"], sha256(config));
    push_blob(reg.addr, "lib/app", config);
    push_blob(reg.addr, "lib/app", layer);
    // A digest reference must match the content.
    let r = request(
        reg.addr,
        "PUT",
        &format!("/v2/lib/app/manifests/{}", sha256(b"x")),
        &[("Content-Type", DOCKER_MANIFEST)],
        &m,
    );
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
    let r = request(
        reg.addr,
        "PUT",
        "/v2/lib/app/manifests/v1",
        &[("Content-Type", DOCKER_MANIFEST)],
        &m,
    );
    assert_eq!(r.status, 201);
    let d = sha256(&m);
    assert_eq!(r.header("Docker-Content-Digest"), Some(d.as_str()));
    assert_eq!(
        r.header("Location").unwrap(),
        format!("/v2/lib/app/manifests/{d}")
    );
    // Not JSON, schema 1, too big.
    let r = request(
        reg.addr,
        "PUT",
        "/v2/lib/app/manifests/bad",
        &[("Content-Type", OCI_MANIFEST)],
        b"{not json",
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );
    let r = request(
        reg.addr,
        "PUT",
        "/v2/lib/app/manifests/bad",
        &[],
        br#"{"schemaVersion":1,"name":"lib/app"}"#,
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );
    let big = vec![b' '; 4 * 1024 * 1024 + 1];
    let r = request(
        reg.addr,
        "PUT",
        "/v2/lib/app/manifests/big",
        &[("Content-Type", OCI_MANIFEST)],
        &big,
    );
    assert_eq!((r.status, r.error_code().as_str()), (413, "SIZE_INVALID"));
    assert!(r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("4194304"));

    for reference in ["v1", d.as_str()] {
        let path = format!("/v2/lib/app/manifests/{reference}");
        let r = request(reg.addr, "GET", &path, &[("Accept", DOCKER_MANIFEST)], b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some(DOCKER_MANIFEST));
        assert_eq!(r.header("Docker-Content-Digest"), Some(d.as_str()));
        assert_eq!(r.body, m);
        let r = request(reg.addr, "HEAD", &path, &[("Accept", DOCKER_MANIFEST)], b"");
        assert_eq!(
            (r.status, r.header("Content-Length")),
            (200, Some(m.len().to_string().as_str()))
        );
        assert!(r.body.is_empty());
    }

    // An index over it and an OCI image; a client that only reads image manifests gets
    // the linux/amd64 one.
    let oci = push_image(reg.addr, "lib/app", "oci", b"{\"os\":\"linux\"}", &[b"l2"]);
    let oci_size = get(reg.addr, "/v2/lib/app/manifests/oci").body.len();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": oci, "size": oci_size, "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": DOCKER_MANIFEST, "digest": d, "size": m.len(), "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    })).unwrap();
    let idx = push_manifest(reg.addr, "lib/app", "multi", OCI_INDEX, &index);
    let r = request(
        reg.addr,
        "GET",
        "/v2/lib/app/manifests/multi",
        &[("Accept", &format!("{OCI_INDEX}, {OCI_MANIFEST}"))],
        b"",
    );
    assert_eq!(
        (r.header("Content-Type"), r.header("Docker-Content-Digest")),
        (Some(OCI_INDEX), Some(idx.as_str()))
    );
    let r = request(
        reg.addr,
        "GET",
        "/v2/lib/app/manifests/multi",
        &[("Accept", DOCKER_MANIFEST)],
        b"",
    );
    assert_eq!(
        (r.status, r.header("Docker-Content-Digest")),
        (200, Some(d.as_str()))
    );
    let r = request(
        reg.addr,
        "GET",
        "/v2/lib/app/manifests/oci",
        &[("Accept", DOCKER_MANIFEST)],
        b"",
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
    // An index over a manifest the repository lacks is refused.
    let dangling = String::from_utf8(index.clone())
        .unwrap()
        .replace(&oci, &sha256(b"nope"));
    let r = request(
        reg.addr,
        "PUT",
        "/v2/lib/app/manifests/dangling",
        &[("Content-Type", OCI_INDEX)],
        dangling.as_bytes(),
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );

    // Delete by tag removes the tag only; by digest the manifest and its tags.
    let r = request(reg.addr, "DELETE", "/v2/lib/app/manifests/multi", &[], b"");
    assert_eq!(r.status, 202);
    assert_eq!(get(reg.addr, "/v2/lib/app/manifests/multi").status, 404);
    assert_eq!(
        get(reg.addr, &format!("/v2/lib/app/manifests/{idx}")).status,
        200
    );
    push_manifest(reg.addr, "lib/app", "v1-again", DOCKER_MANIFEST, &m);
    let r = request(
        reg.addr,
        "DELETE",
        &format!("/v2/lib/app/manifests/{d}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    for p in ["v1", "v1-again", d.as_str()] {
        let r = get(reg.addr, &format!("/v2/lib/app/manifests/{p}"));
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (404, "MANIFEST_UNKNOWN"),
            "{p}"
        );
    }
    let r = request(
        reg.addr,
        "DELETE",
        &format!("/v2/lib/app/manifests/{d}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 404);
    let tags = get(reg.addr, "/v2/lib/app/tags/list").json();
    assert_eq!(
        tags,
        serde_json::json!({"name": "lib/app", "tags": ["oci"]})
    );
}

#[test]
fn catalog_and_tags_paginate() {
    let root = tempfile::tempdir().unwrap();
    let reg = TestRegistry::start(root.path());
    for name in ["b", "a/x", "c/d/e", "a"] {
        push_image(reg.addr, name, "t1", b"{}", &[name.as_bytes()]);
    }
    for tag in ["t3", "t2", "t0"] {
        let m = get(reg.addr, "/v2/a/manifests/t1").body;
        push_manifest(reg.addr, "a", tag, OCI_MANIFEST, &m);
    }
    let r = get(reg.addr, "/v2/_catalog");
    assert_eq!(
        r.json()["repositories"],
        serde_json::json!(["a", "a/x", "b", "c/d/e"])
    );
    assert!(r.header("Link").is_none());
    let r = get(reg.addr, "/v2/_catalog?n=2");
    assert_eq!(r.json()["repositories"], serde_json::json!(["a", "a/x"]));
    assert_eq!(
        r.header("Link"),
        Some("</v2/_catalog?last=a%2Fx&n=2>; rel=\"next\"")
    );
    let r = get(reg.addr, "/v2/_catalog?last=a%2Fx&n=2");
    assert_eq!(r.json()["repositories"], serde_json::json!(["b", "c/d/e"]));
    assert!(r.header("Link").is_none());
    let r = get(reg.addr, "/v2/_catalog?n=x");
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "PAGINATION_NUMBER_INVALID")
    );

    let r = get(reg.addr, "/v2/a/tags/list?n=3");
    assert_eq!(
        r.json(),
        serde_json::json!({"name": "a", "tags": ["t0", "t1", "t2"]})
    );
    assert_eq!(
        r.header("Link"),
        Some("</v2/a/tags/list?last=t2&n=3>; rel=\"next\"")
    );
    let r = get(reg.addr, "/v2/a/tags/list?n=3&last=t2");
    assert_eq!(r.json()["tags"], serde_json::json!(["t3"]));
    assert!(r.header("Link").is_none());
    assert_eq!(
        get(reg.addr, "/v2/c/d/e/tags/list").json()["tags"],
        serde_json::json!(["t1"])
    );
}

#[test]
fn referrers_list_and_filter() {
    let root = tempfile::tempdir().unwrap();
    let reg = TestRegistry::start(root.path());
    let subject = push_image(reg.addr, "app", "v1", b"{}", &[b"base"]);
    let subject_size = get(reg.addr, "/v2/app/manifests/v1").body.len();
    let empty = push_blob(reg.addr, "app", b"{}");
    let sig = push_blob(reg.addr, "app", b"signature");
    let artifact = |atype: &str, note: &str| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": atype,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": sig, "size": 9}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
            "annotations": {"note": note},
        })).unwrap()
    };
    let a1 = artifact("application/vnd.example.sig", "one");
    let r = request(
        reg.addr,
        "PUT",
        &format!("/v2/app/manifests/{}", sha256(&a1)),
        &[("Content-Type", OCI_MANIFEST)],
        &a1,
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("OCI-Subject"), Some(subject.as_str()));
    let a2 = artifact("application/vnd.example.sbom", "two");
    push_manifest(reg.addr, "app", &sha256(&a2), OCI_MANIFEST, &a2);

    let r = get(reg.addr, &format!("/v2/app/referrers/{subject}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some(OCI_INDEX));
    let list = r.json();
    let mut types: Vec<&str> = list["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["artifactType"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "application/vnd.example.sbom",
            "application/vnd.example.sig"
        ]
    );
    let r = get(
        reg.addr,
        &format!("/v2/app/referrers/{subject}?artifactType=application/vnd.example.sig"),
    );
    assert_eq!(r.header("OCI-Filters-Applied"), Some("artifactType"));
    let m = &r.json()["manifests"];
    assert_eq!(m.as_array().unwrap().len(), 1);
    assert_eq!(m[0]["digest"], sha256(&a1));
    assert_eq!(m[0]["size"], a1.len());
    assert_eq!(m[0]["annotations"]["note"], "one");
    // Deleting a referrer takes it off the list; an unknown subject has an empty one.
    let r = request(
        reg.addr,
        "DELETE",
        &format!("/v2/app/manifests/{}", sha256(&a1)),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    let list = get(reg.addr, &format!("/v2/app/referrers/{subject}")).json();
    assert_eq!(list["manifests"].as_array().unwrap().len(), 1);
    let r = get(reg.addr, &format!("/v2/app/referrers/{}", sha256(b"none")));
    assert_eq!(
        (r.status, r.json()["manifests"].as_array().unwrap().len()),
        (200, 0)
    );
    let r = get(reg.addr, "/v2/app/referrers/sha256:zz");
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
}

#[test]
fn interrupted_chunk_keeps_what_arrived_and_no_blob() {
    use std::io::Write;
    let root = tempfile::tempdir().unwrap();
    let reg = TestRegistry::start(root.path());
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let d = sha256(&data);
    let r = request(reg.addr, "POST", "/v2/crash/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    // A client that promises the whole blob, sends part of it and goes away.
    {
        let mut s = std::net::TcpStream::connect(reg.addr).unwrap();
        let head = format!(
            "PATCH {loc} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            reg.addr,
            data.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&data[..50_000]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // What arrived is kept (the server may still be finishing with it).
    let mut size = String::new();
    for _ in 0..50 {
        let r = get(reg.addr, &loc);
        if r.status == 204 && r.header("Range") == Some("0-49999") {
            size = r.header("Range").unwrap().to_string();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(size, "0-49999");
    assert_eq!(
        request(reg.addr, "HEAD", &format!("/v2/crash/blobs/{d}"), &[], b"").status,
        404
    );
    // The client resumes from there and finishes with the right digest.
    let r = request(
        reg.addr,
        "PATCH",
        &loc,
        &[("Content-Range", "50000-199999")],
        &data[50_000..],
    );
    assert_eq!((r.status, r.header("Range")), (202, Some("0-199999")));
    let r = request(reg.addr, "PUT", &format!("{loc}?digest={d}"), &[], b"");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(reg.addr, &format!("/v2/crash/blobs/{d}")).body, data);
}
