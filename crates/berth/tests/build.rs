//! `docker build` (legacy builder, DOCKER_BUILDKIT=0 and unset) and `berth build`
//! against a test daemon with the busybox image: every instruction, the built
//! images' config, multi-stage, .dockerignore, build args, the cache, failures.

mod common;
mod registry_peers;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{assert_ok, inspect, stderr, stdout, TestDaemon};
use registry_peers::{free_port, make_certs, BerthRegistry};

fn daemon() -> TestDaemon {
    let d = TestDaemon::start();
    d.import_busybox();
    d
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

fn docker_build(d: &TestDaemon, buildkit: Option<&str>, args: &[&str]) -> Output {
    let mut c = d.docker_cmd(&[]);
    c.arg("build").args(args);
    match buildkit {
        Some(v) => c.env("DOCKER_BUILDKIT", v),
        None => c.env_remove("DOCKER_BUILDKIT"),
    };
    c.output().unwrap()
}

fn with_stdin(mut c: Command, input: &[u8]) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut w = child.stdin.take().unwrap();
    let data = input.to_vec();
    let t = std::thread::spawn(move || {
        let _ = w.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    let _ = t.join();
    o
}

/// The command failed saying `text`.
fn assert_stderr(o: &Output, text: &str) {
    assert!(stderr(o).contains(text), "{text:?} not in: {}", stderr(o));
}

/// Containers the daemon knows (build containers must all be gone).
fn containers(d: &TestDaemon) -> String {
    stdout(&d.docker(&["ps", "-aq"]))
}

const EVERY_INSTRUCTION: &str = r#"# a comment
ARG BASE=busybox
FROM ${BASE} AS base
LABEL org.example.title="every instruction" version=1
MAINTAINER someone <someone@example.com>
ENV GREETING=hello \
    TARGET=world
ARG WHO=nobody
RUN echo "$GREETING $TARGET from $WHO" > /greeting && cat /greeting
WORKDIR /app
COPY hello.txt ./
COPY --chown=1000:1000 --chmod=640 dir/ /data/
ADD archive.tar.gz /unpacked/
EXPOSE 8080 53/udp
VOLUME ["/vol"]
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD true
SHELL ["/bin/sh", "-c"]
STOPSIGNAL SIGTERM
ONBUILD RUN echo triggered > /tmp/onbuild
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /greeting /app/hello.txt"]
"#;

/// A tar of `inner/in-archive.txt`, compressed by `flag` (`-z`, `-j`, `-J`).
fn make_tar_gz(dir: &Path, name: &str) {
    make_tar(dir, name, "-z");
}

fn make_tar(dir: &Path, name: &str, flag: &str) {
    let src = dir.join("tarsrc");
    fs::create_dir_all(src.join("inner")).unwrap();
    fs::write(src.join("inner/in-archive.txt"), "from the archive\n").unwrap();
    let status = Command::new("tar")
        .arg(flag)
        .arg("-cf")
        .arg(dir.join(name))
        .arg("-C")
        .arg(&src)
        .arg("inner")
        .status()
        .unwrap();
    assert!(status.success());
    fs::remove_dir_all(&src).unwrap();
}

#[test]
fn docker_cli_builds_every_instruction() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            ("Dockerfile", EVERY_INSTRUCTION),
            ("hello.txt", "hello file\n"),
            ("dir/a.txt", "a\n"),
            ("dir/sub/b.txt", "b\n"),
        ],
    );
    make_tar_gz(ctx.path(), "archive.tar.gz");
    let ctx_s = ctx.path().to_str().unwrap();
    let o = docker_build(
        &d,
        Some("0"),
        &[
            "-t",
            "every:1",
            "-t",
            "every:2",
            "--build-arg",
            "WHO=tests",
            ctx_s,
        ],
    );
    assert_ok(&o, "docker build");
    let out = stdout(&o);
    assert!(out.contains("Step 1/19 : FROM ${BASE} AS base"), "{out}");
    assert!(out.contains("hello world from tests"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(out.contains("Removing intermediate container"), "{out}");
    assert!(out.contains("Successfully built "), "{out}");
    assert!(out.contains("Successfully tagged every:1"), "{out}");
    assert!(out.contains("Successfully tagged every:2"), "{out}");

    let env = inspect(&d, "every:1", "{{json .Config.Env}}");
    assert!(
        env.ends_with(r#""GREETING=hello","TARGET=world"]"#),
        "{env}"
    );
    assert_eq!(inspect(&d, "every:1", "{{.Config.WorkingDir}}"), "/app");
    assert_eq!(inspect(&d, "every:1", "{{.Config.User}}"), "1000:1000");
    assert_eq!(
        inspect(&d, "every:1", "{{.Author}}"),
        "someone <someone@example.com>"
    );
    assert_eq!(
        inspect(&d, "every:1", "{{json .Config.Entrypoint}}"),
        r#"["/bin/sh","-c"]"#
    );
    assert_eq!(
        inspect(&d, "every:1", "{{json .Config.Cmd}}"),
        r#"["cat /greeting /app/hello.txt"]"#
    );
    assert_eq!(
        inspect(&d, "every:1", "{{json .Config.ExposedPorts}}"),
        r#"{"53/udp":{},"8080/tcp":{}}"#
    );
    assert_eq!(
        inspect(&d, "every:1", "{{json .Config.Volumes}}"),
        r#"{"/vol":{}}"#
    );
    assert_eq!(
        inspect(&d, "every:1", "{{json .Config.OnBuild}}"),
        r#"["RUN echo triggered > /tmp/onbuild"]"#
    );
    assert_eq!(inspect(&d, "every:1", "{{.Config.StopSignal}}"), "SIGTERM");
    assert_eq!(
        inspect(&d, "every:1", "{{json .Config.Shell}}"),
        r#"["/bin/sh","-c"]"#
    );
    assert_eq!(
        inspect(&d, "every:1", "{{.Config.Healthcheck.Retries}}"),
        "2"
    );
    assert_eq!(
        inspect(
            &d,
            "every:1",
            "{{index .Config.Labels \"org.example.title\"}}"
        ),
        "every instruction"
    );

    let run = d.docker(&["run", "--rm", "every:1"]);
    assert_ok(&run, "run built image");
    assert_eq!(stdout(&run), "hello world from tests\nhello file\n");
    let run = d.docker(&[
        "run",
        "--rm",
        "--user",
        "0",
        "every:1",
        "stat -c '%u:%g %a' /data/a.txt /data/sub/b.txt && cat /unpacked/inner/in-archive.txt",
    ]);
    assert_ok(&run, "inspect files");
    assert_eq!(
        stdout(&run),
        "1000:1000 640\n1000:1000 640\nfrom the archive\n"
    );
    assert_eq!(containers(&d), "", "build containers left");

    let hist = stdout(&d.docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "every:1",
    ]));
    assert!(
        hist.contains("/bin/sh -c #(nop)  ENV GREETING=hello TARGET=world"),
        "{hist}"
    );
    assert!(hist.contains("|1 WHO=tests /bin/sh -c echo"), "{hist}");

    // ONBUILD triggers run in a child build.
    let child = tempfile::tempdir().unwrap();
    write(
        child.path(),
        &[("Dockerfile", "FROM every:1\nRUN cat /tmp/onbuild\n")],
    );
    let o = docker_build(
        &d,
        Some("0"),
        &["-t", "child", child.path().to_str().unwrap()],
    );
    assert_ok(&o, "child build");
    assert!(
        stdout(&o).contains("# Executing 1 build trigger"),
        "{}",
        stdout(&o)
    );
    let run = d.docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "cat",
        "child",
        "/tmp/onbuild",
    ]);
    assert_eq!(stdout(&run), "triggered\n");
}

