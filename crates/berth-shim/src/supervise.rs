//! The shim's life: create, wait for Start, run, relay I/O, reap, record the exit.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use berth_runtime::{Runtime, Stdio};

use crate::config::{LogConfig, Ready, ShimConfig};
use crate::log::Log;
use crate::protocol::Frame;
use crate::report;

/// How long a created container waits for its Start.
const START_TIMEOUT_MS: i32 = 60_000;

struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
}

/// The process's stdio as the shim holds it.
struct Io {
    /// stdout (or the PTY master) and stderr, `None` once at EOF.
    out: [Option<OwnedFd>; 2],
    /// Where stdin goes (a pipe, or the PTY master).
    stdin: Option<OwnedFd>,
    stdin_pending: Vec<u8>,
    stdin_close: bool,
    tty: bool,
}

struct Shim {
    config: ShimConfig,
    runtime: Runtime,
    listener: UnixListener,
    clients: Vec<Client>,
    io: Io,
    log: Option<Log>,
    pid: Option<i32>,
    pidfd: Option<OwnedFd>,
    ever_connected: bool,
    /// The terminal size last asked for (applied as soon as the PTY exists).
    winsize: Option<(u16, u16)>,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own; only flags change.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created for us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> usize {
    // SAFETY: `fds` is a valid, exclusively borrowed slice of pollfd for the whole call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    n.max(0) as usize
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: reading into a valid mutable buffer of the given length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn write_fd(fd: RawFd, buf: &[u8]) -> std::io::Result<usize> {
    // SAFETY: writing from a valid buffer of the given length.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn set_winsize(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

fn write_exit_file(path: &Path, code: i32, durable: bool) {
    let tmp = path.with_extension("tmp");
    if let Ok(mut f) = std::fs::File::create(&tmp) {
        let _ = f.write_all(code.to_string().as_bytes());
        if durable {
            let _ = f.sync_all();
        }
        let _ = std::fs::rename(&tmp, path);
    }
}

fn fail(config: &ShimConfig, message: String, code: i32) -> i32 {
    report(&Ready {
        error: Some(message),
        exit_code: code,
        ..Default::default()
    });
    let _ = std::fs::remove_file(&config.socket);
    1
}

pub fn run(config: ShimConfig) -> i32 {
    let _ = std::fs::remove_file(&config.socket);
    let listener = match UnixListener::bind(&config.socket) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("shim socket {}: {e}", config.socket.display());
            return fail(&config, msg, 125);
        }
    };
    let cwd = config.exec.as_ref().map(|p| p.cwd.as_str()).unwrap_or("/");
    if let Err((msg, code)) = crate::exe::check(
        &config.rootfs,
        &config.mounts,
        &config.args,
        &config.env,
        cwd,
    ) {
        return fail(&config, msg, code);
    }
    // A config without `log` (an older daemon's) asks for an unrotated json-file.
    let log_config = config.log.clone().or_else(|| {
        config.log_path.as_ref().map(|path| LogConfig {
            driver: "json-file".into(),
            opts: [("max-size".to_string(), "-1".to_string())].into(),
            path: Some(path.clone()),
            ..Default::default()
        })
    });
    let log = match log_config.as_ref().map(Log::open) {
        Some(Ok(l)) => l,
        Some(Err(e)) => return fail(&config, e, 125),
        None => None,
    };
    let mut shim = Shim {
        runtime: Runtime::new(&config.runtime_root),
        listener,
        clients: Vec::new(),
        io: Io {
            out: [None, None],
            stdin: None,
            stdin_pending: Vec::new(),
            stdin_close: false,
            tty: config.tty,
        },
        log,
        pid: None,
        pidfd: None,
        ever_connected: false,
        winsize: None,
        config,
    };
    if shim.config.bundle.is_some() {
        match shim.launch() {
            Ok(pid) => report(&Ready {
                pid: Some(pid),
                ..Default::default()
            }),
            Err(msg) => return fail(&shim.config, msg, 125),
        }
    } else {
        report(&Ready::default());
    }
    shim.serve()
}

impl Shim {
    /// Makes the process (init: created, waiting for Start; exec: running).
    fn launch(&mut self) -> Result<i32, String> {
        let mut stdio = Stdio::default();
        let console = if self.config.tty {
            let path = self.config.socket.with_extension("console");
            let _ = std::fs::remove_file(&path);
            let l = UnixListener::bind(&path).map_err(|e| format!("console socket: {e}"))?;
            stdio.console_socket = Some(path);
            Some(l)
        } else {
            let (r, w) = pipe().map_err(|e| format!("stdout pipe: {e}"))?;
            self.io.out[0] = Some(r);
            stdio.stdout = Some(w);
            let (r, w) = pipe().map_err(|e| format!("stderr pipe: {e}"))?;
            self.io.out[1] = Some(r);
            stdio.stderr = Some(w);
            if self.config.stdin {
                let (r, w) = pipe().map_err(|e| format!("stdin pipe: {e}"))?;
                self.io.stdin = Some(w);
                stdio.stdin = Some(r);
            }
            None
        };
        let result = match (&self.config.bundle, &self.config.exec) {
            (Some(bundle), _) => self.runtime.create(&self.config.id, bundle, stdio),
            (None, Some(process)) => self.runtime.exec(&self.config.id, process, stdio),
            (None, None) => return Err("shim config has neither bundle nor exec".into()),
        };
        let console_path = self.config.socket.with_extension("console");
        let pid = match result {
            Ok(pid) => pid,
            Err(e) => {
                let _ = std::fs::remove_file(&console_path);
                return Err(e.to_string());
            }
        };
        if let Some(listener) = console {
            let master = crate::console::receive_master(&listener, Duration::from_secs(10));
            let _ = std::fs::remove_file(&console_path);
            let master = master.map_err(|e| format!("terminal of {}: {e}", self.config.id))?;
            if let Some((rows, cols)) = self.winsize {
                set_winsize(master.as_raw_fd(), rows, cols);
            }
            let dup = master.try_clone().map_err(|e| e.to_string())?;
            self.io.out[0] = Some(master);
            self.io.stdin = Some(dup);
        }
        for fd in self.io.out.iter().flatten() {
            set_nonblocking(fd.as_raw_fd());
        }
        if let Some(fd) = &self.io.stdin {
            set_nonblocking(fd.as_raw_fd());
        }
        self.pid = Some(pid);
        Ok(pid)
    }

