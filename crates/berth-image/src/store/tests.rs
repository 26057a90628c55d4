use std::fs;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::layer::tests::RawTar;
use crate::{sys, Kind};

fn store() -> (tempfile::TempDir, ImageStore) {
    let t = tempfile::tempdir().unwrap();
    let db = Arc::new(redb::Database::create(t.path().join("meta.redb")).unwrap());
    let s = ImageStore::open(&t.path().join("data"), db).unwrap();
    (t, s)
}

fn rootfs_tar() -> Vec<u8> {
    RawTar::new()
        .dir("bin/")
        .file("bin/sh", b"#!fake shell")
        .dir("etc/")
        .file("etc/hostname", b"base")
        .file("etc/gone", b"x")
        .finish()
}

fn no_containers(_: &str) -> Option<(String, bool)> {
    None
}

#[test]
fn import_list_resolve_tag_delete() {
    let (_t, s) = store();
    let changes = vec!["CMD [\"/bin/sh\"]".to_string(), "ENV A=1".to_string()];
    let id = s
        .import(&rootfs_tar()[..], &changes, None, Some("busybox"))
        .unwrap();
    assert!(id.starts_with("sha256:"));
    // The id is the digest of the stored config, byte for byte.
    let cfg = s.config_bytes(&id).unwrap();
    assert_eq!(content::sha256_digest(&cfg), id);
    let v: serde_json::Value = serde_json::from_slice(&cfg).unwrap();
    assert_eq!(v["config"]["Cmd"], json!(["/bin/sh"]));
    assert_eq!(v["history"][0]["comment"], json!("Imported from -"));

    let list = s.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].repo_tags, ["busybox:latest"]);
    assert_eq!(list[0].size, 4 + 12 + 1);
    assert_eq!(s.resolve("busybox").unwrap().id, id);
    assert_eq!(
        s.resolve("docker.io/library/busybox:latest").unwrap().id,
        id
    );
    assert_eq!(s.resolve(&id[7..12]).unwrap().id, id);
    assert_eq!(s.resolve(&id).unwrap().id, id);
    let e = s.resolve("nope").unwrap_err();
    assert_eq!(
        (e.to_string(), e.status_kind()),
        ("No such image: nope:latest".to_string(), Kind::NotFound)
    );
    assert_eq!(
        s.resolve("Nope").unwrap_err().status_kind(),
        Kind::InvalidArgument
    );

    let dirs = s.layer_dirs("busybox").unwrap();
    assert_eq!(dirs.len(), 1);
    assert_eq!(fs::read(dirs[0].join("etc/hostname")).unwrap(), b"base");

    s.tag("busybox", "localhost:5000/a/b:t").unwrap();
    s.tag(&id, "other").unwrap();
    let info = s.resolve("localhost:5000/a/b:t").unwrap();
    assert_eq!(
        info.repo_tags,
        ["busybox:latest", "localhost:5000/a/b:t", "other:latest"]
    );
    assert!(s.tag("busybox", &format!("x@{id}")).is_err());

    let insp = s.inspect("other").unwrap();
    assert_eq!(insp["Id"], json!(id));
    assert_eq!(insp["Config"]["Env"], json!(["A=1"]));
    assert_eq!(insp["Config"]["Hostname"], json!(""));
    assert_eq!(insp["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(insp["GraphDriver"]["Name"], json!("overlay2"));
    let h = s.history("busybox").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].id, id);
    assert_eq!(h[0].comment, "Imported from -");

    // By id with several tags: refused without force.
    let e = s.delete(&id[7..19], false, &no_containers).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories", &id[7..19])
    );
    assert_eq!(e.status_kind(), Kind::Conflict);
    // By one of several tags: only untags.
    assert_eq!(
        s.delete("other", false, &no_containers).unwrap(),
        [DeleteItem::Untagged("other:latest".into())]
    );
    // A container uses it: removing the last tags but one still works, the last one not.
    assert_eq!(
        s.delete("localhost:5000/a/b:t", false, &no_containers)
            .unwrap(),
        [DeleteItem::Untagged("localhost:5000/a/b:t".into())]
    );
    let used = |_: &str| Some(("c0ffee1234567890".to_string(), true));
    let e = s.delete("busybox", false, &used).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "conflict: unable to remove repository reference \"busybox\" (must force) - container c0ffee123456 is using its referenced image {}",
            &id[7..19]
        )
    );
    let e = s.delete(&id, true, &used).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "(cannot be forced) - image is being used by running container c0ffee123456"
        ),
        "{e}"
    );
    let out = s.delete("busybox", false, &no_containers).unwrap();
    assert_eq!(out[0], DeleteItem::Untagged("busybox:latest".into()));
    assert_eq!(out[1], DeleteItem::Deleted(id.clone()));
    assert_eq!(out.len(), 3, "the layer goes too: {out:?}");
    assert!(s.list().unwrap().is_empty());
    assert!(!dirs[0].exists());
    assert!(s.content.list().unwrap().is_empty(), "blobs collected");
}