fn iid(d: &TestDaemon, args: &[&str], dir: &Path) -> (Output, String) {
    let file = dir.join("iid");
    let mut all = vec!["build", "--iidfile", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = d.berth(&all);
    let id = fs::read_to_string(&file).unwrap_or_default();
    (o, id)
}

#[test]
fn berth_cli_cache_reuse_and_invalidation() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            (
                "Dockerfile",
                "FROM busybox\nRUN echo a > /a\nCOPY f /f\nENV X=1\nRUN cat /a /f\n",
            ),
            ("f", "one\n"),
        ],
    );
    let c = ctx.path().to_str().unwrap();
    let (o, first) = iid(&d, &["-t", "cached", c], scratch.path());
    assert_ok(&o, "first build");
    let out = stdout(&o);
    assert!(
        out.starts_with("Sending build context to Docker daemon"),
        "{out}"
    );
    assert!(!out.contains("Using cache"), "{out}");
    assert!(out.contains("a\none\n"), "{out}");
    assert!(first.starts_with("sha256:"), "{first}");

    let (o, second) = iid(&d, &["-t", "cached", c], scratch.path());
    assert_ok(&o, "second build");
    assert_eq!(
        stdout(&o).matches(" ---> Using cache").count(),
        4,
        "{}",
        stdout(&o)
    );
    assert_eq!(first, second, "an identical build gives the same image");

    // A changed file invalidates its COPY and everything after it.
    fs::write(ctx.path().join("f"), "two\n").unwrap();
    let (o, third) = iid(&d, &["-t", "cached", c], scratch.path());
    assert_ok(&o, "third build");
    let out = stdout(&o);
    assert_eq!(out.matches(" ---> Using cache").count(), 1, "{out}");
    assert!(out.contains("a\ntwo\n"), "{out}");
    assert_ne!(third, first);
    // Touching without changing content keeps the cache.
    let f = fs::File::options()
        .write(true)
        .open(ctx.path().join("f"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    let (o, fourth) = iid(&d, &["-t", "cached", c], scratch.path());
    assert_eq!(
        stdout(&o).matches(" ---> Using cache").count(),
        4,
        "{}",
        stdout(&o)
    );
    assert_eq!(fourth, third);
    // The docker CLI gets the same cached build, printed the same way.
    let docker = docker_build(&d, Some("0"), &["-t", "cached", c]);
    assert_ok(&docker, "docker build of the cached steps");
    let tail = |o: &Output| stdout(o).lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(tail(&docker), tail(&o));
    assert!(
        tail(&o).ends_with("Successfully tagged cached:latest"),
        "{}",
        tail(&o)
    );

    let (o, fifth) = iid(
        &d,
        &["--no-cache", "--compress", "-t", "cached", c],
        scratch.path(),
    );
    assert_ok(&o, "no-cache build");
    assert!(!stdout(&o).contains("Using cache"));
    assert_ne!(fifth, third);

    // The cache survives a daemon restart, shows in system df and goes with builder prune.
    let mut d = d;
    d.restart();
    let (o, _) = iid(&d, &["-t", "cached", c], scratch.path());
    assert_eq!(
        stdout(&o).matches(" ---> Using cache").count(),
        4,
        "{}",
        stdout(&o)
    );
    let df = d.docker(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    let df = stdout(&df);
    let count: usize = df
        .lines()
        .find_map(|l| l.strip_prefix("Build Cache "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(count >= 4, "{df}");
    let o = d.berth(&["builder", "prune", "-f"]);
    assert_ok(&o, "builder prune");
    let out = stdout(&o);
    assert!(out.starts_with("Deleted build cache objects:\n"), "{out}");
    assert!(out.contains("\nTotal reclaimed space: "), "{out}");
    // Nothing left: both CLIs print the same.
    let docker = d.docker(&["builder", "prune", "-f"]);
    assert_ok(&docker, "docker builder prune");
    assert_eq!(
        stdout(&docker),
        stdout(&d.berth(&["builder", "prune", "-f"]))
    );
    assert_eq!(stdout(&docker), "Total reclaimed space: 0B\n");
    let (o, _) = iid(&d, &["-t", "cached", c], scratch.path());
    assert!(!stdout(&o).contains("Using cache"), "{}", stdout(&o));
    assert_eq!(containers(&d), "");
}

#[test]
fn multi_stage_target_copy_from_and_skipped_stages() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[(
            "Dockerfile",
            "FROM busybox AS build\nRUN mkdir /out && echo built > /out/artifact\n\n\
             FROM busybox AS broken\nRUN echo this stage fails && exit 1\n\n\
             FROM busybox AS final\nCOPY --from=build /out/artifact /artifact\nCOPY --from=0 /out /outdir\nCMD [\"cat\", \"/artifact\"]\n\n\
             FROM broken AS last\n",
        )],
    );
    let c = ctx.path().to_str().unwrap();
    // --target final: the failing stage is not needed and not run.
    let o = docker_build(&d, Some("0"), &["--target", "final", "-t", "multi", c]);
    assert_ok(&o, "build --target final");
    assert!(!stdout(&o).contains("this stage fails"), "{}", stdout(&o));
    let run = d.docker(&["run", "--rm", "multi"]);
    assert_eq!(stdout(&run), "built\n");
    let run = d.docker(&["run", "--rm", "multi", "cat", "/outdir/artifact"]);
    assert_eq!(stdout(&run), "built\n");
    // Without a target the last stage needs the broken one.
    let o = docker_build(&d, Some("0"), &["-t", "multi:all", c]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_stderr(&o, "returned a non-zero code: 1");
    // FROM --platform: the host's platform (BuildKit's automatic ARG) builds, another is refused.
    let plat = tempfile::tempdir().unwrap();
    write(
        plat.path(),
        &[(
            "Dockerfile",
            "FROM --platform=$BUILDPLATFORM busybox AS host\nRUN true\n\nFROM --platform=linux/arm64 busybox\n",
        )],
    );
    let p = plat.path().to_str().unwrap();
    assert_ok(
        &docker_build(&d, Some("0"), &["--target", "host", p]),
        "FROM --platform=$BUILDPLATFORM",
    );
    let o = docker_build(&d, Some("0"), &[p]);
    assert_stderr(
        &o,
        "does not match the specified platform: wanted linux/arm64, actual: linux/amd64",
    );
    let o = docker_build(&d, Some("0"), &["--target", "nope", c]);
    assert!(!o.status.success());
    assert_stderr(&o, "target stage \"nope\" could not be found");
    assert_eq!(containers(&d), "");
}

#[test]
fn dockerignore_build_args_and_labels() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            (
                "Dockerfile",
                "FROM busybox\nARG VERSION=0\nARG UNSET\nENV V=$VERSION\nCOPY . /ctx/\nRUN echo \"v=$VERSION u=${UNSET:-none}\" && ls /ctx | sort\n",
            ),
            (".dockerignore", "secret.txt\n*.log\n!keep.log\nbuild/\n"),
            ("app.txt", "app\n"),
            ("secret.txt", "secret\n"),
            ("debug.log", "log\n"),
            ("keep.log", "kept\n"),
            ("build/out", "x\n"),
        ],
    );
    let c = ctx.path().to_str().unwrap();
    for (buildkit, cli) in [(Some("0"), "docker"), (None, "docker"), (None, "berth")] {
        let args = [
            "--no-cache",
            "--build-arg",
            "VERSION=2.5",
            "--label",
            "team=core",
            "-t",
            "ignored",
            c,
        ];
        let o = if cli == "docker" {
            docker_build(&d, buildkit, &args)
        } else {
            let mut all = vec!["build"];
            all.extend_from_slice(&args);
            d.berth(&all)
        };
        assert_ok(&o, "build");
        let out = stdout(&o);
        assert!(out.contains("v=2.5 u=none"), "{out}");
        assert!(
            out.contains("Dockerfile\napp.txt\nkeep.log\n"),
            "{cli} {buildkit:?}: {out}"
        );
        assert!(
            !out.contains("secret.txt") && !out.contains("debug.log"),
            "{out}"
        );
        assert_eq!(
            inspect(&d, "ignored", "{{index .Config.Labels \"team\"}}"),
            "core"
        );
        let env = inspect(&d, "ignored", "{{json .Config.Env}}");
        assert!(env.contains("V=2.5"), "{env}");
    }
}

