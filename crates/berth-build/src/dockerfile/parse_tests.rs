//! Every instruction form and every parse error, through the whole parser.

use std::time::Duration;

use crate::dockerfile::{parse, InstructionKind as K, *};

/// The first instruction after `FROM x`.
fn one(line: &str) -> InstructionKind {
    let df = parse(&format!("FROM x\n{line}\n")).unwrap_or_else(|e| panic!("{line}: {e}"));
    df.stages[0].instructions[0].kind.clone()
}

/// The error for `line` (which is line 2).
fn err(line: &str) -> String {
    let e = parse(&format!("FROM x\n{line}\n")).unwrap_err();
    let text = e.to_string();
    text.strip_prefix("dockerfile parse error on line 2: ")
        .unwrap_or_else(|| panic!("{line}: wrong line in {text}"))
        .to_string()
}

fn from_of(text: &str) -> From {
    match &parse(text).unwrap().stages[0].from.kind {
        K::From(f) => f.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn from_forms() {
    assert_eq!(from_of("FROM scratch").image, "scratch");
    let f = from_of("from --platform=linux/arm64 golang:1.22 AS Build-1");
    assert_eq!(f.image, "golang:1.22");
    assert_eq!(f.stage_name.as_deref(), Some("build-1"));
    assert_eq!(f.platform.as_deref(), Some("linux/arm64"));
    assert_eq!(
        from_of("FROM a as b.c_d").stage_name.as_deref(),
        Some("b.c_d")
    );
}

#[test]
fn from_errors() {
    let e = |t: &str| parse(t).unwrap_err().to_string();
    assert_eq!(
        e("FROM"),
        "dockerfile parse error on line 1: FROM requires either one or three arguments"
    );
    assert_eq!(
        e("FROM a b"),
        "dockerfile parse error on line 1: FROM requires either one or three arguments"
    );
    assert_eq!(
        e("FROM a IS b"),
        "dockerfile parse error on line 1: FROM requires either one or three arguments"
    );
    assert_eq!(
        e("FROM a AS 1st"),
        "dockerfile parse error on line 1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols"
    );
    assert_eq!(
        e("FROM a AS b/c"),
        "dockerfile parse error on line 1: invalid name for build stage: \"b/c\", name can't start with a number or contain symbols"
    );
    assert_eq!(
        e("FROM --plat=x a"),
        "dockerfile parse error on line 1: unknown flag: plat"
    );
}

#[test]
fn run_shell_and_exec() {
    match one("RUN apt-get update && \\\n  apt-get install -y x") {
        K::Run(r) => {
            assert_eq!(
                r.command,
                CommandLine::Shell("apt-get update &&   apt-get install -y x".into())
            );
            assert!(r.mounts.is_empty() && r.network.is_none());
        }
        other => panic!("{other:?}"),
    }
    match one("RUN [\"/bin/echo\", \"a b\"]") {
        K::Run(r) => assert_eq!(
            r.command,
            CommandLine::Exec(vec!["/bin/echo".into(), "a b".into()])
        ),
        other => panic!("{other:?}"),
    }
    // not valid JSON: the shell form, as docker
    match one("RUN [ -f /x ] && echo y") {
        K::Run(r) => assert_eq!(r.command, CommandLine::Shell("[ -f /x ] && echo y".into())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn run_flags() {
    match one("RUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/tmp --network=none make") {
        K::Run(r) => {
            assert_eq!(r.mounts.len(), 2);
            assert_eq!(r.mounts[0].kind, MountType::Cache);
            assert_eq!(r.mounts[1].kind, MountType::Tmpfs);
            assert_eq!(r.network, Some(NetworkMode::None));
            assert_eq!(r.command, CommandLine::Shell("make".into()));
        }
        other => panic!("{other:?}"),
    }
    match one("RUN --network=host --mount=type=bind,from=build,source=/o,target=/i ls") {
        K::Run(r) => {
            assert_eq!(r.network, Some(NetworkMode::Host));
            assert_eq!(r.mounts[0].from.as_deref(), Some("build"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err("RUN --network=bridge ls"),
        "invalid network mode \"bridge\""
    );
    assert_eq!(
        err("RUN --mount=type=nfs,target=/x ls"),
        "unsupported mount type \"nfs\""
    );
    assert_eq!(err("RUN --privileged ls"), "unknown flag: privileged");
    assert_eq!(err("RUN"), "RUN requires at least one argument");
    assert_eq!(
        err("RUN [\"a\", 1]"),
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn run_heredoc() {
    let df = parse("FROM x\nRUN <<EOF\nset -e\necho hi\nEOF\nRUN cat <<A >/a\nx\nA\n").unwrap();
    match &df.stages[0].instructions[0].kind {
        K::Run(r) => {
            assert_eq!(r.command, CommandLine::Shell("<<EOF".into()));
            assert_eq!(r.heredocs[0].body, "set -e\necho hi\n");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(df.stages[0].instructions[1].line, 6);
    assert_eq!(df.stages[0].instructions[0].end_line, 5);
}

#[test]
fn cmd_and_entrypoint() {
    assert_eq!(
        one("CMD [\"nginx\", \"-g\", \"daemon off;\"]"),
        K::Cmd(CommandLine::Exec(vec![
            "nginx".into(),
            "-g".into(),
            "daemon off;".into()
        ]))
    );
    assert_eq!(
        one("CMD echo $HOME"),
        K::Cmd(CommandLine::Shell("echo $HOME".into()))
    );
    assert_eq!(one("CMD []"), K::Cmd(CommandLine::Exec(vec![])));
    assert_eq!(
        one("ENTRYPOINT [\"/init\"]"),
        K::Entrypoint(CommandLine::Exec(vec!["/init".into()]))
    );
    assert_eq!(
        one("ENTRYPOINT exec top -b"),
        K::Entrypoint(CommandLine::Shell("exec top -b".into()))
    );
    assert_eq!(err("CMD --x=1 a"), "unknown flag: x");
    assert_eq!(
        err("ENTRYPOINT [1]"),
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn copy_forms() {
    match one("COPY --from=build --chown=app:app --chmod=0644 --link a.txt src/*.go /dst/") {
        K::Copy(c) => {
            assert_eq!(
                c.sources,
                vec![
                    Source::Path("a.txt".into()),
                    Source::Path("src/*.go".into())
                ]
            );
            assert_eq!(c.dest, "/dst/");
            assert_eq!(c.from.as_deref(), Some("build"));
            assert_eq!(c.chown.as_deref(), Some("app:app"));
            assert_eq!(c.chmod.as_deref(), Some("0644"));
            assert!(c.link);
        }
        other => panic!("{other:?}"),
    }
    match one("COPY [\"with space\", \"/d st/\"]") {
        K::Copy(c) => {
            assert_eq!(c.sources, vec![Source::Path("with space".into())]);
            assert_eq!(c.dest, "/d st/");
            assert!(!c.link && c.from.is_none());
        }
        other => panic!("{other:?}"),
    }
    match one("COPY --from= --chown= a b") {
        K::Copy(c) => assert_eq!((c.from, c.chown), (None, None)),
        other => panic!("{other:?}"),
    }
    assert_eq!(err("COPY a"), "COPY requires at least two arguments, but only one was provided. Destination could not be determined");
    assert_eq!(err("COPY"), "COPY requires at least two arguments, but only one was provided. Destination could not be determined");
    assert_eq!(err("COPY --checksum=x a b"), "unknown flag: checksum");
    assert_eq!(err("COPY --from a b"), "missing a value on flag: from");
    assert_eq!(
        err("COPY --link=yes a b"),
        "expecting boolean value for flag link, not: yes"
    );
    assert_eq!(
        err("COPY --from=a --from=b a b"),
        "duplicate flag specified: from"
    );
}

#[test]
fn copy_heredoc() {
    let df = parse("FROM x\nCOPY <<EOF <<-'RAW' /etc/\nhello $X\nEOF\n\tkeep $X\n\tRAW\n").unwrap();
    match &df.stages[0].instructions[0].kind {
        K::Copy(c) => {
            assert_eq!(c.dest, "/etc/");
            let [Source::Heredoc(a), Source::Heredoc(b)] = &c.sources[..] else {
                panic!("{:?}", c.sources)
            };
            assert_eq!(
                (a.name.as_str(), a.body.as_str(), a.expand),
                ("EOF", "hello $X\n", true)
            );
            assert_eq!(
                (b.name.as_str(), b.content().as_str(), b.expand),
                ("RAW", "keep $X\n", false)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse("FROM x\nCOPY a <<EOF\nx\nEOF\n")
            .unwrap_err()
            .to_string(),
        "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination"
    );
}

#[test]
fn add_forms() {
    match one("ADD --checksum=sha256:abc --keep-git-dir --chown=1 --chmod=700 --link http://127.0.0.1/x.tar.gz /x/") {
        K::Add(a) => {
            assert_eq!(a.sources, vec![Source::Path("http://127.0.0.1/x.tar.gz".into())]);
            assert_eq!(a.checksum.as_deref(), Some("sha256:abc"));
            assert!(a.keep_git_dir && a.link);
            assert_eq!(a.chown.as_deref(), Some("1"));
            assert_eq!(a.chmod.as_deref(), Some("700"));
        }
        other => panic!("{other:?}"),
    }
    match one("ADD [\"a\", \"b\", \"/c\"]") {
        K::Add(a) => assert_eq!(a.sources.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(err("ADD x"), "ADD requires at least two arguments, but only one was provided. Destination could not be determined");
    assert_eq!(err("ADD --from=a x y"), "unknown flag: from");
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v.into(),
    }
}

#[test]
fn env_forms() {
    assert_eq!(one("ENV A b c  d"), K::Env(vec![kv("A", "b c  d")]));
    assert_eq!(
        one("ENV A=1 B=\"two words\" C=three\\ words D="),
        K::Env(vec![
            kv("A", "1"),
            kv("B", "\"two words\""),
            kv("C", "three\\ words"),
            kv("D", "")
        ])
    );
    assert_eq!(one("ENV A='x y'"), K::Env(vec![kv("A", "'x y'")]));
    assert_eq!(err("ENV"), "ENV requires at least one argument");
    assert_eq!(err("ENV A"), "ENV must have two arguments");
    assert_eq!(
        err("ENV A=1 B"),
        "Syntax error - can't find = in \"B\". Must be of the form: name=value"
    );
    assert_eq!(err("ENV =1"), "ENV names can not be blank");
}

#[test]
fn label_and_maintainer() {
    assert_eq!(
        one("LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0 description=\"multi \\\n  line\""),
        K::Label(vec![kv("\"com.example.vendor\"", "\"ACME Inc\""), kv("version", "1.0"), kv("description", "\"multi   line\"")])
    );
    assert_eq!(
        one("LABEL single value here"),
        K::Label(vec![kv("single", "value here")])
    );
    assert_eq!(err("LABEL"), "LABEL requires at least one argument");
    assert_eq!(
        err("LABEL a=b c"),
        "Syntax error - can't find = in \"c\". Must be of the form: name=value"
    );
    assert_eq!(
        one("MAINTAINER Jane Doe <jane@example.com>"),
        K::Maintainer("Jane Doe <jane@example.com>".into())
    );
    assert_eq!(
        err("MAINTAINER"),
        "MAINTAINER requires exactly one argument"
    );
}

#[test]
fn arg_forms() {
    assert_eq!(
        one("ARG A B=2 C=\"x y\" D="),
        K::Arg(vec![
            ArgDecl {
                name: "A".into(),
                default: None
            },
            ArgDecl {
                name: "B".into(),
                default: Some("2".into())
            },
            ArgDecl {
                name: "C".into(),
                default: Some("\"x y\"".into())
            },
            ArgDecl {
                name: "D".into(),
                default: Some("".into())
            },
        ])
    );
    assert_eq!(err("ARG"), "ARG requires at least one argument");
    assert_eq!(err("ARG =x"), "ARG names can not be blank");
}

#[test]
fn single_argument_instructions() {
    assert_eq!(one("WORKDIR /app"), K::Workdir("/app".into()));
    assert_eq!(one("WORKDIR /a b"), K::Workdir("/a b".into()));
    assert_eq!(one("USER 1000:1000"), K::User("1000:1000".into()));
    assert_eq!(one("STOPSIGNAL SIGKILL"), K::StopSignal("SIGKILL".into()));
    assert_eq!(err("WORKDIR"), "WORKDIR requires exactly one argument");
    assert_eq!(err("USER"), "USER requires exactly one argument");
    assert_eq!(
        err("STOPSIGNAL"),
        "STOPSIGNAL requires exactly one argument"
    );
    assert_eq!(err("WORKDIR --x=1 /a"), "unknown flag: x");
}

#[test]
fn expose_and_volume() {
    assert_eq!(
        one("EXPOSE 80/tcp 53/udp 8000-8010"),
        K::Expose(vec!["80/tcp".into(), "53/udp".into(), "8000-8010".into()])
    );
    assert_eq!(err("EXPOSE"), "EXPOSE requires at least one argument");
    assert_eq!(
        one("VOLUME /data /logs"),
        K::Volume(vec!["/data".into(), "/logs".into()])
    );
    assert_eq!(
        one("VOLUME [\"/data\", \"/with space\"]"),
        K::Volume(vec!["/data".into(), "/with space".into()])
    );
    assert_eq!(err("VOLUME"), "VOLUME requires at least one argument");
    assert_eq!(
        err("VOLUME [\"/a\", \" \"]"),
        "VOLUME specified can not be an empty string"
    );
    assert_eq!(err("VOLUME []"), "VOLUME requires at least one argument");
}

#[test]
fn healthcheck_forms() {
    assert_eq!(one("HEALTHCHECK NONE"), K::Healthcheck(Healthcheck::None));
    match one("HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 CMD curl -f http://127.0.0.1/ || exit 1") {
        K::Healthcheck(Healthcheck::Check(h)) => {
            assert_eq!(h.test, vec!["CMD-SHELL", "curl -f http://127.0.0.1/ || exit 1"]);
            assert_eq!(h.interval, Some(Duration::from_secs(30)));
            assert_eq!(h.timeout, Some(Duration::from_secs(3)));
            assert_eq!(h.start_period, Some(Duration::from_secs(60)));
            assert_eq!(h.start_interval, Some(Duration::from_millis(500)));
            assert_eq!(h.retries, Some(3));
        }
        other => panic!("{other:?}"),
    }
    match one("HEALTHCHECK cmd [\"/check\", \"-q\"]") {
        K::Healthcheck(Healthcheck::Check(h)) => {
            assert_eq!(h.test, vec!["CMD", "/check", "-q"]);
            assert_eq!((h.interval, h.retries), (None, None));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err("HEALTHCHECK"),
        "HEALTHCHECK requires at least one argument"
    );
    assert_eq!(
        err("HEALTHCHECK NONE x"),
        "HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        err("HEALTHCHECK CMD"),
        "Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        err("HEALTHCHECK RUN x"),
        "Unknown type \"RUN\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        err("HEALTHCHECK --interval=1us CMD x"),
        "Interval \"interval\" cannot be less than 1ms"
    );
    assert_eq!(
        err("HEALTHCHECK --timeout=soon CMD x"),
        "time: invalid duration \"soon\""
    );
    assert_eq!(
        err("HEALTHCHECK --retries=-1 CMD x"),
        "--retries cannot be negative (-1)"
    );
    assert_eq!(
        err("HEALTHCHECK --retries=x CMD x"),
        "strconv.ParseInt: parsing \"x\": invalid syntax"
    );
    assert_eq!(err("HEALTHCHECK --every=1s CMD x"), "unknown flag: every");
}

#[test]
fn shell_forms() {
    assert_eq!(
        one("SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]"),
        K::Shell(vec![
            "/bin/bash".into(),
            "-eo".into(),
            "pipefail".into(),
            "-c".into()
        ])
    );
    assert_eq!(
        err("SHELL /bin/bash -c"),
        "SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(err("SHELL []"), "SHELL requires at least one argument");
    assert_eq!(err("SHELL"), "SHELL requires at least one argument");
}

#[test]
fn onbuild_forms() {
    match one("ONBUILD COPY . /app/src") {
        K::Onbuild(o) => {
            assert_eq!(o.expression, "COPY . /app/src");
            assert!(matches!(o.trigger.kind, K::Copy(_)));
        }
        other => panic!("{other:?}"),
    }
    match parse("FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\n")
        .unwrap()
        .stages[0]
        .instructions[0]
        .kind
        .clone()
    {
        K::Onbuild(o) => assert_eq!(o.expression, "RUN <<EOF\necho hi\nEOF"),
        other => panic!("{other:?}"),
    }
    assert_eq!(err("ONBUILD"), "ONBUILD requires at least one argument");
    assert_eq!(
        err("ONBUILD ONBUILD RUN x"),
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        err("ONBUILD from x"),
        "FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("ONBUILD MAINTAINER me"),
        "MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("ONBUILD WORKDIR"),
        "WORKDIR requires exactly one argument"
    );
    assert_eq!(err("ONBUILD BOGUS x"), "unknown instruction: BOGUS");
}

#[test]
fn unknown_instruction_keeps_its_spelling() {
    assert_eq!(err("CMDD x"), "unknown instruction: CMDD");
    assert_eq!(err("copyy a b"), "unknown instruction: copyy");
}

#[test]
fn instructions_are_case_insensitive_and_keep_original_text() {
    let df = parse("from x\nrun   echo  hi  \nWorkDir /a\n").unwrap();
    let i = &df.stages[0].instructions;
    assert_eq!(i[0].original, "run   echo  hi");
    assert_eq!(i[0].kind.name(), "RUN");
    assert_eq!(i[1].kind, K::Workdir("/a".into()));
}
