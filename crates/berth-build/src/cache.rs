//! Cache-key inputs for COPY and ADD: a checksum of what the sources name in
//! the build context, from each file's content, mode and path in the context
//! (never mtimes, owners or inode numbers), walking directories in a fixed
//! order. The builder keys a layer as parent image + instruction text +
//! these checksums, so touching a file does not invalidate the cache but
//! changing a byte, a mode bit or a name does.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::context::{ContextEntry, EntryKind};
use crate::dockerfile::{Instruction, InstructionKind, Source};
use crate::ignore::clean_path;
use crate::pattern::{Pattern, PatternError};

#[derive(Debug, Error)]
pub enum CacheError {
    #[error("Forbidden path outside the build context: {0} ({1})")]
    OutsideContext(String, String),
    #[error("file not found in build context or excluded by .dockerignore: stat {0}: file does not exist")]
    NotFound(String),
    #[error("no source files were specified")]
    NoSources,
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("checksum of {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// The context as walked (see `context::walk_context`), ready for lookups.
#[derive(Debug, Clone)]
pub struct ContextIndex {
    root: PathBuf,
    /// Sorted by path.
    entries: Vec<ContextEntry>,
}

impl ContextIndex {
    pub fn new(root: &Path, mut entries: Vec<ContextEntry>) -> Self {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        ContextIndex {
            root: root.to_path_buf(),
            entries,
        }
    }

    pub fn entries(&self) -> &[ContextEntry] {
        &self.entries
    }

    fn get(&self, path: &str) -> Option<&ContextEntry> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The entries a COPY/ADD source names: a path (a directory with all it
    /// holds) or a glob matched against every path as Go's filepath.Match
    /// does. Paths are relative to the context even when written absolute.
    pub fn resolve(&self, source: &str) -> Result<Vec<&ContextEntry>, CacheError> {
        let cleaned = clean_path(source.trim_start_matches('/'));
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(CacheError::OutsideContext(source.to_string(), cleaned));
        }
        if cleaned == "." {
            return Ok(self.entries.iter().collect());
        }
        let roots: Vec<&ContextEntry> = if Pattern::has_wildcards(&cleaned) {
            let pattern = Pattern::new(&cleaned)?;
            let hits: Vec<&ContextEntry> = self
                .entries
                .iter()
                .filter(|e| pattern.matches(&e.path))
                .collect();
            if hits.is_empty() {
                return Err(CacheError::NoSources);
            }
            hits
        } else {
            vec![self
                .get(&cleaned)
                .ok_or_else(|| CacheError::NotFound(source.to_string()))?]
        };
        let mut out = Vec::new();
        for root in roots {
            out.push(root);
            if root.kind == EntryKind::Dir {
                let prefix = format!("{}/", root.path);
                out.extend(self.entries.iter().filter(|e| e.path.starts_with(&prefix)));
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
        Ok(out)
    }

    /// `sha256:<hex>` over the entries the sources name, in order.
    pub fn checksum(&self, sources: &[&str]) -> Result<String, CacheError> {
        let mut hasher = Sha256::new();
        for source in sources {
            hasher.update(b"source\0");
            for entry in self.resolve(source)? {
                self.hash_entry(&mut hasher, entry)?;
            }
        }
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    fn hash_entry(&self, hasher: &mut Sha256, entry: &ContextEntry) -> Result<(), CacheError> {
        let (kind, detail) = match &entry.kind {
            EntryKind::File { .. } => ("file", self.file_digest(&entry.path)?),
            EntryKind::Dir => ("dir", String::new()),
            EntryKind::Symlink { target } => ("symlink", target.clone()),
            EntryKind::Special => ("special", String::new()),
        };
        let record = format!("{}\0{kind}\0{:o}\0{detail}\n", entry.path, entry.mode);
        hasher.update(record.as_bytes());
        Ok(())
    }

    fn file_digest(&self, rel: &str) -> Result<String, CacheError> {
        let path = self.root.join(rel);
        let io_err = |source| CacheError::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(io_err)?;
        let mut hasher = Sha256::new();
        io::copy(&mut file, &mut hasher).map_err(io_err)?;
        Ok(hex::encode(hasher.finalize()))
    }
}

/// The sources of a (substituted) COPY or ADD that come from the context:
/// not heredocs, not URLs, not a `COPY --from` stage or image.
pub fn context_sources(instruction: &Instruction) -> Vec<&str> {
    let sources = match &instruction.kind {
        InstructionKind::Copy(c) if c.from.is_none() => &c.sources,
        InstructionKind::Add(a) => &a.sources,
        _ => return Vec::new(),
    };
    sources
        .iter()
        .filter_map(|s| match s {
            Source::Path(p) if !is_remote(p) => Some(p.as_str()),
            _ => None,
        })
        .collect()
}

pub(crate) fn is_remote(source: &str) -> bool {
    ["http://", "https://", "git@", "git://"]
        .iter()
        .any(|p| source.starts_with(p))
}

/// The instruction text a layer is keyed on: the text as written plus the
/// bodies of its heredocs (which are not part of the line).
pub fn instruction_cache_text(instruction: &Instruction) -> String {
    let heredocs = match &instruction.kind {
        InstructionKind::Run(r) => r.heredocs.clone(),
        InstructionKind::Copy(c) => heredoc_sources(&c.sources),
        InstructionKind::Add(a) => heredoc_sources(&a.sources),
        InstructionKind::Onbuild(o) => return o.expression.clone(),
        _ => Vec::new(),
    };
    let mut text = instruction.original.clone();
    for doc in heredocs {
        text.push('\n');
        text.push_str(&doc.body);
        text.push_str(&doc.name);
    }
    text
}

fn heredoc_sources(sources: &[Source]) -> Vec<crate::dockerfile::Heredoc> {
    sources
        .iter()
        .filter_map(|s| match s {
            Source::Heredoc(h) => Some(h.clone()),
            Source::Path(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::context::walk_context;
    use crate::dockerfile::parse;
    use crate::ignore::DockerIgnore;

    struct Ctx {
        dir: tempfile::TempDir,
        ignore: DockerIgnore,
    }

    impl Ctx {
        fn new(files: &[(&str, &str)]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            for (path, content) in files {
                let p = dir.path().join(path);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(p, content).unwrap();
            }
            Ctx {
                dir,
                ignore: DockerIgnore::default(),
            }
        }

        fn index(&self) -> ContextIndex {
            ContextIndex::new(
                self.dir.path(),
                walk_context(self.dir.path(), &self.ignore).unwrap(),
            )
        }

        fn sum(&self, sources: &[&str]) -> String {
            self.index().checksum(sources).unwrap()
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }
    }

    const FILES: &[(&str, &str)] = &[
        ("app/main.go", "package main"),
        ("app/util/u.go", "package util"),
        ("app/README", "readme"),
        ("other.txt", "other"),
    ];

    #[test]
    fn stable_across_calls_and_copies() {
        let a = Ctx::new(FILES);
        let b = Ctx::new(FILES);
        assert_eq!(a.sum(&["app"]), a.sum(&["app"]));
        assert_eq!(a.sum(&["app"]), b.sum(&["app"]));
        assert!(a.sum(&["app"]).starts_with("sha256:"));
        assert_eq!(a.sum(&["app"]).len(), "sha256:".len() + 64);
    }

    #[test]
    fn mtime_does_not_matter() {
        let ctx = Ctx::new(FILES);
        let before = ctx.sum(&["app"]);
        let f = File::options()
            .write(true)
            .open(ctx.path("app/main.go"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        drop(f);
        assert_eq!(ctx.sum(&["app"]), before);
    }

    #[test]
    fn content_mode_and_name_matter() {
        let ctx = Ctx::new(FILES);
        let before = ctx.sum(&["app"]);
        fs::write(ctx.path("app/util/u.go"), "package util2").unwrap();
        let changed = ctx.sum(&["app"]);
        assert_ne!(changed, before);
        fs::set_permissions(ctx.path("app/main.go"), fs::Permissions::from_mode(0o755)).unwrap();
        let moded = ctx.sum(&["app"]);
        assert_ne!(moded, changed);
        fs::rename(ctx.path("app/README"), ctx.path("app/README.md")).unwrap();
        assert_ne!(ctx.sum(&["app"]), moded);
    }

    #[test]
    fn unrelated_files_do_not_matter() {
        let ctx = Ctx::new(FILES);
        let before = ctx.sum(&["app/main.go"]);
        fs::write(ctx.path("other.txt"), "changed").unwrap();
        fs::write(ctx.path("app/README"), "changed").unwrap();
        assert_eq!(ctx.sum(&["app/main.go"]), before);
        assert_ne!(ctx.sum(&["."]), Ctx::new(FILES).sum(&["."]));
    }

    #[test]
    fn ignored_files_do_not_matter() {
        let mut ctx = Ctx::new(FILES);
        ctx.ignore = DockerIgnore::parse("app/README\n").unwrap();
        let before = ctx.sum(&["."]);
        fs::write(ctx.path("app/README"), "changed").unwrap();
        assert_eq!(ctx.sum(&["."]), before);
        let err = ctx.index().checksum(&["app/README"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "file not found in build context or excluded by .dockerignore: stat app/README: file does not exist"
        );
    }

    #[test]
    fn globs_and_source_order() {
        let ctx = Ctx::new(FILES);
        let index = ctx.index();
        let hits: Vec<&str> = index
            .resolve("app/*.go")
            .unwrap()
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(hits, vec!["app/main.go"]);
        let hits: Vec<&str> = index
            .resolve("/app/u*")
            .unwrap()
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(hits, vec!["app/util", "app/util/u.go"]);
        assert_ne!(
            ctx.sum(&["app/main.go", "other.txt"]),
            ctx.sum(&["other.txt", "app/main.go"])
        );
        assert_eq!(
            index.checksum(&["*.none"]).unwrap_err().to_string(),
            "no source files were specified"
        );
    }

    #[test]
    fn escaping_sources_refused() {
        let ctx = Ctx::new(FILES);
        let err = ctx.index().checksum(&["../etc/passwd"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Forbidden path outside the build context: ../etc/passwd (../etc/passwd)"
        );
        let err = ctx.index().checksum(&["app/../../x"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Forbidden path outside the build context: app/../../x (../x)"
        );
        // an absolute path is inside the context, as in docker
        assert!(ctx.index().checksum(&["/app/../other.txt"]).is_ok());
    }

    #[test]
    fn symlink_hashes_its_target_text() {
        let ctx = Ctx::new(FILES);
        std::os::unix::fs::symlink("other.txt", ctx.path("link")).unwrap();
        let before = ctx.sum(&["link"]);
        fs::write(ctx.path("other.txt"), "changed").unwrap();
        assert_eq!(ctx.sum(&["link"]), before);
        fs::remove_file(ctx.path("link")).unwrap();
        std::os::unix::fs::symlink("app/README", ctx.path("link")).unwrap();
        assert_ne!(ctx.sum(&["link"]), before);
    }

    #[test]
    fn context_sources_of_instructions() {
        let df = parse(
            "FROM x\nCOPY a b /d/\nCOPY --from=s /x /y\nADD http://127.0.0.1/f c /d\nCOPY <<EOF e /d/\nhi\nEOF\nRUN x\n",
        )
        .unwrap();
        let i = &df.stages[0].instructions;
        assert_eq!(context_sources(&i[0]), vec!["a", "b"]);
        assert!(context_sources(&i[1]).is_empty());
        assert_eq!(context_sources(&i[2]), vec!["c"]);
        assert_eq!(context_sources(&i[3]), vec!["e"]);
        assert!(context_sources(&i[4]).is_empty());
    }

    #[test]
    fn heredoc_bodies_are_part_of_the_cache_text() {
        let a = parse("FROM x\nRUN <<EOF\necho a\nEOF\n").unwrap();
        let b = parse("FROM x\nRUN <<EOF\necho b\nEOF\n").unwrap();
        let ta = instruction_cache_text(&a.stages[0].instructions[0]);
        assert_eq!(ta, "RUN <<EOF\necho a\nEOF");
        assert_ne!(ta, instruction_cache_text(&b.stages[0].instructions[0]));
        let plain = parse("FROM x\nRUN  echo  a \n").unwrap();
        assert_eq!(
            instruction_cache_text(&plain.stages[0].instructions[0]),
            "RUN  echo  a"
        );
    }
}
