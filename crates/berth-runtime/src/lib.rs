//! The container runtime: berth's [`ContainerSpec`] → an OCI bundle → an isolated process,
//! on youki's `libcontainer`. Nothing outside this crate sees libcontainer's types.
//!
//! `create`/`exec` fork, so they must be called from a single-threaded process (the shim).

pub mod devices;
mod executor;
mod init;
pub mod limits;
pub mod seccomp;
pub mod spec;
pub mod userns;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::signal::Signal;
use libcontainer::syscall::syscall::SyscallType;

pub use spec::{ContainerSpec, Mount, Namespace, Namespaces, Process, Resources, UserNamespace};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("write bundle {path}: {source}")]
    Bundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("container {id}: {message}")]
    Container { id: String, message: String },
}

fn lc_err(id: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Container {
        id: id.to_string(),
        message: e.to_string(),
    }
}

/// The stdio a container's process gets: pipes/files, or a console socket for a PTY.
#[derive(Default)]
pub struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// Path of a listening Unix socket that receives the PTY master (terminal processes).
    pub console_socket: Option<PathBuf>,
}

/// Runtime state lives under `root` (one directory per container, libcontainer's layout).
pub struct Runtime {
    root: PathBuf,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `bundle/config.json` for `spec`.
    pub fn write_bundle(spec: &ContainerSpec, bundle: &Path) -> Result<(), RuntimeError> {
        let path = bundle.join("config.json");
        let bytes = serde_json::to_vec_pretty(&spec::oci_config(spec)).unwrap_or_default();
        std::fs::create_dir_all(bundle)
            .and_then(|_| std::fs::write(&path, bytes))
            .map_err(|source| RuntimeError::Bundle { path, source })
    }

    /// Creates the container from the bundle: namespaces, rootfs, cgroup; its init then
    /// waits for [`Runtime::start`]. Returns the init's pid (a child of the caller).
    pub fn create(&self, id: &str, bundle: &Path, stdio: Stdio) -> Result<i32, RuntimeError> {
        std::fs::create_dir_all(&self.root).map_err(|source| RuntimeError::Bundle {
            path: self.root.clone(),
            source,
        })?;
        let builder = self.builder(id, stdio)?;
        let container = builder
            .as_init(bundle)
            .with_systemd(false)
            .with_detach(true)
            .build()
            .map_err(|e| lc_err(id, e))?;
        limits::apply_oom_kill_disable(bundle)
            .map_err(|e| lc_err(id, format!("disable the OOM killer: {e}")))?;
        container
            .pid()
            .map(|p| p.as_raw())
            .ok_or_else(|| lc_err(id, "created without an init pid"))
    }

    /// Lets a created container's init exec the user's process.
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.load(id)?.start().map_err(|e| lc_err(id, e))
    }

    /// Runs another process in a running container; returns its pid (a child of the caller).
    pub fn exec(&self, id: &str, process: &Process, stdio: Stdio) -> Result<i32, RuntimeError> {
        let state_dir = self.root.join(id);
        let process_path = state_dir.join(format!("process-{}.json", std::process::id()));
        let body = serde_json::to_vec(&spec::process_json(process)).unwrap_or_default();
        std::fs::write(&process_path, body).map_err(|source| RuntimeError::Bundle {
            path: process_path.clone(),
            source,
        })?;
        self.enter_user_namespace(id)?;
        let builder = self.builder(id, stdio)?;
        let result = builder
            .as_tenant()
            .with_process(Some(&process_path))
            .with_env(HashMap::new())
            .with_detach(true)
            .build();
        let _ = std::fs::remove_file(&process_path);
        result.map(|p| p.as_raw()).map_err(|e| lc_err(id, e))
    }

    /// Sends `signal` to the container's init (or to every process with `all`).
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), RuntimeError> {
        let signal = Signal::try_from(signal).map_err(|e| lc_err(id, e))?;
        self.load(id)?.kill(signal, all).map_err(|e| lc_err(id, e))
    }

    /// Freezes every process of the container (cgroup freezer).
    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.load(id)?.pause().map_err(|e| lc_err(id, e))
    }

    /// Thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.load(id)?.resume().map_err(|e| lc_err(id, e))
    }

    /// Removes the container's runtime state and cgroup (killing what is left with `force`).
    /// A container the runtime does not know is already deleted.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        if !self.root.join(id).exists() {
            return Ok(());
        }
        match self.load(id) {
            Ok(mut c) => c.delete(force).map_err(|e| lc_err(id, e)),
            // A state file cut short by a crash: nothing runs from it any more.
            Err(_) => {
                std::fs::remove_dir_all(self.root.join(id)).map_err(|source| RuntimeError::Bundle {
                    path: self.root.join(id),
                    source,
                })
            }
        }
    }

    /// libcontainer's builder with berth's executor, state root and the given stdio.
    fn builder(&self, id: &str, stdio: Stdio) -> Result<ContainerBuilder, RuntimeError> {
        let mut builder = ContainerBuilder::new(id.to_string(), SyscallType::Linux)
            .with_executor(executor::OrderedEnvExecutor)
            .with_root_path(&self.root)
            .map_err(|e| lc_err(id, e))?
            .with_console_socket(stdio.console_socket.as_ref());
        if let Some(fd) = stdio.stdin {
            builder = builder.with_stdin(fd);
        }
        if let Some(fd) = stdio.stdout {
            builder = builder.with_stdout(fd);
        }
        if let Some(fd) = stdio.stderr {
            builder = builder.with_stderr(fd);
        }
        Ok(builder)
    }

    /// A container in a user namespace of its own is joined in that namespace: libcontainer's
    /// tenant enters the container's other namespaces but not this one, so this process (the
    /// exec's shim, single-threaded) enters it first. Its processes then get the container's
    /// ids, and the namespaces it joins next are owned by it.
    fn enter_user_namespace(&self, id: &str) -> Result<(), RuntimeError> {
        use std::os::unix::fs::MetadataExt;
        let container = self.load(id)?;
        let pid = container
            .pid()
            .ok_or_else(|| lc_err(id, "no init pid to exec in"))?;
        let theirs = PathBuf::from(format!("/proc/{}/ns/user", pid.as_raw()));
        let ino = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
        let ours = ino(Path::new("/proc/self/ns/user"));
        let same = match (ino(&theirs), ours) {
            (Ok(a), Ok(b)) => a == b,
            (Err(e), _) | (_, Err(e)) => {
                return Err(lc_err(id, format!("read {}: {e}", theirs.display())))
            }
        };
        if same {
            return Ok(());
        }
        let file = std::fs::File::open(&theirs)
            .map_err(|e| lc_err(id, format!("open {}: {e}", theirs.display())))?;
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| {
            lc_err(
                id,
                format!("enter user namespace {}: {e}", theirs.display()),
            )
        })
    }

    fn load(&self, id: &str) -> Result<Container, RuntimeError> {
        Container::load(self.root.join(id)).map_err(|e| lc_err(id, e))
    }
}
