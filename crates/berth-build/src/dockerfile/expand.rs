//! Variable substitution of an instruction at build time. docker substitutes
//! in ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME and
//! WORKDIR (also in their JSON forms), in ARG defaults and in the values of
//! RUN `--mount`; not in the command of RUN, CMD or ENTRYPOINT (the shell does
//! it), SHELL, HEALTHCHECK, MAINTAINER or ONBUILD (the trigger is substituted
//! when a child build runs it).

use thiserror::Error;

use super::instruction::*;
use super::substitution::{process_heredoc, process_word, process_words, SubstError, Vars};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExpandError {
    #[error(transparent)]
    Subst(#[from] SubstError),
    #[error("invalid containerPort: {0}")]
    Port(String),
    #[error("invalid proto: {0}")]
    Proto(String),
    #[error("invalid range format for --expose: {0}")]
    PortRange(String),
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    #[error("Invalid signal: {0}")]
    Signal(String),
}

/// An instruction that could not be substituted, with its line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("dockerfile error on line {line}: {kind}")]
pub struct StepError {
    pub line: usize,
    pub kind: ExpandError,
}

impl Instruction {
    /// Whether docker substitutes variables in this instruction's arguments
    /// (RUN, not listed, gets it in its `--mount` values only).
    pub fn substitutes(&self) -> bool {
        matches!(
            self.kind,
            InstructionKind::Add(_)
                | InstructionKind::Copy(_)
                | InstructionKind::Env(_)
                | InstructionKind::Expose(_)
                | InstructionKind::From(_)
                | InstructionKind::Label(_)
                | InstructionKind::StopSignal(_)
                | InstructionKind::User(_)
                | InstructionKind::Volume(_)
                | InstructionKind::Workdir(_)
                | InstructionKind::Arg(_)
        )
    }

    /// The instruction with variables substituted and quotes removed, using
    /// `vars` as they are before this instruction (so `ENV a=1 b=$a` sees the
    /// old `a`, as in docker). Instructions that do not substitute come back
    /// unchanged. EXPOSE ports are also checked.
    pub fn expand(&self, vars: &dyn Vars, escape: char) -> Result<Instruction, StepError> {
        self.expand_kind(vars, escape)
            .map(|kind| Instruction {
                kind,
                ..self.clone()
            })
            .map_err(|kind| StepError {
                line: self.line,
                kind,
            })
    }

    fn expand_kind(&self, vars: &dyn Vars, escape: char) -> Result<InstructionKind, ExpandError> {
        let word = |w: &str| process_word(w, vars, escape);
        let opt = |w: &Option<String>| w.as_deref().map(word).transpose();
        let sources = |sources: &[Source]| {
            sources
                .iter()
                .map(|s| match s {
                    Source::Path(p) => word(p).map(Source::Path),
                    Source::Heredoc(h) if h.expand => {
                        let mut doc = h.clone();
                        doc.body = process_heredoc(&h.content(), vars)?;
                        doc.chomp = false;
                        doc.expand = false;
                        Ok(Source::Heredoc(doc))
                    }
                    Source::Heredoc(h) => Ok(Source::Heredoc(h.clone())),
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let pairs = |kvs: &[KeyValue]| {
            kvs.iter()
                .map(|kv| {
                    Ok(KeyValue {
                        key: word(&kv.key)?,
                        value: word(&kv.value)?,
                    })
                })
                .collect::<Result<Vec<_>, SubstError>>()
        };
        use InstructionKind as K;
        let kind = match &self.kind {
            K::From(f) => K::From(From {
                image: word(&f.image)?,
                stage_name: f.stage_name.clone(),
                platform: opt(&f.platform)?,
            }),
            K::Copy(c) => K::Copy(Copy {
                sources: sources(&c.sources)?,
                dest: word(&c.dest)?,
                from: c.from.clone(),
                chown: opt(&c.chown)?,
                chmod: opt(&c.chmod)?,
                link: c.link,
            }),
            K::Add(a) => K::Add(Add {
                sources: sources(&a.sources)?,
                dest: word(&a.dest)?,
                chown: opt(&a.chown)?,
                chmod: opt(&a.chmod)?,
                link: a.link,
                checksum: opt(&a.checksum)?,
                keep_git_dir: a.keep_git_dir,
            }),
            K::Env(kvs) => K::Env(pairs(kvs)?),
            K::Label(kvs) => K::Label(pairs(kvs)?),
            K::Arg(args) => K::Arg(
                args.iter()
                    .map(|a| {
                        Ok(ArgDecl {
                            name: a.name.clone(),
                            default: opt(&a.default)?,
                        })
                    })
                    .collect::<Result<Vec<_>, SubstError>>()?,
            ),
            K::Expose(ports) => {
                let mut out = Vec::new();
                for p in ports {
                    for p in process_words(p, vars, escape)? {
                        parse_port_spec(&p)?;
                        out.push(p);
                    }
                }
                K::Expose(out)
            }
            K::Volume(vols) => {
                let mut out = Vec::new();
                for v in vols {
                    let v = word(v)?;
                    if v.trim().is_empty() {
                        return Err(ExpandError::EmptyVolume);
                    }
                    out.push(v);
                }
                K::Volume(out)
            }
            K::Run(r) => {
                let mut run = r.clone();
                for m in &mut run.mounts {
                    m.source = opt(&m.source)?;
                    m.target = opt(&m.target)?;
                    m.id = opt(&m.id)?;
                    m.env = opt(&m.env)?;
                }
                K::Run(run)
            }
            K::Workdir(w) => K::Workdir(word(w)?),
            K::User(u) => K::User(word(u)?),
            K::StopSignal(s) => {
                let signal = word(s)?;
                parse_signal(&signal)?;
                K::StopSignal(signal)
            }
            other => other.clone(),
        };
        Ok(kind)
    }
}

const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// A STOPSIGNAL value as docker accepts it: a number (1-64) or a Linux
/// signal name with or without `SIG`, any case; `RTMIN+n`/`RTMAX-n` too.
/// Returns the signal number.
pub fn parse_signal(text: &str) -> Result<u32, ExpandError> {
    let bad = || ExpandError::Signal(text.to_string());
    if let Ok(n) = text.parse::<u32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(i) = SIGNALS.iter().position(|s| *s == name) {
        return Ok(i as u32 + 1);
    }
    let rt = |base: u32, rest: &str, sign: i64| -> Result<u32, ExpandError> {
        let offset: i64 = if rest.is_empty() {
            0
        } else {
            rest.parse().map_err(|_| bad())?
        };
        let n = base as i64 + sign * offset;
        if (34..=64).contains(&n) {
            Ok(n as u32)
        } else {
            Err(bad())
        }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(34, rest.strip_prefix('+').unwrap_or(rest), 1);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(64, rest.strip_prefix('-').unwrap_or(rest), -1);
    }
    Err(bad())
}

/// An EXPOSE entry: `80`, `80/udp`, `8000-8010/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub start: u16,
    pub end: u16,
    pub proto: &'static str,
}

impl PortSpec {
    /// Every port as an image config `ExposedPorts` key (`80/tcp`).
    pub fn keys(&self) -> Vec<String> {
        (self.start..=self.end)
            .map(|p| format!("{p}/{}", self.proto))
            .collect()
    }
}

pub fn parse_port_spec(spec: &str) -> Result<PortSpec, ExpandError> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    let proto = match proto.as_str() {
        "tcp" => "tcp",
        "udp" => "udp",
        "sctp" => "sctp",
        _ => return Err(ExpandError::Proto(proto)),
    };
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| ExpandError::Port(ports.to_string()))
    };
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(ports)?;
            (p, p)
        }
    };
    if end < start {
        return Err(ExpandError::PortRange(ports.to_string()));
    }
    Ok(PortSpec { start, end, proto })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::parse;
    use super::*;

    fn vars() -> HashMap<String, String> {
        [
            ("DIR", "/app"),
            ("PORTS", "80 443/udp"),
            ("USER", "nobody"),
            ("V", "1.0"),
            ("SIG", "SIGTERM"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn expanded(line: &str) -> InstructionKind {
        let df = parse(&format!("FROM x\n{line}\n")).unwrap();
        df.stages[0].instructions[0]
            .expand(&vars(), '\\')
            .unwrap()
            .kind
    }

    #[test]
    fn substituting_instructions() {
        assert_eq!(
            expanded("WORKDIR $DIR/src"),
            InstructionKind::Workdir("/app/src".into())
        );
        assert_eq!(
            expanded("USER ${USER}:${GROUP:-users}"),
            InstructionKind::User("nobody:users".into())
        );
        assert_eq!(
            expanded("STOPSIGNAL $SIG"),
            InstructionKind::StopSignal("SIGTERM".into())
        );
        assert_eq!(
            expanded("VOLUME [\"$DIR/data\", \"/x\"]"),
            InstructionKind::Volume(vec!["/app/data".into(), "/x".into()])
        );
        assert_eq!(
            expanded("EXPOSE $PORTS 8000-8001"),
            InstructionKind::Expose(vec!["80".into(), "443/udp".into(), "8000-8001".into()])
        );
        assert_eq!(
            expanded("ENV A=\"$V beta\" B=${V}"),
            InstructionKind::Env(vec![
                KeyValue {
                    key: "A".into(),
                    value: "1.0 beta".into()
                },
                KeyValue {
                    key: "B".into(),
                    value: "1.0".into()
                },
            ])
        );
        assert_eq!(
            expanded("ENV OLD \"quoted $V\" rest"),
            InstructionKind::Env(vec![KeyValue {
                key: "OLD".into(),
                value: "quoted 1.0 rest".into()
            }])
        );
        assert_eq!(
            expanded("LABEL \"com.x/$V\"='$V' y=\"a\\\"b\""),
            InstructionKind::Label(vec![
                KeyValue {
                    key: "com.x/1.0".into(),
                    value: "$V".into()
                },
                KeyValue {
                    key: "y".into(),
                    value: "a\"b".into()
                },
            ])
        );
        assert_eq!(
            expanded("ARG X=${V}-rc Y"),
            InstructionKind::Arg(vec![
                ArgDecl {
                    name: "X".into(),
                    default: Some("1.0-rc".into())
                },
                ArgDecl {
                    name: "Y".into(),
                    default: None
                },
            ])
        );
    }

    #[test]
    fn copy_substitutes_paths_and_chown_not_from() {
        match expanded("COPY --from=$V --chown=$USER [\"$DIR/a\", \"b\", \"$DIR/\"]") {
            InstructionKind::Copy(c) => {
                assert_eq!(
                    c.sources,
                    vec![Source::Path("/app/a".into()), Source::Path("b".into())]
                );
                assert_eq!(c.dest, "/app/");
                assert_eq!(c.chown.as_deref(), Some("nobody"));
                assert_eq!(c.from.as_deref(), Some("$V"));
            }
            other => panic!("{other:?}"),
        }
        match expanded("ADD --chmod=755 $DIR/x \\$DIR") {
            InstructionKind::Add(a) => {
                assert_eq!(a.sources, vec![Source::Path("/app/x".into())]);
                assert_eq!(a.dest, "$DIR");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn copy_heredoc_bodies_substituted_unless_quoted() {
        let df = parse("FROM x\nCOPY <<A <<'B' /d/\nuser=$USER \"q\"\nA\nuser=$USER\nB\n").unwrap();
        match df.stages[0].instructions[0]
            .expand(&vars(), '\\')
            .unwrap()
            .kind
        {
            InstructionKind::Copy(c) => {
                let [Source::Heredoc(a), Source::Heredoc(b)] = &c.sources[..] else {
                    panic!()
                };
                assert_eq!(a.body, "user=nobody \"q\"\n");
                assert_eq!(b.body, "user=$USER\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_substituting_instructions_unchanged() {
        for line in [
            "RUN echo $DIR",
            "CMD [\"echo\", \"$DIR\"]",
            "ENTRYPOINT $DIR",
            "MAINTAINER $USER",
            "ONBUILD WORKDIR $DIR",
            "SHELL [\"$DIR\"]",
            "HEALTHCHECK CMD $DIR",
        ] {
            let df = parse(&format!("FROM x\n{line}\n")).unwrap();
            let i = &df.stages[0].instructions[0];
            assert!(!i.substitutes(), "{line}");
            assert_eq!(&i.expand(&vars(), '\\').unwrap(), i, "{line}");
        }
    }

    #[test]
    fn run_substitutes_mount_values_only() {
        match expanded("RUN --mount=type=cache,id=$V,target=$DIR/cache echo $DIR") {
            InstructionKind::Run(r) => {
                assert_eq!(r.command, CommandLine::Shell("echo $DIR".into()));
                assert_eq!(r.mounts[0].target.as_deref(), Some("/app/cache"));
                assert_eq!(r.mounts[0].id.as_deref(), Some("1.0"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn from_substitutes_image_and_platform() {
        let df = parse("FROM --platform=$P ${IMG:-busybox}:$V AS b\n").unwrap();
        let mut v = vars();
        v.insert("P".into(), "linux/amd64".into());
        match df.stages[0].from.expand(&v, '\\').unwrap().kind {
            InstructionKind::From(f) => {
                assert_eq!(f.image, "busybox:1.0");
                assert_eq!(f.platform.as_deref(), Some("linux/amd64"));
                assert_eq!(f.stage_name.as_deref(), Some("b"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expansion_errors() {
        let df = parse(
            "FROM x\nEXPOSE 80/tcp abc 70000 90/xyz 9-8\nWORKDIR ${A:?must be set}\nVOLUME $NOPE\n",
        )
        .unwrap();
        let expose = &df.stages[0].instructions[0];
        assert_eq!(
            expose.expand(&vars(), '\\').unwrap_err().to_string(),
            "dockerfile error on line 2: invalid containerPort: abc"
        );
        let err = df.stages[0].instructions[1]
            .expand(&vars(), '\\')
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dockerfile error on line 3: failed to process \"${A:?must be set}\": A: must be set"
        );
        assert_eq!(
            df.stages[0].instructions[2]
                .expand(&vars(), '\\')
                .unwrap_err()
                .kind,
            ExpandError::EmptyVolume
        );
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), 63);
        assert_eq!(parse_signal("SIGWINCH").unwrap(), 28);
        assert_eq!(
            parse_signal("SIGFOO").unwrap_err().to_string(),
            "Invalid signal: SIGFOO"
        );
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("65").is_err());
        let df = parse("FROM x\nSTOPSIGNAL $SIG\nSTOPSIGNAL NOPE\n").unwrap();
        assert_eq!(
            df.stages[0].instructions[0]
                .expand(&vars(), '\\')
                .unwrap()
                .kind,
            InstructionKind::StopSignal("SIGTERM".into())
        );
        assert_eq!(
            df.stages[0].instructions[1]
                .expand(&vars(), '\\')
                .unwrap_err()
                .kind,
            ExpandError::Signal("NOPE".into())
        );
    }

    #[test]
    fn port_specs() {
        let p = parse_port_spec("8000-8002/UDP").unwrap();
        assert_eq!(p.keys(), vec!["8000/udp", "8001/udp", "8002/udp"]);
        assert_eq!(parse_port_spec("80").unwrap().keys(), vec!["80/tcp"]);
        assert_eq!(
            parse_port_spec("70000").unwrap_err().to_string(),
            "invalid containerPort: 70000"
        );
        assert_eq!(
            parse_port_spec("90/xyz").unwrap_err().to_string(),
            "invalid proto: xyz"
        );
        assert_eq!(
            parse_port_spec("9-8").unwrap_err().to_string(),
            "invalid range format for --expose: 9-8"
        );
    }
}