#[test]
fn dockerfile_and_context_from_stdin() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), &[("data.txt", "from the context\n")]);
    let df = b"FROM busybox\nCOPY data.txt /data.txt\nCMD [\"cat\", \"/data.txt\"]\n";
    // -f - : the Dockerfile on stdin, the context from the directory.
    for cli in ["berth", "docker"] {
        let mut c = if cli == "berth" {
            d.berth_cmd(&[
                "build",
                "-f",
                "-",
                "-t",
                "stdin-df",
                ctx.path().to_str().unwrap(),
            ])
        } else {
            let mut c = d.docker_cmd(&[
                "build",
                "-f",
                "-",
                "-t",
                "stdin-df",
                ctx.path().to_str().unwrap(),
            ]);
            c.env("DOCKER_BUILDKIT", "0");
            c
        };
        c.env("DOCKER_BUILDKIT", "0");
        let o = with_stdin(c, df);
        assert_ok(&o, "build -f -");
        assert_eq!(
            stdout(&d.docker(&["run", "--rm", "stdin-df"])),
            "from the context\n"
        );
    }
    // -f with a Dockerfile outside the context.
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("Other.dockerfile");
    fs::write(
        &outside,
        "FROM busybox\nCOPY . /ctx/\nCMD [\"cat\", \"/ctx/data.txt\"]\n",
    )
    .unwrap();
    for cli in ["berth", "docker"] {
        let args = [
            "build",
            "-f",
            outside.to_str().unwrap(),
            "-t",
            "outside-df",
            ctx.path().to_str().unwrap(),
        ];
        let o = if cli == "berth" {
            d.berth(&args)
        } else {
            docker_build(&d, Some("0"), &args[1..])
        };
        assert_ok(&o, &format!("{cli} build -f outside the context"));
        assert_eq!(
            stdout(&d.docker(&["run", "--rm", "outside-df"])),
            "from the context\n"
        );
        // The Dockerfile sent beside the context is not among the build's files, nor the
        // .dockerignore the CLI makes to say so.
        assert_eq!(
            stdout(&d.docker(&["run", "--rm", "outside-df", "ls", "-A", "/ctx"])),
            "data.txt\n",
            "{cli}"
        );
    }
    // - : a tar context on stdin.
    fs::write(ctx.path().join("Dockerfile"), df).unwrap();
    let tar = Command::new("tar")
        .args(["-c", "-C", ctx.path().to_str().unwrap(), "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    for cli in ["berth", "docker"] {
        let mut c = if cli == "berth" {
            d.berth_cmd(&["build", "-t", "stdin-ctx", "-"])
        } else {
            d.docker_cmd(&["build", "-t", "stdin-ctx", "-"])
        };
        c.env("DOCKER_BUILDKIT", "0");
        let o = with_stdin(c, &tar.stdout);
        assert_ok(&o, "build -");
        assert_eq!(
            stdout(&d.docker(&["run", "--rm", "stdin-ctx"])),
            "from the context\n"
        );
    }
    // - : a Dockerfile alone on stdin (no context).
    let o = with_stdin(
        d.berth_cmd(&["build", "-t", "stdin-only", "-"]),
        b"FROM busybox\nRUN echo no context\n",
    );
    assert_ok(&o, "build - with a Dockerfile");
    assert!(stdout(&o).contains("no context"));
    // A remote context is refused clearly.
    let o = d.berth(&["build", "https://example.com/repo.git"]);
    assert!(!o.status.success());
    assert_stderr(&o, "remote contexts cannot be fetched");
}

