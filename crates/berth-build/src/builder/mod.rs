//! The builder: runs a parsed Dockerfile against an [`Engine`] the way
//! dockerd's legacy builder does — one image per step, RUN in a container
//! that is committed, COPY/ADD written into a container's root filesystem
//! and committed, config-only steps as new configs on the same layers —
//! with a layer cache keyed on parent image, step text and source checksums.

mod copy;
mod engine;
mod metadata;
mod mounts;
mod parallel;
mod stage;
mod transfer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub use copy::CopyError;
pub use engine::{Engine, EngineError, EngineImage, OutputStream, StepImage};

use crate::build_args::{ArgError, GlobalArgs};
use crate::cache::{CacheError, ContextIndex};
use crate::context::{walk_context, ContextError};
use crate::dockerfile::{parse, Dockerfile, ParseError, StepError};
use crate::ignore::{DockerIgnore, IgnoreError};
use crate::stages::{required_stages, StageError};
use parallel::{OrderedOutput, StageOutput, StageResults};

/// What `POST /build` / `berth build` asked for.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// Its path in the context (picks `<name>.dockerignore`).
    pub dockerfile_path: String,
    /// The unpacked build context.
    pub context: PathBuf,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    /// `--rm`: remove the containers of successful steps.
    pub remove: bool,
    /// `--force-rm`: remove containers also when a step fails.
    pub force_remove: bool,
    /// `--network` of RUN containers (empty: the default network).
    pub network: String,
    /// HostConfig fields every RUN container gets (`--memory`, `--shm-size`,
    /// `--add-host`, `--ulimit`, `--cgroup-parent`, ...), docker-keyed.
    pub run_host_config: serde_json::Map<String, serde_json::Value>,
    /// `--cache-from`: when given, only these images and their parents are
    /// cache hits (as dockerd's legacy builder).
    pub cache_from: Vec<String>,
    pub tags: Vec<String>,
}

/// What a build reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Text for the client's output (`Step 1/3 : FROM busybox\n`, RUN output).
    Stream(&'a str),
    /// The image id of a finished stage (`{"aux":{"ID":...}}`).
    Aux(&'a str),
    /// A message of a base image's pull (`{"status":..,"id":..,"progressDetail":..}`),
    /// passed on as is, as dockerd's builder does.
    Status(&'a serde_json::Value),
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error("dockerfile error on line {}: {}", .0.line, .0.source)]
    Arg(ArgError),
    #[error("dockerfile error on line {}: {}", .0.line, .0.kind)]
    Step(StepError),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("The command '{command}' returned a non-zero code: {code}")]
    RunFailed { command: String, code: i64 },
    #[error("{0}")]
    Invalid(String),
    /// Another stage failed; its error is the one reported.
    #[error("the build was cancelled: another stage failed")]
    Cancelled,
}

