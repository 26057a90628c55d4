//! Security defaults and run limits end to end with the official docker CLI: capabilities,
//! seccomp (default, unconfined, custom profiles), privileged, devices, sysctls, ulimits,
//! blkio throttles and memory settings in the container's cgroup; bad inputs refused at
//! create with exit 125 and no container left behind.

mod common;

use common::compare::{code, started};
use common::{assert_ok, inspect, stderr, stdout, TestDaemon};

fn run(d: &TestDaemon, args: &[&str]) -> std::process::Output {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    d.docker(&all)
}

#[track_caller]
fn run_ok(d: &TestDaemon, args: &[&str]) -> String {
    let o = run(d, args);
    assert_ok(&o, &format!("docker run {args:?}"));
    stdout(&o)
}

fn no_containers(d: &TestDaemon) -> bool {
    let o = d.docker(&["ps", "-aq"]);
    assert_ok(&o, "ps");
    stdout(&o).trim().is_empty()
}

/// The first whole disk of the host (`/dev/vda` on the CI machine).
fn host_disk() -> Option<String> {
    let parts = std::fs::read_to_string("/proc/partitions").ok()?;
    parts
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().nth(3).map(String::from))
        .find(|n| {
            !n.starts_with("loop")
                && !n.starts_with("ram")
                && !n.starts_with("zram")
                && std::path::Path::new(&format!("/sys/block/{n}")).exists()
                && std::path::Path::new(&format!("/dev/{n}")).exists()
        })
        .map(|n| format!("/dev/{n}"))
}

