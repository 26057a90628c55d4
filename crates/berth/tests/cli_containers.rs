//! The berth CLI's container commands end to end against a real daemon, compared with the
//! official docker CLI talking to the same daemon: output, errors and exit codes.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::compare::{code, ok, same, same_eventually, started};
use common::{assert_ok, stderr, stdout};

#[test]
fn run_exit_codes_match_docker() {
    let d = started();
    let o = same(&d, &["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!(stdout(&o), "hello\n");
    let o = same(&d, &["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code(&o), 3);
    let o = same(&d, &["run", "busybox", "nosuchcmd"]);
    assert_eq!(code(&o), 127);
    assert!(
        stderr(&o).starts_with("berth: Error response from daemon: "),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("executable file not found in $PATH"));
    assert!(stderr(&o).ends_with("\n\nRun 'berth run --help' for more information\n"));
    let o = same(&d, &["run", "busybox", "/etc/passwd"]);
    assert_eq!(code(&o), 126);
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
    // Unknown flag: usage on stderr, 125.
    let o = same(&d, &["run", "--nope", "busybox"]);
    assert_eq!(code(&o), 125);
    assert_eq!(
        stderr(&o),
        "unknown flag: --nope\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n\
         Run 'berth run --help' for more information\n"
    );
    // Missing image argument: 1 as docker.
    let o = same(&d, &["run"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("'berth run' requires at least 1 argument"));
}

#[test]
fn run_rm_with_failed_start_removes_the_container() {
    let d = started();
    let o = d.berth(&["run", "--rm", "--name", "failed", "busybox", "nosuchcmd"]);
    assert_eq!(code(&o), 127);
    let o = d.berth(&["ps", "-aq"]);
    assert_eq!(stdout(&o), "");
}

#[test]
fn run_unknown_image_is_125() {
    let d = started();
    // A registry that refuses connections: the pull fails at once, without the internet.
    let o = d.berth(&["run", "--rm", "127.0.0.1:1/nosuchimage"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("Unable to find image '127.0.0.1:1/nosuchimage:latest' locally\n"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("berth: Error response from daemon: Get \"http://127.0.0.1:1/v2/\""),
        "{}",
        stderr(&o)
    );
    let k = d.docker(&["run", "--rm", "127.0.0.1:1/nosuchimage"]);
    assert_eq!(code(&k), 125);
}

#[test]
fn run_malformed_reference_is_client_side_125() {
    let d = started();
    let o = same(&d, &["run", "BAD:Ref!"]);
    assert_eq!(code(&o), 125);
    assert_eq!(
        stderr(&o),
        "berth: invalid reference format: repository name (library/BAD) must be lowercase\n\n\
         Run 'berth run --help' for more information\n"
    );
    // create reports it plainly, with 1.
    let o = same(&d, &["create", "busy box"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("invalid reference format"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_env_workdir_user_entrypoint_hostname() {
    let d = started();
    let envf = d.dir.join("envfile");
    std::fs::write(&envf, "A=1\n# a comment\n\nFROMHOST\nC=x y\n").unwrap();
    let out = d
        .berth_cmd(&[
            "run",
            "--rm",
            "--env-file",
            envf.to_str().unwrap(),
            "-e",
            "Z=9",
            "busybox",
            "sh",
            "-c",
            "echo $A/$FROMHOST/$C/$Z",
        ])
        .env("FROMHOST", "host-value")
        .output()
        .unwrap();
    assert_ok(&out, "run --env-file");
    assert_eq!(stdout(&out), "1/host-value/x y/9\n");

    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "-w",
            "/tmp",
            "-u",
            "5:6",
            "--hostname",
            "hh",
            "--entrypoint",
            "sh",
            "busybox",
            "-c",
            "pwd; id; hostname",
        ],
    );
    assert_eq!(stdout(&o), "/tmp\nuid=5 gid=6\nhh\n");

    // Config.Env as the CLI sent it, in order.
    ok(
        &d,
        &[
            "create",
            "--name",
            "e1",
            "--env-file",
            envf.to_str().unwrap(),
            "-e",
            "Z=9",
            "busybox",
            "true",
        ],
    );
    let env = ok(&d, &["inspect", "-f", "{{json .Config.Env}}", "e1"]);
    assert_eq!(env, "[\"A=1\",\"C=x y\",\"Z=9\"]\n");
}

#[test]
fn run_env_order_is_docker_order() {
    let d = started();
    let o = ok(
        &d,
        &[
            "run", "--rm", "-e", "A=1", "-e", "B=2", "-e", "C=3", "busybox", "env",
        ],
    );
    let keys: Vec<&str> = o.lines().map(|l| l.split('=').next().unwrap()).collect();
    assert_eq!(keys, ["PATH", "HOSTNAME", "A", "B", "C", "HOME"], "{o}");
}

#[test]
fn run_bad_env_file_and_label_file_are_125() {
    let d = started();
    for flag in ["--env-file", "--label-file"] {
        let o = same(&d, &["run", flag, "/nonexistent/file", "busybox", "true"]);
        assert_eq!(code(&o), 125);
        assert_eq!(
            stderr(&o),
            "berth: open /nonexistent/file: no such file or directory\n\n\
             Run 'berth run --help' for more information\n"
        );
    }
}

#[test]
fn run_labels_and_label_file() {
    let d = started();
    let lf = d.dir.join("labels");
    std::fs::write(&lf, "l1=v1\nl2\n").unwrap();
    ok(
        &d,
        &[
            "create",
            "--name",
            "lb",
            "--label-file",
            lf.to_str().unwrap(),
            "-l",
            "z=1",
            "busybox",
            "true",
        ],
    );
    let o = same(&d, &["inspect", "-f", "{{json .Config.Labels}}", "lb"]);
    assert_eq!(stdout(&o), "{\"l1\":\"v1\",\"l2\":\"\",\"z\":\"1\"}\n");
    let o = same(
        &d,
        &[
            "ps",
            "-a",
            "-f",
            "label=z=1",
            "--format",
            "{{.Names}} {{.Label \"l1\"}}",
        ],
    );
    assert_eq!(stdout(&o), "lb v1\n");
}

#[test]
fn run_detached_named_cidfile() {
    let d = started();
    let cid = d.dir.join("cid");
    let o = ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--cidfile",
            cid.to_str().unwrap(),
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let id = o.trim();
    assert_eq!(id.len(), 64, "{o}");
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id);
    // A second run with the same cidfile is refused before anything is created.
    let o = same(
        &d,
        &[
            "run",
            "-d",
            "--cidfile",
            cid.to_str().unwrap(),
            "busybox",
            "true",
        ],
    );
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("container ID file found"),
        "{}",
        stderr(&o)
    );
    // Name conflict.
    let o = same(&d, &["run", "-d", "--name", "web", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(stderr(&o).contains("Conflict. The container name \"/web\" is already in use"));
    let o = same(
        &d,
        &["inspect", "-f", "{{.Name}} {{.State.Running}}", "web"],
    );
    assert_eq!(stdout(&o), "/web true\n");
    let pid = ok(&d, &["inspect", "-f", "{{.State.Pid}}", "web"]);
    let pid: u32 = pid.trim().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    ok(&d, &["rm", "-f", "web"]);
}

#[test]
fn run_rm_removes_the_container() {
    let d = started();
    ok(&d, &["run", "--rm", "--name", "gone", "busybox", "true"]);
    let o = same(&d, &["ps", "-aq"]);
    assert_eq!(stdout(&o), "");
    let o = same(&d, &["inspect", "gone"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "[]\n");
    assert_eq!(stderr(&o), "Error: No such object: gone\n");
}

#[test]
fn run_attach_selects_streams() {
    let d = started();
    let script = "echo out; echo err >&2";
    let o = same(
        &d,
        &["run", "--rm", "-a", "stdout", "busybox", "sh", "-c", script],
    );
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), ("out\n", ""));
    let o = same(
        &d,
        &["run", "--rm", "-a", "stderr", "busybox", "sh", "-c", script],
    );
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), ("", "err\n"));
    let o = same(&d, &["run", "--rm", "busybox", "sh", "-c", script]);
    assert_eq!(
        (stdout(&o).as_str(), stderr(&o).as_str()),
        ("out\n", "err\n")
    );
}

#[test]
fn run_interactive_reads_stdin() {
    let d = started();
    let mut c = d.berth_cmd(&["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_ok(&o, "run -i");
    assert_eq!(stdout(&o), "HELLO\n");
}

// ---------------------------------------------------------------------------------------
// lifecycle

#[test]
fn create_start_attach_and_exit_code() {
    let d = started();
    let id = ok(
        &d,
        &[
            "create",
            "--name",
            "c1",
            "busybox",
            "sh",
            "-c",
            "echo started; exit 4",
        ],
    );
    assert_eq!(id.trim().len(), 64);
    let o = same(&d, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert_eq!(stdout(&o), "c1 Created\n");
    let o = d.berth(&["start", "-a", "c1"]);
    assert_eq!(code(&o), 4);
    assert_eq!(stdout(&o), "started\n");
    let o = same(&d, &["wait", "c1"]);
    assert_eq!(stdout(&o), "4\n");
    let o = same(&d, &["start", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: nosuch\nError: failed to start containers: nosuch\n"
    );
    // start without -a prints the name.
    let o = ok(&d, &["start", "c1"]);
    assert_eq!(o, "c1\n");
}

#[test]
fn stop_kill_restart_wait() {
    let d = started();
    ok(
        &d,
        &["run", "-d", "--name", "s1", "busybox", "sleep", "1000"],
    );
    let t = Instant::now();
    assert_eq!(ok(&d, &["stop", "-t", "1", "s1"]), "s1\n");
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    let o = same(
        &d,
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "s1",
        ],
    );
    assert_eq!(stdout(&o), "exited 137\n");
    assert_eq!(ok(&d, &["restart", "-t", "0", "s1"]), "s1\n");
    let o = same(
        &d,
        &[
            "inspect",
            "-f",
            "{{.State.Running}} {{.RestartCount}}",
            "s1",
        ],
    );
    assert!(stdout(&o).starts_with("true "), "{}", stdout(&o));
    // A trap in the container sees the signal sent by kill -s.
    ok(&d, &["rm", "-f", "s1"]);
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "trap",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 42' USR1; while true; do sleep 0.1; done",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ok(&d, &["kill", "-s", "USR1", "trap"]), "trap\n");
    assert_eq!(ok(&d, &["wait", "trap"]), "42\n");
    // Killing a stopped container fails the docker way.
    let o = same(&d, &["kill", "trap"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is not running"), "{}", stderr(&o));
    ok(
        &d,
        &["run", "-d", "--name", "k2", "busybox", "sleep", "1000"],
    );
    assert_eq!(ok(&d, &["kill", "--signal", "KILL", "k2"]), "k2\n");
    assert_eq!(ok(&d, &["wait", "k2"]), "137\n");
    for cmd in ["stop", "kill", "restart", "wait", "rm"] {
        let o = same(&d, &[cmd, "nosuch"]);
        assert_eq!(code(&o), 1, "{cmd}");
        assert!(
            stderr(&o).starts_with("Error response from daemon: No such container: nosuch\n"),
            "{cmd}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn rm_force_rename() {
    let d = started();
    ok(
        &d,
        &["run", "-d", "--name", "r1", "busybox", "sleep", "1000"],
    );
    let o = same(&d, &["rm", "r1"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("cannot remove container"),
        "{}",
        stderr(&o)
    );
    let o = same(&d, &["rename", "nosuch", "xx"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: nosuch\nError: failed to rename container named nosuch\n"
    );
    assert_eq!(ok(&d, &["rename", "r1", "r2"]), "");
    let o = same(&d, &["ps", "--format", "{{.Names}}"]);
    assert_eq!(stdout(&o), "r2\n");
    assert_eq!(ok(&d, &["rm", "-f", "r2"]), "r2\n");
    ok(&d, &["create", "--name", "aa", "busybox", "true"]);
    ok(&d, &["create", "--name", "bb", "busybox", "true"]);
    let o = d.berth(&["container", "rm", "aa", "nosuch", "bb"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "aa\nbb\n");
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: nosuch\n"
    );
}

#[test]
fn container_prune() {
    let d = started();
    ok(&d, &["run", "--name", "done", "busybox", "true"]);
    ok(
        &d,
        &["run", "-d", "--name", "live", "busybox", "sleep", "1000"],
    );
    let id = ok(&d, &["inspect", "-f", "{{.Id}}", "done"]);
    let o = ok(&d, &["container", "prune", "-f"]);
    assert!(
        o.starts_with(&format!(
            "Deleted Containers:\n{}\n\nTotal reclaimed space: ",
            id.trim()
        )),
        "{o}"
    );
    let o = same(&d, &["container", "prune", "-f"]);
    assert_eq!(stdout(&o), "Total reclaimed space: 0B\n");
    let o = same(&d, &["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(stdout(&o), "live\n");
}

// ---------------------------------------------------------------------------------------
// logs, exec, top

#[test]
fn logs_tail_timestamps_since() {
    let d = started();
    ok(
        &d,
        &[
            "run",
            "--name",
            "ll",
            "busybox",
            "sh",
            "-c",
            "echo one; echo two >&2; echo three",
        ],
    );
    let o = same(&d, &["logs", "ll"]);
    assert_eq!(stdout(&o), "one\nthree\n");
    assert_eq!(stderr(&o), "two\n");
    // Lines of stdout and stderr reach the log in either order: tail a one-stream log.
    ok(
        &d,
        &[
            "run",
            "--name",
            "l2",
            "busybox",
            "sh",
            "-c",
            "echo one; echo two; echo three",
        ],
    );
    let o = same(&d, &["logs", "--tail", "1", "l2"]);
    assert_eq!(stdout(&o), "three\n");
    let o = same(&d, &["logs", "-n", "2", "l2"]);
    assert_eq!(stdout(&o), "two\nthree\n");
    let o = same(&d, &["logs", "--tail", "0", "ll"]);
    assert_eq!(stdout(&o), "");
    let o = same(&d, &["logs", "-t", "ll"]);
    for line in stdout(&o).lines() {
        let (ts, _) = line.split_once(' ').unwrap();
        assert!(ts.ends_with('Z') && ts.len() == 30, "{line}");
    }
    let o = same(&d, &["logs", "--since", "2h", "ll"]);
    assert_eq!(stdout(&o), "one\nthree\n");
    let future = (std::time::SystemTime::now() + Duration::from_secs(3600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let o = same(&d, &["logs", "--since", &future, "ll"]);
    assert_eq!(stdout(&o), "");
    let o = same(&d, &["logs", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: nosuch\n"
    );
}

#[test]
fn logs_follow_ends_when_container_exits() {
    let d = started();
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "ff",
            "busybox",
            "sh",
            "-c",
            "echo a; sleep 1; echo b",
        ],
    );
    let t = Instant::now();
    let o = ok(&d, &["logs", "-f", "ff"]);
    assert_eq!(o, "a\nb\n");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn exec_options_and_exit_code() {
    let d = started();
    ok(
        &d,
        &[
            "run", "-d", "--name", "xx", "-e", "FOO=bar", "busybox", "sleep", "1000",
        ],
    );
    let o = same(
        &d,
        &[
            "exec",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "-u",
            "1:2",
            "xx",
            "sh",
            "-c",
            "echo $X $FOO; pwd; id",
        ],
    );
    assert_eq!(stdout(&o), "1 bar\n/tmp\nuid=1 gid=2\n");
    let o = same(&d, &["exec", "xx", "sh", "-c", "exit 5"]);
    assert_eq!(code(&o), 5);
    let o = same(&d, &["exec", "xx", "nosuchcmd"]);
    assert_eq!(code(&o), 127);
    let o = same(&d, &["exec", "nosuch", "true"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: nosuch\n"
    );
    ok(&d, &["run", "--name", "dead", "busybox", "true"]);
    let o = same(&d, &["exec", "dead", "true"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is not running"), "{}", stderr(&o));
}

#[test]
fn top_lists_processes() {
    let d = started();
    ok(
        &d,
        &["run", "-d", "--name", "tp", "busybox", "sleep", "1000"],
    );
    // ps's C column (CPU % over the process's life) moves between two runs right after
    // start: compare everything else.
    let without_c = |o: &std::process::Output| -> Vec<Vec<String>> {
        stdout(o)
            .lines()
            .map(|l| {
                let mut cols: Vec<String> = l.split_whitespace().map(String::from).collect();
                if cols.len() > 3 {
                    cols.remove(3);
                }
                cols
            })
            .collect()
    };
    let o = d.berth(&["top", "tp"]);
    assert_eq!(without_c(&o), without_c(&d.docker(&["top", "tp"])));
    let text = stdout(&o);
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert!(lines.next().unwrap().ends_with("sleep 1000"), "{text}");
    let o = same(&d, &["top", "tp", "-o", "pid,comm"]);
    assert!(stdout(&o).contains("sleep"), "{}", stdout(&o));
}

// ---------------------------------------------------------------------------------------
// ps

#[test]
fn ps_columns_flags_and_filters() {
    let d = started();
    ok(&d, &["create", "--name", "cr", "busybox", "true"]);
    d.berth(&[
        "run",
        "--name",
        "ex",
        "busybox",
        "sh",
        "-c",
        "echo out; exit 2",
    ]);
    ok(
        &d,
        &[
            "run", "-d", "--name", "web", "-l", "app=web", "busybox", "sleep", "1000",
        ],
    );
    let o = same_eventually(&d, &["ps"]);
    let text = stdout(&o);
    assert!(
        text.starts_with(
            "CONTAINER ID   IMAGE     COMMAND        CREATED          STATUS          PORTS     NAMES\n"
        ) || text.starts_with("CONTAINER ID   IMAGE     COMMAND        CREATED"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    let o = same_eventually(&d, &["ps", "-a"]);
    assert_eq!(stdout(&o).lines().count(), 4);
    same_eventually(&d, &["container", "ls", "-a"]);
    same_eventually(&d, &["container", "list", "--all"]);
    let o = same(&d, &["ps", "-aq"]);
    assert_eq!(stdout(&o).lines().count(), 3);
    assert!(stdout(&o).lines().all(|l| l.len() == 12));
    let o = same(&d, &["ps", "-l", "--format", "{{.Names}}"]);
    assert_eq!(stdout(&o), "web\n");
    same_eventually(&d, &["ps", "-l"]);
    let o = same(&d, &["ps", "-n", "2", "--format", "{{.Names}}"]);
    assert_eq!(stdout(&o), "web\nex\n");
    same_eventually(&d, &["ps", "-as"]);
    same_eventually(&d, &["ps", "-a", "--no-trunc"]);
    let o = same(
        &d,
        &[
            "ps",
            "-a",
            "-f",
            "status=exited",
            "--format",
            "{{.Names}} {{.Status}}",
        ],
    );
    assert!(stdout(&o).starts_with("ex Exited (2) "), "{}", stdout(&o));
    let o = same(
        &d,
        &["ps", "-a", "-f", "status=created", "--format", "{{.Names}}"],
    );
    assert_eq!(stdout(&o), "cr\n");
    let o = same(&d, &["ps", "-a", "-f", "label=app=web", "-q"]);
    assert_eq!(stdout(&o).lines().count(), 1);
    let o = same(&d, &["ps", "-a", "-f", "name=e", "--format", "{{.Names}}"]);
    assert_eq!(stdout(&o), "web\nex\n");
    let o = same(&d, &["ps", "--format", "{{.Names}}"]);
    assert_eq!(stdout(&o), "web\n");
    let o = same_eventually(&d, &["ps", "-a", "--format", "table {{.ID}}\t{{.Status}}"]);
    assert!(
        stdout(&o).starts_with("CONTAINER ID   STATUS\n"),
        "{}",
        stdout(&o)
    );
    let o = same(
        &d,
        &["ps", "-a", "--format", "table {{.Names}}\t{{.Image}}"],
    );
    assert_eq!(
        stdout(&o),
        "NAMES     IMAGE\nweb       busybox\nex        busybox\ncr        busybox\n"
    );
    let o = same(
        &d,
        &[
            "ps",
            "-a",
            "--no-trunc",
            "--format",
            "{{.Command}}",
            "-f",
            "name=ex",
        ],
    );
    assert_eq!(stdout(&o), "\"sh -c echo out; exit 2\"\n");
    let o = same(
        &d,
        &["ps", "-a", "--format", "{{json .Names}}", "-f", "name=cr"],
    );
    assert_eq!(stdout(&o), "\"cr\"\n");
    let o = same(&d, &["ps", "-a", "-f", "bogus=1"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("invalid filter"), "{}", stderr(&o));
}

#[test]
fn ps_bad_templates() {
    let d = started();
    ok(
        &d,
        &["run", "-d", "--name", "web", "busybox", "sleep", "1000"],
    );
    let o = same(&d, &["ps", "--format", "{{.Nope"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "failed to parse template: template: :1: unclosed action\n"
    );
    let o = same(&d, &["ps", "--format", "{{.Nope}}"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "failed to execute template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext\n"
    );
}

// ---------------------------------------------------------------------------------------
// inspect

#[test]
fn inspect_formats() {
    let d = started();
    ok(
        &d,
        &[
            "run", "-d", "--name", "web", "-e", "FOO=bar", "busybox", "sleep", "1000",
        ],
    );
    let o = same(&d, &["inspect", "-f", "{{json .Config.Env}}", "web"]);
    assert_eq!(stdout(&o), "[\"FOO=bar\"]\n");
    let o = same(
        &d,
        &[
            "container",
            "inspect",
            "--format",
            "{{.State.Status}}",
            "web",
        ],
    );
    assert_eq!(stdout(&o), "running\n");
    same(&d, &["inspect", "-f", "{{.State.Pid}}", "web"]);
    same(
        &d,
        &["inspect", "-f", "{{range .Config.Env}}{{.}};{{end}}", "web"],
    );
    same(
        &d,
        &["inspect", "--type", "container", "-f", "{{.Name}}", "web"],
    );
    let o = same(&d, &["inspect", "-f", "{{.Name}}", "web", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "/web\n");
    assert_eq!(stderr(&o), "Error: No such object: nosuch\n");
    let o = same(&d, &["container", "inspect", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: nosuch\n"
    );
    let full = d.berth(&["inspect", "web"]);
    let v: serde_json::Value = serde_json::from_slice(&full.stdout).unwrap();
    assert_eq!(v[0]["Name"], "/web");
    assert_eq!(stdout(&full), stdout(&d.docker(&["inspect", "web"])));
}

#[test]
fn inspect_bad_templates() {
    let d = started();
    ok(&d, &["create", "--name", "web", "busybox", "true"]);
    let o = same(&d, &["inspect", "-f", "{{.Nope", "web"]);
    assert_eq!(code(&o), 64);
    assert_eq!(
        stderr(&o),
        "template parsing error: template: :1: unclosed action\n"
    );
    let o = same(&d, &["inspect", "-f", "{{.Nope}}", "web"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "template parsing error: template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\"\n"
    );
}

// ---------------------------------------------------------------------------------------
// cp, export, diff

#[test]
fn cp_both_ways_and_streams() {
    let d = started();
    ok(
        &d,
        &[
            "run",
            "--name",
            "cc",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /d; echo hello > /d/f",
        ],
    );
    let out = d.dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let dst = out.join("f");
    assert_eq!(ok(&d, &["cp", "cc:/d/f", dst.to_str().unwrap()]), "");
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), "hello\n");
    ok(&d, &["cp", "cc:/d", out.join("dcopy").to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("dcopy/f")).unwrap(),
        "hello\n"
    );
    let src = d.dir.join("in.txt");
    std::fs::write(&src, "from host\n").unwrap();
    assert_eq!(ok(&d, &["cp", src.to_str().unwrap(), "cc:/d/"]), "");
    ok(&d, &["start", "-a", "cc"]);
    let o = ok(&d, &["cp", "cc:/d/in.txt", "-"]);
    // A tar stream on stdout.
    assert!(o.starts_with("in.txt"), "{o:?}");
    assert!(o.contains("from host\n"));
    let o = same(&d, &["cp", "cc:/d/nosuch", dst.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: Could not find the file /d/nosuch in container\n"
    );
    let o = same(&d, &["cp", "nosuch:/d", dst.to_str().unwrap()]);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: nosuch\n"
    );
    let o = same(&d, &["cp", "/nonexistent/x", "cc:/d/"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).starts_with("lstat /nonexistent"),
        "{}",
        stderr(&o)
    );
    // A tar from stdin.
    let tdir = d.dir.join("t");
    std::fs::create_dir(&tdir).unwrap();
    std::fs::write(tdir.join("piped"), "via stdin\n").unwrap();
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&tdir)
        .args(["-cf", "-", "piped"])
        .output()
        .unwrap()
        .stdout;
    let mut c = d.berth_cmd(&["cp", "-", "cc:/d"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&tar).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_ok(&o, "cp - c:/d");
    let o = ok(&d, &["cp", "cc:/d/piped", "-"]);
    assert!(o.contains("via stdin\n"), "{o:?}");
}

#[test]
fn export_and_diff() {
    let d = started();
    ok(
        &d,
        &[
            "run",
            "--name",
            "ee",
            "busybox",
            "sh",
            "-c",
            "mkdir /newdir; echo x > /etc/hosts2; rm /etc/group",
        ],
    );
    let o = same(&d, &["diff", "ee"]);
    assert_eq!(
        stdout(&o),
        "C /etc\nD /etc/group\nA /etc/hosts2\nA /newdir\n"
    );
    let o = same(&d, &["container", "diff", "nosuch"]);
    assert_eq!(code(&o), 1);
    let tar = d.dir.join("e.tar");
    assert_eq!(ok(&d, &["export", "-o", tar.to_str().unwrap(), "ee"]), "");
    let list = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    let names = stdout(&list);
    assert!(
        names
            .lines()
            .any(|l| l.trim_start_matches("./") == "etc/hosts2"),
        "{names}"
    );
    assert!(!names
        .lines()
        .any(|l| l.trim_start_matches("./") == "etc/group"));
    let b = d.berth(&["export", "ee"]);
    assert_ok(&b, "export to stdout");
    assert_eq!(
        b.stdout.len() as u64,
        std::fs::metadata(&tar).unwrap().len()
    );
}

// ---------------------------------------------------------------------------------------
// events, info, version, system df, host resolution

#[test]
fn events_since_until_and_format() {
    let d = started();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    ok(&d, &["run", "--name", "ev", "busybox", "true"]);
    std::thread::sleep(Duration::from_millis(1100));
    let until = (since + 60).to_string();
    let since = since.to_string();
    let o = same(&d, &["events", "--since", &since, "--until", &until]);
    assert!(stdout(&o).contains(" container create "), "{}", stdout(&o));
    let o = same(
        &d,
        &[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "-f",
            "type=container",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ],
    );
    let text = stdout(&o);
    assert!(text.starts_with("container create ev\n"), "{text}");
    assert!(
        text.contains("container start ev\ncontainer die ev\n"),
        "{text}"
    );
    // Same JSON (berth's key order is sorted; docker's follows its struct).
    let args = [
        "system",
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "-f",
        "event=die",
        "--format",
        "{{json .}}",
    ];
    let b = d.berth(&args);
    let k = d.docker(&args);
    assert_ok(&b, "events json");
    let bv: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    let kv: serde_json::Value = serde_json::from_slice(&k.stdout).unwrap();
    assert_eq!(bv, kv);
    assert_eq!(bv["status"], "die");
    let o = same(
        &d,
        &[
            "events", "--since", &since, "--until", &until, "--format", "{{.Nope",
        ],
    );
    assert_eq!(code(&o), 64);
    assert_eq!(
        stderr(&o),
        "Error parsing format: template: :1: unclosed action\n"
    );
}

#[test]
fn info_version_df() {
    let d = started();
    ok(&d, &["run", "--name", "xx", "busybox", "true"]);
    let o = same(
        &d,
        &[
            "info",
            "--format",
            "{{.Containers}} {{.Images}} {{.OSType}}",
        ],
    );
    assert_eq!(stdout(&o), "1 1 linux\n");
    let o = same(&d, &["info", "--format", "{{json .Driver}}"]);
    assert!(stdout(&o).starts_with('"'));
    let o = ok(&d, &["info"]);
    assert!(
        o.contains("Server:\n") && o.contains(" Containers: 1\n"),
        "{o}"
    );
    let o = same(&d, &["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(stdout(&o), "1.45\n");
    let o = ok(&d, &["version"]);
    assert!(
        o.starts_with("Client:\n") && o.contains("\nServer: "),
        "{o}"
    );
    let o = same(&d, &["version", "--format", "{{.Nope"]);
    assert_eq!(code(&o), 64);
    assert_eq!(
        stderr(&o),
        "template parsing error: template: version:1: unclosed action\n"
    );
    let o = same(&d, &["info", "--format", "{{.Nope"]);
    assert_eq!(code(&o), 64);
    same_eventually(&d, &["system", "df"]);
    same_eventually(&d, &["system", "df", "-v"]);
    let o = same(
        &d,
        &["system", "df", "--format", "{{.Type}} {{.TotalCount}}"],
    );
    assert_eq!(
        stdout(&o),
        "Images 1\nContainers 1\nLocal Volumes 0\nBuild Cache 0\n"
    );
}

#[test]
fn host_flag_then_docker_host_then_default() {
    let d = started();
    let exe = common::berth_exe();
    // -H wins over $DOCKER_HOST.
    let o = Command::new(exe)
        .args(["-H", &d.host(), "ps", "-q"])
        .env("DOCKER_HOST", "unix:///nonexistent/berth.sock")
        .output()
        .unwrap();
    assert_ok(&o, "-H beats DOCKER_HOST");
    // $DOCKER_HOST is used without -H.
    let o = Command::new(exe)
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    assert_ok(&o, "DOCKER_HOST");
    assert_eq!(stdout(&o), "1.45\n");
    // --host= form.
    let o = Command::new(exe)
        .arg(format!("--host={}", d.host()))
        .args(["ps", "-q"])
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    assert_ok(&o, "--host=");
    // A dead socket: docker's message and 1.
    let o = Command::new(exe)
        .args(["ps"])
        .env("DOCKER_HOST", "unix:///nonexistent/berth.sock")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o)
            .contains("Cannot connect to the Docker daemon at unix:///nonexistent/berth.sock"),
        "{}",
        stderr(&o)
    );
    // Neither: the default socket (which this test's daemon is not on).
    let o = Command::new(exe)
        .args(["ps"])
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    if code(&o) != 0 {
        assert!(
            stderr(&o).contains("unix:///run/berth/berth.sock"),
            "{}",
            stderr(&o)
        );
    }
    let o = Command::new(exe)
        .args(["-H", "unix:///a.sock", "-H", "unix:///b.sock", "ps"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
}