#[test]
fn identical_layers_are_shared() {
    let (_t, s) = store();
    let a = s
        .import(&rootfs_tar()[..], &[], Some("one"), Some("a"))
        .unwrap();
    let b = s
        .import(&rootfs_tar()[..], &[], Some("two"), Some("b"))
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(s.layer_dirs("a").unwrap(), s.layer_dirs("b").unwrap());
    s.delete("a", false, &no_containers).unwrap();
    assert!(s.layer_dirs("b").unwrap()[0].exists());
}

#[test]
fn commit_with_whiteout_and_history() {
    let (t, s) = store();
    let base = s
        .import(&rootfs_tar()[..], &[], None, Some("base"))
        .unwrap();
    let upper = t.path().join("upper");
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::write(upper.join("etc/hostname"), b"changed").unwrap();
    sys::make_whiteout(&upper.join("etc/gone")).unwrap();
    let cfg = json!({"Cmd": ["/bin/sh", "-c", "true"], "Env": ["PATH=/bin"]});
    let id = s
        .commit(
            Some("base"),
            &upper,
            cfg,
            "me",
            "a comment",
            "/bin/sh -c edit",
            Some("child:1"),
        )
        .unwrap();
    let dirs = s.layer_dirs(&id).unwrap();
    assert_eq!(dirs.len(), 2);
    assert_eq!(fs::read(dirs[0].join("etc/hostname")).unwrap(), b"changed");
    assert!(sys::is_whiteout(
        &fs::symlink_metadata(dirs[0].join("etc/gone")).unwrap()
    ));
    let info = s.resolve("child:1").unwrap();
    assert_eq!(info.parent, base);
    let h = s.history("child:1").unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].id.as_str(), h[0].created_by.as_str()),
        (id.as_str(), "/bin/sh -c edit")
    );
    assert_eq!(h[0].size, 7);
    assert_eq!(h[1].id, base);
    let insp = s.inspect(&id).unwrap();
    assert_eq!(insp["Author"], json!("me"));
    assert_eq!(insp["Comment"], json!("a comment"));
    assert_eq!(insp["Parent"], json!(base));
    // The parent has a child now.
    let e = s.delete(&base, true, &no_containers).unwrap_err();
    assert!(
        e.to_string()
            .contains("(cannot be forced) - image has dependent child images"),
        "{e}"
    );
}

