//! Writing COPY/ADD sources into a container's root filesystem: files,
//! directories (their contents), symlinks as links, `--chown`/`--chmod`,
//! the destination rules of docker, and ADD's extraction of local tars.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{chown, lchown, symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_image::layer::{decompress, resolve_in_root, Compression};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("unable to convert uid/gid chown string to host mapping: {0}")]
    Chown(String),
    #[error("invalid chmod parameter: {0}")]
    Chmod(String),
    #[error("{0}")]
    Path(String),
}

fn io_err<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> CopyError + 'p {
    move |source| CopyError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Owner and mode given by `--chown` / `--chmod`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    pub owner: Option<(u32, u32)>,
    pub mode: Option<u32>,
}

/// `--chmod=755` (octal only, as the legacy builder).
pub fn parse_chmod(spec: &str) -> Result<u32, CopyError> {
    u32::from_str_radix(spec, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| CopyError::Chmod(spec.to_string()))
}

/// `--chown=user[:group]`, numeric or names looked up in the image's
/// `/etc/passwd` and `/etc/group`. A user alone gives its primary group.
pub fn parse_chown(spec: &str, root: &Path) -> Result<(u32, u32), CopyError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let bad = || CopyError::Chown(format!("{spec}: no such user or group in the image"));
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    let (uid, primary_gid) = match user.parse::<u32>() {
        Ok(uid) => (
            uid,
            lookup(&passwd, |f| f.get(2) == Some(&user))
                .and_then(|f| f.get(3)?.parse().ok())
                .unwrap_or(uid),
        ),
        Err(_) => {
            let f = lookup(&passwd, |f| f.first() == Some(&user)).ok_or_else(bad)?;
            let uid = f.get(2).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let gid = f.get(3).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            (uid, gid)
        }
    };
    let gid = match group {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = fs::read_to_string(root.join("etc/group")).unwrap_or_default();
                let f = lookup(&groups, |f| f.first() == Some(&g)).ok_or_else(bad)?;
                f.get(2).and_then(|s| s.parse().ok()).ok_or_else(bad)?
            }
        },
    };
    Ok((uid, gid))
}

fn lookup<'a>(text: &'a str, pred: impl Fn(&Vec<&'a str>) -> bool) -> Option<Vec<&'a str>> {
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| pred(f))
}

/// A path inside the container, absolute: relative ones are under `workdir`.
pub fn container_path(dest: &str, workdir: &str) -> String {
    if dest.starts_with('/') {
        dest.to_string()
    } else {
        let base = if workdir.is_empty() { "/" } else { workdir };
        format!("{}/{dest}", base.trim_end_matches('/'))
    }
}

/// Where `path` (absolute in the container) is on the host, symlinks in
/// its parents followed inside `root`.
pub fn host_path(root: &Path, path: &str, follow_last: bool) -> Result<PathBuf, CopyError> {
    resolve_in_root(root, Path::new(path.trim_start_matches('/')), follow_last)
        .map_err(|e| CopyError::Path(format!("resolve {path}: {e}")))
}

/// Whether the destination is a directory: written with a trailing `/`, or
/// an existing directory in the image.
pub fn dest_is_dir(root: &Path, dest: &str) -> Result<bool, CopyError> {
    if dest.ends_with('/') || dest.ends_with("/.") {
        return Ok(true);
    }
    let p = host_path(root, dest, true)?;
    Ok(p.is_dir())
}

