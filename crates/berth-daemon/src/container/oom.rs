//! OOM kills: the kernel's OOM killer striking in a container's memory cgroup makes
//! `State.OOMKilled` true and an `oom` event (before `die`), as in docker.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::oneshot;

use super::cgroup::{keyed, Cgroup, Version};
use super::Container;
use crate::Daemon;

/// OOM watchers by container id: each answers once whether the kernel's OOM killer
/// struck in the container's memory cgroup while it ran.
fn watchers() -> &'static Mutex<HashMap<String, oneshot::Receiver<bool>>> {
    static W: OnceLock<Mutex<HashMap<String, oneshot::Receiver<bool>>>> = OnceLock::new();
    W.get_or_init(Default::default)
}

/// Starts watching a freshly created container's memory cgroup for OOM kills. The
/// counters must be caught while the cgroup exists: the shim deletes it (runtime delete)
/// before the daemon hears of the exit.
fn watch_oom(cg: Cgroup, id: &str) {
    let (tx, rx) = oneshot::channel();
    let started = match cg.version {
        Version::V1 => watch_v1(&cg, tx),
        Version::V2 => watch_v2(cg, tx),
    };
    match started {
        Ok(()) => {
            watchers()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.to_string(), rx);
        }
        Err(e) => tracing::warn!("oom watch of {id}: {e}"),
    }
}

/// Whether the container's last run was OOM-killed (false when it was not watched).
/// An OOM kill is a SIGKILL: for any other exit only an event already seen counts, so a
/// normal exit never waits for the watcher (which needs a moment to tell an OOM from the
/// cgroup's removal).
async fn oom_killed(id: &str, code: i32) -> bool {
    let rx = watchers()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(id);
    match rx {
        Some(mut rx) if code != 137 => matches!(rx.try_recv(), Ok(true)),
        Some(rx) => matches!(
            tokio::time::timeout(Duration::from_secs(2), rx).await,
            Ok(Ok(true))
        ),
        None => false,
    }
}

/// v1: an eventfd registered on `memory.oom_control` (as runc and containerd do). The
/// kernel signals it on every OOM in the cgroup, and once more when the cgroup goes
/// away; the eventfd's counter tells the two apart when both came before we read.
fn watch_v1(cg: &Cgroup, tx: oneshot::Sender<bool>) -> io::Result<()> {
    let dir = cg.dir("memory");
    let control = File::open(dir.join("memory.oom_control"))?;
    // SAFETY: eventfd(2) with valid flags; the fd is owned right after.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd nobody else owns.
    let efd = unsafe { OwnedFd::from_raw_fd(raw) };
    std::fs::write(
        dir.join("cgroup.event_control"),
        format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()),
    )?;
    let alive_path = dir.join("cgroup.event_control");
    std::thread::Builder::new()
        .name("oom-watch".into())
        .spawn(move || {
            let _control = control;
            let mut efd = File::from(efd);
            let mut tx = Some(tx);
            let mut oom = false;
            loop {
                let mut buf = [0u8; 8];
                if efd.read_exact(&mut buf).is_err() {
                    break;
                }
                let count = u64::from_ne_bytes(buf);
                let alive = alive_path.exists();
                if alive || count >= 2 || signalled_within(&efd, 50) {
                    oom = true;
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(true);
                    }
                }
                if !alive {
                    break;
                }
            }
            if let Some(tx) = tx.take() {
                let _ = tx.send(oom);
            }
        })?;
    Ok(())
}

/// An OOM event read just as the cgroup vanished is followed by the removal's own
/// event; a lone removal event is not.
fn signalled_within(f: &File, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: f.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}

/// v2: `memory.events`' `oom_kill` counter, polled while the cgroup exists.
fn watch_v2(cg: Cgroup, tx: oneshot::Sender<bool>) -> io::Result<()> {
    let start = cg
        .read_keyed("memory", "memory.events")
        .get("oom_kill")
        .copied()
        .unwrap_or(0);
    std::thread::Builder::new()
        .name("oom-watch".into())
        .spawn(move || {
            let mut oom = false;
            while let Some(s) = cg.read("memory", "memory.events") {
                if keyed(&s).get("oom_kill").copied().unwrap_or(0) > start {
                    oom = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = tx.send(oom);
        })?;
    Ok(())
}

impl Daemon {
    /// Called when a container is created, before its process starts.
    pub(crate) fn watch_oom(&self, c: &Container) {
        watch_oom(self.cgroup(c), &c.id);
    }

    /// Called on the container's exit, before `die`: records an OOM kill.
    pub(crate) async fn note_oom(self: &Arc<Self>, c: &Arc<Container>, code: i32) {
        if !oom_killed(&c.id, code).await {
            return;
        }
        c.update(|r| r.state.oom_killed = true);
        self.container_event(c, "oom", &[]);
    }
}
