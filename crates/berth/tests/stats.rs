//! Stats, update and OOM reporting end to end: `docker stats`, the stats API's JSON,
//! `docker update` reaching the cgroup, and OOM kills in inspect and events.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::compare::{code, started};
use common::{assert_ok, inspect, stderr, stdout, wait_for, TestDaemon};
use serde_json::Value;

fn run_d(d: &TestDaemon, args: &[&str]) -> String {
    let mut a = vec!["run", "-d"];
    a.extend_from_slice(args);
    let o = d.docker(&a);
    assert_ok(&o, "run -d");
    stdout(&o).trim().to_string()
}

fn stats_json(d: &TestDaemon, id: &str, query: &str) -> Value {
    let (status, _, body) = d.http("GET", &format!("/containers/{id}/stats?{query}"), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(body.lines().next().unwrap_or("")).expect("stats JSON")
}

fn v1() -> bool {
    !PathBuf::from("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A file of the container's cgroup on the host.
fn cgroup_file(d: &TestDaemon, id: &str, controller: &str, file: &str) -> String {
    let rel = format!("{}/{id}", d.cgroup_parent.trim_matches('/'));
    let path = if v1() {
        PathBuf::from("/sys/fs/cgroup").join(controller).join(rel)
    } else {
        PathBuf::from("/sys/fs/cgroup").join(rel)
    };
    std::fs::read_to_string(path.join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn stats_of_a_running_container() {
    let d = started();
    let id = run_d(&d, &["--name", "st", "busybox", "sleep", "300"]);
    let o = d.docker(&["stats", "--no-stream", "st"]);
    assert_ok(&o, "stats");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
        "{out}"
    );
    assert!(lines[1].starts_with(&id[..12]), "{out}");
    let o = d.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
        "st",
    ]);
    assert_ok(&o, "stats --format");
    let out = stdout(&o);
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f[0], "st", "{out}");
    assert_ne!(f[1], "0B", "memory is counted: {out}");
    assert_eq!(f[4], "1", "one process: {out}");
    // berth's own CLI shows the same columns.
    let o = d.berth(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "st",
    ]);
    assert_ok(&o, "berth stats");
    assert_eq!(stdout(&o), "st 1\n");
    // The default table of both CLIs: same header, one row for the container.
    let o = d.berth(&["stats", "--no-stream"]);
    assert_ok(&o, "berth stats --no-stream");
    let b = stdout(&o);
    let o = d.docker(&["stats", "--no-stream"]);
    assert_ok(&o, "docker stats --no-stream");
    let k = stdout(&o);
    assert_eq!(b.lines().next(), k.lines().next(), "{b}\n{k}");
    assert_eq!(b.lines().count(), 2, "{b}");
    assert!(
        b.lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{}   st ", &id[..12])),
        "{b}"
    );

    let s = stats_json(&d, &id, "stream=false");
    assert_eq!(s["name"], "/st");
    assert_eq!(s["id"], id.as_str());
    assert!(s["cpu_stats"]["online_cpus"].as_u64().unwrap() >= 1, "{s}");
    assert!(s["cpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0);
    assert!(
        s["precpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0,
        "{s}"
    );
    assert_ne!(s["preread"], "0001-01-01T00:00:00Z");
    assert!(s["memory_stats"]["usage"].as_u64().unwrap() > 0);
    let key = if v1() {
        "total_inactive_file"
    } else {
        "inactive_file"
    };
    assert!(s["memory_stats"]["stats"][key].is_u64(), "{s}");
    assert_eq!(s["pids_stats"]["current"], 1);
    assert!(s["networks"]["eth0"]["rx_bytes"].is_u64(), "{s}");
    // one-shot: no previous sample.
    let s = stats_json(&d, &id, "stream=false&one-shot=true");
    assert_eq!(s["preread"], "0001-01-01T00:00:00Z");

    // A stopped container: zeros.
    assert_ok(&d.docker(&["rm", "-f", "st"]), "rm");
    let id = run_d(&d, &["--name", "done", "busybox", "true"]);
    wait_for("exit", || inspect(&d, &id, "{{.State.Running}}") == "false");
    let s = stats_json(&d, &id, "stream=false");
    assert_eq!(s["read"], "0001-01-01T00:00:00Z");
    assert_eq!(s["name"], "/done");
}

#[test]
fn stats_stream_one_per_second() {
    let d = started();
    let id = run_d(&d, &["busybox", "sleep", "300"]);
    let out = std::process::Command::new("curl")
        .args(["-s", "-m", "2.5", "--unix-socket"])
        .arg(&d.sock)
        .arg(format!("http://berth/containers/{id}/stats"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let samples: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!((2..=4).contains(&samples.len()), "{text}");
    assert_eq!(samples[1]["preread"], samples[0]["read"]);
}

#[test]
fn cpus_limit_half_a_core() {
    let d = started();
    let id = run_d(
        &d,
        &[
            "--cpus",
            "0.5",
            "busybox",
            "sh",
            "-c",
            "while :; do :; done",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let a = stats_json(&d, &id, "stream=false&one-shot=true");
    let t0 = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let b = stats_json(&d, &id, "stream=false&one-shot=true");
    let used = |s: &Value| s["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap() as f64;
    let cores = (used(&b) - used(&a)) / 1e9 / t0.elapsed().as_secs_f64();
    // At most half a core (plus the sampling's slack); at least some of it even when other
    // work keeps both of the host's cores busy (the CI machine may be loaded).
    assert!((0.1..0.6).contains(&cores), "{cores} cores");
    let o = d.docker(&["stats", "--no-stream", "--format", "{{.CPUPerc}}", &id]);
    assert_ok(&o, "stats");
    let perc: f64 = stdout(&o).trim().trim_end_matches('%').parse().unwrap();
    assert!((10.0..65.0).contains(&perc), "{perc}%");
}

#[test]
fn update_reaches_the_cgroup_and_inspect() {
    let d = started();
    let id = run_d(&d, &["--name", "up", "busybox", "sleep", "300"]);
    let o = d.docker(&[
        "update",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "20",
        "up",
    ]);
    assert_ok(&o, "update");
    assert_eq!(stdout(&o), "up\n");
    assert_eq!(inspect(&d, "up", "{{.HostConfig.Memory}}"), "67108864");
    assert_eq!(inspect(&d, "up", "{{.HostConfig.NanoCpus}}"), "500000000");
    assert_eq!(inspect(&d, "up", "{{.HostConfig.PidsLimit}}"), "20");
    if v1() {
        assert_eq!(
            cgroup_file(&d, &id, "memory", "memory.limit_in_bytes"),
            "67108864"
        );
        assert_eq!(cgroup_file(&d, &id, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(cgroup_file(&d, &id, "cpu", "cpu.cfs_period_us"), "100000");
    } else {
        assert_eq!(cgroup_file(&d, &id, "memory", "memory.max"), "67108864");
        assert_eq!(cgroup_file(&d, &id, "cpu", "cpu.max"), "50000 100000");
    }
    assert_eq!(cgroup_file(&d, &id, "pids", "pids.max"), "20");
    // berth's CLI: restart policy and memory again.
    let o = d.berth(&["update", "--restart", "on-failure:3", "-m", "48m", "up"]);
    assert_ok(&o, "berth update");
    assert_eq!(
        inspect(
            &d,
            "up",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:3"
    );
    assert_eq!(inspect(&d, "up", "{{.HostConfig.Memory}}"), "50331648");
    // Errors as docker: conflicting CPU options, unknown containers, no flags.
    let o = d.docker(&["update", "--cpu-quota", "1000", "up"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains(&format!("Cannot update container {id}: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["update", "-m", "64m", "nope"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("No such container: nope"),
        "{}",
        stderr(&o)
    );
    let b = d.berth(&["update", "up"]);
    assert_eq!(code(&b), 1);
    // The API answers with warnings.
    let (status, _, body) = d.http(
        "POST",
        "/containers/up/update",
        Some(r#"{"CpuShares": 512}"#),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.trim(), r#"{"Warnings":[]}"#);
    if v1() {
        assert_eq!(cgroup_file(&d, &id, "cpu", "cpu.shares"), "512");
    }
}

#[test]
fn oom_kill_is_reported() {
    let d = started();
    let since = chrono_now();
    // The shell itself holds 100 MiB of a command substitution: the OOM killer picks it.
    let script = "x=$(head -c 104857600 /dev/zero | tr '\\0' a); echo ${#x}";
    let o = d.docker(&[
        "run", "--name", "oom", "-m", "32m", "busybox", "sh", "-c", script,
    ]);
    assert_eq!(code(&o), 137, "{}", stderr(&o));
    assert_eq!(inspect(&d, "oom", "{{.State.OOMKilled}}"), "true");
    assert_eq!(inspect(&d, "oom", "{{.State.ExitCode}}"), "137");
    let until = chrono_now() + 1;
    let o = d.docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "container=oom",
        "--format",
        "{{.Action}}",
    ]);
    assert_ok(&o, "events");
    let actions: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split(':').next().unwrap_or("").to_string())
        .collect();
    let oom = actions.iter().position(|a| a == "oom");
    let die = actions.iter().position(|a| a == "die");
    assert!(oom.is_some() && oom < die, "{actions:?}");
    // Without the limit the same script succeeds.
    let o = d.docker(&["run", "--name", "fine", "busybox", "sh", "-c", script]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "104857600\n");
    assert_eq!(inspect(&d, "fine", "{{.State.OOMKilled}}"), "false");
}

#[test]
fn oom_kill_after_a_daemon_restart_is_reported() {
    let mut d = started();
    // The container allocates once it has seen the file the test makes after the daemon
    // was killed and started again: the new daemon must watch its cgroup.
    let script = "while [ ! -e /go ]; do sleep 0.1; done; \
                  x=$(head -c 104857600 /dev/zero | tr '\\0' a); echo ${#x}";
    let o = d.docker(&[
        "run", "-d", "--name", "oom2", "-m", "32m", "busybox", "sh", "-c", script,
    ]);
    assert_ok(&o, "run -d");
    d.kill9();
    d.restart();
    let o = d.docker(&["exec", "oom2", "touch", "/go"]);
    assert_ok(&o, "exec touch");
    let o = d.docker(&["wait", "oom2"]);
    assert_eq!(stdout(&o), "137\n", "{}", stderr(&o));
    assert_eq!(inspect(&d, "oom2", "{{.State.OOMKilled}}"), "true");
}

fn chrono_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
