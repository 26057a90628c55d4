//! The Engine API's system endpoints, checked with raw HTTP and the official docker CLI.

mod common;

use common::{assert_ok, stdout, TestDaemon};

#[test]
fn ping_answers_get_and_head_with_dockerd_headers() {
    let d = TestDaemon::start();
    let (status, headers, body) = d.http("GET", "/_ping", None);
    assert_eq!(status, 200);
    assert_eq!(body, "OK");
    assert!(headers.contains("api-version: 1.45"), "{headers}");
    assert!(headers.contains("ostype: linux"), "{headers}");
    assert!(headers.contains("server: "), "{headers}");
    let (status, headers, _) = d.http("HEAD", "/v1.24/_ping", None);
    assert_eq!(status, 200);
    assert!(headers.contains("api-version: 1.45"), "{headers}");
}

#[test]
fn versions_out_of_range_are_refused() {
    let d = TestDaemon::start();
    let (status, _, body) = d.http("GET", "/v1.99/version", None);
    assert_eq!(status, 400);
    assert!(body.contains("too new"), "{body}");
    let (status, _, body) = d.http("GET", "/v1.12/version", None);
    assert_eq!(status, 400);
    assert!(body.contains("too old"), "{body}");
    let (status, _, body) = d.http("GET", "/v1.45/version", None);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ApiVersion"], "1.45");
    assert_eq!(v["MinAPIVersion"], "1.24");
}

#[test]
fn unknown_paths_give_json_404() {
    let d = TestDaemon::start();
    let (status, headers, body) = d.http("GET", "/v1.45/no/such/thing", None);
    assert_eq!(status, 404);
    assert!(headers.contains("application/json"), "{headers}");
    assert!(body.contains("\"message\""), "{body}");
}

#[test]
fn docker_cli_negotiates_and_reads_version_and_info() {
    let d = TestDaemon::start();
    let out = d.docker(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_ok(&out, "docker version");
    assert_eq!(stdout(&out).trim(), "1.45 linux");
    let out = d.docker(&[
        "info",
        "--format",
        "{{.OSType}} {{.CgroupDriver}} {{.DockerRootDir}}",
    ]);
    assert_ok(&out, "docker info");
    let text = stdout(&out);
    assert!(text.starts_with("linux cgroupfs "), "{text}");
    assert!(
        text.contains(d.dir.join("data").to_str().unwrap()),
        "{text}"
    );
}

#[test]
fn daemon_refuses_a_flag_also_set_in_its_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("daemon.json");
    std::fs::write(&cfg, r#"{"data-root": "/tmp/x"}"#).unwrap();
    let out = std::process::Command::new(common::berth_exe())
        .args([
            "daemon",
            "--config-file",
            cfg.to_str().unwrap(),
            "--data-root",
            "/tmp/y",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("data-root"),
        "{}",
        common::stderr(&out)
    );
}
