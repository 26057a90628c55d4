//! The typed instructions of a Dockerfile, as parsed: words are kept as
//! written (quotes, `$VAR`) until `expand.rs` substitutes them at build time
//! with the variables of the step, as docker does.

use std::time::Duration;

use super::lines::Heredoc;
use super::run_mount::Mount;

/// One instruction with the lines it came from (1-based, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    pub end_line: usize,
    /// The instruction text as written, continuation lines joined; the layer
    /// cache keys on it.
    pub original: String,
    pub kind: InstructionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionKind {
    From(From),
    Run(Run),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Copy(Copy),
    Add(Add),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Workdir(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Label(Vec<KeyValue>),
    Maintainer(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    StopSignal(String),
    Onbuild(Onbuild),
}

impl InstructionKind {
    /// The instruction word in upper case, as docker prints it in step lines.
    pub fn name(&self) -> &'static str {
        match self {
            InstructionKind::From(_) => "FROM",
            InstructionKind::Run(_) => "RUN",
            InstructionKind::Cmd(_) => "CMD",
            InstructionKind::Entrypoint(_) => "ENTRYPOINT",
            InstructionKind::Copy(_) => "COPY",
            InstructionKind::Add(_) => "ADD",
            InstructionKind::Env(_) => "ENV",
            InstructionKind::Arg(_) => "ARG",
            InstructionKind::Workdir(_) => "WORKDIR",
            InstructionKind::Expose(_) => "EXPOSE",
            InstructionKind::Volume(_) => "VOLUME",
            InstructionKind::User(_) => "USER",
            InstructionKind::Label(_) => "LABEL",
            InstructionKind::Maintainer(_) => "MAINTAINER",
            InstructionKind::Healthcheck(_) => "HEALTHCHECK",
            InstructionKind::Shell(_) => "SHELL",
            InstructionKind::StopSignal(_) => "STOPSIGNAL",
            InstructionKind::Onbuild(_) => "ONBUILD",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The image (or stage) as written; may hold `$ARG`s of the global scope.
    pub image: String,
    /// The stage name from `AS name`, lower-cased as docker does.
    pub stage_name: Option<String>,
    pub platform: Option<String>,
}

/// The shell form (run through the stage's SHELL) or the exec form (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Shell(String),
    Exec(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: CommandLine,
    pub mounts: Vec<Mount>,
    pub network: Option<NetworkMode>,
    /// Heredocs in the command: with `RUN <<EOF` alone the first one is the
    /// script; otherwise they are files fed to the command.
    pub heredocs: Vec<Heredoc>,
}

/// A COPY or ADD source: a path or glob in the context (or stage, URL), or
/// inline heredoc content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    Heredoc(Heredoc),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub sources: Vec<Source>,
    pub dest: String,
    /// `--from`: a stage name, a stage index or an image.
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    pub sources: Vec<Source>,
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// `--checksum=sha256:...` of a remote source.
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
}

/// `ENV` and `LABEL` pairs, as written (quotes kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One name of an `ARG`, with its default value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    None,
    Check(HealthcheckConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckConfig {
    /// `["CMD", ...]` (exec form) or `["CMD-SHELL", "..."]`, as in the image config.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onbuild {
    /// The trigger as stored in the image config (`RUN make`).
    pub expression: String,
    /// The trigger, parsed (it is checked now, run by a child build).
    pub trigger: Box<Instruction>,
}
