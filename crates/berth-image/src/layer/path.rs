//! Path handling that never leaves the root: entry names are cleaned lexically,
//! and existing symlinks are resolved as if the root were `/` (chroot semantics).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::LayerError;

const MAX_SYMLINKS: usize = 255;

/// Cleans a tar entry name: a leading `/` is dropped (as docker does), `.` and
/// `a/..` are folded; a `..` that would leave the root is refused.
pub fn clean_entry_path(name: &Path) -> Result<PathBuf, LayerError> {
    let mut out: Vec<OsString> = Vec::new();
    for c in name.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err(LayerError::Escape(name.display().to_string()));
                }
            }
            Component::Normal(n) => out.push(n.to_os_string()),
        }
    }
    Ok(out.iter().collect())
}

/// Resolves `rel` (already cleaned) under `root`, following symlinks found on
/// the way but scoped to `root`: an absolute link target restarts at `root`,
/// `..` stops at `root`. Components that do not exist are kept as they are.
/// With `follow_last == false` the final component is not resolved.
pub fn resolve_in_root(root: &Path, rel: &Path, follow_last: bool) -> Result<PathBuf, LayerError> {
    let mut queue: Vec<OsString> = rel
        .components()
        .rev()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut cur = root.to_path_buf();
    let mut depth = 0usize;
    let mut links = 0usize;
    while let Some(c) = queue.pop() {
        let cb = c.as_bytes();
        if cb.is_empty() || cb == b"." || cb == b"/" {
            continue;
        }
        if cb == b".." {
            if depth > 0 {
                cur.pop();
                depth -= 1;
            }
            continue;
        }
        let next = cur.join(&c);
        let is_last = queue.is_empty();
        if is_last && !follow_last {
            return Ok(next);
        }
        match std::fs::symlink_metadata(&next) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(LayerError::SymlinkLoop(rel.display().to_string()));
                }
                let target = std::fs::read_link(&next).map_err(|e| LayerError::io(&next, e))?;
                if target.is_absolute() {
                    cur = root.to_path_buf();
                    depth = 0;
                }
                for tc in target.components().rev() {
                    match tc {
                        Component::RootDir | Component::Prefix(_) => {}
                        other => queue.push(other.as_os_str().to_os_string()),
                    }
                }
            }
            Ok(_) => {
                cur = next;
                depth += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                cur = next;
                depth += 1;
            }
            Err(e) => return Err(LayerError::io(&next, e)),
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn clean_strips_root_and_refuses_escape() {
        assert_eq!(
            clean_entry_path(Path::new("/etc/x")).unwrap(),
            PathBuf::from("etc/x")
        );
        assert_eq!(
            clean_entry_path(Path::new("./a/../b")).unwrap(),
            PathBuf::from("b")
        );
        assert!(matches!(
            clean_entry_path(Path::new("../x")),
            Err(LayerError::Escape(_))
        ));
        assert!(matches!(
            clean_entry_path(Path::new("a/../../x")),
            Err(LayerError::Escape(_))
        ));
        assert!(matches!(
            clean_entry_path(Path::new("/../x")),
            Err(LayerError::Escape(_))
        ));
    }

    #[test]
    fn symlinks_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir(root.join("real")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../tmp", root.join("rel")).unwrap();
        symlink("real", root.join("inner")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("abs/passwd"), true).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("rel/x"), true).unwrap(),
            root.join("tmp/x")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("inner/f"), true).unwrap(),
            root.join("real/f")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("inner"), false).unwrap(),
            root.join("inner")
        );
        symlink("loop", root.join("loop")).unwrap();
        assert!(matches!(
            resolve_in_root(root, Path::new("loop/x"), true),
            Err(LayerError::SymlinkLoop(_))
        ));
    }
}
