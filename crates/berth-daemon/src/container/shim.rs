//! The daemon's side of a shim: launch `berth shim`, connect to its socket, relay frames.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use berth_api::ApiError;
use berth_shim::protocol::Frame;
use berth_shim::{Ready, ShimConfig};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc};

use super::Output;

/// Docker's wording for a process that could not be started; the CLI keys its exit codes
/// (126/127) on the words after it.
pub fn start_error(message: &str) -> String {
    format!(
        "failed to create task for container: failed to create shim task: OCI runtime create failed: unable to start container process: {message}: unknown"
    )
}

/// Writes the shim's config and runs it; returns its ready line.
pub async fn launch(exe: &Path, config: &ShimConfig, dir: &Path) -> Result<Ready, ApiError> {
    let sys = |e: std::io::Error| ApiError::system(format!("shim for {}: {e}", config.id));
    let path = dir.join(format!(
        "{}.json",
        config
            .socket
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("shim")
    ));
    let body = serde_json::to_vec(config).map_err(|e| ApiError::system(e.to_string()))?;
    tokio::fs::write(&path, body).await.map_err(sys)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("shim.log"))
        .map_err(sys)?;
    let mut child = tokio::process::Command::new(exe)
        .arg("shim")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(sys)?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| sys(std::io::ErrorKind::BrokenPipe.into()))?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .map_err(sys)?;
    let _ = child.wait().await;
    serde_json::from_str(&line).map_err(|_| {
        ApiError::system(format!(
            "shim for {} failed to start (see {})",
            config.id,
            dir.join("shim.log").display()
        ))
    })
}

/// Events of one shim connection that its owner reacts to.
pub enum ShimEvent {
    Started(i32),
    Error(i32, String),
    /// The process exited (`Some(code)`), or the connection ended without saying (`None`).
    Exited(Option<i32>),
}

/// A live connection: frames go out through `tx`; output goes to `hub`; the rest to `events`.
pub struct Link {
    pub tx: mpsc::UnboundedSender<Frame>,
    pub events: mpsc::UnboundedReceiver<ShimEvent>,
}

pub async fn connect(socket: &Path, hub: broadcast::Sender<Output>) -> std::io::Result<Link> {
    let stream = UnixStream::connect(socket).await?;
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Frame>();
    let (etx, events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if wr.write_all(&frame.encode()).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut exited = None;
        'read: loop {
            loop {
                match Frame::decode(&mut buf) {
                    Ok(Some(Frame::Stdout(d))) => {
                        let _ = hub.send(Output {
                            stream: 1,
                            data: Bytes::from(d),
                        });
                    }
                    Ok(Some(Frame::Stderr(d))) => {
                        let _ = hub.send(Output {
                            stream: 2,
                            data: Bytes::from(d),
                        });
                    }
                    Ok(Some(Frame::Started(pid))) => {
                        let _ = etx.send(ShimEvent::Started(pid));
                    }
                    Ok(Some(Frame::Error(code, msg))) => {
                        let _ = etx.send(ShimEvent::Error(code, msg));
                    }
                    Ok(Some(Frame::Exited(code))) => {
                        exited = Some(code);
                        break 'read;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'read,
                }
            }
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = etx.send(ShimEvent::Exited(exited));
    });
    Ok(Link { tx, events })
}

/// Reads the exit code a shim recorded, if it did.
pub fn read_exit_file(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Waits for the first Started/Error of a fresh link; the rest of the events stay in it.
pub async fn await_start(link: &mut Link) -> Result<i32, (i32, String)> {
    match link.events.recv().await {
        Some(ShimEvent::Started(pid)) => Ok(pid),
        Some(ShimEvent::Error(code, msg)) => Err((code, msg)),
        Some(ShimEvent::Exited(_)) | None => Err((125, "shim exited before starting".into())),
    }
}

pub fn state_dir(exec_root: &Path, id: &str) -> PathBuf {
    exec_root.join("containers").join(id)
}
