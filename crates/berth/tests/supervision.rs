//! Restart policies and health checks end to end, with the official docker CLI (and the
//! berth CLI for berth's own `--health-on-failure`).

mod common;

use std::time::Duration;

use common::compare::{code, started};
use common::{assert_ok, inspect, stderr, stdout, wait_for, TestDaemon};

fn docker_ok(d: &TestDaemon, args: &[&str]) -> String {
    let o = d.docker(args);
    assert_ok(&o, &format!("docker {args:?}"));
    stdout(&o)
}

fn state(d: &TestDaemon, name: &str) -> String {
    inspect(d, name, "{{.State.Status}} {{.RestartCount}}")
}

#[test]
fn on_failure_stops_after_max_retries() {
    let d = started();
    docker_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "fails",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    wait_for("two restarts, then exited", || {
        state(&d, "fails") == "exited 2"
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(state(&d, "fails"), "exited 2");
    assert_eq!(inspect(&d, "fails", "{{.State.ExitCode}}"), "3");
    // A success is not a failure: no restart.
    docker_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "fine",
            "--restart",
            "on-failure",
            "busybox",
            "true",
        ],
    );
    wait_for("exited", || state(&d, "fine") == "exited 0");
}

#[test]
fn always_restarts_and_stop_ends_the_loop() {
    let d = started();
    docker_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "always1",
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "sleep 0.2",
        ],
    );
    wait_for("restarts", || {
        inspect(&d, "always1", "{{.RestartCount}}")
            .parse::<i64>()
            .unwrap_or(0)
            >= 3
    });
    // docker ps shows a container waiting to restart, with docker's text.
    wait_for("restarting in ps", || {
        let ps = docker_ok(
            &d,
            &[
                "ps",
                "--filter",
                "name=always1",
                "--format",
                "{{.Status}}|{{.State}}",
            ],
        );
        ps.starts_with("Restarting (0) ") && ps.trim_end().ends_with("|restarting")
    });
    docker_ok(&d, &["stop", "-t", "0", "always1"]);
    let count = inspect(&d, "always1", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(state(&d, "always1"), format!("exited {count}"));
    // A user start counts from zero again.
    docker_ok(&d, &["start", "always1"]);
    let after: i64 = inspect(&d, "always1", "{{.RestartCount}}").parse().unwrap();
    assert!(after <= 1, "{after}");
    docker_ok(&d, &["rm", "-f", "always1"]);
}

#[test]
fn policies_across_daemon_restarts() {
    let mut d = started();
    for (name, policy) in [
        ("always1", "always"),
        ("unless1", "unless-stopped"),
        ("unless2", "unless-stopped"),
        ("fail1", "on-failure:5"),
        ("no1", "no"),
    ] {
        docker_ok(
            &d,
            &[
                "run",
                "-d",
                "--name",
                name,
                "--restart",
                policy,
                "busybox",
                "sleep",
                "1000",
            ],
        );
    }
    docker_ok(
        &d,
        &["stop", "-t", "0", "always1", "unless1", "fail1", "no1"],
    );
    assert_eq!(state(&d, "always1"), "exited 0");
    // on-failure with a clean exit stays down; after a failure (here the stop's SIGKILL,
    // 137) it comes back at the daemon's start while retries are left, as with dockerd.
    docker_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "ok1",
            "--restart",
            "on-failure:5",
            "busybox",
            "true",
        ],
    );
    wait_for("ok1 exited", || state(&d, "ok1") == "exited 0");
    // Killed: the shims keep u2 running; `always` comes back even though it was stopped.
    d.kill9();
    d.restart();
    wait_for("always started again", || {
        state(&d, "always1") == "running 0"
    });
    assert_eq!(state(&d, "unless2"), "running 0");
    wait_for("on-failure started again", || {
        state(&d, "fail1") == "running 0"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state(&d, "unless1"), "exited 0");
    assert_eq!(state(&d, "ok1"), "exited 0");
    assert_eq!(state(&d, "no1"), "exited 0");
    docker_ok(&d, &["rm", "-f", "fail1", "ok1", "no1"]);
    // A clean daemon restart too.
    docker_ok(&d, &["stop", "-t", "0", "unless2"]);
    d.restart();
    wait_for("always running", || state(&d, "always1") == "running 0");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state(&d, "unless1"), "exited 0");
    assert_eq!(state(&d, "unless2"), "exited 0");
    docker_ok(&d, &["rm", "-f", "always1"]);
}

