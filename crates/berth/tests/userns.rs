//! `berth daemon --userns-remap` end to end with the docker CLI: remapped containers run as
//! root inside and as the remap user's subordinate ids on the host; their files, volumes and
//! execs follow the mapping; dockerd's refusals; the default daemon is unchanged.
//!
//! Each test makes its own system user with a subuid/subgid range of its own, and removes
//! the user and the lines again when it ends, whatever happened.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::compare::code;
use common::{assert_ok, inspect, mounts_under, rand_u32, stderr, stdout, wait_for, TestDaemon};

/// Serialises edits of /etc/passwd, /etc/group, /etc/subuid and /etc/subgid in this binary.
static ETC: Mutex<()> = Mutex::new(());

const RANGE: u32 = 65536;

/// A system user of the test's own with one range in /etc/subuid and /etc/subgid.
struct RemapUser {
    name: String,
    start: u32,
}

fn edit_subid(path: &str, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let new = f(text);
    if new.is_empty() && !Path::new(path).exists() {
        return;
    }
    // Replaced, not rewritten in place: another test's daemon may be reading it right now.
    let tmp = format!("{path}.berth-test");
    std::fs::write(&tmp, new).unwrap_or_else(|e| panic!("write {tmp}: {e}"));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename {tmp} to {path}: {e}"));
}

impl RemapUser {
    fn new() -> RemapUser {
        Self::make(true)
    }

    /// With `ranges` false the user has no subordinate ids.
    fn make(ranges: bool) -> RemapUser {
        let _g = ETC.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("berthns{:x}", rand_u32() & 0xff_ffff);
        let start = 1_300_000_000 + (rand_u32() % 4096) * RANGE;
        let out = Command::new("useradd")
            .args(["--system", "--no-create-home", "--user-group"])
            .args(["--shell", "/bin/false", &name])
            .output()
            .expect("run useradd");
        assert!(out.status.success(), "useradd: {}", stderr(&out));
        let user = RemapUser { name, start };
        for path in ["/etc/subuid", "/etc/subgid"]
            .into_iter()
            .filter(|_| ranges)
        {
            edit_subid(path, |mut t| {
                if !t.is_empty() && !t.ends_with('\n') {
                    t.push('\n');
                }
                t.push_str(&format!("{}:{}:{RANGE}\n", user.name, user.start));
                t
            });
        }
        user
    }
}

impl Drop for RemapUser {
    fn drop(&mut self) {
        let _g = ETC.lock().unwrap_or_else(|e| e.into_inner());
        let prefix = format!("{}:", self.name);
        for path in ["/etc/subuid", "/etc/subgid"] {
            edit_subid(path, |t| {
                t.lines()
                    .filter(|l| !l.starts_with(&prefix))
                    .map(|l| format!("{l}\n"))
                    .collect()
            });
        }
        let _ = Command::new("userdel").arg(&self.name).output();
        let _ = Command::new("groupdel").arg(&self.name).output();
    }
}

fn remapped(user: &RemapUser, extra: &[&str]) -> TestDaemon {
    let mut args = vec!["--userns-remap", user.name.as_str()];
    args.extend_from_slice(extra);
    let d = TestDaemon::start_with(&args);
    d.import_busybox();
    d
}

#[track_caller]
fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let o = d.docker(args);
    assert_ok(&o, &format!("docker {args:?}"));
    stdout(&o).trim().to_string()
}

/// `Uid:` / `Gid:` (real ids) of a host process.
fn host_ids(pid: &str) -> (u32, u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("id field")
    };
    (field("Uid:"), field("Gid:"))
}

