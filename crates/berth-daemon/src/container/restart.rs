//! Restart policies (`HostConfig.RestartPolicy`): whether an exit restarts the container,
//! docker's back-off between restarts, ending a restart loop on stop/kill/remove, and the
//! start of `always` / `unless-stopped` containers when the daemon comes up.
//!
//! While it waits to be restarted a container is `restarting` with `Running` true, as in
//! docker (`State.String()` shows `Restarting (1) 2 seconds ago` only for running states,
//! and `wait` with `not-running` does not return between restarts).

use std::sync::Arc;
use std::time::Duration;

use berth_api::ApiError;
use serde_json::Value;

use super::record::ZERO_TIME;
use super::{now, Container};
use crate::Daemon;

/// docker's restartmanager: the first delay, its factor, its cap, and how long a run must
/// last for the delay to start over.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
const RESET_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    No,
    Always,
    UnlessStopped,
    /// With the maximum number of restarts (0: no maximum).
    OnFailure(i64),
}

impl Policy {
    /// The policy of a host config (a missing or empty name is `no`, as dockerd reads it).
    pub fn of(host_config: &Value) -> Policy {
        let p = &host_config["RestartPolicy"];
        match p["Name"].as_str().unwrap_or("") {
            "always" => Policy::Always,
            "unless-stopped" => Policy::UnlessStopped,
            "on-failure" => Policy::OnFailure(p["MaximumRetryCount"].as_i64().unwrap_or(0)),
            _ => Policy::No,
        }
    }

    /// Whether an exit with `code` restarts the container (docker's `ShouldRestart`): a
    /// signal sent by a user keeps only `unless-stopped` from restarting; a stop ends every
    /// policy's loop through [`Backoff::exit_on_next`].
    pub fn restarts(self, code: i32, manually_stopped: bool, restart_count: i64) -> bool {
        match self {
            Policy::No => false,
            Policy::Always => true,
            Policy::UnlessStopped => !manually_stopped,
            Policy::OnFailure(max) => code != 0 && (max <= 0 || restart_count < max),
        }
    }

    /// Whether the daemon starts the container when it comes up and finds it stopped after
    /// exiting with `code` (dockerd's restore: `always` even after a manual stop,
    /// `unless-stopped` unless stopped by hand, `on-failure` after a failure while retries
    /// are left).
    pub fn starts_on_boot(self, code: i64, manually_stopped: bool, restart_count: i64) -> bool {
        match self {
            Policy::Always => true,
            Policy::UnlessStopped => !manually_stopped,
            Policy::OnFailure(max) => code != 0 && (max <= 0 || restart_count < max),
            Policy::No => false,
        }
    }
}