#[test]
fn bad_policies_are_refused() {
    let d = started();
    let o = d.docker(&["run", "-d", "--restart", "sometimes", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["run", "-d", "--restart", "always:3", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        ),
        "{}",
        stderr(&o)
    );
    // `docker create` reports daemon errors with 1.
    let o = d.docker(&["create", "--restart", "never", "busybox", "true"]);
    assert_eq!(code(&o), 1);
    // The berth CLI leaves the names to the daemon too, and says the same.
    let b = d.berth(&["run", "-d", "--restart", "sometimes", "busybox", "true"]);
    let k = d.docker(&["run", "-d", "--restart", "sometimes", "busybox", "true"]);
    assert_eq!(
        common::compare::view(&b),
        common::compare::view(&k),
        "berth vs docker"
    );
    let create = |hc: &str, health: &str| {
        let body = format!(
            r#"{{"Image": "busybox", "Cmd": ["true"], "Healthcheck": {health}, "HostConfig": {hc}}}"#
        );
        let (status, _, body) = d.http("POST", "/containers/create", Some(&body));
        (status, body)
    };
    let (status, body) = create(
        r#"{"AutoRemove": true, "RestartPolicy": {"Name": "always"}}"#,
        "null",
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = create(
        r#"{"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}"#,
        "null",
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("maximum retry count cannot be negative"),
        "{body}"
    );
    let (status, body) = create("{}", r#"{"Test": ["CMD", "true"], "Retries": -1}"#);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("Retries in Healthcheck cannot be negative"),
        "{body}"
    );
    let (status, body) = create("{}", r#"{"Test": ["CMD", "true"], "Interval": 1000}"#);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("Interval in Healthcheck cannot be less than 1ms"),
        "{body}"
    );
    let o = d.docker(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    // Nothing was created.
    assert_eq!(docker_ok(&d, &["ps", "-aq"]), "");
}

fn health(d: &TestDaemon, name: &str) -> String {
    inspect(d, name, "{{.State.Health.Status}}")
}

#[test]
fn health_turns_healthy_then_unhealthy() {
    let d = started();
    let since = chrono_now(&d);
    docker_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "checked",
            "--health-cmd",
            "test -f /tmp/ok && echo fine",
            "--health-interval",
            "500ms",
            "--health-retries",
            "1",
            "--health-start-period",
            "30s",
            "--health-start-interval",
            "300ms",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    // Failures inside the start period do not count.
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(health(&d, "checked"), "starting");
    let ps = docker_ok(&d, &["ps", "--format", "{{.Status}}"]);
    assert!(ps.contains("(health: starting)"), "{ps}");
    docker_ok(&d, &["exec", "checked", "touch", "/tmp/ok"]);
    wait_for("healthy", || health(&d, "checked") == "healthy");
    let ps = docker_ok(&d, &["ps", "--format", "{{.Status}}"]);
    assert!(ps.starts_with("Up ") && ps.contains(" (healthy)"), "{ps}");
    let names = |f: &str| docker_ok(&d, &["ps", "-a", "--filter", f, "--format", "{{.Names}}"]);
    assert_eq!(names("health=healthy"), "checked\n");
    assert_eq!(names("health=unhealthy"), "");
    assert_eq!(names("health=none"), "");
    let o = d.docker(&["ps", "--filter", "health=sick"]);
    assert_ne!(code(&o), 0);
    let log = inspect(&d, "checked", "{{json .State.Health}}");
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    let last = log["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], 0);
    assert_eq!(last["Output"], "fine\n");
    assert!(log["Log"].as_array().unwrap().len() <= 5);
    docker_ok(&d, &["exec", "checked", "rm", "/tmp/ok"]);
    wait_for("unhealthy", || health(&d, "checked") == "unhealthy");
    assert_eq!(
        inspect(&d, "checked", "{{.State.Health.FailingStreak}}"),
        "1"
    );
    assert_eq!(names("health=unhealthy"), "checked\n");
    let until = chrono_now(&d);
    let events = docker_ok(
        &d,
        &[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "container=checked",
            "--format",
            "{{.Action}}",
        ],
    );
    let health_events: Vec<&str> = events
        .lines()
        .filter(|l| l.starts_with("health_status"))
        .collect();
    assert_eq!(
        health_events,
        ["health_status: healthy", "health_status: unhealthy"],
        "{events}"
    );
    // The checks' execs do not pile up in ExecIDs.
    let execs = inspect(&d, "checked", "{{len .ExecIDs}}");
    assert!(execs.parse::<usize>().unwrap_or(0) <= 3, "{execs}");
    // No healthcheck: health=none.
    docker_ok(
        &d,
        &["run", "-d", "--name", "plain", "busybox", "sleep", "1000"],
    );
    assert_eq!(names("health=none"), "plain\n");
    assert_eq!(inspect(&d, "plain", "{{.State.Health}}"), "<nil>");
    docker_ok(&d, &["rm", "-f", "checked", "plain"]);
}

/// The daemon's clock as a unix timestamp (for `events --since`).
fn chrono_now(_d: &TestDaemon) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

#[test]
fn health_on_failure_restarts() {
    let d = started();
    let o = d.berth(&[
        "run",
        "-d",
        "--name",
        "healer",
        "--health-on-failure=restart",
        "--stop-signal",
        "KILL",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/ok; sleep 1; rm /tmp/ok; sleep 1000",
    ]);
    assert_ok(&o, "berth run");
    assert_eq!(
        inspect(
            &d,
            "healer",
            "{{index .Config.Labels \"berth.health-on-failure\"}}"
        ),
        "restart"
    );
    let first = inspect(&d, "healer", "{{.State.StartedAt}}");
    wait_for("healthy", || health(&d, "healer") == "healthy");
    wait_for("restarted when unhealthy", || {
        inspect(&d, "healer", "{{.State.StartedAt}}") != first
    });
    wait_for("running again", || {
        inspect(&d, "healer", "{{.State.Status}}") == "running"
    });
    // An unknown action is refused at create (`docker create` exits 1 on daemon errors).
    let o = d.docker(&[
        "create",
        "--label",
        "berth.health-on-failure=explode",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("invalid health-on-failure action"),
        "{}",
        stderr(&o)
    );
    docker_ok(&d, &["rm", "-f", "healer"]);
}
