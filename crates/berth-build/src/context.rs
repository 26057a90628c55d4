//! The build context as docker sends it: every file, directory and symlink
//! under the context directory that `.dockerignore` keeps, in a stable
//! order. Symlinks are listed as links and never followed, so nothing
//! outside the context is read.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::ignore::DockerIgnore;

#[derive(Debug, Error)]
pub enum ContextError {
    #[error("unable to prepare context: path {0:?} not found")]
    NotFound(PathBuf),
    #[error("unable to prepare context: context must be a directory: {0}")]
    NotADirectory(PathBuf),
    #[error("build context {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File {
        size: u64,
    },
    Dir,
    Symlink {
        target: String,
    },
    /// Sockets, fifos and devices: sent as they are, never read.
    Special,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// Relative to the context, `/`-separated, no leading `./`.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits (with setuid, setgid, sticky).
    pub mode: u32,
}

/// The kept entries of a context directory, sorted by path (a directory
/// before its contents). A directory that is excluded but holds re-included
/// paths is walked, yet not listed itself, as docker does.
pub fn walk_context(root: &Path, ignore: &DockerIgnore) -> Result<Vec<ContextEntry>, ContextError> {
    let meta = match fs::metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContextError::NotFound(root.to_path_buf()))
        }
        Err(source) => {
            return Err(ContextError::Io {
                path: root.to_path_buf(),
                source,
            })
        }
    };
    if !meta.is_dir() {
        return Err(ContextError::NotADirectory(root.to_path_buf()));
    }
    let mut out = Vec::new();
    walk_dir(root, "", ignore, &mut out)?;
    Ok(out)
}

fn walk_dir(
    root: &Path,
    rel: &str,
    ignore: &DockerIgnore,
    out: &mut Vec<ContextEntry>,
) -> Result<(), ContextError> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContextError::Io { path, source }
    };
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(&dir).map_err(io(&dir))? {
        let entry = entry.map_err(io(&dir))?;
        // paths that are not UTF-8 cannot be named in a Dockerfile either
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    for name in names {
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let full = root.join(&path);
        let meta = fs::symlink_metadata(&full).map_err(io(&full))?;
        let excluded = ignore.is_excluded(&path);
        let file_type = meta.file_type();
        if excluded && !(file_type.is_dir() && ignore.may_reinclude_under(&path)) {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        let kind = if file_type.is_symlink() {
            let target = fs::read_link(&full).map_err(io(&full))?;
            EntryKind::Symlink {
                target: target.to_string_lossy().into_owned(),
            }
        } else if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            EntryKind::File { size: meta.size() }
        } else if file_type.is_fifo()
            || file_type.is_socket()
            || file_type.is_block_device()
            || file_type.is_char_device()
        {
            EntryKind::Special
        } else {
            continue;
        };
        let is_dir = kind == EntryKind::Dir;
        if !excluded {
            out.push(ContextEntry {
                path: path.clone(),
                kind,
                mode,
            });
        }
        if is_dir {
            walk_dir(root, &path, ignore, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    fn paths(entries: &[ContextEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn lists_everything_sorted_without_ignore() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.txt", "b");
        write(dir.path(), "a/z.txt", "z");
        write(dir.path(), "a/c/d.txt", "d");
        fs::set_permissions(dir.path().join("b.txt"), fs::Permissions::from_mode(0o750)).unwrap();
        let entries = walk_context(dir.path(), &DockerIgnore::default()).unwrap();
        assert_eq!(
            paths(&entries),
            vec!["a", "a/c", "a/c/d.txt", "a/z.txt", "b.txt"]
        );
        let b = entries.iter().find(|e| e.path == "b.txt").unwrap();
        assert_eq!(b.kind, EntryKind::File { size: 1 });
        assert_eq!(b.mode, 0o750);
        assert_eq!(entries[0].kind, EntryKind::Dir);
    }

    #[test]
    fn ignore_rules_and_exceptions() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "keep.go",
            "skip.log",
            "docs/a.md",
            "docs/keep.txt",
            "node_modules/x/y.js",
            "src/main.go",
            "src/notes.log",
        ] {
            write(dir.path(), f, f);
        }
        let ignore =
            DockerIgnore::parse("*.log\n**/*.log\nnode_modules\ndocs\n!docs/keep.txt\n").unwrap();
        let entries = walk_context(dir.path(), &ignore).unwrap();
        assert_eq!(
            paths(&entries),
            vec!["docs/keep.txt", "keep.go", "src", "src/main.go"]
        );
    }

    #[test]
    fn exclude_all_but_one_extension() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a.go", "b.txt", "pkg/c.go", "pkg/d.txt", "pkg/deep/e.go"] {
            write(dir.path(), f, f);
        }
        let ignore = DockerIgnore::parse("*\n!**/*.go\n").unwrap();
        let entries = walk_context(dir.path(), &ignore).unwrap();
        assert_eq!(paths(&entries), vec!["a.go", "pkg/c.go", "pkg/deep/e.go"]);
    }

    #[test]
    fn symlinks_are_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret", "s");
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "f", "f");
        symlink(outside.path(), dir.path().join("out")).unwrap();
        symlink("f", dir.path().join("link")).unwrap();
        let entries = walk_context(dir.path(), &DockerIgnore::default()).unwrap();
        assert_eq!(paths(&entries), vec!["f", "link", "out"]);
        assert_eq!(
            entries[2].kind,
            EntryKind::Symlink {
                target: outside.path().to_string_lossy().into_owned()
            }
        );
        assert_eq!(entries[1].kind, EntryKind::Symlink { target: "f".into() });
    }

    #[test]
    fn context_must_be_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "file", "x");
        let err = walk_context(&dir.path().join("file"), &DockerIgnore::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unable to prepare context: context must be a directory: "),
            "{err}"
        );
        let err = walk_context(&dir.path().join("nope"), &DockerIgnore::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unable to prepare context: path "),
            "{err}"
        );
        assert!(err.to_string().ends_with("not found"), "{err}");
    }

    #[test]
    fn special_files_are_listed_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
        let entries = walk_context(dir.path(), &DockerIgnore::default()).unwrap();
        assert_eq!(paths(&entries), vec!["sock"]);
        assert_eq!(entries[0].kind, EntryKind::Special);
    }
}
