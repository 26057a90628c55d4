use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::*;
use crate::sys;

/// A tar builder that writes names as given, `..` and all, as a hostile tar would.
pub(crate) struct RawTar(pub Vec<u8>);

impl RawTar {
    pub fn new() -> Self {
        RawTar(Vec::new())
    }
    pub fn entry(mut self, name: &str, kind: tar::EntryType, data: &[u8], link: &str) -> Self {
        let mut h = tar::Header::new_ustar();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(data.len() as u64);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }
    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name, tar::EntryType::Regular, data, "")
    }
    pub fn dir(self, name: &str) -> Self {
        self.entry(name, tar::EntryType::Directory, b"", "")
    }
    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Symlink, b"", target)
    }
    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Link, b"", target)
    }
    pub fn finish(mut self) -> Vec<u8> {
        self.0.extend(std::iter::repeat_n(0u8, 1024));
        self.0
    }
}

#[test]
fn refuses_dotdot_entries() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("root");
    fs::create_dir(&dest).unwrap();
    let tar = RawTar::new().file("../x", b"evil").finish();
    let err = apply(&tar[..], &dest, true).unwrap_err();
    assert_eq!(err.to_string(), "layer entry ../x escapes the root");
    assert!(!t.path().join("x").exists());

    let tar = RawTar::new().file("a/../../y", b"evil").finish();
    assert!(matches!(
        apply(&tar[..], &dest, true),
        Err(LayerError::Escape(_))
    ));
    assert!(!t.path().join("y").exists());
}

#[test]
fn absolute_names_are_rooted() {
    let t = tempfile::tempdir().unwrap();
    let tar = RawTar::new().file("/etc/x", b"hi").finish();
    let a = apply(&tar[..], t.path(), true).unwrap();
    assert_eq!(fs::read(t.path().join("etc/x")).unwrap(), b"hi");
    assert_eq!(a.size, 2);
    assert!(a.diff_id.starts_with("sha256:"));
}

#[test]
fn symlink_then_write_through_it_is_contained() {
    let outside = tempfile::tempdir().unwrap();
    let t = tempfile::tempdir().unwrap();
    let dest = t.path();
    let abs = outside.path().to_str().unwrap().to_string();
    let tar = RawTar::new()
        .symlink("escape", &abs)
        .file("escape/pwned", b"evil")
        .symlink("up", "../../../../../../")
        .file("up/pwned2", b"evil")
        .finish();
    apply(&tar[..], dest, true).unwrap();
    assert!(!outside.path().join("pwned").exists());
    assert_eq!(
        fs::read(dest.join(abs.trim_start_matches('/')).join("pwned")).unwrap(),
        b"evil"
    );
    assert_eq!(fs::read(dest.join("pwned2")).unwrap(), b"evil");
    // The links themselves are kept as written.
    assert!(fs::symlink_metadata(dest.join("escape"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn hardlinks_stay_inside() {
    let t = tempfile::tempdir().unwrap();
    let tar = RawTar::new().hardlink("x", "../../etc/passwd").finish();
    assert!(matches!(
        apply(&tar[..], t.path(), true),
        Err(LayerError::Escape(_))
    ));
    let tar = RawTar::new().hardlink("x", "etc/passwd").finish();
    assert!(matches!(
        apply(&tar[..], t.path(), true),
        Err(LayerError::LinkTarget { .. })
    ));
    let tar = RawTar::new().file("a", b"data").hardlink("b", "a").finish();
    apply(&tar[..], t.path(), true).unwrap();
    let (a, b) = (
        fs::metadata(t.path().join("a")).unwrap(),
        fs::metadata(t.path().join("b")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let t = tempfile::tempdir().unwrap();
    let tar = RawTar::new()
        .dir("d/")
        .file("d/.wh..wh..opq", b"")
        .file("d/keep", b"k")
        .file(".wh.gone", b"")
        .finish();
    apply(&tar[..], t.path(), true).unwrap();
    let md = fs::symlink_metadata(t.path().join("gone")).unwrap();
    assert!(md.file_type().is_char_device() && md.rdev() == 0);
    assert!(sys::is_opaque(&t.path().join("d")).unwrap());
    assert!(t.path().join("d/keep").exists());
}

#[test]
fn whiteouts_delete_in_flat_mode() {
    let t = tempfile::tempdir().unwrap();
    let base = RawTar::new()
        .dir("d/")
        .file("d/old", b"o")
        .file("gone", b"g")
        .finish();
    apply(&base[..], t.path(), false).unwrap();
    let top = RawTar::new()
        .dir("d/")
        .file("d/new", b"n")
        .file("d/.wh..wh..opq", b"")
        .file(".wh.gone", b"")
        .finish();
    apply(&top[..], t.path(), false).unwrap();
    assert!(!t.path().join("gone").exists());
    assert!(!t.path().join("d/old").exists());
    assert!(t.path().join("d/new").exists());
}

#[test]
fn gzip_and_diff_id_of_uncompressed_stream() {
    use sha2::Digest;
    let tar = RawTar::new().file("a", b"abc").finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let t = tempfile::tempdir().unwrap();
    let a = apply(&gz[..], t.path(), true).unwrap();
    assert_eq!(
        a.diff_id,
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tar)))
    );
}

#[test]
fn write_dir_converts_whiteouts_and_round_trips() {
    let t = tempfile::tempdir().unwrap();
    let up = t.path().join("upper");
    fs::create_dir_all(up.join("d/sub")).unwrap();
    fs::write(up.join("d/sub/f"), b"data").unwrap();
    fs::hard_link(up.join("d/sub/f"), up.join("d/link")).unwrap();
    std::os::unix::fs::symlink("/bin/sh", up.join("sh")).unwrap();
    sys::make_whiteout(&up.join("deleted")).unwrap();
    sys::set_xattr(&up.join("d"), sys::OVERLAY_OPAQUE, b"y").unwrap();
    sys::set_xattr(&up.join("d/sub/f"), "user.test", b"v").ok();

    let mut tar = Vec::new();
    write_dir(&up, &mut tar, true).unwrap();
    let names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "d/",
            "d/.wh..wh..opq",
            "d/link",
            "d/sub/",
            "d/sub/f",
            ".wh.deleted",
            "sh"
        ]
    );
    let mut again = Vec::new();
    write_dir(&up, &mut again, true).unwrap();
    assert_eq!(tar, again, "deterministic");

    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    apply(&tar[..], &out, true).unwrap();
    assert!(sys::is_whiteout(
        &fs::symlink_metadata(out.join("deleted")).unwrap()
    ));
    assert!(sys::is_opaque(&out.join("d")).unwrap());
    assert_eq!(fs::read(out.join("d/link")).unwrap(), b"data");
    assert_eq!(fs::read_link(out.join("sh")).unwrap(), Path::new("/bin/sh"));
    if sys::get_xattr(&up.join("d/sub/f"), "user.test")
        .unwrap()
        .is_some()
    {
        assert_eq!(
            sys::get_xattr(&out.join("d/sub/f"), "user.test")
                .unwrap()
                .unwrap(),
            b"v"
        );
    }
}
