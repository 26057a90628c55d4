use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::sys;

fn layer(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = root.join(name);
    for (p, c) in files {
        let f = d.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, c).unwrap();
    }
    d
}

#[test]
fn overlay_prepare_is_idempotent_and_removable() {
    let t = tempfile::tempdir().unwrap();
    let base = layer(t.path(), "l0", &[("etc/a", "0"), ("etc/b", "0")]);
    let top = layer(t.path(), "l1", &[("etc/a", "1")]);
    sys::make_whiteout(&top.join("etc/b")).unwrap();
    let dir = t.path().join("c1");
    let layers = vec![top, base];
    let d = prepare(&layers, &dir).unwrap();
    assert_eq!(prepare(&layers, &dir).unwrap(), d);
    let merged = merged_dir(&dir);
    assert_eq!(fs::read_to_string(merged.join("etc/a")).unwrap(), "1");
    assert!(!merged.join("etc/b").exists());
    fs::write(merged.join("etc/new"), "n").unwrap();
    if d == Driver::Overlay {
        fs::remove_file(merged.join("etc/a")).unwrap();
        let ch = changes(&layers, &upper_dir(&dir)).unwrap();
        assert_eq!(
            ch,
            [
                Change {
                    path: "/etc".into(),
                    kind: ChangeKind::Modified
                },
                Change {
                    path: "/etc/a".into(),
                    kind: ChangeKind::Deleted
                },
                Change {
                    path: "/etc/new".into(),
                    kind: ChangeKind::Added
                },
            ]
        );
    }
    unmount(&dir).unwrap();
    unmount(&dir).unwrap();
    remove(&dir).unwrap();
    assert!(!dir.exists());
    assert!(layers[1].join("etc/b").exists(), "lower layers untouched");
}

#[test]
fn vfs_copy_applies_whiteouts() {
    let t = tempfile::tempdir().unwrap();
    let base = layer(
        t.path(),
        "l0",
        &[("d/old", "o"), ("gone", "g"), ("keep", "k")],
    );
    std::os::unix::fs::symlink("keep", base.join("link")).unwrap();
    let top = layer(t.path(), "l1", &[("d/new", "n")]);
    sys::set_xattr(&top.join("d"), sys::OVERLAY_OPAQUE, b"y").unwrap();
    sys::make_whiteout(&top.join("gone")).unwrap();
    let dest = t.path().join("merged");
    vfs::copy_layers(&[top, base], &dest).unwrap();
    assert!(!dest.join("gone").exists());
    assert!(!dest.join("d/old").exists());
    assert_eq!(fs::read_to_string(dest.join("d/new")).unwrap(), "n");
    assert_eq!(fs::read_link(dest.join("link")).unwrap(), Path::new("keep"));
    assert_eq!(
        sys::get_xattr(&dest.join("d"), sys::OVERLAY_OPAQUE).unwrap(),
        None
    );
}

#[test]
fn changes_like_docker() {
    let t = tempfile::tempdir().unwrap();
    let base = layer(t.path(), "l0", &[("etc/passwd", "x"), ("usr/bin/a", "a")]);
    let up = layer(t.path(), "up", &[("etc/passwd", "y"), ("tmp/new/f", "f")]);
    fs::create_dir_all(up.join("usr/bin")).unwrap();
    sys::make_whiteout(&up.join("usr/bin/a")).unwrap();
    // Copy-up keeps a directory's times; a changed directory gets new ones.
    for (d, t) in [(&base, 1000), (&up, 1000)] {
        for p in ["etc", "usr", "usr/bin"] {
            sys::set_times(&d.join(p), t, t).unwrap();
        }
    }
    sys::set_times(&up.join("etc"), 2000, 2000).unwrap();
    sys::set_times(&up.join("usr/bin"), 3000, 3000).unwrap();
    let ch: Vec<(String, u8)> = changes(&[base], &up)
        .unwrap()
        .into_iter()
        .map(|c| (c.path, c.kind as u8))
        .collect();
    let expect: Vec<(String, u8)> = [
        ("/etc", 0),
        ("/etc/passwd", 0),
        ("/tmp", 1),
        ("/tmp/new", 1),
        ("/tmp/new/f", 1),
        ("/usr/bin", 0),
        ("/usr/bin/a", 2),
    ]
    .iter()
    .map(|(p, k)| (p.to_string(), *k))
    .collect();
    assert_eq!(ch, expect);
}