#[test]
fn save_load_round_trip() {
    let (t, s) = store();
    let id = s
        .import(
            &rootfs_tar()[..],
            &["CMD [\"sh\"]".to_string()],
            None,
            Some("busybox:1"),
        )
        .unwrap();
    s.tag(&id, "busybox:2").unwrap();
    let upper = t.path().join("upper");
    fs::create_dir_all(&upper).unwrap();
    fs::write(upper.join("new"), b"n").unwrap();
    let child = s
        .commit(Some(&id), &upper, json!({}), "", "", "", None)
        .unwrap();
    let mut archive = Vec::new();
    s.save(
        &["busybox".to_string(), child[7..15].to_string()],
        &mut archive,
    )
    .unwrap();

    let names: Vec<String> = tar::Archive::new(&archive[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    for n in ["index.json", "manifest.json", "oci-layout", "repositories"] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }

    let (_t2, s2) = store();
    let lines = s2.load(&archive[..]).unwrap();
    assert_eq!(
        lines,
        [
            "Loaded image: busybox:1",
            "Loaded image: busybox:2",
            &format!("Loaded image ID: {child}")
        ]
    );
    assert_eq!(s2.resolve("busybox:2").unwrap().id, id);
    assert_eq!(
        s2.config_bytes(&child).unwrap(),
        s.config_bytes(&child).unwrap()
    );
    assert_eq!(
        fs::read(s2.layer_dirs(&child).unwrap()[0].join("new")).unwrap(),
        b"n"
    );
    assert_eq!(
        s2.resolve(&child).unwrap().size,
        s.resolve(&child).unwrap().size
    );

    // Gzip'd, and as a plain OCI layout (no manifest.json).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &archive).unwrap();
    let (_t3, s3) = store();
    assert_eq!(s3.load(&gz.finish().unwrap()[..]).unwrap().len(), 3);

    let mut oci = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(&archive[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().into_owned();
        if p.to_str() == Some("manifest.json") || p.to_str() == Some("repositories") {
            continue;
        }
        let mut h = e.header().clone();
        oci.append_data(&mut h, &p, &mut e).unwrap();
    }
    let oci = oci.into_inner().unwrap();
    let (_t4, s4) = store();
    let lines = s4.load(&oci[..]).unwrap();
    assert_eq!(
        lines,
        [
            "Loaded image: busybox:1",
            "Loaded image: busybox:2",
            &format!("Loaded image ID: {child}")
        ]
    );

    // Loading again retags and says so.
    s4.tag(&child, "busybox:1").unwrap();
    let lines = s4.load(&archive[..]).unwrap();
    assert!(
        lines[0].starts_with("The image busybox:1 already exists, renaming the old one with ID"),
        "{lines:?}"
    );
}

#[test]
fn load_refuses_escaping_archive_paths() {
    let (_t, s) = store();
    let tar = RawTar::new().file("../manifest.json", b"[]").finish();
    assert!(s.load(&tar[..]).is_err());
}

#[test]
fn prune_dangling_and_all() {
    let (t, s) = store();
    let a = s.import(&rootfs_tar()[..], &[], Some("a"), None).unwrap();
    let _b = s
        .import(&rootfs_tar()[..], &[], Some("b"), Some("b"))
        .unwrap();
    let upper = t.path().join("u");
    fs::create_dir_all(&upper).unwrap();
    fs::write(upper.join("f"), b"12345").unwrap();
    let c = s
        .commit(Some("b"), &upper, json!({}), "", "", "", Some("c"))
        .unwrap();
    let (gone, _) = s.prune(false, &|_| false).unwrap();
    assert_eq!(gone, [DeleteItem::Deleted(a)]);
    let (gone, freed) = s.prune(true, &|id| id == c).unwrap();
    assert!(gone.is_empty(), "c uses b through its parent: {gone:?}");
    assert_eq!(freed, 0);
    let (gone, freed) = s.prune(true, &|_| false).unwrap();
    assert_eq!(
        gone.iter()
            .filter(|d| matches!(d, DeleteItem::Deleted(_)))
            .count(),
        4,
        "{gone:?}"
    );
    assert_eq!(freed, 5 + 17);
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn hostile_import_is_refused_and_leaves_nothing() {
    let (t, s) = store();
    let tar = RawTar::new()
        .file("ok", b"1")
        .file("../../escaped", b"x")
        .finish();
    let e = s.import(&tar[..], &[], None, Some("evil")).unwrap_err();
    assert_eq!(e.status_kind(), Kind::InvalidArgument);
    assert_eq!(
        e.to_string(),
        "layer of imported tar: layer entry ../../escaped escapes the root"
    );
    assert!(!t.path().join("escaped").exists());
    assert!(s.list().unwrap().is_empty());
    assert!(s.layers.list().is_empty(), "no half layer left");
    assert!(
        fs::read_dir(s.content.tmp_dir()).unwrap().next().is_none(),
        "no temp blob left"
    );
    let e = s
        .import(&rootfs_tar()[..], &["RUN x".to_string()], None, None)
        .unwrap_err();
    assert_eq!(e.status_kind(), Kind::InvalidArgument);
}
