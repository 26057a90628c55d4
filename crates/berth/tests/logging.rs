//! Logging drivers end to end, with the official docker CLI: json-file rotation and
//! compression, `logs` across rotated files and `logs -f` across a rotation, `none`,
//! `local`, syslog and GELF to a UDP listener of the test's own, the daemon's defaults, and
//! docker's errors for unknown drivers and options.

mod common;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::compare::{code, ok, started};
use common::{assert_ok, inspect, stderr, stdout, TestDaemon};

fn container_dir(d: &TestDaemon, name: &str) -> PathBuf {
    let id = inspect(d, name, "{{.Id}}");
    d.dir.join("data").join("containers").join(id)
}

/// The container's log files (json-file's `<id>-json.log*`), sorted by name.
fn json_logs(d: &TestDaemon, name: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(container_dir(d, name))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-json.log"))
        .map(|n| n.split_once("-json.log").unwrap().1.to_string())
        .collect();
    files.sort();
    files
}

/// `docker logs` lines `prefix-N`: asserts they are consecutive and end at `last`.
#[track_caller]
fn assert_tail(out: &str, prefix: &str, last: usize) -> usize {
    let nums: Vec<usize> = out
        .lines()
        .map(|l| l.strip_prefix(prefix).unwrap().parse().unwrap())
        .collect();
    assert!(!nums.is_empty(), "no lines: {out}");
    let first = nums[0];
    assert_eq!(nums, (first..=last).collect::<Vec<_>>(), "{out}");
    nums.len()
}

const LINES_200: &str = "for i in $(seq 1 200); do echo line-$i; done";

#[test]
fn json_file_rotation_and_logs_across_files() {
    let d = started();
    ok(
        &d,
        &[
            "run",
            "--name",
            "rot",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
            "busybox",
            "sh",
            "-c",
            LINES_200,
        ],
    );
    assert_eq!(json_logs(&d, "rot"), ["", ".1", ".2"]);
    let o = d.docker(&["logs", "rot"]);
    assert_ok(&o, "logs rot");
    // About 70 bytes a record, 1k a file: three files hold a few dozen lines.
    let n = assert_tail(&stdout(&o), "line-", 200);
    assert!((20..100).contains(&n), "{n} lines");
    let o = d.docker(&["logs", "--tail", "20", "rot"]);
    assert_eq!(assert_tail(&stdout(&o), "line-", 200), 20);

    ok(
        &d,
        &[
            "run",
            "--name",
            "rotz",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
            "--log-opt",
            "compress=true",
            "busybox",
            "sh",
            "-c",
            LINES_200,
        ],
    );
    assert_eq!(json_logs(&d, "rotz"), ["", ".1.gz", ".2.gz"]);
    let o = d.docker(&["logs", "rotz"]);
    assert_ok(&o, "logs rotz");
    assert_tail(&stdout(&o), "line-", 200);
    assert_eq!(
        inspect(&d, "rotz", "{{json .HostConfig.LogConfig}}"),
        r#"{"Type":"json-file","Config":{"compress":"true","max-file":"3","max-size":"1k"}}"#
    );

    // The log files count in the container's size in `system df` (beyond Docker).
    let dir = container_dir(&d, "rot");
    let log_bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-json.log"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let (status, _, body) = d.http("GET", "/system/df", None);
    assert_eq!(status, 200);
    let df: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = inspect(&d, "rot", "{{.Id}}");
    let c = df["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Id"] == id.as_str())
        .unwrap();
    assert!(c["SizeRw"].as_u64().unwrap() >= log_bytes, "{c}");
}