#[test]
fn capabilities_can_be_dropped() {
    let d = started();
    run_ok(&d, &["busybox", "chown", "1", "/tmp"]);
    let o = run(
        &d,
        &["--cap-drop", "CHOWN", "busybox", "chown", "1", "/tmp"],
    );
    assert_ne!(code(&o), 0, "chown without CAP_CHOWN must fail");
    let o = run(
        &d,
        &[
            "--cap-drop",
            "ALL",
            "busybox",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    assert_ok(&o, "cap-drop ALL");
    assert!(stdout(&o).contains("0000000000000000"), "{}", stdout(&o));
    let o = run(
        &d,
        &[
            "--cap-add",
            "NET_ADMIN",
            "busybox",
            "ip",
            "link",
            "set",
            "lo",
            "down",
        ],
    );
    assert_ok(&o, "cap-add NET_ADMIN");
}

#[test]
fn default_seccomp_profile_blocks_and_unconfined_allows() {
    let d = started();
    let status = run_ok(&d, &["busybox", "grep", "Seccomp:", "/proc/self/status"]);
    assert!(status.contains('2'), "filter mode expected: {status}");
    // unshare(CLONE_NEWUSER) needs no capability, only the profile refuses it.
    let o = run(&d, &["busybox", "unshare", "-U", "true"]);
    assert_ne!(code(&o), 0, "unshare -U must be refused: {}", stdout(&o));
    let args = ["--security-opt", "seccomp=unconfined", "busybox"];
    let status = run_ok(
        &d,
        &[&args[..], &["grep", "Seccomp:", "/proc/self/status"]].concat(),
    );
    assert!(status.contains('0'), "no filter expected: {status}");
    run_ok(&d, &[&args[..], &["unshare", "-U", "true"]].concat());
    // Privileged containers get no filter either.
    let status = run_ok(
        &d,
        &[
            "--privileged",
            "busybox",
            "grep",
            "Seccomp:",
            "/proc/self/status",
        ],
    );
    assert!(status.contains('0'), "{status}");
}

#[test]
fn custom_seccomp_profile() {
    let d = started();
    let profile = d.dir.join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let o = run(&d, &["--security-opt", &opt, "busybox", "mkdir", "/x"]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("Operation not permitted"),
        "{}",
        stderr(&o)
    );
    run_ok(&d, &["--security-opt", &opt, "busybox", "touch", "/x"]);

    // A missing file, and a file that is no profile: refused, nothing created.
    let o = run(
        &d,
        &[
            "--security-opt",
            "seccomp=/nonexistent/p.json",
            "busybox",
            "true",
        ],
    );
    assert_eq!(code(&o), 125);
    assert!(stderr(&o).contains("/nonexistent/p.json"), "{}", stderr(&o));
    std::fs::write(&profile, r#"{"defaultAction":"SCMP_ACT_MAYBE"}"#).unwrap();
    let o = run(&d, &["--security-opt", &opt, "busybox", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(stderr(&o).contains("seccomp profile"), "{}", stderr(&o));
    assert!(no_containers(&d));
}

#[test]
fn privileged_sees_host_devices() {
    let d = started();
    let Some(disk) = host_disk() else {
        eprintln!("no host disk to look for");
        return;
    };
    let o = run(&d, &["busybox", "ls", &disk]);
    assert_ne!(code(&o), 0, "{disk} must not exist unprivileged");
    let out = run_ok(&d, &["--privileged", "busybox", "ls", "-l", &disk]);
    assert!(out.starts_with('b'), "{out}");
    // Every capability of the bounding set, and the container may use them.
    run_ok(
        &d,
        &[
            "--privileged",
            "busybox",
            "mount",
            "-t",
            "tmpfs",
            "none",
            "/tmp",
        ],
    );
}

#[test]
fn added_devices_and_rules() {
    let d = started();
    let out = run_ok(
        &d,
        &[
            "--device",
            "/dev/null:/dev/mynull",
            "busybox",
            "sh",
            "-c",
            "echo hi > /dev/mynull && ls -l /dev/mynull",
        ],
    );
    assert!(out.starts_with('c'), "{out}");
    if std::path::Path::new("/dev/kmsg").exists() {
        let o = run(
            &d,
            &[
                "--device",
                "/dev/kmsg:/dev/ro:r",
                "busybox",
                "sh",
                "-c",
                "echo hi > /dev/ro",
            ],
        );
        assert_ne!(code(&o), 0, "a read-only device must refuse writes");
    }
    let o = run(&d, &["--device", "/dev/nope-not-here", "busybox", "true"]);
    // dockerd's wording ends in "no such file or directory", which the docker CLI turns
    // into exit 127, as it does against dockerd.
    assert_eq!(code(&o), 127, "{}", stderr(&o));
    assert!(stderr(&o).contains("/dev/nope-not-here"), "{}", stderr(&o));
    assert!(no_containers(&d));
}

#[test]
fn sysctls_only_namespaced() {
    let d = started();
    let out = run_ok(
        &d,
        &[
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
        ],
    );
    assert_eq!(out.trim(), "1");
    let out = run_ok(
        &d,
        &[
            "--sysctl",
            "kernel.shmmni=1000",
            "busybox",
            "cat",
            "/proc/sys/kernel/shmmni",
        ],
    );
    assert_eq!(out.trim(), "1000");
    for bad in [
        vec!["--sysctl", "kernel.hostname=x"],
        vec!["--sysctl", "vm.swappiness=1"],
        vec!["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(bad.iter().copied());
        args.extend(["busybox", "true"]);
        let o = d.docker(&args);
        assert_eq!(code(&o), 125, "{bad:?}: {}", stderr(&o));
    }
    // The API refuses what the docker CLI would catch itself.
    let (status, _, body) = d.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"Sysctls":{"kernel.hostname":"x"}}}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("kernel.hostname"), "{body}");
    assert!(no_containers(&d));
}

#[test]
fn ulimits() {
    let d = started();
    let out = run_ok(
        &d,
        &[
            "--ulimit",
            "nofile=100:200",
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn",
        ],
    );
    assert_eq!(out, "100\n200\n");
    // An exec inherits the container's ulimits and no-new-privileges, as with dockerd.
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "lim",
        "--ulimit",
        "nofile=100:200",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_ok(&o, "run -d --ulimit");
    let o = d.docker(&[
        "exec",
        "lim",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status",
    ]);
    assert_ok(&o, "exec");
    assert_eq!(stdout(&o), "100\n200\nNoNewPrivs:\t1\n");
}

#[test]
fn cgroup_limits_reach_the_cgroup() {
    let d = started();
    let disk = host_disk();
    let mut args = vec![
        "run",
        "-d",
        "--memory",
        "64m",
        "--memory-swappiness",
        "10",
        "--oom-kill-disable",
        "--device-cgroup-rule",
        "c 42:* rm",
    ];
    let bps = disk.as_ref().map(|disk| format!("{disk}:1mb"));
    if let Some(bps) = &bps {
        args.extend(["--device-write-bps", bps.as_str()]);
    }
    args.extend(["busybox", "sleep", "100"]);
    let o = d.docker(&args);
    assert_ok(&o, "run -d with limits");
    let id = stdout(&o).trim().to_string();
    let cg = |controller: &str, file: &str| -> String {
        let path = format!("/sys/fs/cgroup/{controller}{}/{id}/{file}", d.cgroup_parent);
        std::fs::read_to_string(&path).unwrap_or_else(|e| format!("<{path}: {e}>"))
    };
    if std::path::Path::new("/sys/fs/cgroup/memory").is_dir() {
        assert_eq!(cg("memory", "memory.swappiness").trim(), "10");
        assert!(cg("memory", "memory.oom_control").contains("oom_kill_disable 1"));
        assert!(
            cg("devices", "devices.list").contains("c 42:* rm"),
            "{}",
            cg("devices", "devices.list")
        );
        if let Some(disk) = &disk {
            let meta = std::fs::metadata(disk).unwrap();
            use std::os::unix::fs::MetadataExt;
            let (major, minor) = (libc_major(meta.rdev()), libc_minor(meta.rdev()));
            let file = cg("blkio", "blkio.throttle.write_bps_device");
            assert!(file.contains(&format!("{major}:{minor} 1048576")), "{file}");
        }
    }
    assert_eq!(inspect(&d, &id, "{{.HostConfig.MemorySwappiness}}"), "10");
    let _ = d.docker(&["rm", "-f", &id]);
}

fn libc_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}

fn libc_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}

#[test]
fn impossible_settings_refused_before_create() {
    let d = started();
    for bad in [
        vec!["-m", "1k"],
        vec!["--cpus", "99"],
        vec!["--cap-add", "FOO"],
        vec!["--device-write-bps", "/dev/null:1mb"],
        vec!["--memory-swappiness", "101"],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(bad.iter().copied());
        args.extend(["busybox", "true"]);
        let o = d.docker(&args);
        assert_eq!(code(&o), 125, "{bad:?}: {}", stderr(&o));
    }
    let o = d.docker(&["create", "--cap-add", "FOO", "busybox"]);
    assert!(
        stderr(&o).contains("unknown capability: \"CAP_FOO\""),
        "{}",
        stderr(&o)
    );
    assert!(no_containers(&d));
    // Accepted with a warning: kernel memory limits are gone from the kernel.
    let (status, _, body) = d.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"KernelMemory":4194304}}"#),
    );
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("kernel memory"), "{body}");
}
