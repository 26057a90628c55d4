//! COPY and ADD: sources from the context (only what `.dockerignore`
//! keeps), another stage or image (`--from`), heredocs, and for ADD URLs and
//! local tars to unpack; written into a container of the current image and
//! committed as one layer.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::copy::{
    container_path, copy_entry, dest_is_dir, extract_archive, host_path, parse_chmod, parse_chown,
    write_file, CopyError, CopyOptions,
};
use super::metadata;
use super::stage::StageState;
use super::{BuildError, Builder};
use crate::cache::{context_sources, instruction_cache_text, is_remote};
use crate::context::EntryKind;
use crate::dockerfile::{process_heredoc, Instruction, InstructionKind, Source};
use crate::ignore::clean_path;
use crate::pattern::Pattern;
use crate::stages::{resolve_from, FromRef};

/// The parts of COPY and ADD the transfer needs.
struct Transfer<'i> {
    name: &'static str,
    sources: &'i [Source],
    dest: &'i str,
    from: Option<&'i str>,
    chown: Option<&'i str>,
    chmod: Option<&'i str>,
    add: bool,
}

/// One thing to put at the destination.
enum Item {
    /// A context entry (path relative to the context) with the path it gets
    /// under the destination ("" = the destination itself when it is a root).
    Context {
        path: String,
        rel: String,
    },
    /// A path (file or directory, copied whole) on the host.
    Host {
        path: PathBuf,
        name: String,
    },
    Heredoc {
        name: String,
        body: String,
    },
    Download {
        path: PathBuf,
        name: String,
    },
}