/// The host pid of the process whose command line is exactly `cmdline` (NUL-separated).
fn pid_of(cmdline: &str) -> Option<String> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.parse::<u32>().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        (cmd == cmdline.as_bytes()).then_some(name)
    })
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn remapped_root_runs_on_the_subordinate_ids() {
    let user = RemapUser::new();
    let d = remapped(&user, &[]);
    let start = user.start;
    assert!(ok(&d, &["info", "-f", "{{json .SecurityOptions}}"]).contains("name=userns"));

    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map",
        ],
    );
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"]);
    assert_eq!(lines[1], ["0"]);
    let map = ["0".to_string(), start.to_string(), RANGE.to_string()];
    assert_eq!(lines[2], map, "uid_map: {out}");
    assert_eq!(lines[3], map, "gid_map: {out}");

    ok(
        &d,
        &["run", "-d", "--name", "ctr", "busybox", "sleep", "300"],
    );
    assert_eq!(inspect(&d, "ctr", "{{.HostConfig.UsernsMode}}"), "");
    let pid = inspect(&d, "ctr", "{{.State.Pid}}");
    assert_eq!(host_ids(&pid), (start, start));
    // Its own sysfs, of its own network namespace.
    let nets = ok(&d, &["exec", "ctr", "ls", "/sys/class/net"]);
    assert!(nets.contains("eth0"), "{nets}");

    // exec enters the user namespace too: root inside, the subordinate ids outside.
    assert_eq!(ok(&d, &["exec", "ctr", "id", "-u"]), "0");
    ok(&d, &["exec", "-d", "ctr", "sleep", "271"]);
    let mut exec_pid = None;
    wait_for("the exec's sleep", || {
        exec_pid = pid_of("sleep\x00271\x00");
        exec_pid.is_some()
    });
    assert_eq!(host_ids(exec_pid.as_deref().unwrap()), (start, start));
    ok(
        &d,
        &["exec", "-d", "-u", "1000:1000", "ctr", "sleep", "272"],
    );
    let mut user_pid = None;
    wait_for("the exec's sleep as 1000", || {
        user_pid = pid_of("sleep\x00272\x00");
        user_pid.is_some()
    });
    assert_eq!(
        host_ids(user_pid.as_deref().unwrap()),
        (start + 1000, start + 1000)
    );
    // /dev/shm belongs to the container's root.
    ok(
        &d,
        &[
            "exec",
            "ctr",
            "sh",
            "-c",
            "echo x > /dev/shm/f && cat /dev/shm/f",
        ],
    );

    ok(&d, &["pause", "ctr"]);
    assert_eq!(inspect(&d, "ctr", "{{.State.Status}}"), "paused");
    ok(&d, &["unpause", "ctr"]);
    ok(&d, &["stop", "-t", "1", "ctr"]);
    assert_eq!(inspect(&d, "ctr", "{{.State.Running}}"), "false");
    ok(&d, &["start", "ctr"]);
    ok(&d, &["kill", "ctr"]);
    wait_for("ctr to be killed", || {
        inspect(&d, "ctr", "{{.State.Running}}") == "false"
    });
    ok(
        &d,
        &["run", "--name", "logged", "busybox", "echo", "logged"],
    );
    assert_eq!(ok(&d, &["logs", "logged"]), "logged");
    ok(&d, &["rm", "-f", "ctr", "logged"]);
    // Nothing of the namespaces is left once nothing runs.
    let userns_dir = d.dir.join("exec/userns");
    assert!(
        entries(&userns_dir).is_empty(),
        "{:?}",
        entries(&userns_dir)
    );
    assert!(mounts_under(&userns_dir).is_empty());
    assert!(entries(&d.dir.join("exec/netns")).is_empty());
}

#[test]
fn files_volumes_and_binds_follow_the_mapping() {
    let user = RemapUser::new();
    let d = remapped(&user, &[]);
    let start = user.start;
    ok(
        &d,
        &[
            "run",
            "--name",
            "files",
            "busybox",
            "sh",
            "-c",
            "echo hi > /hello && mkdir /made",
        ],
    );
    let id = inspect(&d, "files", "{{.Id}}");
    // Root's inside, 0 on disk (the layers and the upper dir are never chowned).
    let upper = d.dir.join("data/containers").join(&id).join("diff");
    let md = std::fs::metadata(upper.join("hello")).expect("hello in the upper dir");
    assert_eq!((md.uid(), md.gid()), (0, 0));
    let diff = ok(&d, &["diff", "files"]);
    assert!(diff.contains("A /hello"), "{diff}");
    assert!(diff.contains("A /made"), "{diff}");
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("hello");
    ok(&d, &["cp", "files:/hello", dest.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hi\n");
    // The archive carries the container's ids, as dockerd's does.
    let listed = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker -H {} cp files:/made - | tar -tvf -",
            d.host()
        ))
        .output()
        .unwrap();
    assert_ok(&listed, "cp to stdout");
    assert!(stdout(&listed).contains(" 0/0 "), "{}", stdout(&listed));
    // Into the container: owned by its root.
    let src = out.path().join("in.txt");
    std::fs::write(&src, "in\n").unwrap();
    ok(&d, &["cp", src.to_str().unwrap(), "files:/in.txt"]);
    let md = std::fs::metadata(upper.join("in.txt")).expect("in.txt in the upper dir");
    assert_eq!((md.uid(), md.gid()), (0, 0));
    // export and commit carry the container's ids.
    let tar = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker -H {} export files | tar -tvf - hello in.txt",
            d.host()
        ))
        .output()
        .unwrap();
    assert_ok(&tar, "export");
    for line in stdout(&tar).lines() {
        assert!(line.contains(" 0/0 "), "{line}");
    }
    ok(&d, &["commit", "files", "made"]);
    let listed = ok(
        &d,
        &["run", "--rm", "made", "ls", "-ln", "/hello", "/in.txt"],
    );
    for line in listed.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((f[2], f[3]), ("0", "0"), "{line}");
    }

    // Generated files and a named volume belong to the container's root.
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "echo 10.1.1.1 extra >> /etc/hosts && echo v > /data/f && ls -ln /etc/hosts /data/f",
        ],
    );
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((f[2], f[3]), ("0", "0"), "{line}");
    }
    let mountpoint = ok(&d, &["volume", "inspect", "-f", "{{.Mountpoint}}", "data"]);
    let md = std::fs::metadata(Path::new(&mountpoint).join("f")).unwrap();
    assert_eq!((md.uid(), md.gid()), (start, start));

    // A bind mount keeps the host's owners: host root is nobody inside.
    let bind = tempfile::tempdir().unwrap();
    std::fs::write(bind.path().join("b"), "b").unwrap();
    let spec = format!("{}:/bind", bind.path().display());
    let out = ok(
        &d,
        &[
            "run", "--rm", "-v", &spec, "busybox", "ls", "-ln", "/bind/b",
        ],
    );
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!((f[2], f[3]), ("65534", "65534"), "{out}");
    ok(&d, &["rm", "-f", "files"]);
}

