//! Health checks (`Config.Healthcheck`): the test run as an exec in the container at its
//! interval, `State.Health` with the last five results, `health_status: …` events on every
//! change, and berth's `health-on-failure` action (podman's flag, carried as the label
//! `berth.health-on-failure`) when the container turns unhealthy.

use std::sync::Arc;
use std::time::Duration;

use berth_api::ApiError;
use berth_shim::protocol::Frame;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::TryRecvError;

use super::record::{Health, HealthLog, Record, State};
use super::{now, str_list, Container};
use crate::Daemon;

/// The label that carries `--health-on-failure`.
pub const ON_FAILURE_LABEL: &str = "berth.health-on-failure";

/// dockerd's defaults and limits.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
const MAX_LOG_ENTRIES: usize = 5;
const MAX_OUTPUT: usize = 4096;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// A container's check, with dockerd's defaults in place of zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

fn nanos(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn duration_or(v: &Value, default: Duration) -> Duration {
    match nanos(v) {
        n if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

impl Check {
    /// The check of a container config; None without one, with `NONE`, or an unknown kind.
    pub fn of(config: &Value) -> Option<Check> {
        let hc = &config["Healthcheck"];
        let test = str_list(&hc["Test"]);
        let argv = match test.first().map(String::as_str) {
            Some("CMD") => test[1..].to_vec(),
            Some("CMD-SHELL") => {
                let mut shell = str_list(&config["Shell"]);
                if shell.is_empty() {
                    shell = vec!["/bin/sh".into(), "-c".into()];
                }
                shell.push(test[1..].join(" "));
                shell
            }
            _ => return None,
        };
        if argv.is_empty() {
            return None;
        }
        Some(Check {
            argv,
            interval: duration_or(&hc["Interval"], DEFAULT_INTERVAL),
            timeout: duration_or(&hc["Timeout"], DEFAULT_TIMEOUT),
            start_period: duration_or(&hc["StartPeriod"], Duration::ZERO),
            start_interval: duration_or(&hc["StartInterval"], DEFAULT_START_INTERVAL),
            retries: match hc["Retries"].as_i64() {
                Some(n) if n > 0 => n,
                _ => DEFAULT_RETRIES,
            },
        })
    }
}

/// Refuses what dockerd refuses in a `Healthcheck`, and an unknown on-failure action.
pub fn validate(config: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    if let Some(hc) = config.get("Healthcheck").filter(|v| v.is_object()) {
        for key in ["Interval", "Timeout", "StartPeriod", "StartInterval"] {
            let n = nanos(&hc[key]);
            // docker's MinimumDuration is 1 ms.
            if n != 0 && n < 1_000_000 {
                return Err(ApiError::invalid(format!(
                    "{key} in Healthcheck cannot be less than 1ms"
                )));
            }
        }
        if hc["Retries"].as_i64().unwrap_or(0) < 0 {
            return Err(ApiError::invalid(
                "Retries in Healthcheck cannot be negative",
            ));
        }
    }
    let action = config
        .get("Labels")
        .and_then(|l| l.get(ON_FAILURE_LABEL))
        .and_then(Value::as_str);
    if let Some(a) = action {
        if OnFailure::parse(a).is_none() {
            return Err(ApiError::invalid(format!(
                "invalid health-on-failure action \"{a}\": use one of none, kill, restart, stop"
            )));
        }
    }
    Ok(())
}

/// The image's `HEALTHCHECK` under the container's: fields the container leaves empty
/// come from the image, as docker merges them.
pub fn merge(config: &mut serde_json::Map<String, Value>, image: &Value) {
    if image.is_null() {
        return;
    }
    let own = config.get("Healthcheck").cloned().unwrap_or(Value::Null);
    let Value::Object(mut own) = own else {
        config.insert("Healthcheck".into(), image.clone());
        return;
    };
    if str_list(own.get("Test").unwrap_or(&Value::Null)).is_empty() {
        own.insert("Test".into(), image["Test"].clone());
    }
    for key in [
        "Interval",
        "Timeout",
        "StartPeriod",
        "StartInterval",
        "Retries",
    ] {
        if own.get(key).is_none_or(|v| nanos(v) == 0) && !image[key].is_null() {
            own.insert(key.into(), image[key].clone());
        }
    }
    config.insert("Healthcheck".into(), Value::Object(own));
}

/// What to do when the container becomes unhealthy (podman's `--health-on-failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    None,
    Kill,
    Restart,
    Stop,
}

impl OnFailure {
    pub fn parse(s: &str) -> Option<OnFailure> {
        Some(match s {
            "none" | "" => OnFailure::None,
            "kill" => OnFailure::Kill,
            "restart" => OnFailure::Restart,
            "stop" => OnFailure::Stop,
            _ => return None,
        })
    }

    fn of(r: &Record) -> OnFailure {
        r.labels()
            .get(ON_FAILURE_LABEL)
            .and_then(Value::as_str)
            .and_then(OnFailure::parse)
            .unwrap_or(OnFailure::None)
    }
}

/// Adds a result to the health state; returns the new status when it changed.
/// A failure while still `starting` inside the start period does not count (docker).
pub fn record_result(
    h: &mut Health,
    result: HealthLog,
    retries: i64,
    in_start_period: bool,
) -> Option<String> {
    let old = h.status.clone();
    let ok = result.exit_code == 0;
    h.log.push(result);
    if h.log.len() > MAX_LOG_ENTRIES {
        let extra = h.log.len() - MAX_LOG_ENTRIES;
        h.log.drain(..extra);
    }
    if ok {
        h.failing_streak = 0;
        h.status = HEALTHY.into();
    } else if !(h.status == STARTING && in_start_period) {
        h.failing_streak += 1;
        if h.failing_streak >= retries {
            h.status = UNHEALTHY.into();
        }
    }
    (h.status != old).then(|| h.status.clone())
}

/// The health part of `ps`'s STATUS: ` (healthy)`, ` (health: starting)`, ` (unhealthy)`.
pub fn ps_suffix(s: &State) -> String {
    match &s.health {
        Some(h) if h.status == STARTING => " (health: starting)".into(),
        Some(h) => format!(" ({})", h.status),
        None => String::new(),
    }
}

/// The value `ps --filter health=…` compares with.
pub fn filter_status(s: &State) -> &str {
    s.health.as_ref().map_or("none", |h| h.status.as_str())
}

/// At exit: the status shows unhealthy while stopped (docker does so "for compatibility").
pub fn stopped(s: &mut State) {
    if let Some(h) = s.health.as_mut() {
        h.status = UNHEALTHY.into();
    }
}

/// Go's `time.Duration` text for the timeout message (`30s`, `500ms`, `1m30s`).
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs_f64();
    let (m, s) = ((secs / 60.0).floor() as u64, secs % 60.0);
    let s = format!("{s}").trim_end_matches(".0").to_string();
    if m == 0 {
        format!("{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

impl Daemon {
    /// Starts watching the health of a container that just started (or whose shim the
    /// daemon reconnected to): status `starting`, then a check at every interval until the
    /// process exits.
    pub(crate) fn start_health(self: &Arc<Self>, c: &Arc<Container>) {
        let record = c.record();
        let Some(check) = Check::of(&record.config) else {
            return;
        };
        let exits = c.exit.borrow().exits;
        c.update(|r| {
            let h = r.state.health.get_or_insert_with(Health::default);
            h.status = STARTING.into();
            h.failing_streak = 0;
        });
        self.persist(c);
        let started = chrono::DateTime::parse_from_rfc3339(&record.state.started_at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|_| chrono::Utc::now());
        let daemon = self.clone();
        let c = c.clone();
        tokio::spawn(async move { daemon.monitor(c, check, exits, started).await });
    }

    async fn monitor(
        self: Arc<Self>,
        c: Arc<Container>,
        check: Check,
        exits: u64,
        started: chrono::DateTime<chrono::Utc>,
    ) {
        let mut exit = c.exit.subscribe();
        let since_start = || (chrono::Utc::now() - started).to_std().unwrap_or_default();
        loop {
            let starting = c.update(|r| {
                r.state
                    .health
                    .as_ref()
                    .is_some_and(|h| h.status == STARTING)
            });
            let wait = if starting && since_start() < check.start_period {
                check.start_interval
            } else {
                check.interval
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = exit.wait_for(|e| e.exits != exits || e.removed) => return,
            }
            let result = self.probe(&c, &check).await;
            let in_start_period = since_start() < check.start_period;
            let gone = {
                let e = *c.exit.borrow();
                e.exits != exits || e.removed
            };
            if gone {
                return;
            }
            let changed = c.update(|r| {
                let h = r.state.health.get_or_insert_with(Health::default);
                record_result(h, result, check.retries, in_start_period)
            });
            self.persist(&c);
            let Some(status) = changed else { continue };
            self.container_event(&c, &format!("health_status: {status}"), &[]);
            if status == UNHEALTHY {
                self.on_unhealthy(&c);
            }
        }
    }

    /// Runs the check once as an exec; a failure to run it is a result with exit code -1.
    async fn probe(self: &Arc<Self>, c: &Arc<Container>, check: &Check) -> HealthLog {
        let start = now();
        let result = |code: i64, output: String| HealthLog {
            start: start.clone(),
            end: now(),
            exit_code: code,
            output,
        };
        let config = json!({"Cmd": check.argv, "AttachStdout": true, "AttachStderr": true,
            "Tty": false});
        let id = match self.create_exec(c, config) {
            Ok(id) => id,
            Err(e) => return result(-1, e.message),
        };
        let outcome = match self.execs.get(&id) {
            Ok(exec) => {
                let mut output = exec.hub.subscribe();
                let mut exit = exec.exit.subscribe();
                let mut buf = Vec::new();
                let run = async {
                    self.start_exec(&exec, None).await?;
                    loop {
                        tokio::select! {
                            o = output.recv() => match o {
                                Ok(o) => buf.extend_from_slice(&o.data),
                                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                                Err(_) => break,
                            },
                            _ = exit.wait_for(|e| e.exits > 0) => break,
                        }
                    }
                    Ok::<i64, ApiError>(exec.exit.borrow().code)
                };
                match tokio::time::timeout(check.timeout, run).await {
                    Ok(Ok(code)) => {
                        loop {
                            match output.try_recv() {
                                Ok(o) => buf.extend_from_slice(&o.data),
                                Err(TryRecvError::Lagged(_)) => {}
                                Err(_) => break,
                            }
                        }
                        buf.truncate(MAX_OUTPUT);
                        result(code, String::from_utf8_lossy(&buf).into_owned())
                    }
                    Ok(Err(e)) => result(-1, e.message),
                    Err(_) => {
                        exec.send(Frame::Signal(9));
                        result(
                            -1,
                            format!(
                                "Health check exceeded timeout ({})",
                                go_duration(check.timeout)
                            ),
                        )
                    }
                }
            }
            Err(e) => result(-1, e.message),
        };
        self.execs.remove(&id);
        c.update(|r| r.exec_ids.retain(|x| *x != id));
        outcome
    }

    /// `berth.health-on-failure`: kill, stop or restart the container, in the background
    /// (the action waits for the exit this monitor watches).
    fn on_unhealthy(self: &Arc<Self>, c: &Arc<Container>) {
        let action = OnFailure::of(&c.record());
        if action == OnFailure::None {
            return;
        }
        tracing::info!("container {} is unhealthy: {action:?}", c.id);
        let daemon = self.clone();
        let c = c.clone();
        tokio::spawn(async move {
            let done = match action {
                OnFailure::Kill => daemon.kill_container(&c, "KILL").await,
                OnFailure::Stop => daemon.stop_container(&c, None, None).await,
                OnFailure::Restart => daemon.restart_container(&c, None, None).await,
                OnFailure::None => Ok(()),
            };
            if let Err(e) = done {
                tracing::warn!("health-on-failure {action:?} of {}: {}", c.id, e.message);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(code: i64) -> HealthLog {
        HealthLog {
            exit_code: code,
            ..Default::default()
        }
    }

    #[test]
    fn checks() {
        let c = Check::of(
            &json!({"Healthcheck": {"Test": ["CMD-SHELL", "test -f /ok"],
            "Interval": 1_000_000_000i64, "Retries": 1}}),
        )
        .unwrap();
        assert_eq!(c.argv, ["/bin/sh", "-c", "test -f /ok"]);
        assert_eq!(c.interval, Duration::from_secs(1));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.retries, 1);
        let c = Check::of(&json!({"Healthcheck": {"Test": ["CMD", "true"]}})).unwrap();
        assert_eq!(c.argv, ["true"]);
        assert_eq!(c.retries, 3);
        assert!(Check::of(&json!({"Healthcheck": {"Test": ["NONE"]}})).is_none());
        assert!(Check::of(&json!({})).is_none());
    }

    #[test]
    fn results() {
        let mut h = Health {
            status: STARTING.into(),
            ..Default::default()
        };
        // Failures inside the start period do not count.
        assert_eq!(record_result(&mut h, log(1), 2, true), None);
        assert_eq!(h.failing_streak, 0);
        assert_eq!(
            record_result(&mut h, log(0), 2, true).as_deref(),
            Some(HEALTHY)
        );
        assert_eq!(record_result(&mut h, log(1), 2, false), None);
        assert_eq!(
            record_result(&mut h, log(1), 2, false).as_deref(),
            Some(UNHEALTHY)
        );
        for _ in 0..5 {
            record_result(&mut h, log(1), 2, false);
        }
        assert_eq!(h.log.len(), MAX_LOG_ENTRIES);
        assert_eq!(h.failing_streak, 7);
    }

    #[test]
    fn merging() {
        let image = json!({"Test": ["CMD", "true"], "Interval": 5, "Retries": 2});
        let mut c = json!({"Healthcheck": {"Interval": 7}})
            .as_object()
            .unwrap()
            .clone();
        merge(&mut c, &image);
        assert_eq!(
            c["Healthcheck"],
            json!({"Test": ["CMD", "true"], "Interval": 7, "Retries": 2})
        );
        let mut c = serde_json::Map::new();
        merge(&mut c, &image);
        assert_eq!(c["Healthcheck"], image);
    }

    #[test]
    fn texts() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert!(validate(
            json!({"Labels": {ON_FAILURE_LABEL: "explode"}})
                .as_object()
                .unwrap()
        )
        .is_err());
    }
}