impl<'a> Builder<'a> {
    pub(super) fn transfer_step(
        &mut self,
        st: &mut StageState<'a>,
        step: &Instruction,
    ) -> Result<(), BuildError> {
        let t = match &step.kind {
            InstructionKind::Copy(c) => Transfer {
                name: "COPY",
                sources: &c.sources,
                dest: &c.dest,
                from: c.from.as_deref(),
                chown: c.chown.as_deref(),
                chmod: c.chmod.as_deref(),
                add: false,
            },
            InstructionKind::Add(a) => Transfer {
                name: "ADD",
                sources: &a.sources,
                dest: &a.dest,
                from: None,
                chown: a.chown.as_deref(),
                chmod: a.chmod.as_deref(),
                add: true,
            },
            _ => return Err(BuildError::Invalid("not a COPY or ADD".into())),
        };
        let mode = t.chmod.map(parse_chmod).transpose()?;
        // Inputs of the cache key: context checksums, the --from image, downloads.
        let mut inputs = String::new();
        let ctx_sources = context_sources(step);
        if !ctx_sources.is_empty() {
            inputs.push_str(&self.index.checksum(&ctx_sources)?);
        }
        let from_image = match t.from {
            None => None,
            Some(from) => {
                let stage = &self.df.stages[self.current_stage(step)];
                let id = match resolve_from(self.df, stage, step.line, from)? {
                    FromRef::Stage(i) => self.stage_image(i)?,
                    FromRef::Image(name) => self.image_named(&name, None)?.id,
                };
                inputs.push_str(&id);
                Some(id)
            }
        };
        let downloads = tempfile::tempdir()
            .map_err(|e| BuildError::Invalid(format!("make a directory for downloads: {e}")))?;
        let mut items = Vec::new();
        let mut roots = 0;
        for (n, source) in t.sources.iter().enumerate() {
            match source {
                Source::Heredoc(doc) => {
                    let body = if doc.expand {
                        process_heredoc(&doc.body, &st.scope).map_err(|e| {
                            BuildError::Invalid(format!(
                                "dockerfile error on line {}: {e}",
                                step.line
                            ))
                        })?
                    } else {
                        doc.body.clone()
                    };
                    items.push(Item::Heredoc {
                        name: doc.name.clone(),
                        body,
                    });
                    roots += 1;
                }
                Source::Path(p) if is_remote(p) => {
                    if !t.add {
                        return Err(BuildError::Invalid(format!(
                            "dockerfile error on line {}: source can't be a URL for COPY",
                            step.line
                        )));
                    }
                    let path = downloads.path().join(format!("download-{n}"));
                    self.engine.download(p, &path)?;
                    let name = url_file_name(p);
                    inputs.push_str(&file_digest(&path)?);
                    items.push(Item::Download { path, name });
                    roots += 1;
                }
                Source::Path(p) => match &from_image {
                    Some(_) => {
                        items.push(Item::Host {
                            path: PathBuf::from(p),
                            name: Path::new(p)
                                .file_name()
                                .map(|s| s.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                        });
                        roots += 1;
                    }
                    None => roots += self.context_items(p, &mut items)?,
                },
            }
        }
        let workdir = st.workdir();
        let dest = container_path(t.dest, &workdir);
        if roots > 1 && !dest.ends_with('/') {
            return Err(BuildError::Invalid(format!(
                "When using {} with more than one source file, the destination must be a directory and end with a /",
                t.name
            )));
        }
        let key = self.cache_key(st.image.as_deref(), &instruction_cache_text(step), &inputs);
        if let Some(id) = self.cached(&key) {
            st.image = Some(id);
            return Ok(());
        }
        let parent = self.current_image(st)?;
        let (cid, root) = self.scratch_container(&parent)?;
        let (from_cid, from_root) = match &from_image {
            Some(image) => {
                let (id, root) = self.scratch_container(image)?;
                (Some(id), Some(root))
            }
            None => (None, None),
        };
        let owner = t.chown.map(|c| parse_chown(c, &root)).transpose()?;
        let opts = CopyOptions { owner, mode };
        let into_dir = roots > 1 || dest_is_dir(&root, &dest)?;
        let mut hasher = Sha256::new();
        for item in &items {
            self.place(
                item,
                &root,
                from_root.as_deref(),
                &dest,
                into_dir,
                t.add,
                opts,
                &mut hasher,
            )?;
        }
        let kind = match (&items[..], roots) {
            (_, r) if r > 1 => "multi",
            ([Item::Context { path, .. }, ..], _) if self.is_dir(path) => "dir",
            _ => "file",
        };
        let created_by = format!(
            "{} #(nop) {} {kind}:{} in {} ",
            metadata::shell(&st.config).join(" "),
            t.name,
            hex::encode(hasher.finalize()),
            t.dest
        );
        let id = self
            .engine
            .commit_container(&cid, &st.next_image(&created_by))?;
        self.remove_container(&cid)?;
        if let Some(from_cid) = from_cid {
            self.remove_container(&from_cid)?;
        }
        self.remember(&key, &id)?;
        st.image = Some(id);
        Ok(())
    }

    pub(super) fn current_stage(&self, step: &Instruction) -> usize {
        self.df
            .stages
            .iter()
            .rposition(|s| s.from.line <= step.line)
            .unwrap_or(0)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.index
            .entries()
            .iter()
            .any(|e| e.path == path && e.kind == EntryKind::Dir)
    }

    /// The context entries a source names: each match of a glob (or the one
    /// path) is a root, with what a root directory holds under it. Returns
    /// the number of roots.
    fn context_items(&self, source: &str, items: &mut Vec<Item>) -> Result<usize, BuildError> {
        let cleaned = clean_path(source.trim_start_matches('/'));
        let entries = self.index.resolve(source)?;
        let roots: Vec<String> = if cleaned == "." {
            vec![String::new()]
        } else if Pattern::has_wildcards(&cleaned) {
            let pattern = Pattern::new(&cleaned).map_err(crate::cache::CacheError::from)?;
            entries
                .iter()
                .filter(|e| pattern.matches(&e.path))
                .map(|e| e.path.clone())
                .collect()
        } else {
            vec![cleaned.clone()]
        };
        let count = roots.len();
        for r in roots {
            let prefix = if r.is_empty() {
                String::new()
            } else {
                format!("{r}/")
            };
            if !r.is_empty() {
                items.push(Item::Context {
                    path: r.clone(),
                    rel: String::new(),
                });
            }
            if r.is_empty() || self.is_dir(&r) {
                for e in entries
                    .iter()
                    .filter(|e| e.path.starts_with(&prefix) && e.path != r)
                {
                    items.push(Item::Context {
                        path: e.path.clone(),
                        rel: e.path[prefix.len()..].to_string(),
                    });
                }
            }
        }
        Ok(count)
    }

    #[allow(clippy::too_many_arguments)]
    fn place(
        &self,
        item: &Item,
        root: &Path,
        from_root: Option<&Path>,
        dest: &str,
        into_dir: bool,
        add: bool,
        opts: CopyOptions,
        hasher: &mut Sha256,
    ) -> Result<(), BuildError> {
        let target = |name: &str| -> Result<PathBuf, CopyError> {
            if into_dir {
                host_path(
                    root,
                    &format!("{}/{name}", dest.trim_end_matches('/')),
                    false,
                )
            } else {
                host_path(root, dest, false)
            }
        };
        match item {
            Item::Context { path, rel } => {
                hasher.update(path.as_bytes());
                let src = self.req.context.join(path);
                let is_dir = self.is_dir(path);
                let dst = if rel.is_empty() {
                    // A root: a directory's contents go into the destination.
                    if is_dir {
                        host_path(root, dest, true)?
                    } else {
                        target(
                            Path::new(path)
                                .file_name()
                                .map(|s| s.to_string_lossy())
                                .unwrap_or_default()
                                .as_ref(),
                        )?
                    }
                } else {
                    // Directories resolve through symlinks inside the root (as
                    // docker follows them); files replace what is there.
                    let inner = format!("{}/{rel}", dest.trim_end_matches('/'));
                    host_path(root, &inner, is_dir)?
                };
                if add && !is_dir && rel.is_empty() {
                    let dir = host_path(root, dest, true)?;
                    if extract_archive(&src, &dir, opts.owner)? {
                        return Ok(());
                    }
                }
                if is_dir {
                    super::copy::make_dirs(&dst, opts.owner)?;
                    copy_dir_meta(&src, &dst, opts)?;
                } else {
                    copy_entry(&src, &dst, opts)?;
                }
            }
            Item::Host { path, name } => {
                let from_root =
                    from_root.ok_or_else(|| BuildError::Invalid("no --from source".into()))?;
                let src = host_path(from_root, &path.to_string_lossy(), true)?;
                if std::fs::symlink_metadata(&src).is_err() {
                    return Err(BuildError::Invalid(format!(
                        "{}: no such file or directory in the --from image",
                        path.display()
                    )));
                }
                hasher.update(path.to_string_lossy().as_bytes());
                let dst = if src.is_dir() {
                    host_path(root, dest, true)?
                } else {
                    target(name)?
                };
                copy_entry(&src, &dst, opts)?;
            }
            Item::Heredoc { name, body } => {
                hasher.update(body.as_bytes());
                write_file(&target(name)?, &mut body.as_bytes(), 0o644, opts)?;
            }
            Item::Download { path, name } => {
                hasher.update(name.as_bytes());
                let name = if name.is_empty() {
                    url_file_name(dest)
                } else {
                    name.clone()
                };
                // Mode 600 unless --chmod; the mtime (its Last-Modified) goes with it.
                let download = CopyOptions {
                    mode: Some(opts.mode.unwrap_or(0o600)),
                    ..opts
                };
                copy_entry(path, &target(&name)?, download)?;
            }
        }
        Ok(())
    }
}

/// A context directory as a destination directory: mode and owner only.
fn copy_dir_meta(src: &Path, dst: &Path, opts: CopyOptions) -> Result<(), CopyError> {
    use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
    let md = std::fs::metadata(src).map_err(|e| CopyError::Io {
        what: "stat",
        path: src.to_path_buf(),
        source: e,
    })?;
    let mode = opts.mode.unwrap_or(md.mode() & 0o7777);
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode)).map_err(|e| {
        CopyError::Io {
            what: "chmod",
            path: dst.to_path_buf(),
            source: e,
        }
    })?;
    let (u, g) = opts.owner.unwrap_or((0, 0));
    chown(dst, Some(u), Some(g)).map_err(|e| CopyError::Io {
        what: "chown",
        path: dst.to_path_buf(),
        source: e,
    })
}

fn file_digest(path: &Path) -> Result<String, BuildError> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| BuildError::Invalid(format!("open download {}: {e}", path.display())))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)
        .map_err(|e| BuildError::Invalid(format!("read download {}: {e}", path.display())))?;
    Ok(hex::encode(h.finalize()))
}

/// The name a downloaded URL gets in a destination directory: the last
/// segment of its path ("" when it has none).
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    after_host
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::url_file_name;

    #[test]
    fn a_url_names_its_download() {
        assert_eq!(url_file_name("http://h:1/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_file_name("https://h/dir/"), "dir");
        assert_eq!(url_file_name("http://h/"), "");
    }
}