/// Makes `dir` (on the host, inside the rootfs) and its missing parents,
/// owned by `owner` when given.
pub fn make_dirs(dir: &Path, owner: Option<(u32, u32)>) -> Result<(), CopyError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(parent, owner)?;
    }
    match fs::symlink_metadata(dir) {
        Ok(md) if !md.is_dir() => fs::remove_file(dir).map_err(io_err("replace", dir))?,
        _ => {}
    }
    fs::create_dir(dir).map_err(io_err("create directory", dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(io_err("chmod", dir))?;
    if let Some((u, g)) = owner {
        chown(dir, Some(u), Some(g)).map_err(io_err("chown", dir))?;
    }
    Ok(())
}

/// Copies `src` (a host file, directory or symlink) to `dst` (a host path
/// inside the rootfs). A directory's contents are merged into `dst`.
pub fn copy_entry(src: &Path, dst: &Path, opts: CopyOptions) -> Result<(), CopyError> {
    let md = fs::symlink_metadata(src).map_err(io_err("stat", src))?;
    if let Some(parent) = dst.parent() {
        make_dirs(parent, opts.owner)?;
    }
    let ft = md.file_type();
    if ft.is_dir() {
        // A symlink at the destination is replaced, never followed: its target
        // would be read on the host, outside the image's root.
        if fs::symlink_metadata(dst).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(dst).map_err(io_err("replace", dst))?;
        }
        if !dst.is_dir() {
            make_dirs(dst, None)?;
        }
        let mode = opts.mode.unwrap_or(md.mode() & 0o7777);
        fs::set_permissions(dst, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", dst))?;
        let (u, g) = opts.owner.unwrap_or((0, 0));
        chown(dst, Some(u), Some(g)).map_err(io_err("chown", dst))?;
        let mut names: Vec<_> = fs::read_dir(src)
            .map_err(io_err("read directory", src))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("read directory", src))?;
        names.sort();
        for name in names {
            copy_entry(&src.join(&name), &dst.join(&name), opts)?;
        }
        return Ok(());
    }
    remove_non_dir(dst)?;
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(io_err("read link", src))?;
        symlink(&target, dst).map_err(io_err("create symlink", dst))?;
    } else if ft.is_file() {
        fs::copy(src, dst).map_err(io_err("copy to", dst))?;
        let mode = opts.mode.unwrap_or(md.mode() & 0o7777);
        fs::set_permissions(dst, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", dst))?;
        if let Ok(mtime) = md.modified() {
            if let Ok(f) = fs::File::options().write(true).open(dst) {
                let _ = f.set_modified(mtime);
            }
        }
    } else {
        // Sockets, fifos and devices are not copied (docker skips them too).
        return Ok(());
    }
    let (u, g) = opts.owner.unwrap_or((0, 0));
    lchown(dst, Some(u), Some(g)).map_err(io_err("chown", dst))?;
    Ok(())
}

/// Writes `content` as a file at `dst` (heredoc sources, downloads).
pub fn write_file(
    dst: &Path,
    content: &mut dyn Read,
    mode: u32,
    opts: CopyOptions,
) -> Result<(), CopyError> {
    if let Some(parent) = dst.parent() {
        make_dirs(parent, opts.owner)?;
    }
    remove_non_dir(dst)?;
    let mut f = fs::File::create(dst).map_err(io_err("create", dst))?;
    io::copy(content, &mut f).map_err(io_err("write", dst))?;
    let mode = opts.mode.unwrap_or(mode);
    fs::set_permissions(dst, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", dst))?;
    let (u, g) = opts.owner.unwrap_or((0, 0));
    chown(dst, Some(u), Some(g)).map_err(io_err("chown", dst))?;
    Ok(())
}

fn remove_non_dir(p: &Path) -> Result<(), CopyError> {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(p).map_err(io_err("replace", p)),
        Ok(_) => fs::remove_file(p).map_err(io_err("replace", p)),
        Err(_) => Ok(()),
    }
}

/// The compression of a local archive ADD extracts, by its first bytes;
/// Whether the file starts like a tar: compressed (gzip, zstd, bzip2, xz: told by their magic
/// bytes, as docker does) or plain (`ustar` at offset 257). Anything else is copied.
fn archive_kind(path: &Path) -> Result<Option<Compression>, CopyError> {
    let mut head = [0u8; 512];
    let mut f = fs::File::open(path).map_err(io_err("open", path))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(io_err("read", path))? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    Ok(match Compression::detect(head) {
        Compression::None if head.len() >= 263 && &head[257..262] == b"ustar" => {
            Some(Compression::None)
        }
        Compression::None => None,
        compressed => Some(compressed),
    })
}

