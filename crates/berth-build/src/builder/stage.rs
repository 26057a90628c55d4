//! One stage: its base, ONBUILD triggers of the base, and each instruction
//! dispatched in order (config-only steps, ARG, WORKDIR, RUN; COPY and ADD
//! are in `transfer.rs`).

use serde_json::{json, Map, Value};

use super::copy::{container_path, host_path, make_dirs};
use super::metadata::{self, StageFlags};
use super::{
    short_id, BuildError, Builder, EngineImage, Leftover, OutputStream, Progress, StepImage,
};
use crate::build_args::StageScope;
use crate::cache::instruction_cache_text;
use crate::dockerfile::{parse, process_word, Instruction, InstructionKind, NetworkMode, Run};
use crate::stages::{base_of, Base, StageError};

/// A stage while it is built.
pub(super) struct StageState<'a> {
    /// The current image (None: `scratch` and nothing made yet).
    pub image: Option<String>,
    /// The docker-keyed runtime config of the current image.
    pub config: Map<String, Value>,
    pub flags: StageFlags,
    pub scope: StageScope<'a>,
}

impl StageState<'_> {
    /// The stage's WORKDIR now ("" for none).
    pub fn workdir(&self) -> String {
        self.config
            .get("WorkingDir")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// The next image of the stage: its config now, with this history entry.
    pub fn next_image<'s>(&'s self, created_by: &'s str) -> StepImage<'s> {
        StepImage {
            config: Value::Object(self.config.clone()),
            created_by,
            author: &self.flags.maintainer,
        }
    }
}

impl<'a> Builder<'a> {
    fn step_line(&mut self, text: &str) {
        self.step += 1;
        let line = format!("Step {}/{} : {text}\n", self.step, self.total);
        self.say(&line);
    }

    fn show_image(&mut self, image: Option<&str>) {
        let line = format!(" ---> {}\n", image.map(short_id).unwrap_or(""));
        self.say(&line);
    }

    /// An image by name: pulled with `--pull` (the local one is used when the
    /// pull fails), else the local one, else pulled; for `platform` when FROM
    /// names one.
    pub(super) fn image_named(
        &mut self,
        name: &str,
        platform: Option<&str>,
    ) -> Result<EngineImage, BuildError> {
        let local = self.engine.find_image(name)?;
        let local_fits = local
            .as_ref()
            .is_some_and(|img| platform.is_none_or(|p| check_platform(name, p, img).is_ok()));
        if self.req.pull || !local_fits {
            let out = self.out;
            let mut progress = |v: &Value| out.emit(Progress::Status(v));
            match self.engine.pull_image(name, platform, &mut progress) {
                Ok(img) => return Ok(img),
                Err(e) if self.req.pull && local_fits => {
                    self.say(&format!(
                        "Pulling {name} failed ({e}); using the local image\n"
                    ));
                }
                // A local image of another platform: the mismatch is the error to report.
                Err(_) if local.is_some() => {}
                Err(e) => return Err(e.into()),
            }
        }
        local.ok_or_else(|| BuildError::Invalid(format!("no such image: {name}")))
    }

