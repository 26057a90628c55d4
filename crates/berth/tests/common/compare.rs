//! Running the same command with the berth CLI and the official docker CLI against one
//! daemon, and comparing exit code, stdout and stderr (program names aside).

use std::process::Output;
use std::time::Duration;

use super::{assert_ok, stderr, stdout, TestDaemon};

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Program names differ; everything else must not.
pub fn norm(s: &str) -> String {
    s.replace("docker", "berth")
}

pub fn view(o: &Output) -> (i32, String, String) {
    (code(o), norm(&stdout(o)), norm(&stderr(o)))
}

/// Runs the same command with both CLIs and asserts identical exit code, stdout and stderr.
#[track_caller]
pub fn same(d: &TestDaemon, args: &[&str]) -> Output {
    let b = d.berth(args);
    let k = d.docker(args);
    assert_eq!(view(&b), view(&k), "berth vs docker for {args:?}");
    b
}

/// As `same`, for read-only commands whose output has relative times ("2 seconds ago")
/// that may tick between the two runs: tries a few times.
#[track_caller]
pub fn same_eventually(d: &TestDaemon, args: &[&str]) -> Output {
    for _ in 0..4 {
        let b = d.berth(args);
        let k = d.docker(args);
        if view(&b) == view(&k) {
            return b;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    same(d, args)
}

/// Runs the berth CLI, asserts success, returns stdout.
#[track_caller]
pub fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let o = d.berth(args);
    assert_ok(&o, &format!("berth {args:?}"));
    stdout(&o)
}

/// A daemon with `busybox:latest` imported.
pub fn started() -> TestDaemon {
    let d = TestDaemon::start();
    d.import_busybox();
    d
}