/// ADD of a local file: a tar (plain, gzip, zstd, bzip2 or xz) is unpacked into `dir` and
/// true is returned; anything else is left to be copied (false).
pub fn extract_archive(
    src: &Path,
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> Result<bool, CopyError> {
    let Some(kind) = archive_kind(src)? else {
        return Ok(false);
    };
    let f = fs::File::open(src).map_err(io_err("open", src))?;
    let reader =
        decompress(f).map_err(|e| CopyError::Path(format!("archive {}: {e}", src.display())))?;
    let mut reader = BufReader::new(reader);
    // A compressed file that does not hold a tar is copied as it is.
    let is_tar = {
        let head = reader.fill_buf().map_err(io_err("read", src))?;
        kind == Compression::None || head.len() >= 263 && &head[257..262] == b"ustar"
    };
    if !is_tar {
        return Ok(false);
    }
    make_dirs(dir, owner)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(owner.is_none());
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    archive
        .unpack(dir)
        .map_err(io_err("extract archive into", dir))?;
    if let Some((u, g)) = owner {
        chown_tree(dir, u, g)?;
    }
    Ok(true)
}

fn chown_tree(p: &Path, u: u32, g: u32) -> Result<(), CopyError> {
    lchown(p, Some(u), Some(g)).map_err(io_err("chown", p))?;
    if fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false) {
        for e in fs::read_dir(p).map_err(io_err("read directory", p))? {
            let e = e.map_err(io_err("read directory", p))?;
            chown_tree(&e.path(), u, g)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_names_and_numbers() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("etc")).unwrap();
        fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nwww:x:33:34::/var/www:/bin/sh\n",
        )
        .unwrap();
        fs::write(root.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(parse_chown("www", root.path()).unwrap(), (33, 34));
        assert_eq!(parse_chown("www:staff", root.path()).unwrap(), (33, 50));
        assert_eq!(parse_chown("1000:1001", root.path()).unwrap(), (1000, 1001));
        assert_eq!(parse_chown("1000", root.path()).unwrap(), (1000, 1000));
        assert!(parse_chown("nobody", root.path()).is_err());
        assert_eq!(parse_chmod("755").unwrap(), 0o755);
        assert!(parse_chmod("u+x").is_err());
    }

    #[test]
    fn destinations() {
        assert_eq!(container_path("a", "/w"), "/w/a");
        assert_eq!(container_path("a", ""), "/a");
        assert_eq!(container_path("/b", "/w"), "/b");
    }

    #[test]
    fn a_symlink_at_the_destination_is_not_followed_out_of_the_root() {
        let outside = tempfile::tempdir().unwrap();
        fs::set_permissions(outside.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("d")).unwrap();
        fs::write(src.path().join("d/f"), "x").unwrap();
        let root = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.path().join("d")).unwrap();
        copy_entry(
            &src.path().join("d"),
            &root.path().join("d"),
            CopyOptions::default(),
        )
        .unwrap();
        assert!(root.path().join("d").is_dir());
        assert!(!fs::symlink_metadata(root.path().join("d"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(!outside.path().join("f").exists());
        let mode = fs::metadata(outside.path()).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn copies_directory_contents_and_links() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("d/sub")).unwrap();
        fs::write(src.path().join("d/sub/f"), "x").unwrap();
        symlink("sub/f", src.path().join("d/l")).unwrap();
        let root = tempfile::tempdir().unwrap();
        let dst = root.path().join("app");
        copy_entry(
            &src.path().join("d"),
            &dst,
            CopyOptions {
                owner: Some((7, 8)),
                mode: None,
            },
        )
        .unwrap();
        assert_eq!(fs::read_to_string(dst.join("sub/f")).unwrap(), "x");
        assert_eq!(fs::read_link(dst.join("l")).unwrap(), Path::new("sub/f"));
        assert_eq!(fs::metadata(dst.join("sub/f")).unwrap().uid(), 7);
    }
}