#[test]
fn failing_run_and_malformed_dockerfile() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo before\nRUN echo last words && exit 3\nRUN echo never\n",
        )],
    );
    let c = ctx.path().to_str().unwrap();
    let before = stdout(&d.docker(&["images", "-q", "-a"]));
    for cli in ["docker", "berth"] {
        let o = if cli == "docker" {
            docker_build(&d, Some("0"), &["-t", "broken", c])
        } else {
            d.berth(&["build", "-t", "broken", c])
        };
        assert_eq!(o.status.code(), Some(3), "{cli}: {}", stderr(&o));
        assert!(stdout(&o).contains("last words"), "{}", stdout(&o));
        assert!(!stdout(&o).contains("never"));
        assert_stderr(
            &o,
            "The command '/bin/sh -c echo last words && exit 3' returned a non-zero code: 3",
        );
        assert!(!d.docker(&["image", "inspect", "broken"]).status.success());
        assert_eq!(containers(&d), "", "containers left after a failed RUN");
    }
    // The steps before the failure were kept as cache images, nothing else.
    let after = stdout(&d.docker(&["images", "-q", "-a"]));
    assert!(
        after.lines().count() <= before.lines().count() + 1,
        "{before}\n--\n{after}"
    );

    write(
        ctx.path(),
        &[("Dockerfile", "FROM busybox\nRUN echo fine\nCOPY onlyone\n")],
    );
    let o = docker_build(&d, Some("0"), &[c]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("dockerfile parse error on line 3"), "{err}");
    assert!(
        !stdout(&o).contains("Step 1"),
        "nothing runs: {}",
        stdout(&o)
    );
    write(ctx.path(), &[("Dockerfile", "FROM busybox\nFOO bar\n")]);
    let o = d.berth(&["build", c]);
    assert_stderr(
        &o,
        "dockerfile parse error on line 2: unknown instruction: FOO",
    );
    // A missing COPY source and a missing base image name what is missing.
    write(
        ctx.path(),
        &[("Dockerfile", "FROM busybox\nCOPY missing.txt /\n")],
    );
    let o = d.berth(&["build", c]);
    assert_stderr(&o, "missing.txt");
    write(
        ctx.path(),
        &[("Dockerfile", "FROM busybox\nCOPY ../outside /\n")],
    );
    let o = d.berth(&["build", c]);
    assert_stderr(&o, "Forbidden path outside the build context: ../outside");
    write(
        ctx.path(),
        &[("Dockerfile", "FROM busybox\nCOPY --from=nostage /x /x\n")],
    );
    let o = d.berth(&["build", c]);
    assert_stderr(&o, "nostage");
    write(ctx.path(), &[("Dockerfile", "FROM no-such-image:1\n")]);
    let o = d.berth(&["build", c]);
    assert_stderr(&o, "no-such-image:1");
    assert_eq!(containers(&d), "");
}