    pub(super) fn build_stage(
        &mut self,
        index: usize,
        is_target: bool,
    ) -> Result<String, BuildError> {
        let df = self.df;
        let stage = &df.stages[index];
        self.step_line(&stage.from.original);
        let base = match base_of(df, stage, self.globals)? {
            Base::Scratch => None,
            Base::Image(name) => {
                let platform = match &stage.from().platform {
                    Some(raw) => Some(process_word(raw, self.globals, df.escape).map_err(
                        |source| {
                            BuildError::Stage(StageError::Subst {
                                line: stage.from.line,
                                source,
                            })
                        },
                    )?),
                    None => None,
                };
                let image = self.image_named(&name, platform.as_deref())?;
                if let Some(want) = &platform {
                    check_platform(&name, want, &image)?;
                }
                Some(image)
            }
            Base::Stage(i) => {
                let id = self.stage_image(i)?;
                let image = self.engine.find_image(&id)?;
                Some(image.ok_or_else(|| BuildError::Invalid(format!("no such image: {id}")))?)
            }
        };
        self.show_image(base.as_ref().map(|b| b.id.as_str()));
        let mut config = base
            .as_ref()
            .map(EngineImage::runtime_config)
            .unwrap_or_default();
        let triggers = metadata::string_list(config.get("OnBuild"));
        config.remove("OnBuild");
        let env = metadata::string_list(config.get("Env"));
        let mut st = StageState {
            image: base.map(|b| b.id),
            config,
            flags: StageFlags::default(),
            scope: StageScope::new(env, self.globals, &self.req.build_args),
        };
        if !triggers.is_empty() {
            let s = if triggers.len() == 1 { "" } else { "s" };
            self.say(&format!(
                "# Executing {} build trigger{s}\n",
                triggers.len()
            ));
            for t in &triggers {
                let parsed = parse(&format!("FROM scratch\n{t}\n"))?;
                let instruction = parsed.stages[0].instructions[0].clone();
                self.dispatch(&mut st, &instruction)?;
            }
        }
        for instruction in &stage.instructions {
            if self.results.cancelled() {
                return Err(BuildError::Cancelled);
            }
            self.step_line(&instruction.original);
            self.dispatch(&mut st, instruction)?;
            let image = st.image.clone();
            self.show_image(image.as_deref());
        }
        if is_target && !self.req.labels.is_empty() {
            let text = self
                .req
                .labels
                .iter()
                .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
                .collect::<Vec<_>>()
                .join(" ");
            self.step_line(&format!("LABEL {text}"));
            let labels = self
                .req
                .labels
                .iter()
                .map(|(k, v)| crate::dockerfile::KeyValue {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect();
            self.config_step(&mut st, &InstructionKind::Label(labels))?;
            let image = st.image.clone();
            self.show_image(image.as_deref());
        }
        match st.image {
            Some(id) => Ok(id),
            None => Err(BuildError::Invalid(
                "No image was generated. Is your Dockerfile empty?".into(),
            )),
        }
    }

    fn dispatch(
        &mut self,
        st: &mut StageState<'a>,
        instruction: &Instruction,
    ) -> Result<(), BuildError> {
        let step = instruction
            .expand(&st.scope, self.df.escape)
            .map_err(BuildError::Step)?;
        match &step.kind {
            InstructionKind::From(_) => Err(BuildError::Invalid(format!(
                "dockerfile error on line {}: FROM inside a stage",
                step.line
            ))),
            InstructionKind::Arg(decls) => {
                for d in decls {
                    st.scope.declare(d);
                }
                Ok(())
            }
            InstructionKind::Run(run) => self.run_step(st, &step, run),
            InstructionKind::Workdir(dir) => self.workdir_step(st, dir),
            InstructionKind::Copy(_) | InstructionKind::Add(_) => self.transfer_step(st, &step),
            kind => {
                if let InstructionKind::Env(pairs) = kind {
                    for kv in pairs {
                        st.scope.set_env(&kv.key, &kv.value);
                    }
                }
                self.config_step(st, kind)
            }
        }
    }

    /// A step that changes only the config: a new image on the same layers.
    pub(super) fn config_step(
        &mut self,
        st: &mut StageState<'a>,
        kind: &InstructionKind,
    ) -> Result<(), BuildError> {
        let Some(comment) = metadata::apply(kind, &mut st.config, &mut st.flags) else {
            return Err(BuildError::Invalid(format!(
                "{} is not a config instruction",
                kind.name()
            )));
        };
        let key = self.cache_key(st.image.as_deref(), &format!("{kind:?}"), "");
        if let Some(id) = self.cached(&key) {
            st.image = Some(id);
            return Ok(());
        }
        let created_by = metadata::nop_created_by(&metadata::shell(&st.config), &comment);
        let id = self
            .engine
            .derive_image(st.image.as_deref(), &st.next_image(&created_by))?;
        self.remember(&key, &id)?;
        st.image = Some(id);
        Ok(())
    }

    /// The current image, made (empty) when the stage is still `scratch`.
    pub(super) fn current_image(&mut self, st: &mut StageState<'a>) -> Result<String, BuildError> {
        if let Some(id) = &st.image {
            return Ok(id.clone());
        }
        let id = self.engine.derive_image(None, &st.next_image(""))?;
        st.image = Some(id.clone());
        Ok(id)
    }

    /// WORKDIR: the config's working directory, made in the image when missing.
    fn workdir_step(&mut self, st: &mut StageState<'a>, dir: &str) -> Result<(), BuildError> {
        let wd = clean_abs(&container_path(dir, &st.workdir()));
        st.config.insert("WorkingDir".into(), json!(wd));
        let key = self.cache_key(st.image.as_deref(), &format!("WORKDIR {wd}"), "");
        if let Some(id) = self.cached(&key) {
            st.image = Some(id);
            return Ok(());
        }
        let parent = self.current_image(st)?;
        let (cid, root) = self.scratch_container(&parent)?;
        let path = host_path(&root, &wd, true)?;
        make_dirs(&path, None)?;
        let created_by =
            metadata::nop_created_by(&metadata::shell(&st.config), &format!("WORKDIR {wd}"));
        let id = self
            .engine
            .commit_container(&cid, &st.next_image(&created_by))?;
        self.remove_container(&cid)?;
        self.remember(&key, &id)?;
        st.image = Some(id);
        Ok(())
    }

    /// RUN: the command in a container of the current image, committed.
    fn run_step(
        &mut self,
        st: &mut StageState<'a>,
        step: &Instruction,
        run: &Run,
    ) -> Result<(), BuildError> {
        let shell = metadata::shell(&st.config);
        let cmd = match (run.heredocs.first(), &run.command) {
            // `RUN <<EOF` alone: the heredoc is the script.
            (Some(doc), crate::dockerfile::CommandLine::Shell(s))
                if s.trim_start().starts_with("<<") =>
            {
                let mut v = shell.clone();
                v.push(doc.body.clone());
                v
            }
            _ => metadata::command(&run.command, &shell),
        };
        let env = st.scope.run_env();
        let args: Vec<String> = env
            .iter()
            .filter(|kv| !st.scope.env().contains(kv))
            .cloned()
            .collect();
        let created_by = if args.is_empty() {
            cmd.join(" ")
        } else {
            format!("|{} {} {}", args.len(), args.join(" "), cmd.join(" "))
        };
        let (mount_froms, mount_inputs) = self.mount_inputs(step, run)?;
        let key = self.cache_key(
            st.image.as_deref(),
            &instruction_cache_text(step),
            &format!("{env:?}{mount_inputs}"),
        );
        if let Some(id) = self.cached(&key) {
            st.image = Some(id);
            return Ok(());
        }
        let parent = self.current_image(st)?;
        let workdir = st.workdir();
        let mounts = self.prepare_mounts(step, run, &mount_froms, &workdir)?;
        let network = match run.network {
            Some(NetworkMode::None) => "none".to_string(),
            Some(NetworkMode::Host) => "host".to_string(),
            Some(NetworkMode::Default) | None => self.req.network.clone(),
        };
        let mut host_config = self.req.run_host_config.clone();
        if !network.is_empty() && network != "default" {
            host_config.insert("NetworkMode".into(), json!(network));
        }
        if !mounts.mounts.is_empty() {
            host_config.insert("Mounts".into(), json!(mounts.mounts));
        }
        let config = json!({
            "Cmd": cmd,
            "Entrypoint": [],
            "Env": env,
            "User": st.config.get("User").cloned().unwrap_or(json!("")),
            "WorkingDir": st.config.get("WorkingDir").cloned().unwrap_or(json!("")),
            "Healthcheck": {"Test": ["NONE"]},
            "Labels": {},
            "AttachStdout": true,
            "AttachStderr": true,
            "HostConfig": host_config,
        });
        let cid = self.engine.create_container(&parent, config)?;
        self.cleanup.push(Leftover {
            id: cid.clone(),
            run: true,
        });
        self.say(&format!(" ---> Running in {}\n", short_id(&cid)));
        let out = self.out;
        let code = self.engine.run_container(&cid, &mut |stream, chunk| {
            let text = String::from_utf8_lossy(chunk);
            match stream {
                OutputStream::Stdout => out.emit(super::Progress::Stream(&text)),
                // In red, as dockerd's legacy builder sends a RUN's stderr.
                OutputStream::Stderr => {
                    out.emit(super::Progress::Stream(&format!("\x1b[91m{text}\x1b[0m")))
                }
            }
        })?;
        for c in &mounts.containers {
            self.remove_container(c)?;
        }
        drop(mounts);
        if code != 0 {
            return Err(BuildError::RunFailed {
                command: cmd.join(" "),
                code,
            });
        }
        let id = self
            .engine
            .commit_container(&cid, &st.next_image(&created_by))?;
        if self.req.remove || self.req.force_remove {
            self.remove_container(&cid)?;
            self.say(&format!(
                "Removing intermediate container {}\n",
                short_id(&cid)
            ));
        } else {
            self.cleanup.retain(|l| l.id != cid);
        }
        self.remember(&key, &id)?;
        st.image = Some(id);
        Ok(())
    }
}

/// `FROM --platform=os[/arch[/variant]]`: the image must be of that platform
/// (berth builds for the host and does not emulate others).
fn check_platform(name: &str, want: &str, image: &EngineImage) -> Result<(), BuildError> {
    let alias = |arch: &str| match arch {
        "x86_64" | "x86-64" => "amd64".to_string(),
        "aarch64" => "arm64".to_string(),
        other => other.to_ascii_lowercase(),
    };
    let os = image.config["os"].as_str().unwrap_or("linux");
    let arch = image.config["architecture"].as_str().unwrap_or("");
    let mut parts = want.split('/');
    let want_os = parts.next().unwrap_or("").to_ascii_lowercase();
    let want_arch = parts.next().map(alias);
    let wrong_os = !want_os.is_empty() && want_os != os;
    if wrong_os || want_arch.is_some_and(|a| a != alias(arch)) {
        return Err(BuildError::Invalid(format!(
            "image with reference {name} was found but does not match the specified platform: wanted {want}, actual: {os}/{arch}"
        )));
    }
    Ok(())
}

/// `"a b"` quoted as docker quotes `--label` values in the step line.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `/a/./b/../c/` → `/a/c`.
pub(super) fn clean_abs(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(os: &str, arch: &str) -> EngineImage {
        EngineImage {
            id: "sha256:1".into(),
            config: json!({"os": os, "architecture": arch}),
        }
    }

    #[test]
    fn from_platform_must_match_the_image() {
        let amd64 = image("linux", "amd64");
        for ok in ["linux/amd64", "linux", "linux/x86_64", "LINUX/AMD64"] {
            assert!(check_platform("busybox", ok, &amd64).is_ok(), "{ok}");
        }
        let err = check_platform("busybox", "linux/arm64", &amd64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "image with reference busybox was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64"
        );
        assert!(check_platform("busybox", "windows/amd64", &amd64).is_err());
        assert!(check_platform("x", "linux/arm64/v8", &image("linux", "aarch64")).is_ok());
    }
}
