//! RUN `--mount`: what each mount becomes for the RUN's container, as BuildKit
//! gives them — a bind of the context or of a stage's or image's files
//! (read-only unless `rw`, and then a throwaway copy), a cache directory the
//! engine keeps across builds (`id`, `sharing`, `mode`, `uid`, `gid`), a
//! tmpfs. Secrets and SSH agents are never sent with the legacy build API: a
//! mount of one is left out, or refused when `required`.

use std::fs::{self, File};
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::copy::{container_path, copy_entry, host_path, CopyOptions};
use super::{BuildError, Builder};
use crate::dockerfile::{Instruction, Mount, MountType, Run, Sharing};
use crate::stages::{resolve_from, FromRef};

/// The mounts of one RUN, ready for its container's `HostConfig.Mounts`.
/// What they hold (copies, cache locks) lasts until this is dropped.
pub(super) struct RunMounts {
    pub mounts: Vec<Value>,
    /// Containers whose root filesystems are bound (`from=`), removed after the step.
    pub containers: Vec<String>,
    _held: Vec<Held>,
}

/// What a mount keeps until the step ends.
enum Held {
    /// A cache directory's lock.
    Lock(#[allow(dead_code)] Flock<File>),
    /// A directory of the step's own (a writable bind's copy, a busy private cache).
    Dir(#[allow(dead_code)] tempfile::TempDir),
}

fn invalid(step: &Instruction, what: String) -> BuildError {
    BuildError::Invalid(format!("dockerfile error on line {}: {what}", step.line))
}

impl Builder<'_> {
    /// The images mounts take files from (`from=`, one entry per mount) and
    /// the checksums of what they bind, for the step's cache key.
    pub(super) fn mount_inputs(
        &mut self,
        step: &Instruction,
        run: &Run,
    ) -> Result<(Vec<Option<String>>, String), BuildError> {
        let mut froms = Vec::new();
        let mut inputs = String::new();
        for m in &run.mounts {
            let from = match (&m.kind, &m.from) {
                (MountType::Bind, Some(from)) => {
                    let stage = &self.df.stages[self.current_stage(step)];
                    let id = match resolve_from(self.df, stage, step.line, from)? {
                        FromRef::Stage(i) => self.stage_image(i)?,
                        FromRef::Image(name) => self.image_named(&name, None)?.id,
                    };
                    inputs.push_str(&format!("bind {id}\n"));
                    Some(id)
                }
                (MountType::Bind, None) => {
                    let source = m.source.as_deref().unwrap_or(".");
                    let sum = self.index.checksum(&[source])?;
                    inputs.push_str(&format!("bind {source} {sum}\n"));
                    None
                }
                (MountType::Cache, Some(_)) => {
                    return Err(invalid(
                        step,
                        "RUN --mount=type=cache with from= is not supported by berth's builder"
                            .into(),
                    ))
                }
                _ => None,
            };
            froms.push(from);
        }
        Ok((froms, inputs))
    }

    /// Makes the mounts of `run` (`froms` from [`Builder::mount_inputs`]);
    /// relative targets are under `workdir`.
    pub(super) fn prepare_mounts(
        &mut self,
        step: &Instruction,
        run: &Run,
        froms: &[Option<String>],
        workdir: &str,
    ) -> Result<RunMounts, BuildError> {
        let mut out = RunMounts {
            mounts: Vec::new(),
            containers: Vec::new(),
            _held: Vec::new(),
        };
        for (m, from) in run.mounts.iter().zip(froms) {
            let target = container_path(m.target.as_deref().unwrap_or(""), workdir);
            match m.kind {
                MountType::Bind => {
                    let root = match from {
                        Some(image) => {
                            let (id, root) = self.scratch_container(image)?;
                            out.containers.push(id);
                            root
                        }
                        None => self.req.context.clone(),
                    };
                    let source = m.source.as_deref().unwrap_or("/");
                    let mut host = host_path(&root, source, true)?;
                    if fs::symlink_metadata(&host).is_err() {
                        let place = from.as_deref().map_or("the build context", |_| {
                            m.from.as_deref().unwrap_or_default()
                        });
                        return Err(invalid(
                            step,
                            format!("RUN --mount source {source:?} not found in {place}"),
                        ));
                    }
                    if !m.read_only {
                        // Writes to a writable bind are thrown away with the step.
                        let copy = scratch_dir()?;
                        let dst = copy.path().join("source");
                        copy_entry(&host, &dst, CopyOptions::default())?;
                        host = dst;
                        out._held.push(Held::Dir(copy));
                    }
                    out.mounts.push(bind(&host, &target, m.read_only));
                }
                MountType::Cache => {
                    let (dir, held) = self.cache_dir(m, &target)?;
                    out._held.push(held);
                    out.mounts.push(bind(&dir, &target, m.read_only));
                }
                MountType::Tmpfs => {
                    let mut t = json!({"Type": "tmpfs", "Target": target});
                    if let Some(size) = m.size {
                        t["TmpfsOptions"] = json!({"SizeBytes": size});
                    }
                    out.mounts.push(t);
                }
                MountType::Secret | MountType::Ssh if m.required => {
                    let what = match m.kind {
                        MountType::Secret => format!(
                            "secret {} not found",
                            m.id.as_deref().or(m.source.as_deref()).unwrap_or(&target)
                        ),
                        _ => "no SSH agent forwarded".to_string(),
                    };
                    return Err(invalid(
                        step,
                        format!(
                            "{what}: the build API berth serves sends no secrets or SSH agents"
                        ),
                    ));
                }
                // Not required and not given: left out, as BuildKit does.
                MountType::Secret | MountType::Ssh => {}
            }
        }
        Ok(out)
    }

    /// The cache directory of a cache mount (made with its `mode`, `uid` and
    /// `gid` the first time), locked as its `sharing` says: `shared` by many
    /// steps at once, `locked` by one at a time (the others wait), `private`
    /// by one, the others getting an empty directory of their own.
    fn cache_dir(&self, m: &Mount, target: &str) -> Result<(PathBuf, Held), BuildError> {
        let id = m.id.as_deref().unwrap_or(target);
        let root = self.engine.cache_mount_root();
        let dir = root.join(hex::encode(Sha256::digest(id.as_bytes())));
        let io = |what: &str, e: std::io::Error| {
            BuildError::Invalid(format!("cache mount {id:?}: {what} {}: {e}", dir.display()))
        };
        fs::create_dir_all(&root).map_err(|e| io("make the parent of", e))?;
        match fs::create_dir(&dir) {
            Ok(()) => {
                // Its id beside it, for `system df` and `builder prune`.
                fs::write(dir.with_extension("id"), id).map_err(|e| io("name", e))?;
                let mode = m.mode.unwrap_or(0o755);
                fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                    .map_err(|e| io("chmod", e))?;
                chown(&dir, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
                    .map_err(|e| io("chown", e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("make", e)),
        }
        let file = File::open(&dir).map_err(|e| io("open", e))?;
        let how = match m.sharing.unwrap_or(Sharing::Shared) {
            Sharing::Shared => FlockArg::LockShared,
            Sharing::Locked => FlockArg::LockExclusive,
            Sharing::Private => FlockArg::LockExclusiveNonblock,
        };
        let lock = match Flock::lock(file, how) {
            Ok(lock) => lock,
            Err((_, Errno::EWOULDBLOCK)) => {
                // `private` and in use: an empty directory of this step's own.
                let own = scratch_dir()?;
                let path = own.path().to_path_buf();
                fs::set_permissions(&path, fs::Permissions::from_mode(m.mode.unwrap_or(0o755)))
                    .map_err(|e| io("chmod", e))?;
                chown(&path, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
                    .map_err(|e| io("chown", e))?;
                return Ok((path, Held::Dir(own)));
            }
            Err((_, e)) => return Err(io("lock", e.into())),
        };
        Ok((dir, Held::Lock(lock)))
    }
}

fn scratch_dir() -> Result<tempfile::TempDir, BuildError> {
    tempfile::Builder::new()
        .prefix("berth-build-mount-")
        .tempdir()
        .map_err(|e| BuildError::Invalid(format!("make a directory for a RUN mount: {e}")))
}

fn bind(source: &Path, target: &str, read_only: bool) -> Value {
    json!({
        "Type": "bind",
        "Source": source.to_string_lossy(),
        "Target": target,
        "ReadOnly": read_only,
    })
}