/// Refuses a restart policy as dockerd's `ValidateRestartPolicy` does, and a policy with
/// `AutoRemove`.
pub fn validate(host_config: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    let p = host_config.get("RestartPolicy").unwrap_or(&Value::Null);
    let name = p["Name"].as_str().unwrap_or("");
    let max = p["MaximumRetryCount"].as_i64().unwrap_or(0);
    match name {
        "no" | "always" | "unless-stopped" if max != 0 => {
            let mut msg =
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .to_string();
            if max < 0 {
                msg.push_str(" and cannot be negative");
            }
            return Err(ApiError::invalid(msg));
        }
        "on-failure" if max < 0 => {
            return Err(ApiError::invalid(
                "invalid restart policy: maximum retry count cannot be negative",
            ))
        }
        // Engines before 25.0 sent an empty name for the default.
        "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
        other => {
            return Err(ApiError::invalid(format!(
                "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            )))
        }
    }
    let auto_remove = host_config
        .get("AutoRemove")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if auto_remove && !matches!(name, "" | "no") {
        return Err(ApiError::invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    Ok(())
}

/// One container's back-off, in memory only (a daemon restart starts it over, as docker).
#[derive(Debug, Default)]
pub struct Backoff {
    delay: Duration,
    /// Bumped by every scheduled restart and every cancel: a waiting restart whose number is
    /// no longer current gives up.
    generation: u64,
    /// Set by a stop, or a kill with SIGKILL or the stop signal: the next exit ends the
    /// restart loop whatever the policy (docker's `ExitOnNext`). Cleared at each start.
    pub(crate) exit_on_next: bool,
}

/// The delay before the next restart: 100 ms, doubled each time, at most a minute, and
/// back to 100 ms after a run of 10 s or more.
pub fn next_delay(previous: Duration, ran_for: Duration) -> Duration {
    let previous = if ran_for >= RESET_AFTER {
        Duration::ZERO
    } else {
        previous
    };
    if previous.is_zero() {
        FIRST_DELAY
    } else {
        (previous * 2).min(MAX_DELAY)
    }
}

/// The record of an exited container that the policy restarts: counted, and `restarting`
/// (running, as docker shows it) until the start.
pub fn mark_restarting(r: &mut super::Record) {
    r.restart_count += 1;
    r.state.status = "restarting".into();
    r.state.restarting = true;
    r.state.running = true;
}

/// A restart decided at exit, started once the exit is fully handled.
#[derive(Debug, Clone, Copy)]
pub struct Planned {
    delay: Duration,
    generation: u64,
}

impl Daemon {
    /// At an exit: whether the policy restarts the container, as the plan to pass to
    /// `spawn_restart` once the exit is handled (the caller marks the record with
    /// `mark_restarting` in the same update as the exit).
    pub(crate) fn plan_restart(&self, c: &Container, code: i32) -> Option<Planned> {
        let r = c.record();
        let policy = Policy::of(&r.host_config);
        if c.backoff(|b| b.exit_on_next)
            || !policy.restarts(code, r.has_been_manually_stopped, r.restart_count)
        {
            return None;
        }
        let ran_for = chrono::DateTime::parse_from_rfc3339(&r.state.started_at)
            .ok()
            .and_then(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .ok()
            })
            .unwrap_or_default();
        let plan = c.backoff(|b| {
            b.delay = next_delay(b.delay, ran_for);
            b.generation += 1;
            Planned {
                delay: b.delay,
                generation: b.generation,
            }
        });
        Some(plan)
    }

    /// Starts the container again after the planned delay, unless the loop was ended
    /// meanwhile (stop, kill, remove, a user start).
    pub(crate) fn spawn_restart(self: &Arc<Self>, c: &Arc<Container>, plan: Planned) {
        let daemon = self.clone();
        let c = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(plan.delay).await;
            let _op = c.op.lock().await;
            let current = c.backoff(|b| b.generation == plan.generation);
            if !current || !c.record().state.restarting || daemon.containers.find(&c.id).is_err() {
                return;
            }
            if let Err(e) = daemon.start_locked(&c).await {
                tracing::warn!("restart {}: {}", c.id, e.message);
                daemon.end_restarting(&c, false);
            }
        });
    }

    /// Ends a restart loop (`docker stop`/`kill` of a restarting container): it becomes
    /// exited. Returns whether it was restarting.
    pub(crate) fn cancel_restart(&self, c: &Container) -> bool {
        c.backoff(|b| b.generation += 1);
        self.end_restarting(c, true)
    }

    fn end_restarting(&self, c: &Container, manual: bool) -> bool {
        let was = c.update(|r| {
            let was = r.state.restarting;
            if was {
                r.state.status = "exited".into();
                r.state.running = false;
                r.state.restarting = false;
                r.state.pid = 0;
                r.state.finished_at = now();
                r.has_been_manually_stopped |= manual;
            }
            was
        });
        if was {
            self.persist(c);
            c.exit.send_modify(|e| e.running = false);
        }
        was
    }

    /// A start asked by a user (or by the daemon coming up) starts the count and the
    /// back-off over, as docker's `ResetRestartManager`.
    pub(crate) fn reset_restart(&self, c: &Container) {
        c.backoff(|b| *b = Backoff::default());
        c.update(|r| r.restart_count = 0);
    }

    /// `docker rm` of a restarting container: refused without force, else the loop ends.
    pub(crate) fn remove_restarting(&self, c: &Container, force: bool) -> Result<(), ApiError> {
        if !c.record().state.restarting {
            return Ok(());
        }
        if !force {
            return Err(ApiError::conflict(format!(
                "cannot remove container \"/{}\": container is restarting: stop the container before removing or force remove",
                c.name()
            )));
        }
        self.cancel_restart(c);
        Ok(())
    }

    /// When the daemon comes up: containers whose policy says so and that are not running
    /// are started (docker restarts `always` even after a manual stop, not
    /// `unless-stopped`); a restart that was pending when the daemon went down happens now.
    pub fn start_by_policy(self: &Arc<Self>) {
        for c in self.containers.all() {
            let r = c.record();
            let pending = r.state.restarting;
            if pending {
                self.end_restarting(&c, false);
            } else if r.state.running
                || r.state.started_at == ZERO_TIME
                || !Policy::of(&r.host_config).starts_on_boot(
                    r.state.exit_code,
                    r.has_been_manually_stopped,
                    r.restart_count,
                )
            {
                continue;
            }
            let daemon = self.clone();
            tokio::spawn(async move {
                if let Err(e) = daemon.start_container(&c).await {
                    tracing::warn!("start {} by its restart policy: {}", c.id, e.message);
                }
            });
        }
    }
}

impl Container {
    pub(crate) fn backoff<T>(&self, f: impl FnOnce(&mut Backoff) -> T) -> T {
        f(&mut self.restart.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies() {
        let p = |v: Value| Policy::of(&json!({ "RestartPolicy": v }));
        assert_eq!(p(json!({"Name": "always"})), Policy::Always);
        assert_eq!(p(json!({"Name": ""})), Policy::No);
        assert_eq!(
            p(json!({"Name": "on-failure", "MaximumRetryCount": 2})),
            Policy::OnFailure(2)
        );
        assert!(Policy::Always.restarts(0, false, 100));
        // A user's signal: only unless-stopped stays down (a stop is `exit_on_next`).
        assert!(Policy::Always.restarts(1, true, 0));
        assert!(!Policy::UnlessStopped.restarts(1, true, 0));
        assert!(Policy::UnlessStopped.restarts(1, false, 0));
        assert!(Policy::OnFailure(0).restarts(1, true, 0));
        assert!(!Policy::No.restarts(1, false, 0));
        assert!(Policy::OnFailure(2).restarts(1, false, 1));
        assert!(!Policy::OnFailure(2).restarts(1, false, 2));
        assert!(!Policy::OnFailure(0).restarts(0, false, 0));
        assert!(Policy::OnFailure(0).restarts(3, false, 1000));
        assert!(Policy::Always.starts_on_boot(0, true, 0));
        assert!(!Policy::UnlessStopped.starts_on_boot(0, true, 0));
        assert!(Policy::UnlessStopped.starts_on_boot(0, false, 0));
        assert!(Policy::OnFailure(2).starts_on_boot(1, false, 1));
        assert!(!Policy::OnFailure(2).starts_on_boot(1, false, 2));
        assert!(!Policy::OnFailure(0).starts_on_boot(0, false, 0));
        assert!(!Policy::No.starts_on_boot(1, false, 0));
    }

    #[test]
    fn validation() {
        let v = |p: Value| {
            validate(json!({ "RestartPolicy": p }).as_object().unwrap()).map_err(|e| e.message)
        };
        assert!(v(json!({"Name": "on-failure", "MaximumRetryCount": 3})).is_ok());
        assert!(v(json!({"Name": "", "MaximumRetryCount": 0})).is_ok());
        assert_eq!(
            v(json!({"Name": "always", "MaximumRetryCount": 3})).unwrap_err(),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        );
        assert_eq!(
            v(json!({"Name": "x"})).unwrap_err(),
            "invalid restart policy: unknown policy 'x'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        );
        assert_eq!(
            v(json!({"Name": "on-failure", "MaximumRetryCount": -1})).unwrap_err(),
            "invalid restart policy: maximum retry count cannot be negative"
        );
        let rm = json!({"AutoRemove": true, "RestartPolicy": {"Name": "always"}});
        assert!(validate(rm.as_object().unwrap()).is_err());
    }

    #[test]
    fn backoff() {
        let ms = Duration::from_millis;
        assert_eq!(next_delay(Duration::ZERO, ms(5)), ms(100));
        assert_eq!(next_delay(ms(100), ms(5)), ms(200));
        assert_eq!(next_delay(ms(400), Duration::from_secs(10)), ms(100));
        assert_eq!(next_delay(Duration::from_secs(40), ms(5)), MAX_DELAY);
    }
}