/// Serves `body` at any path on 127.0.0.1 for `n` requests; returns the port.
fn serve(body: Vec<u8>, n: usize) -> (u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match std::io::Read::read(&mut s, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    (port, t)
}

#[test]
fn add_url_and_archives() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    let (port, server) = serve(b"downloaded content\n".to_vec(), 1);
    make_tar_gz(ctx.path(), "files.tar.gz");
    make_tar(ctx.path(), "files.tar.bz2", "-j");
    make_tar(ctx.path(), "files.tar.xz", "-J");
    write(
        ctx.path(),
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD http://127.0.0.1:{port}/dir/remote.txt /fetched/\nADD files.tar.gz /x/\nCOPY files.tar.gz /copied/\n\
                 ADD files.tar.bz2 /bz/\nADD files.tar.xz /xz/\n\
                 RUN cat /fetched/remote.txt /x/inner/in-archive.txt && stat -c %a /fetched/remote.txt && stat -c %Y /fetched/remote.txt && ls /copied \
                 && cat /bz/inner/in-archive.txt /xz/inner/in-archive.txt\n"
            ),
        )],
    );
    let o = docker_build(
        &d,
        Some("0"),
        &[
            "--network",
            "host",
            "-t",
            "added",
            ctx.path().to_str().unwrap(),
        ],
    );
    server.join().unwrap();
    assert_ok(&o, "build with ADD");
    let out = stdout(&o);
    assert!(
        out.contains("downloaded content\nfrom the archive\n600\n1445412480\nfiles.tar.gz\nfrom the archive\nfrom the archive\n"),
        "{out}"
    );
}

#[test]
fn quiet_rm_force_rm_and_network_flags() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo chatty && ip -o link | grep -c . > /links\n",
        )],
    );
    let c = ctx.path().to_str().unwrap();
    // -q: only the image id, from both CLIs.
    for cli in ["berth", "docker"] {
        let o = if cli == "berth" {
            d.berth(&["build", "-q", "--no-cache", "-t", "quiet", c])
        } else {
            docker_build(&d, Some("0"), &["-q", "--no-cache", "-t", "quiet", c])
        };
        assert_ok(&o, "build -q");
        let out = stdout(&o);
        assert!(
            out.starts_with("sha256:") && out.lines().count() == 1,
            "{cli}: {out}"
        );
        assert_eq!(out.trim(), inspect(&d, "quiet", "{{.Id}}"));
    }
    // --network none: RUN sees only the loopback link.
    let o = d.berth(&["build", "--no-cache", "--network", "none", "-t", "nonet", c]);
    assert_ok(&o, "build --network none");
    let run = d.docker(&["run", "--rm", "nonet", "cat", "/links"]);
    assert_eq!(stdout(&run), "1\n");
    // --rm=false keeps the RUN container; --force-rm removes a failed one.
    let o = d.berth(&["build", "--no-cache", "--rm=false", c]);
    assert_ok(&o, "build --rm=false");
    assert!(!stdout(&o).contains("Removing intermediate container"));
    let kept = containers(&d);
    assert_eq!(kept.lines().count(), 1, "{kept}");
    assert_ok(&d.docker(&["rm", kept.trim()]), "rm kept container");
    write(ctx.path(), &[("Dockerfile", "FROM busybox\nRUN exit 2\n")]);
    let o = d.berth(&["build", "--rm=false", "--force-rm", c]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(containers(&d), "");
}