#[test]
fn logs_follow_across_rotation() {
    let d = started();
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "fol",
            "--log-opt",
            "max-size=500",
            "--log-opt",
            "max-file=2",
            "busybox",
            "sh",
            "-c",
            "sleep 1; for i in $(seq 1 60); do echo f-$i; sleep 0.03; done",
        ],
    );
    let follower = d
        .docker_cmd(&["logs", "-f", "fol"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = follower.wait_with_output().unwrap();
    assert_ok(&o, "logs -f");
    // Every line, in order, though the file was rotated (and the oldest dropped) many times.
    assert_eq!(assert_tail(&stdout(&o), "f-", 60), 60);
    assert_eq!(json_logs(&d, "fol"), ["", ".1"]);
}

#[test]
fn none_driver_has_no_log() {
    let d = started();
    let out = ok(
        &d,
        &[
            "run",
            "--log-driver",
            "none",
            "--name",
            "nolog",
            "busybox",
            "echo",
            "hi",
        ],
    );
    assert_eq!(out, "hi\n");
    let o = d.docker(&["logs", "nolog"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("configured logging driver does not support reading"),
        "{}",
        stderr(&o)
    );
    assert!(json_logs(&d, "nolog").is_empty());
}

fn listener() -> (UdpSocket, String) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let addr = format!("udp://{}", rx.local_addr().unwrap());
    (rx, addr)
}

fn recv(rx: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    let n = rx.recv(&mut buf).expect("a datagram");
    buf.truncate(n);
    buf
}

#[test]
fn syslog_to_udp() {
    let d = started();
    let (rx, addr) = listener();
    let out = ok(
        &d,
        &[
            "run",
            "--log-driver",
            "syslog",
            "--log-opt",
            &format!("syslog-address={addr}"),
            "--log-opt",
            "tag=web-{{.Name}}",
            "--name",
            "sys",
            "busybox",
            "sh",
            "-c",
            "echo out-line; sleep 0.2; echo err-line >&2",
        ],
    );
    assert_eq!(out, "out-line\n");
    let first = String::from_utf8(recv(&rx)).unwrap();
    let second = String::from_utf8(recv(&rx)).unwrap();
    // daemon.info and daemon.err, Docker's default network format.
    assert!(first.starts_with("<30>"), "{first}");
    assert!(first.contains(" web-sys["), "{first}");
    assert!(first.ends_with("]: out-line"), "{first}");
    assert!(second.starts_with("<27>"), "{second}");
    assert!(second.ends_with("]: err-line"), "{second}");
    let o = d.docker(&["logs", "sys"]);
    assert_eq!(code(&o), 1);

    // RFC 5424 when asked.
    let (rx, addr) = listener();
    ok(
        &d,
        &[
            "run",
            "--log-driver",
            "syslog",
            "--log-opt",
            &format!("syslog-address={addr}"),
            "--log-opt",
            "syslog-format=rfc5424",
            "--log-opt",
            "tag=t5",
            "busybox",
            "echo",
            "five",
        ],
    );
    let msg = String::from_utf8(recv(&rx)).unwrap();
    assert!(msg.starts_with("<30>1 "), "{msg}");
    assert!(msg.ends_with(" t5 - five"), "{msg}");
}

#[test]
fn gelf_to_udp() {
    let d = started();
    let (rx, addr) = listener();
    ok(
        &d,
        &[
            "run",
            "--log-driver",
            "gelf",
            "--log-opt",
            &format!("gelf-address={addr}"),
            "--log-opt",
            "gelf-compression-type=none",
            "--name",
            "gel",
            "busybox",
            "sh",
            "-c",
            "echo hello gelf",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&recv(&rx)).unwrap();
    assert_eq!(v["version"], "1.1");
    assert_eq!(v["short_message"], "hello gelf");
    assert_eq!(v["level"], 6);
    assert_eq!(v["_container_name"], "gel");
    assert_eq!(v["_container_id"], inspect(&d, "gel", "{{.Id}}").as_str());
    assert_eq!(v["_image_name"], "busybox");
    let o = d.docker(&["logs", "gel"]);
    assert_eq!(code(&o), 1);
    // A GELF address is required.
    let o = d.docker(&["run", "--log-driver", "gelf", "busybox", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(stderr(&o).contains("gelf-address is a required parameter"));
}

#[test]
fn daemon_defaults() {
    let mut d = TestDaemon::start_with(&["--log-driver=local"]);
    d.import_busybox();
    ok(
        &d,
        &["run", "--name", "loc", "busybox", "echo", "local line"],
    );
    assert_eq!(
        inspect(&d, "loc", "{{.HostConfig.LogConfig.Type}}"),
        "local"
    );
    assert!(container_dir(&d, "loc")
        .join("local-logs/container.log")
        .exists());
    assert_eq!(ok(&d, &["logs", "loc"]), "local line\n");
    let o = d.docker(&["logs", "loc"]);
    assert_eq!(stdout(&o), "local line\n");

    d.stop();
    std::fs::write(
        d.dir.join("daemon.json"),
        r#"{"log-driver": "json-file", "log-opts": {"max-size": "1k", "max-file": "2"}}"#,
    )
    .unwrap();
    d.restart();
    ok(
        &d,
        &["run", "--name", "jf", "busybox", "sh", "-c", LINES_200],
    );
    assert_eq!(
        inspect(&d, "jf", "{{json .HostConfig.LogConfig}}"),
        r#"{"Type":"json-file","Config":{"max-file":"2","max-size":"1k"}}"#
    );
    assert_eq!(json_logs(&d, "jf"), ["", ".1"]);
    // Another driver does not get the daemon's options.
    ok(
        &d,
        &[
            "create",
            "--name",
            "other",
            "--log-driver",
            "none",
            "busybox",
            "true",
        ],
    );
    assert_eq!(
        inspect(&d, "other", "{{json .HostConfig.LogConfig}}"),
        r#"{"Type":"none","Config":{}}"#
    );
}

#[test]
fn unknown_driver_or_option_is_refused() {
    let d = started();
    for cli in ["docker", "berth"] {
        let run = |args: &[&str]| {
            if cli == "docker" {
                d.docker(args)
            } else {
                d.berth(args)
            }
        };
        let o = run(&["run", "--log-driver", "nope", "busybox", "true"]);
        assert_eq!(code(&o), 125, "{cli}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("logger: no log driver named 'nope' is registered"),
            "{cli}: {}",
            stderr(&o)
        );
        // `create` reports errors with 1, `run` with 125.
        let o = run(&["create", "--log-opt", "x=1", "busybox"]);
        assert_eq!(code(&o), 1, "{cli}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("unknown log opt 'x' for json-file log driver"),
            "{cli}: {}",
            stderr(&o)
        );
        let o = run(&["run", "--log-opt", "max-size=huge", "busybox"]);
        assert_eq!(code(&o), 125, "{cli}: {}", stderr(&o));
    }
    // Nothing was created.
    assert_eq!(ok(&d, &["ps", "-aq"]), "");
    let (status, _, _) = d.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"nope","Config":{}}}}"#),
    );
    assert_eq!(status, 400);
}
