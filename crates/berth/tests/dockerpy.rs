//! The official docker-py client (tests/dockerpy, run with pytest from the venv that
//! scripts/setup.sh makes at target/pyenv) against a berth daemon of the test's own.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::TestDaemon;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

#[test]
fn docker_py_suite_passes() {
    let root = workspace_root();
    let python = root.join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup.sh` first",
        python.display()
    );
    let d = TestDaemon::start();
    d.import_busybox();
    // Networks with their own --subnet take /28s from the upper half of the daemon's pool
    // (networks created without one get theirs from the lower half first).
    let test_subnets = d
        .pool
        .strip_suffix(".0/24")
        .map(|base| format!("{base}.128/25"))
        .expect("the pool is a /24");
    // BERTH_DOCKERPY_ARGS="tests/dockerpy/test_limits.py -k swap" runs a part of the suite.
    let selection: Vec<String> = match std::env::var("BERTH_DOCKERPY_ARGS") {
        Ok(args) if !args.trim().is_empty() => args.split_whitespace().map(str::to_owned).collect(),
        _ => vec!["tests/dockerpy".to_owned()],
    };
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"])
        .args(&selection)
        .current_dir(&root)
        .env("DOCKER_HOST", d.host())
        .env("BERTH_TEST_SUBNETS", &test_subnets)
        .env("DOCKER_CONFIG", d.dir.join("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run pytest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "docker-py suite failed ({}):\n{text}\n--- daemon log (tail) ---\n{}",
        out.status,
        tail(&d.log(), 80)
    );
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