#[test]
fn independent_stages_build_at_once_with_output_in_order() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Stage `server` can only finish when stage `client` runs at the same time: one
    // listens on the host's loopback, the other connects to it. Built one after the
    // other, the listener would give up after 30 s and fail the build. (The listener's
    // stdin is a fifo nobody writes: at EOF on stdin busybox nc would close early.)
    let dockerfile = format!(
        "FROM busybox AS server\n\
         RUN --network=host echo server up && mkfifo /idle && exec 3<>/idle && timeout 30 nc -l -p {port} <&3 > /got && cat /got\n\n\
         FROM busybox AS client\n\
         RUN --network=host for i in $(seq 300); do echo ping | nc 127.0.0.1 {port} && break; sleep 0.1; done; echo client done\n\n\
         FROM busybox\n\
         COPY --from=server /got /got\n\
         COPY --from=client /etc/hostname /client\n\
         CMD [\"cat\", \"/got\"]\n"
    );
    write(ctx.path(), &[("Dockerfile", &dockerfile)]);
    let c = ctx.path().to_str().unwrap();
    let o = docker_build(&d, Some("0"), &["--no-cache", "-t", "parallel", c]);
    assert_ok(&o, "build with two stages that need each other running");
    let out = stdout(&o);
    // The legacy stream keeps stage order: stage 0's steps and output, then stage 1's.
    let at = |s: &str| {
        out.find(s)
            .unwrap_or_else(|| panic!("{s:?} missing in {out}"))
    };
    assert!(at("Step 1/8 : FROM busybox AS server") < at("server up"));
    assert!(
        at("ping") < at("Step 3/8 : FROM busybox AS client"),
        "{out}"
    );
    assert!(at("Step 4/8 : RUN --network=host for i") < at("client done"));
    assert!(at("client done") < at("Step 5/8 : FROM busybox\n"), "{out}");
    assert!(out.contains("Successfully tagged parallel:latest"), "{out}");
    let run = d.docker(&["run", "--rm", "parallel"]);
    assert_eq!(stdout(&run), "ping\n");
    assert_eq!(containers(&d), "");
}

#[test]
fn a_failing_stage_stops_the_stages_running_beside_it() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    // `slow` is cancelled at its next step once `broken` failed: its second RUN never runs.
    write(
        ctx.path(),
        &[(
            "Dockerfile",
            "FROM busybox AS slow\nRUN sleep 2\nRUN echo slow finished\n\n\
             FROM busybox AS broken\nRUN echo broken fails && exit 3\n\n\
             FROM busybox\nCOPY --from=slow /etc/hostname /a\nCOPY --from=broken /etc/hostname /b\n",
        )],
    );
    let c = ctx.path().to_str().unwrap();
    let o = docker_build(&d, Some("0"), &["--no-cache", c]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert_stderr(
        &o,
        "The command '/bin/sh -c echo broken fails && exit 3' returned a non-zero code: 3",
    );
    let out = stdout(&o);
    assert!(out.contains("broken fails"), "{out}");
    assert!(!out.contains("slow finished"), "{out}");
    assert_eq!(containers(&d), "");
}

#[test]
fn run_containers_get_the_build_limits_and_options() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[(
            "Dockerfile",
            "FROM busybox\n\
             RUN grep extra.test /etc/hosts > /hosts && \
                 (cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) > /memory && \
                 df -k /dev/shm | awk 'NR==2 {print $2}' > /shm && ulimit -n > /nofile\n\
             RUN echo to stderr >&2\n",
        )],
    );
    let c = ctx.path().to_str().unwrap();
    let flags = [
        "--no-cache",
        "--add-host",
        "extra.test:10.1.2.3",
        "-m",
        "64m",
        "--shm-size",
        "16m",
        "--ulimit",
        "nofile=512:1024",
        "-t",
        "limited",
    ];
    for cli in ["berth", "docker"] {
        let mut args = flags.to_vec();
        args.push(c);
        let o = if cli == "berth" {
            d.berth(&[&["build"], &args[..]].concat())
        } else {
            docker_build(&d, Some("0"), &args)
        };
        assert_ok(&o, &format!("{cli} build with limits"));
        // A RUN's stderr comes in red, as dockerd's legacy builder sends it.
        assert!(
            stdout(&o).contains("\x1b[91mto stderr\n\x1b[0m"),
            "{cli}: {}",
            stdout(&o)
        );
        let run = d.docker(&[
            "run", "--rm", "limited", "cat", "/hosts", "/memory", "/shm", "/nofile",
        ]);
        assert_eq!(
            stdout(&run),
            "10.1.2.3\textra.test\n67108864\n16384\n512\n",
            "{cli}"
        );
    }
    // What the legacy API refuses, with dockerd's words.
    let o = d.berth(&["build", "--isolation", "hyperv", c]);
    assert_stderr(&o, "Unsupported isolation: \"hyperv\"");
    assert_eq!(containers(&d), "");
}