#[test]
fn host_user_namespace_and_dockerd_refusals() {
    let user = RemapUser::new();
    let d = remapped(&user, &[]);
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "--userns=host",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ],
    );
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f, ["0", "0", "4294967295"]);
    ok(
        &d,
        &[
            "create",
            "--name",
            "hostns",
            "--userns=host",
            "busybox",
            "true",
        ],
    );
    assert_eq!(inspect(&d, "hostns", "{{.HostConfig.UsernsMode}}"), "host");
    ok(&d, &["rm", "hostns"]);
    ok(
        &d,
        &[
            "run",
            "--rm",
            "--userns=host",
            "--privileged",
            "busybox",
            "true",
        ],
    );

    for (flags, message) in [
        (
            vec!["--privileged"],
            "privileged mode is incompatible with user namespaces",
        ),
        (
            vec!["--net=host"],
            "cannot share the host's network namespace",
        ),
        (vec!["--pid=host"], "cannot share the host PID namespace"),
        (vec!["--ipc=host"], "cannot share the host IPC namespace"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags.iter().copied());
        args.extend(["busybox", "true"]);
        let o = d.docker(&args);
        assert_eq!(code(&o), 125, "{flags:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{flags:?}: {}", stderr(&o));
    }
    assert_eq!(ok(&d, &["ps", "-aq"]), "");
    assert!(entries(&d.dir.join("data/containers")).is_empty());
}

#[test]
fn vfs_driver_gets_a_chowned_copy() {
    let user = RemapUser::new();
    let d = remapped(&user, &["--storage-driver", "vfs"]);
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "id -u && echo x > /new && ls -ln /new /bin/busybox",
        ],
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"));
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((f[2], f[3]), ("0", "0"), "{line}");
    }
}

#[test]
fn a_user_without_ranges_is_refused_by_name() {
    let user = RemapUser::make(false);
    let name = user.name.clone();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("daemon.json");
    std::fs::write(&config, "{}").unwrap();
    let out = Command::new(common::berth_exe())
        .args(["daemon", "--userns-remap", &name, "--config-file"])
        .arg(&config)
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("user \"{name}\" has no subordinate ids")),
        "{err}"
    );
    drop(user);
    // The user and its lines are gone again.
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    assert!(!subuid.contains(&format!("{name}:")));
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert!(!passwd.lines().any(|l| l.starts_with(&format!("{name}:"))));
}

#[test]
fn the_default_daemon_is_unchanged() {
    let d = TestDaemon::start();
    d.import_busybox();
    assert!(!ok(&d, &["info", "-f", "{{json .SecurityOptions}}"]).contains("userns"));
    let out = ok(&d, &["run", "--rm", "busybox", "cat", "/proc/self/uid_map"]);
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f, ["0", "0", "4294967295"]);
    ok(&d, &["run", "--rm", "--privileged", "busybox", "true"]);
    ok(
        &d,
        &["run", "-d", "--name", "ctr", "busybox", "sleep", "300"],
    );
    let pid = inspect(&d, "ctr", "{{.State.Pid}}");
    assert_eq!(host_ids(&pid), (0, 0));
    assert!(entries(&d.dir.join("exec/userns")).is_empty());
    ok(&d, &["rm", "-f", "ctr"]);
}

#[test]
fn remapped_containers_survive_a_daemon_crash() {
    let user = RemapUser::new();
    let mut d = TestDaemon::start();
    // Through daemon.json, which a restart reads again.
    let remap = format!("{{\"userns-remap\": \"{}\"}}", user.name);
    std::fs::write(d.dir.join("daemon.json"), remap).unwrap();
    d.restart();
    d.import_busybox();
    ok(
        &d,
        &["run", "-d", "--name", "ctr", "busybox", "sleep", "300"],
    );
    let pid = inspect(&d, "ctr", "{{.State.Pid}}");
    d.kill9();
    d.restart();
    assert_eq!(inspect(&d, "ctr", "{{.State.Running}}"), "true");
    assert_eq!(host_ids(&pid), (user.start, user.start));
    assert_eq!(ok(&d, &["exec", "ctr", "id", "-u"]), "0");
    ok(&d, &["stop", "-t", "1", "ctr"]);
    assert!(entries(&d.dir.join("exec/userns")).is_empty());
    ok(&d, &["rm", "ctr"]);
}
