//! The engine core driven by the official docker CLI: exit codes, isolation, the daemon
//! crash case, attach/detach, bad input, and that nothing is left behind.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_ok, inspect, stderr, stdout, wait_for, TestDaemon};

fn daemon() -> TestDaemon {
    let d = TestDaemon::start();
    d.import_busybox();
    d
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn run_output_and_exit_codes() {
    let d = daemon();
    let o = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_ok(&o, "run");
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");

    let o = d.docker(&["run", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code(&o), 3);
    assert_eq!(
        inspect(&d, "three", "{{.State.ExitCode}} {{.State.Status}}"),
        "3 exited"
    );

    let o = d.docker(&["run", "--name", "missing", "busybox", "nosuchcmd"]);
    assert_eq!(code(&o), 127, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("executable file not found in $PATH"),
        "{}",
        stderr(&o)
    );
    assert_eq!(inspect(&d, "missing", "{{.State.ExitCode}}"), "127");

    let o = d.docker(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(code(&o), 126, "{}", stderr(&o));

    let o = d.docker(&["run", "--rm", "127.0.0.1:1/nosuchimage"]);
    assert_eq!(code(&o), 125);
    assert!(stderr(&o).contains("Unable to find image '127.0.0.1:1/nosuchimage:latest' locally"));

    // --rm removed its container; the others stay.
    let o = d.docker(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut names: Vec<String> = stdout(&o).lines().map(String::from).collect();
    names.sort();
    assert_eq!(names, ["missing", "three"]);
}

#[test]
fn isolation_and_generated_files() {
    let d = daemon();
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "iso",
        "--hostname",
        "box1",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ok(&o, "run -d");
    let id = stdout(&o).trim().to_string();
    let pid: i32 = inspect(&d, "iso", "{{.State.Pid}}").parse().unwrap();
    for ns in ["pid", "net", "mnt", "uts", "ipc", "cgroup"] {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let ctr = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_ne!(host, ctr, "{ns} namespace is shared with the host");
    }
    let exec = |cmd: &str| {
        let o = d.docker(&["exec", "iso", "sh", "-c", cmd]);
        (code(&o), stdout(&o), stderr(&o))
    };
    assert_eq!(exec("hostname").1, "box1\n");
    assert_eq!(exec("cat /etc/hostname").1, "box1\n");
    assert!(exec("cat /etc/hosts").1.contains("127.0.0.1\tlocalhost"));
    // Docker's default capability set.
    assert!(exec("grep CapEff /proc/self/status")
        .1
        .contains("00000000a80425fb"));
    // PID 1 is the container's process; loopback and its bridge endpoint in its own
    // network namespace.
    assert_eq!(exec("cat /proc/1/comm").1, "sleep\n");
    assert_eq!(exec("ls /sys/class/net").1, "eth0\nlo\n");
    // Masked and read-only kernel paths.
    assert_eq!(exec("wc -c < /proc/timer_list").1.trim(), "0");
    assert_ne!(exec("echo 1 > /proc/sys/kernel/domainname").0, 0);
    // A minimal /dev with a 64 MiB /dev/shm.
    assert!(!exec("ls /dev").1.contains("sda"));
    assert!(exec("df -k /dev/shm").1.contains("65536"));
    // Its own cgroup under the daemon's cgroup parent.
    assert!(
        common::cgroups_under(&d.cgroup_parent)
            .iter()
            .any(|p| p.ends_with(&id)),
        "no cgroup for {id}"
    );
    assert_ok(&d.docker(&["rm", "-f", "iso"]), "rm -f");
}

#[test]
fn containers_outlive_a_killed_daemon() {
    let mut d = daemon();
    assert_ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "ticker",
            "busybox",
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
        ]),
        "run ticker",
    );
    assert_ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "short",
            "busybox",
            "sh",
            "-c",
            "sleep 1; exit 7",
        ]),
        "run short",
    );
    let pid = inspect(&d, "ticker", "{{.State.Pid}}");
    d.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    d.restart();
    // Still the same process, running; the other one's real exit code is known.
    assert_eq!(
        inspect(&d, "ticker", "{{.State.Running}} {{.State.Pid}}"),
        format!("true {pid}")
    );
    assert_eq!(
        inspect(&d, "short", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
    let o = d.docker(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(stdout(&o), "ticker\n");
    // attach, exec, logs -f and wait on the recovered container.
    let mut attach = d
        .docker_cmd(&["attach", "--no-stdin", "ticker"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let _ = attach.kill();
    let attached = attach.wait_with_output().unwrap();
    assert!(
        stdout(&attached).contains("tick "),
        "attach after the restart: {}",
        stdout(&attached)
    );
    let o = d.docker(&["exec", "ticker", "echo", "hi"]);
    assert_eq!(stdout(&o), "hi\n");
    let mut follow = d
        .docker_cmd(&["logs", "-f", "--tail", "1", "ticker"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let waiter = d
        .docker_cmd(&["wait", "ticker"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_ok(&d.docker(&["stop", "-t", "1", "ticker"]), "stop");
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "137\n");
    let _ = follow.kill();
    let logs = follow.wait_with_output().unwrap();
    assert!(
        stdout(&logs).lines().count() >= 2,
        "logs -f: {}",
        stdout(&logs)
    );
    assert_ok(&d.docker(&["rm", "ticker", "short"]), "rm");
    assert!(
        common::mounts_under(&d.dir).is_empty(),
        "{:?}",
        common::mounts_under(&d.dir)
    );
}

#[test]
fn attach_stdin_and_detach_keys() {
    let d = daemon();
    // Without a TTY: stdin goes through attach; the detach keys end the attach server-side.
    assert_ok(
        &d.docker(&["run", "-d", "-i", "--name", "cat", "busybox", "cat"]),
        "run -i",
    );
    let mut attach = d
        .docker_cmd(&[
            "attach",
            "--detach-keys",
            "ctrl-a",
            "--no-stdin=false",
            "cat",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = attach.stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    wait_for("echo through attach", || {
        stdout(&d.docker(&["logs", "cat"])) == "hello\n"
    });
    stdin.write_all(b"\x01").unwrap();
    // The attach stream ends; the container keeps running.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(inspect(&d, "cat", "{{.State.Running}}"), "true");
    let _ = attach.kill();
    let _ = attach.wait();

    // With a TTY (through script(1)): Ctrl-P Ctrl-Q detaches the docker CLI itself.
    assert_ok(
        &d.docker(&["run", "-dit", "--name", "tty", "busybox", "sh"]),
        "run -dit",
    );
    let cmd = format!("docker -H {} attach tty", d.host());
    let mut script = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("DOCKER_CONFIG", d.dir.join("docker-config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = script.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    input.write_all(b"echo marker-$((40+2))\r").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    input.write_all(b"\x10\x11").unwrap();
    let start = Instant::now();
    let out = script.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(stdout(&out).contains("marker-42"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("read escape sequence"),
        "{}",
        stdout(&out)
    );
    assert_eq!(inspect(&d, "tty", "{{.State.Running}}"), "true");
    assert_ok(&d.docker(&["rm", "-f", "cat", "tty"]), "rm");
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let d = daemon();
    let (status, _, body) = d.http("POST", "/containers/create", Some("{not json"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("message"));
    let (status, _, body) = d.http("POST", "/containers/create", Some(r#"{"Image":"ghost"}"#));
    assert_eq!(status, 404);
    assert!(body.contains("No such image: ghost:latest"), "{body}");
    let (status, _, _) = d.http("GET", "/containers/nope/json", None);
    assert_eq!(status, 404);
    let o = d.docker(&["run", "--name", "Bad Name!", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("Invalid container name"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["run", "busybox:Bad!Tag", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("invalid reference format"),
        "{}",
        stderr(&o)
    );

    assert_ok(
        &d.docker(&["create", "--name", "taken", "busybox", "true"]),
        "create",
    );
    let o = d.docker(&["create", "--name", "taken", "busybox", "true"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("is already in use"), "{}", stderr(&o));
    assert_ok(
        &d.docker(&["run", "-d", "--name", "up", "busybox", "sleep", "30"]),
        "run",
    );
    let o = d.docker(&["rm", "up"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("container is running"),
        "{}",
        stderr(&o)
    );

    // A tar whose entry climbs out of the root is refused; no image appears.
    let evil = d.dir.join("evil.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&evil).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let name = b"../escape";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, &b"evil"[..]).unwrap();
        b.finish().unwrap();
    }
    let o = d.docker(&["import", evil.to_str().unwrap(), "evil:latest"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("escapes"), "{}", stderr(&o));
    assert!(!d.dir.join("data/escape").exists() && !d.dir.join("escape").exists());
    let o = d.docker(&["images", "-q", "evil"]);
    assert_eq!(stdout(&o), "");

    assert_ok(&d.docker(&["rm", "-f", "up", "taken"]), "rm -f");
    // Only the ones that never existed failed: nothing half-made is left.
    let entries: Vec<_> = std::fs::read_dir(d.dir.join("data/containers"))
        .unwrap()
        .collect();
    assert!(entries.is_empty(), "leftover container dirs: {entries:?}");
    assert!(common::mounts_under(&d.dir).is_empty());
    wait_for("cgroups removed", || {
        common::cgroups_under(&d.cgroup_parent).is_empty()
    });
}

#[test]
fn volumes_binds_and_files() {
    let d = daemon();
    let host_dir = d.dir.join("bind");
    let bind = format!("{}:/mnt/b", host_dir.display());
    // A missing bind source is created; a new named volume gets the image's content.
    let o = d.docker(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "-v",
        "etcvol:/etc",
        "busybox",
        "sh",
        "-c",
        "echo hi > /mnt/b/f; cat /etc/passwd | head -1",
    ]);
    assert_ok(&o, "run with volumes");
    assert_eq!(stdout(&o), "root:x:0:0:root:/root:/bin/sh\n");
    assert_eq!(std::fs::read_to_string(host_dir.join("f")).unwrap(), "hi\n");
    let o = d.docker(&["volume", "ls", "-q"]);
    assert_eq!(stdout(&o), "etcvol\n");
    let o = d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/ro:ro", host_dir.display()),
        "busybox",
        "sh",
        "-c",
        "echo x > /ro/g",
    ]);
    assert_ne!(code(&o), 0);
    // An anonymous volume goes with rm -v.
    assert_ok(
        &d.docker(&["create", "--name", "anon", "-v", "/data", "busybox", "true"]),
        "create",
    );
    let vols = stdout(&d.docker(&["volume", "ls", "-q"]));
    assert_eq!(vols.lines().count(), 2);
    assert_ok(&d.docker(&["rm", "-v", "anon"]), "rm -v");
    assert_eq!(stdout(&d.docker(&["volume", "ls", "-q"])), "etcvol\n");
    assert_ok(&d.docker(&["volume", "rm", "etcvol"]), "volume rm");
}

#[test]
fn cp_export_diff_commit() {
    let d = daemon();
    assert_ok(
        &d.docker(&[
            "run",
            "--name",
            "cw",
            "busybox",
            "sh",
            "-c",
            "echo data > /new.txt; rm /etc/group",
        ]),
        "run",
    );
    let o = d.docker(&["diff", "cw"]);
    let diff = stdout(&o);
    assert!(diff.contains("A /new.txt"), "{diff}");
    assert!(diff.contains("D /etc/group"), "{diff}");
    let out_dir = d.dir.join("cp");
    std::fs::create_dir_all(&out_dir).unwrap();
    assert_ok(
        &d.docker(&["cp", "cw:/new.txt", out_dir.to_str().unwrap()]),
        "cp out",
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("new.txt")).unwrap(),
        "data\n"
    );
    std::fs::write(out_dir.join("in.txt"), "inbound\n").unwrap();
    assert_ok(
        &d.docker(&["cp", out_dir.join("in.txt").to_str().unwrap(), "cw:/"]),
        "cp in",
    );
    let o = d.docker(&["commit", "-c", "CMD [\"cat\", \"/in.txt\"]", "cw", "snap:1"]);
    assert_ok(&o, "commit");
    let o = d.docker(&["run", "--rm", "snap:1"]);
    assert_eq!(stdout(&o), "inbound\n");
    let o = d.docker(&["run", "--rm", "snap:1", "ls", "/etc/group"]);
    assert_ne!(code(&o), 0, "the deletion was committed");
    let tar = d.dir.join("export.tar");
    assert_ok(
        &d.docker(&["export", "-o", tar.to_str().unwrap(), "cw"]),
        "export",
    );
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    assert!(stdout(&listing)
        .lines()
        .any(|l| l.trim_start_matches("./") == "new.txt"));
}

/// Reads a cgroup file of a container from whichever hierarchy has it (v1 or v2).
fn cgroup_file(d: &TestDaemon, id: &str, v1: &str, v2: &str) -> String {
    let rel = format!("{}/{id}", d.cgroup_parent.trim_start_matches('/'));
    for path in [
        format!("/sys/fs/cgroup/{v1}").replace("{}", &rel),
        format!("/sys/fs/cgroup/{rel}/{v2}"),
    ] {
        if let Ok(s) = std::fs::read_to_string(&path) {
            return s.trim().to_string();
        }
    }
    panic!("no cgroup file {v1} / {v2} for {id}");
}

#[test]
fn limits_reach_the_cgroup() {
    let d = daemon();
    let o = d.docker(&[
        "run",
        "-d",
        "-m",
        "32m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "busybox",
        "sleep",
        "30",
    ]);
    assert_ok(&o, "run with limits");
    let id = stdout(&o).trim().to_string();
    assert_eq!(
        cgroup_file(&d, &id, "memory/{}/memory.limit_in_bytes", "memory.max"),
        "33554432"
    );
    assert_eq!(cgroup_file(&d, &id, "pids/{}/pids.max", "pids.max"), "50");
    let quota = cgroup_file(&d, &id, "cpu/{}/cpu.cfs_quota_us", "cpu.max");
    assert!(quota == "50000" || quota.starts_with("50000 "), "{quota}");
    assert_ok(&d.docker(&["rm", "-f", &id]), "rm");
    // Impossible limits are refused before anything is made.
    let o = d.docker(&["run", "-m", "1k", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("Minimum memory limit allowed is 6MB"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["run", "--cpus", "99", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(stderr(&o).contains("Range of CPUs"), "{}", stderr(&o));
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])), "");
}

#[test]
fn init_reaps_and_forwards_signals() {
    let d = daemon();
    let o = d.docker(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/comm; echo $$; tr '\\0' '\\n' < /proc/1/cmdline | head -1; grep -c shim /proc/1/cmdline || true",
    ]);
    assert_ok(&o, "run --init");
    assert_eq!(stdout(&o), "berth-init\n2\nberth-init\n0\n");
    // sleep as PID 1 ignores SIGTERM; behind the init it gets it at once.
    assert_ok(
        &d.docker(&[
            "run", "-d", "--init", "--name", "in1", "busybox", "sleep", "60",
        ]),
        "run -d",
    );
    let start = Instant::now();
    assert_ok(&d.docker(&["stop", "-t", "5", "in1"]), "stop");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(inspect(&d, "in1", "{{.State.ExitCode}}"), "143");
    assert_ok(&d.docker(&["rm", "in1"]), "rm");
}

#[test]
fn vfs_storage_driver_copies_layers() {
    let d = TestDaemon::start_with(&["--storage-driver", "vfs"]);
    d.import_busybox();
    assert_eq!(stdout(&d.docker(&["info", "-f", "{{.Driver}}"])), "vfs\n");
    let o = d.docker(&[
        "run",
        "--name",
        "v1",
        "busybox",
        "sh",
        "-c",
        "echo x > /f; cat /f",
    ]);
    assert_eq!(stdout(&o), "x\n");
    assert!(
        common::mounts_under(&d.dir.join("data")).is_empty(),
        "vfs mounts nothing"
    );
    assert_eq!(inspect(&d, "v1", "{{.Driver}}"), "vfs");
    assert_ok(&d.docker(&["rm", "v1"]), "rm");
    let o = std::process::Command::new(common::berth_exe())
        .args(["daemon", "--storage-driver", "zfs", "--config-file"])
        .arg(d.dir.join("daemon.json"))
        .arg("--data-root")
        .arg(d.dir.join("data2"))
        .arg("-H")
        .arg(format!("unix://{}/zfs.sock", d.dir.display()))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("driver not supported: zfs"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn api_socket_mounted_into_a_container() {
    let d = daemon();
    // The berth CLI itself (and the host's shared libraries it needs) inside a busybox
    // container, talking to the daemon through the mounted socket.
    let sock = format!("{}:/var/run/docker.sock", d.sock.display());
    let exe = format!("{}:/usr/local/bin/berth:ro", common::berth_exe());
    let o = d.docker(&[
        "run",
        "--rm",
        "--name",
        "inner",
        "-v",
        &sock,
        "-v",
        &exe,
        "-v",
        "/lib:/lib:ro",
        "-v",
        "/lib64:/lib64:ro",
        "-v",
        "/usr/lib:/usr/lib:ro",
        "busybox",
        "/usr/local/bin/berth",
        "-H",
        "unix:///var/run/docker.sock",
        "ps",
        "--format",
        "{{.Names}} {{.Image}}",
    ]);
    assert_ok(&o, "berth inside a container");
    assert_eq!(stdout(&o), "inner busybox\n");
}

#[test]
fn rmi_force_keeps_the_layers_a_container_uses() {
    let d = daemon();
    assert_ok(
        &d.docker(&[
            "run",
            "--name",
            "src1",
            "busybox",
            "sh",
            "-c",
            "echo solo > /solo",
        ]),
        "run",
    );
    assert_ok(&d.docker(&["commit", "src1", "solo:v1"]), "commit");
    assert_ok(&d.docker(&["rm", "src1"]), "rm");
    assert_ok(
        &d.docker(&["create", "--name", "user1", "solo:v1", "cat", "/solo"]),
        "create",
    );
    let o = d.docker(&["rmi", "solo:v1"]);
    assert!(stderr(&o).contains("must force"), "{}", stderr(&o));
    // As dockerd: forced, the image goes; its layers stay for the container.
    let o = d.docker(&["rmi", "-f", "solo:v1"]);
    assert_ok(&o, "rmi -f");
    assert!(stdout(&o).contains("Untagged: solo:v1"), "{}", stdout(&o));
    let o = d.docker(&["start", "-a", "user1"]);
    assert_ok(&o, "start after rmi -f");
    assert_eq!(stdout(&o), "solo\n");
    let layers_before = std::fs::read_dir(d.dir.join("data/layers"))
        .unwrap()
        .count();
    assert_ok(&d.docker(&["rm", "user1"]), "rm");
    let layers_after = std::fs::read_dir(d.dir.join("data/layers"))
        .unwrap()
        .count();
    assert_eq!(
        layers_after,
        layers_before - 1,
        "the held layer is collected with its container"
    );
}

#[test]
fn system_prune_removes_stopped_containers_and_dangling_images() {
    let d = daemon();
    assert_ok(
        &d.docker(&["create", "--name", "gone1", "busybox", "true"]),
        "create",
    );
    assert_ok(
        &d.docker(&["run", "-d", "--name", "stays", "busybox", "sleep", "30"]),
        "run",
    );
    let o = d.docker(&["system", "prune", "-f"]);
    assert_ok(&o, "system prune");
    assert!(stdout(&o).contains("Deleted Containers:"), "{}", stdout(&o));
    assert_eq!(
        stdout(&d.docker(&["ps", "-a", "--format", "{{.Names}}"])),
        "stays\n"
    );
    assert_ok(&d.docker(&["rm", "-f", "stays"]), "rm");
}

#[test]
fn a_daemon_killed_mid_work_is_repaired_at_start() {
    let mut d = daemon();
    let runs: Vec<_> = (0..6)
        .map(|i| {
            d.docker_cmd(&[
                "run",
                "-d",
                "--name",
                &format!("burst{i}"),
                "busybox",
                "sleep",
                "30",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    // Somewhere in the middle of creating, mounting, starting.
    let delay = 40 + u64::from(common::rand_u32() % 160);
    std::thread::sleep(Duration::from_millis(delay));
    d.kill9();
    for mut r in runs {
        let _ = r.wait();
    }
    d.restart();
    // Every container directory has a record and the other way round.
    let o = d.docker(&["ps", "-aq", "--no-trunc"]);
    let mut ids: Vec<String> = stdout(&o).lines().map(String::from).collect();
    ids.sort();
    let mut dirs: Vec<String> = std::fs::read_dir(d.dir.join("data/containers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(ids, dirs);
    // Whatever survived works; after removing it nothing is left.
    for id in &ids {
        assert_ok(&d.docker(&["rm", "-f", id]), "rm -f");
    }
    assert!(
        common::mounts_under(&d.dir).is_empty(),
        "{:?}",
        common::mounts_under(&d.dir)
    );
    wait_for("cgroups removed", || {
        common::cgroups_under(&d.cgroup_parent).is_empty()
    });
    let runtime: Vec<_> = std::fs::read_dir(d.dir.join("exec/runtime"))
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(runtime.is_empty(), "runtime state left: {runtime:?}");
    // No layer is held any more by a container that is gone.
    assert_ok(&d.docker(&["rmi", "busybox"]), "rmi");
    let layers = std::fs::read_dir(d.dir.join("data/layers"))
        .unwrap()
        .count();
    assert_eq!(layers, 0);
}

#[test]
fn network_and_uts_modes() {
    let d = daemon();
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    // The host's network namespace itself (counting links would race with the other tests'
    // bridges and veths).
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "sh",
        "-c",
        "hostname; readlink /proc/self/ns/net; ls /sys/class/net | grep -c .",
    ]);
    assert_ok(&o, "run --network host");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..2],
        [host_name.trim_end(), &*host_net.to_string_lossy()],
        "{out}"
    );
    // and it sees the host's links (lo and more), not a private namespace's lone lo
    assert!(lines[2].parse::<u32>().unwrap() > 1, "{out}");
    let o = d.docker(&["run", "--rm", "--uts", "host", "busybox", "hostname"]);
    assert_eq!(stdout(&o), host_name);
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(stdout(&o), "lo\n");
    // container:NAME joins that container's network namespace.
    assert_ok(
        &d.docker(&["run", "-d", "--name", "netbase", "busybox", "sleep", "30"]),
        "run",
    );
    let base_pid = inspect(&d, "netbase", "{{.State.Pid}}");
    assert_ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "joiner",
            "--network",
            "container:netbase",
            "busybox",
            "sleep",
            "30",
        ]),
        "run joiner",
    );
    let joiner_pid = inspect(&d, "joiner", "{{.State.Pid}}");
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!(ns(&base_pid), ns(&joiner_pid));
    let o = d.docker(&["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("network nosuchnet not found"),
        "{}",
        stderr(&o)
    );
    assert_ok(&d.docker(&["rm", "-f", "joiner", "netbase"]), "rm");
}

#[test]
fn load_reports_layer_progress_unless_quiet() {
    let d = daemon();
    let tar = d.dir.join("bb.tar");
    assert_ok(
        &d.docker(&["save", "-o", tar.to_str().unwrap(), "busybox"]),
        "save",
    );
    assert_ok(&d.docker(&["rmi", "busybox"]), "rmi");
    let load = |query: &str| {
        let o = std::process::Command::new("curl")
            .args([
                "-s",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/x-tar",
                "--unix-socket",
            ])
            .arg(&d.sock)
            .arg("--data-binary")
            .arg(format!("@{}", tar.display()))
            .arg(format!("http://berth/v1.45/images/load{query}"))
            .output()
            .unwrap();
        stdout(&o)
    };
    let out = load("");
    assert!(out.contains(r#""status":"Loading layer""#), "{out}");
    assert!(
        out.contains(r#""stream":"Loaded image: busybox:latest\n""#),
        "{out}"
    );
    assert_ok(&d.docker(&["rmi", "busybox"]), "rmi");
    let out = load("?quiet=1");
    assert!(!out.contains("Loading layer"), "{out}");
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
}
