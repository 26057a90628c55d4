//! `berth shim`: the per-container supervisor.
//!
//! Started by the daemon (`berth shim CONFIG.json`), it detaches into its own session, creates
//! the container (or the exec'd process) through `berth-runtime`, holds its stdio or PTY,
//! writes the log through its logging driver, serves the [`protocol`] on a Unix socket, reaps the process and
//! records its exit code. It is synchronous and single-threaded, as libcontainer requires.

pub mod config;
mod console;
mod exe;
pub mod log;
pub mod protocol;
mod supervise;

use std::io::Write;

pub use config::{LogConfig, LogInfo, Ready, ShimConfig};
pub use exe::resolve_in_root;
pub use log::timestamp;

/// Entry point of the `shim` role; `args` are the arguments after `shim`.
pub fn main(args: &[String]) -> i32 {
    let Some(path) = args.first() else {
        eprintln!("usage: berth shim CONFIG.json");
        return 2;
    };
    let config: ShimConfig = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            report(&Ready {
                error: Some(format!("shim config {path}: {e}")),
                exit_code: 125,
                ..Default::default()
            });
            return 1;
        }
    };
    // SAFETY: the shim is single-threaded here (dispatched before any runtime or thread
    // starts), so the child may go on using the whole process.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            report(&Ready {
                error: Some(format!("fork shim for {}: {e}", config.id)),
                exit_code: 125,
                ..Default::default()
            });
            return 1;
        }
    }
    let _ = nix::unistd::setsid();
    supervise::run(config)
}

/// Prints the one ready line for the daemon and closes stdout so that it sees the end.
pub(crate) fn report(ready: &Ready) {
    let mut line = serde_json::to_vec(ready).unwrap_or_default();
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&line);
    let _ = out.flush();
    drop(out);
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto fd 1 replaces our stdout; both descriptors are valid.
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
}
