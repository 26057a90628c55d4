//! The shim and the runtime without the daemon: a busybox rootfs, a bundle, `berth shim`,
//! and the shim protocol over its socket.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berth_runtime::{ContainerSpec, Process, Runtime};
use berth_shim::protocol::Frame;
use berth_shim::ShimConfig;

struct Case {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    cgroup_parent: String,
}

impl Drop for Case {
    fn drop(&mut self) {
        common::remove_cgroups(&self.cgroup_parent);
    }
}

fn case() -> Case {
    let tmp = tempfile::Builder::new()
        .prefix("berth-shim-test-")
        .tempdir_in("/tmp")
        .unwrap();
    let dir = tmp.path().to_path_buf();
    common::busybox_rootfs(&dir.join("rootfs"));
    Case {
        _tmp: tmp,
        dir,
        cgroup_parent: format!(
            "/berth-test-shim-{}-{:x}",
            std::process::id(),
            common::rand_u32()
        ),
    }
}

fn launch(case: &Case, id: &str, args: &[&str], tty: bool, stdin: bool) -> (ShimConfig, i32) {
    let rootfs = case.dir.join("rootfs");
    let spec = ContainerSpec {
        id: id.into(),
        rootfs: rootfs.clone(),
        hostname: "box".into(),
        process: Process {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/bin:/usr/bin".into()],
            cwd: "/".into(),
            terminal: tty,
            ..Default::default()
        },
        cgroups_path: format!("{}/{id}", case.cgroup_parent),
        ..Default::default()
    };
    let bundle = case.dir.join(id);
    Runtime::write_bundle(&spec, &bundle).unwrap();
    let config = ShimConfig {
        id: id.into(),
        runtime_root: case.dir.join("runtime"),
        bundle: Some(bundle.clone()),
        exec: None,
        args: spec.process.args.clone(),
        env: spec.process.env.clone(),
        rootfs,
        mounts: Vec::new(),
        tty,
        stdin,
        log_path: Some(bundle.join("log.json")),
        log: None,
        socket: bundle.join("shim.sock"),
        exit_file: bundle.join("exit"),
    };
    let path = bundle.join("shim.json");
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let mut child = Command::new(common::berth_exe())
        .arg("shim")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.wait().unwrap();
    let ready: berth_shim::Ready = serde_json::from_str(&line).expect(&line);
    match ready.pid {
        Some(pid) => (config, pid),
        None => (config, -ready.exit_code),
    }
}

fn frames(stream: &mut UnixStream, until_exit: bool) -> Vec<Frame> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(f) = Frame::decode(&mut buf).unwrap() {
            let done = matches!(f, Frame::Exited(_) | Frame::Error(..)) || !until_exit;
            out.push(f);
            if done {
                return out;
            }
        }
        let n = stream.read(&mut chunk).unwrap();
        if n == 0 {
            return out;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn output(frames: &[Frame], stdout: bool) -> String {
    frames
        .iter()
        .filter_map(|f| match (f, stdout) {
            (Frame::Stdout(d), true) | (Frame::Stderr(d), false) => {
                Some(String::from_utf8_lossy(d).into_owned())
            }
            _ => None,
        })
        .collect()
}

fn connect(config: &ShimConfig) -> UnixStream {
    UnixStream::connect(&config.socket).unwrap()
}

#[test]
fn runs_a_container_relays_output_and_records_exit() {
    let case = case();
    let (config, pid) = launch(
        &case,
        "c1",
        &["sh", "-c", "echo hello; echo err >&2; hostname; exit 3"],
        false,
        false,
    );
    assert!(pid > 0);
    // Created, not started: the init is in its own namespaces already.
    let host_pid_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let ctr_ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    assert_ne!(host_pid_ns, ctr_ns);
    for ns in ["net", "uts", "ipc", "mnt", "cgroup"] {
        assert_ne!(
            std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap(),
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap(),
            "{ns} namespace"
        );
    }
    let mut s = connect(&config);
    s.write_all(&Frame::Start.encode()).unwrap();
    let got = frames(&mut s, true);
    assert_eq!(got.last(), Some(&Frame::Exited(3)), "{got:?}");
    assert_eq!(output(&got, true), "hello\nbox\n");
    assert_eq!(output(&got, false), "err\n");
    // The exit file is written after the Exited frame; the socket goes last.
    wait_gone(&config.socket);
    assert_eq!(std::fs::read_to_string(&config.exit_file).unwrap(), "3");
    let log = std::fs::read_to_string(config.log_path.as_ref().unwrap()).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
    assert!(
        log.contains(r#"{"log":"err\n","stream":"stderr","time":""#),
        "{log}"
    );
    wait_gone(&config.socket);
    // The shim removed the container's cgroup and runtime state.
    assert!(!case.dir.join("runtime/c1").exists());
}

#[test]
fn stdin_and_tty() {
    let case = case();
    let (config, _) = launch(&case, "c2", &["cat"], false, true);
    let mut s = connect(&config);
    s.write_all(&Frame::Start.encode()).unwrap();
    s.write_all(&Frame::Stdin(b"ping\n".to_vec()).encode())
        .unwrap();
    s.write_all(&Frame::CloseStdin.encode()).unwrap();
    let got = frames(&mut s, true);
    assert_eq!(output(&got, true), "ping\n");
    assert_eq!(got.last(), Some(&Frame::Exited(0)));

    let (config, _) = launch(&case, "c3", &["sh", "-c", "stty size; tty"], true, true);
    let mut s = connect(&config);
    s.write_all(&Frame::Resize(33, 101).encode()).unwrap();
    s.write_all(&Frame::Start.encode()).unwrap();
    let got = frames(&mut s, true);
    let out = output(&got, true);
    assert!(out.contains("33 101"), "{out:?}");
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert_eq!(got.last(), Some(&Frame::Exited(0)));
}

#[test]
fn signal_and_missing_command() {
    let case = case();
    let (config, _) = launch(&case, "c4", &["sleep", "100"], false, false);
    let mut s = connect(&config);
    s.write_all(&Frame::Start.encode()).unwrap();
    s.write_all(&Frame::Signal(9).encode()).unwrap();
    let got = frames(&mut s, true);
    assert_eq!(got.last(), Some(&Frame::Exited(137)));

    let (_, code) = launch(&case, "c5", &["nosuchcmd"], false, false);
    assert_eq!(code, -127);
    assert!(!case.dir.join("runtime/c5").exists());
}

#[test]
fn daemon_gone_before_start_removes_the_container() {
    let case = case();
    let (config, pid) = launch(&case, "c6", &["true"], false, false);
    drop(connect(&config));
    wait_gone(&config.socket);
    assert!(!case.dir.join("runtime/c6").exists());
    assert!(
        !Path::new(&format!("/proc/{pid}/ns")).exists() || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.contains(") Z")
        }
    );
}

fn wait_gone(path: &Path) {
    for _ in 0..200 {
        if !path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} still there", path.display());
}