impl BuildError {
    /// The exit code of a failed RUN (the `errorDetail.code` docker sends).
    pub fn code(&self) -> Option<i64> {
        match self {
            BuildError::RunFailed { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// `sha256:0123456789ab...` → `0123456789ab`.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Runs the build; returns the id of the image built (and tagged).
/// Nothing is run before the whole Dockerfile parsed and its stages resolved.
/// Stages run at once, each as soon as the stages it needs are built; the
/// output keeps build order.
pub fn build(
    engine: &dyn Engine,
    req: &BuildRequest,
    out: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<String, BuildError> {
    let df = parse(&req.dockerfile)?;
    let globals = GlobalArgs::resolve(&df, &req.build_args).map_err(BuildError::Arg)?;
    let stages = required_stages(&df, req.target.as_deref(), &globals)?;
    for w in &df.warnings {
        out(Progress::Stream(&format!("[WARNING]: {w}\n")));
    }
    let ignore = DockerIgnore::for_build(&req.context, Some(&req.dockerfile_path))?;
    let index = ContextIndex::new(&req.context, walk_context(&req.context, &ignore)?);
    let cache_sources = cache_sources(engine, &req.cache_from)?;
    let output = OrderedOutput::new(out, stages.len());
    let results = StageResults::new(df.stages.len());
    let total = total_steps(&df, &stages, req);
    let mut first_step = 0;
    let outcomes: Vec<Result<String, BuildError>> = std::thread::scope(|scope| {
        let mut threads = Vec::new();
        for (position, &stage) in stages.iter().enumerate() {
            let mut b = Builder {
                engine,
                req,
                df: &df,
                globals: &globals,
                index: &index,
                cache_sources: cache_sources.as_ref(),
                out: StageOutput {
                    output: &output,
                    position,
                },
                results: &results,
                step: first_step,
                total,
                cleanup: Vec::new(),
            };
            first_step += 1 + df.stages[stage].instructions.len();
            let is_target = position + 1 == stages.len();
            let output = &output;
            let results = &results;
            let thread = std::thread::Builder::new()
                .name(format!("build-stage-{stage}"))
                .spawn_scoped(scope, move || {
                    let result = b.build_stage(stage, is_target);
                    if let Ok(id) = &result {
                        b.out.emit(Progress::Aux(id));
                    }
                    results.finish(stage, result.as_ref().ok().map(String::as_str));
                    b.remove_leftovers();
                    output.finish(position);
                    result
                });
            match thread {
                Ok(t) => threads.push(t),
                Err(e) => {
                    results.finish(stage, None);
                    output.finish(position);
                    threads.push(scope.spawn(move || {
                        Err(BuildError::Invalid(format!(
                            "start a thread for build stage {stage}: {e}"
                        )))
                    }));
                }
            }
        }
        threads
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| {
                    Err(BuildError::Invalid(
                        "a build stage's thread panicked".into(),
                    ))
                })
            })
            .collect()
    });
    // The error of the stage that failed, not the cancellations it caused.
    let mut id = String::new();
    let mut cancelled = false;
    for outcome in outcomes {
        match outcome {
            Ok(built) => id = built,
            Err(BuildError::Cancelled) => cancelled = true,
            Err(e) => return Err(e),
        }
    }
    if cancelled {
        return Err(BuildError::Cancelled);
    }
    let say = |text: &str| output.after(Progress::Stream(text));
    let unused = crate::build_args::unconsumed_build_args(&df, &req.build_args);
    if !unused.is_empty() {
        say(&format!(
            "[Warning] One or more build-args {unused:?} were not consumed\n"
        ));
    }
    say(&format!("Successfully built {}\n", short_id(&id)));
    for tag in &req.tags {
        engine.tag_image(&id, tag)?;
        say(&format!("Successfully tagged {}\n", familiar_tag(tag)));
    }
    Ok(id)
}

/// The images `--cache-from` allows as cache hits (None: any); names that
/// are not images here are left out, as docker does.
fn cache_sources(
    engine: &dyn Engine,
    cache_from: &[String],
) -> Result<Option<BTreeSet<String>>, BuildError> {
    if cache_from.is_empty() {
        return Ok(None);
    }
    let mut ids = BTreeSet::new();
    for name in cache_from {
        ids.extend(engine.image_lineage(name)?);
    }
    Ok(Some(ids))
}

/// `busybox` → `busybox:latest`, as docker prints a tag.
fn familiar_tag(tag: &str) -> String {
    let last = tag.rsplit('/').next().unwrap_or(tag);
    if last.contains(':') || last.contains('@') {
        tag.to_string()
    } else {
        format!("{tag}:latest")
    }
}

fn total_steps(df: &Dockerfile, stages: &[usize], req: &BuildRequest) -> usize {
    let steps: usize = stages
        .iter()
        .map(|&i| 1 + df.stages[i].instructions.len())
        .sum();
    steps + usize::from(!req.labels.is_empty())
}

/// A temporary container and whether it must go even when kept by `--rm=false`.
struct Leftover {
    id: String,
    /// A RUN container (kept on failure unless --force-rm, and kept with --rm=false).
    run: bool,
}

/// One stage's builder (each stage runs on a thread of its own).
struct Builder<'a> {
    engine: &'a dyn Engine,
    req: &'a BuildRequest,
    df: &'a Dockerfile,
    globals: &'a GlobalArgs,
    index: &'a ContextIndex,
    /// The only images that may be cache hits, with `--cache-from`.
    cache_sources: Option<&'a BTreeSet<String>>,
    out: StageOutput<'a>,
    /// The images of the stages, as they are built.
    results: &'a StageResults,
    /// The number of the last step shown (steps are numbered across stages in build order).
    step: usize,
    total: usize,
    cleanup: Vec<Leftover>,
}

impl Builder<'_> {
    fn say(&self, text: &str) {
        self.out.emit(Progress::Stream(text));
    }

    /// The image of an earlier stage, once it is built.
    fn stage_image(&self, index: usize) -> Result<String, BuildError> {
        self.results.wait(index)
    }

    /// The key of a step: parent image, what the step does, and its inputs.
    fn cache_key(&self, parent: Option<&str>, text: &str, inputs: &str) -> String {
        let mut h = Sha256::new();
        for part in [parent.unwrap_or("scratch"), text, inputs] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    /// The image a step made before, unless `--no-cache`.
    fn cached(&mut self, key: &str) -> Option<String> {
        if self.req.no_cache {
            return None;
        }
        let id = self.engine.cache_lookup(key)?;
        if self
            .cache_sources
            .is_some_and(|allowed| !allowed.contains(&id))
        {
            return None;
        }
        self.say(" ---> Using cache\n");
        Some(id)
    }

    fn remember(&self, key: &str, image: &str) -> Result<(), BuildError> {
        self.engine.cache_store(key, image)?;
        Ok(())
    }

    /// A container only the builder uses (COPY, WORKDIR, `--from` sources).
    fn scratch_container(&mut self, image: &str) -> Result<(String, PathBuf), BuildError> {
        let id = self.engine.create_container(
            image,
            serde_json::json!({"Cmd": ["/bin/sh"], "Entrypoint": [], "Labels": {}}),
        )?;
        self.cleanup.push(Leftover {
            id: id.clone(),
            run: false,
        });
        let root = self.engine.mount_rootfs(&id)?;
        Ok((id, root))
    }

    /// Removes a container now and forgets it.
    fn remove_container(&mut self, id: &str) -> Result<(), BuildError> {
        self.cleanup.retain(|l| l.id != id);
        self.engine.remove_container(id)?;
        Ok(())
    }

    /// What is left when the build ends: internal containers always go; RUN
    /// containers per `--rm` / `--force-rm`.
    fn remove_leftovers(&mut self) {
        let leftovers = std::mem::take(&mut self.cleanup);
        for l in leftovers {
            // A failed RUN's container goes with --rm too: nothing half-made stays.
            if !l.run || self.req.force_remove || self.req.remove {
                if let Err(e) = self.engine.remove_container(&l.id) {
                    self.say(&format!(
                        "Error removing intermediate container {}: {e}\n",
                        short_id(&l.id)
                    ));
                }
            }
        }
    }
}