#[test]
fn cache_from_limits_the_cache_to_those_images() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[("Dockerfile", "FROM busybox\nENV A=1\nRUN touch /a\n")],
    );
    let c = ctx.path().to_str().unwrap();
    assert_ok(&d.berth(&["build", "-t", "source", c]), "first build");
    let hits = |o: &Output| stdout(o).matches("Using cache").count();
    let o = docker_build(&d, Some("0"), &["--cache-from", "source", "-t", "again", c]);
    assert_ok(&o, "build --cache-from source");
    assert_eq!(hits(&o), 2, "{}", stdout(&o));
    let o = d.berth(&["build", "--cache-from", "nosuchimage", c]);
    assert_ok(&o, "build --cache-from nosuchimage");
    assert_eq!(hits(&o), 0, "{}", stdout(&o));
}

/// Kills a helper server on drop.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// ADD of an https URL: the server's certificate is checked against the CAs the daemon
/// trusts (`SSL_CERT_FILE` names the test CA, as for dockerd); an unknown CA is refused.
#[test]
fn add_https_url_checks_the_servers_certificate() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let www = certs.path().join("www");
    write(&www, &[("remote.txt", "over tls\n")]);
    let port = free_port();
    let server = Killed(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(certs.path().join("server.crt"))
            .arg("-key")
            .arg(certs.path().join("server.key"))
            .current_dir(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    common::wait_for("the https server", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let ca = certs.path().join("ca.crt");
    let d = TestDaemon::start_with_env(&[], &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    d.import_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let url = format!("https://127.0.0.1:{port}/remote.txt");
    write(
        ctx.path(),
        &[(
            "Dockerfile",
            &format!("FROM busybox\nADD {url} /fetched/\nRUN cat /fetched/remote.txt\n"),
        )],
    );
    let c = ctx.path().to_str().unwrap();
    let o = docker_build(&d, Some("0"), &["-t", "tls-added", c]);
    assert_ok(&o, "ADD over https");
    assert!(stdout(&o).contains("over tls\n"), "{}", stdout(&o));
    drop(d);

    let d = daemon();
    let o = d.berth(&["build", "--no-cache", c]);
    assert!(!o.status.success(), "an unknown CA: {}", stdout(&o));
    assert_stderr(&o, &format!("failed to GET {url}"));
    assert_eq!(containers(&d), "");
    drop(server);
}

/// FROM an image that is not here pulls it, with the credentials the client sends
/// (`X-Registry-Config`, from both CLIs' config); `--pull` pulls a base that is here.
#[test]
fn base_images_are_pulled_with_the_clients_credentials() {
    let reg = BerthRegistry::start(|dir, port| {
        let key = dir.join("token.key");
        fs::write(&key, "a test signing secret of enough bytes!").unwrap();
        let pw = dir.join("htpasswd");
        let o = Command::new("htpasswd")
            .arg("-Bbc")
            .arg(&pw)
            .args(["builder", "s3cret"])
            .output()
            .expect("htpasswd (apt install apache2-utils)");
        assert!(o.status.success(), "{}", stderr(&o));
        vec![
            "--htpasswd".into(),
            pw.display().to_string(),
            "--token-realm".into(),
            format!("http://127.0.0.1:{port}/token"),
            "--token-service".into(),
            "berth-test".into(),
            "--token-issuer".into(),
            "berth-test".into(),
            "--token-key".into(),
            key.display().to_string(),
        ]
    });
    let d = daemon();
    let h = reg.host();
    let cfg = d.dir.join("docker-config");
    let berth = |args: &[&str]| {
        d.berth_cmd(args)
            .env("DOCKER_CONFIG", &cfg)
            .output()
            .unwrap()
    };
    let base = format!("{h}/base/bb:1");
    assert_ok(&berth(&["tag", "busybox", &base]), "tag");
    assert_ok(
        &berth(&["login", "-u", "builder", "-p", "s3cret", &h]),
        "login",
    );
    assert_ok(&berth(&["push", &base]), "push");
    assert_ok(&berth(&["rmi", &base]), "rmi");
    assert_ok(&berth(&["logout", &h]), "logout");

    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[(
            "Dockerfile",
            &format!("FROM {base}\nRUN echo built on the pulled base\n"),
        )],
    );
    let c = ctx.path().to_str().unwrap();
    let o = docker_build(&d, Some("0"), &["-t", "on-pulled", c]);
    assert!(!o.status.success(), "no credentials: {}", stdout(&o));
    assert!(!d.docker(&["image", "inspect", &base]).status.success());
    assert_eq!(containers(&d), "");

    let o = d.docker(&["login", "-u", "builder", "-p", "s3cret", &h]);
    assert_ok(&o, "docker login");
    let o = docker_build(&d, Some("0"), &["-t", "on-pulled", c]);
    assert_ok(&o, "build on a pulled base");
    let out = stdout(&o);
    for text in [
        "Step 1/2 : FROM ",
        "1: Pulling from base/bb",
        "Digest: sha256:",
        &format!("Status: Downloaded newer image for {base}"),
        "built on the pulled base",
        "Successfully tagged on-pulled:latest",
    ] {
        assert!(out.contains(text), "{text:?} not in: {out}");
    }
    assert_ok(&d.docker(&["image", "inspect", &base]), "the base is kept");

    let o = berth(&["build", "--pull", "-t", "on-pulled", c]);
    assert_ok(&o, "build --pull");
    let out = stdout(&o);
    assert!(
        out.contains(&format!("Status: Image is up to date for {base}"))
            && out.contains("Using cache"),
        "{out}"
    );
    let o = berth(&["build", "-t", "on-pulled", c]);
    assert_ok(&o, "build with the base here");
    assert!(!stdout(&o).contains("Pulling from"), "{}", stdout(&o));
    assert_eq!(containers(&d), "");
}

/// RUN --mount: binds of the context and of a stage (read-only, or a throwaway
/// writable copy), a cache directory kept across builds until `builder prune`,
/// a tmpfs, a secret that was not sent left out; none of them in the layer.
#[test]
fn run_mounts_bind_cache_and_tmpfs() {
    let d = daemon();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            ("data/input.txt", "from the context\n"),
            (
                "Dockerfile",
                "FROM busybox AS tools\nRUN echo from the stage > /tool.txt\n\
                 FROM busybox\nWORKDIR /work\n\
                 RUN --mount=type=bind,source=data,target=ctx cat /work/ctx/input.txt && (touch /work/ctx/new 2>/dev/null || echo read-only)\n\
                 RUN --mount=type=bind,from=tools,source=/tool.txt,target=/t.txt cat /t.txt\n\
                 RUN --mount=type=bind,source=data,target=/w,rw echo scribbled > /w/input.txt && cat /w/input.txt\n\
                 RUN --mount=type=cache,target=/cache,id=counter,uid=1000,mode=0770 echo run >> /cache/runs && echo runs: $(wc -l < /cache/runs) && stat -c 'cache %u %a' /cache\n\
                 RUN --mount=type=tmpfs,target=/scratch,size=1m echo t > /scratch/f && grep -c ' /scratch tmpfs' /proc/mounts\n\
                 RUN --mount=type=secret,id=absent echo without the secret\n\
                 RUN --mount=type=bind,target=/all cat /all/data/input.txt\n\
                 RUN ls -A /cache /scratch /w /work/ctx 2>&1; echo listed\n",
            ),
        ],
    );
    let c = ctx.path().to_str().unwrap();
    let o = docker_build(&d, Some("0"), &["-t", "mounted", c]);
    assert_ok(&o, "build with RUN --mount");
    let out = stdout(&o);
    for text in [
        "from the context\nread-only\n",
        "from the stage\n",
        "scribbled\n",
        "runs: 1\ncache 1000 770\n",
        "without the secret\n",
        "listed\n",
    ] {
        assert!(out.contains(text), "{text:?} not in: {out}");
    }
    assert!(out.contains("\n1\n"), "a tmpfs at /scratch: {out}");
    // Nothing of the mounts went into the image: empty mount points at most.
    let o = d.docker(&[
        "run",
        "--rm",
        "mounted",
        "sh",
        "-c",
        "cat /cache/runs /scratch/f /work/ctx/input.txt /w/input.txt 2>/dev/null; echo end",
    ]);
    assert_eq!(stdout(&o), "end\n");

    // The cache directory outlives the build, until builder prune.
    let o = d.berth(&["build", "--no-cache", "-t", "mounted", c]);
    assert_ok(&o, "second build");
    assert!(stdout(&o).contains("runs: 2\n"), "{}", stdout(&o));
    let df = stdout(&d.docker(&["system", "df", "-v"]));
    assert!(df.contains("exec.cachemount"), "{df}");
    assert_ok(&d.docker(&["builder", "prune", "-f"]), "builder prune");
    let o = d.berth(&["build", "--no-cache", "-t", "mounted", c]);
    assert!(stdout(&o).contains("runs: 1\n"), "{}", stdout(&o));
    // A changed bound file is a changed step.
    write(ctx.path(), &[("data/input.txt", "changed\n")]);
    let o = d.berth(&["build", "-t", "mounted", c]);
    assert!(
        stdout(&o).contains("changed\nread-only\n"),
        "{}",
        stdout(&o)
    );

    for (dockerfile, error) in [
        (
            "FROM busybox\nRUN --mount=type=secret,id=token,required cat /run/secrets/token\n",
            "secret token not found",
        ),
        (
            "FROM busybox\nRUN --mount=type=bind,source=../outside,target=/o true\n",
            "outside the build context",
        ),
        (
            "FROM busybox\nRUN --mount=type=bind,source=nothing,target=/o true\n",
            "nothing",
        ),
    ] {
        write(ctx.path(), &[("Dockerfile", dockerfile)]);
        let o = d.berth(&["build", c]);
        assert!(!o.status.success(), "{dockerfile}: {}", stdout(&o));
        assert_stderr(&o, error);
    }
    assert_eq!(containers(&d), "");
}
