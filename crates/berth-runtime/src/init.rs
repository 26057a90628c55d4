//! `--init`: a minimal init as the container's PID 1, like docker-init (tini). The container's
//! init process, already inside the container, forks the user's process and stays behind to
//! reap zombies and forward signals; it exits with the process's status (128 + signal when
//! the process was killed). It needs no binary inside the image.

use std::ffi::CString;

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// Signals passed on to the process (the rest keep their default effect on PID 1: none).
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGALRM,
    Signal::SIGCONT,
];

extern "C" fn ignore(_: libc::c_int) {}

/// This process is the shim's fork, so `/proc/1/cmdline` would show the shim's command line
/// (host paths) inside the container: overwrite it with `berth-init`.
fn hide_command_line() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name start at field 3; arg_start/arg_end are fields 48/49.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|f| f.parse::<usize>().ok()),
        fields.get(46).and_then(|f| f.parse::<usize>().ok()),
    ) else {
        return;
    };
    let name = b"berth-init\0";
    if end <= start || end - start < name.len() {
        return;
    }
    // SAFETY: [start, end) is this process's own argument area as the kernel reports it: mapped
    // and writable for the life of the process, and nothing in Rust refers to it (std copied
    // the arguments at start-up).
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, end - start);
        area.fill(0);
        area[..name.len()].copy_from_slice(name);
    }
}

/// Never returns: exits with the user's process's status.
pub fn run(program: &CString, argv: &[CString], envp: &[CString]) -> ! {
    // PID 1 of a namespace drops signals it has no handler for, even blocked ones: install a
    // no-op handler, then block everything and take signals with sigwait.
    let action = SigAction::new(
        SigHandler::Handler(ignore),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in FORWARDED.iter().chain(std::iter::once(&Signal::SIGCHLD)) {
        // SAFETY: the handler is an empty extern "C" function, safe in a signal context.
        let _ = unsafe { signal::sigaction(*sig, &action) };
    }
    // SAFETY: PR_SET_NAME reads a NUL-terminated string that lives across the call.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"berth-init".as_ptr(), 0, 0, 0) };
    hide_command_line();
    let all = SigSet::all();
    let _ = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all), None);
    // SAFETY: this process is single-threaded here (libcontainer's container init).
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
            let err = nix::unistd::execvpe(program, argv, envp).unwrap_err();
            eprintln!("berth-init: exec {program:?}: {err}");
            std::process::exit(if err == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            });
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("berth-init: fork: {e}");
            std::process::exit(125);
        }
    };
    loop {
        let Ok(sig) = all.wait() else { continue };
        if sig != Signal::SIGCHLD {
            if FORWARDED.contains(&sig) {
                let _ = signal::kill(child, sig);
            }
            continue;
        }
        while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            match status {
                WaitStatus::Exited(pid, code) if pid == child => std::process::exit(code),
                WaitStatus::Signaled(pid, sig, _) if pid == child => {
                    std::process::exit(128 + sig as i32)
                }
                WaitStatus::StillAlive => break,
                _ => {}
            }
        }
    }
}