    fn start(&mut self) -> Result<i32, String> {
        if self.pid.is_some() && self.pidfd.is_some() {
            return self.pid.ok_or_else(String::new);
        }
        let pid = if self.config.bundle.is_some() {
            self.runtime
                .start(&self.config.id)
                .map_err(|e| e.to_string())?;
            self.pid.ok_or("init has no pid")?
        } else {
            self.launch()?
        };
        self.pidfd = Some(pidfd_open(pid).map_err(|e| format!("pidfd of {pid}: {e}"))?);
        Ok(pid)
    }

    fn broadcast(&mut self, frame: &Frame) {
        let bytes = frame.encode();
        self.clients
            .retain_mut(|c| c.stream.write_all(&bytes).is_ok());
    }

    fn serve(&mut self) -> i32 {
        let _ = self.listener.set_nonblocking(true);
        loop {
            let mut fds = vec![pollfd(self.listener.as_raw_fd(), libc::POLLIN)];
            let pidfd_index = fds.len();
            fds.push(pollfd(
                self.pidfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
                libc::POLLIN,
            ));
            // Output is read only once the process runs, so nothing is lost before Start.
            let running = self.pidfd.is_some();
            let out_index = fds.len();
            for fd in &self.io.out {
                let raw = fd
                    .as_ref()
                    .filter(|_| running)
                    .map_or(-1, |f| f.as_raw_fd());
                fds.push(pollfd(raw, libc::POLLIN));
            }
            let stdin_index = fds.len();
            let stdin_raw = match &self.io.stdin {
                Some(fd) if !self.io.stdin_pending.is_empty() => fd.as_raw_fd(),
                _ => -1,
            };
            fds.push(pollfd(stdin_raw, libc::POLLOUT));
            let clients_index = fds.len();
            for c in &self.clients {
                fds.push(pollfd(c.stream.as_raw_fd(), libc::POLLIN));
            }
            // Before Start, a daemon that never comes (it died after launching us) must not
            // leave a created container behind: give up after a while.
            let timeout = if self.pidfd.is_none() {
                START_TIMEOUT_MS
            } else {
                -1
            };
            if poll(&mut fds, timeout) == 0 && self.pidfd.is_none() {
                return self.abort();
            }

            if fds[0].revents != 0 {
                self.accept();
            }
            for stream in 0..2 {
                if fds[out_index + stream].revents != 0 {
                    self.read_output(stream);
                }
            }
            if fds[stdin_index].revents != 0 {
                self.flush_stdin();
            }
            let mut gone = Vec::new();
            for i in 0..fds.len() - clients_index {
                if fds[clients_index + i].revents != 0 && !self.read_client(i) {
                    gone.push(i);
                }
            }
            for i in gone.into_iter().rev() {
                self.clients.remove(i);
            }
            if self.pidfd.is_none() && self.ever_connected && self.clients.is_empty() {
                // The daemon went away before starting us: nothing may be left behind.
                return self.abort();
            }
            if fds[pidfd_index].revents != 0 {
                return self.exit();
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
            let mut client = Client {
                stream,
                buf: Vec::new(),
            };
            if let (Some(pid), Some(_)) = (self.pid, &self.pidfd) {
                let _ = client.stream.write_all(&Frame::Started(pid).encode());
            }
            self.clients.push(client);
            self.ever_connected = true;
        }
    }

    /// Reads from client `i`; false when it is gone.
    fn read_client(&mut self, i: usize) -> bool {
        let mut chunk = [0u8; 32 * 1024];
        let _ = self.clients[i].stream.set_nonblocking(true);
        let n = self.clients[i].stream.read(&mut chunk);
        let _ = self.clients[i].stream.set_nonblocking(false);
        let n = match n {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        };
        self.clients[i].buf.extend_from_slice(&chunk[..n]);
        loop {
            let frame = match Frame::decode(&mut self.clients[i].buf) {
                Ok(Some(f)) => f,
                Ok(None) => return true,
                Err(_) => return false,
            };
            self.handle(i, frame);
        }
    }

    fn handle(&mut self, client: usize, frame: Frame) {
        match frame {
            Frame::Start => match self.start() {
                Ok(pid) => self.broadcast(&Frame::Started(pid)),
                Err(msg) => {
                    let bytes = Frame::Error(125, msg).encode();
                    let _ = self.clients[client].stream.write_all(&bytes);
                }
            },
            Frame::Stdin(data) if self.io.stdin.is_some() => {
                self.io.stdin_pending.extend_from_slice(&data);
                self.flush_stdin();
            }
            Frame::CloseStdin => {
                self.io.stdin_close = true;
                self.flush_stdin();
            }
            Frame::Resize(rows, cols) => {
                self.winsize = Some((rows, cols));
                if let (true, Some(fd)) = (self.io.tty, &self.io.out[0]) {
                    set_winsize(fd.as_raw_fd(), rows, cols);
                }
            }
            Frame::Signal(sig) => {
                if let Some(pid) = self.pid {
                    // SAFETY: kill(2) with a pid we made and reap ourselves, so it cannot
                    // have been reused while we have not waited for it.
                    unsafe { libc::kill(pid, sig) };
                }
            }
            _ => {}
        }
    }

    fn flush_stdin(&mut self) {
        if let Some(fd) = &self.io.stdin {
            while !self.io.stdin_pending.is_empty() {
                match write_fd(fd.as_raw_fd(), &self.io.stdin_pending) {
                    Ok(n) => {
                        self.io.stdin_pending.drain(..n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                    Err(_) => {
                        self.io.stdin_pending.clear();
                        break;
                    }
                }
            }
        }
        if self.io.stdin_close && self.io.stdin_pending.is_empty() && !self.io.tty {
            self.io.stdin = None;
        }
    }

    /// Reads what stream 0/1 has; false at EOF.
    fn read_output(&mut self, stream: usize) -> bool {
        let Some(fd) = &self.io.out[stream] else {
            return false;
        };
        let mut buf = [0u8; 32 * 1024];
        match read_fd(fd.as_raw_fd(), &mut buf) {
            Ok(0) => {
                self.io.out[stream] = None;
                false
            }
            Ok(n) => {
                let data = &buf[..n];
                if let Some(log) = &mut self.log {
                    log.write(stream, data);
                }
                let frame = if stream == 0 {
                    Frame::Stdout(data.to_vec())
                } else {
                    Frame::Stderr(data.to_vec())
                };
                self.broadcast(&frame);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            Err(_) => {
                // EIO on a PTY master: every slave end is closed.
                self.io.out[stream] = None;
                false
            }
        }
    }

    /// The process exited: drain its output, record the code, tell the clients, clean up.
    fn exit(&mut self) -> i32 {
        let pid = self.pid.unwrap_or(-1);
        let code = match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => code,
            Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
            _ => 255,
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.io.out.iter().any(Option::is_some) && Instant::now() < deadline {
            let mut fds: Vec<libc::pollfd> = self
                .io
                .out
                .iter()
                .map(|fd| pollfd(fd.as_ref().map_or(-1, |f| f.as_raw_fd()), libc::POLLIN))
                .collect();
            if poll(&mut fds, 100) == 0 {
                break;
            }
            for (stream, fd) in fds.iter().enumerate() {
                if fd.revents != 0 {
                    self.read_output(stream);
                }
            }
        }
        if let Some(log) = &mut self.log {
            log.flush();
        }
        // Everything that touches paths a new start of the same container reuses (runtime
        // state, socket, exit file) is done before the clients hear of the exit: after that
        // the daemon may start the container again at once. Only a container's exit code
        // must survive a machine crash (fsync); an exec's is only for a restarted daemon.
        if self.config.bundle.is_some() {
            let _ = self.runtime.delete(&self.config.id, true);
        }
        let _ = std::fs::remove_file(&self.config.socket);
        write_exit_file(&self.config.exit_file, code, self.config.bundle.is_some());
        self.broadcast(&Frame::Exited(code));
        0
    }

    fn abort(&mut self) -> i32 {
        if self.config.bundle.is_some() {
            let _ = self.runtime.delete(&self.config.id, true);
        }
        if let Some(pid) = self.pid {
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
        let _ = std::fs::remove_file(&self.config.socket);
        1
    }
}
