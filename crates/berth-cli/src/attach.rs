//! Hijacked attach/exec streams: stdin forwarding with detach keys, stdout/stderr
//! demultiplexing, raw terminal mode and window-size propagation.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::{query, Client};

pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Puts the local terminal in raw mode until dropped.
pub struct RawTerm {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawTerm {
    pub fn enable() -> RawTerm {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return RawTerm { saved: None };
        }
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawTerm { saved: None };
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        // Keep output post-processing so "\n" from a non-tty stream still returns the carriage.
        raw.output_flags |= nix::sys::termios::OutputFlags::OPOST;
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawTerm { saved: Some(saved) }
    }
}

impl Drop for RawTerm {
    fn drop(&mut self) {
        if let Some(s) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                s,
            );
        }
    }
}

/// Rows and columns of the local terminal.
pub fn term_size() -> Option<(u16, u16)> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    for fd in [libc::STDOUT_FILENO, libc::STDIN_FILENO] {
        // SAFETY: TIOCGWINSZ writes a winsize into the pointer we own.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

/// Sends the terminal size now and on every SIGWINCH; `base` is
/// "/containers/{id}" or "/exec/{id}".
pub async fn resize_loop(client: Arc<Client>, base: String) {
    let send = |c: Arc<Client>, base: String| async move {
        if let Some((h, w)) = term_size() {
            let path = query(
                &format!("{base}/resize"),
                &[("h", h.to_string()), ("w", w.to_string())],
            );
            let _ = c.post(&path, None).await;
        }
    };
    send(client.clone(), base.clone()).await;
    let Ok(mut sig) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
    else {
        return;
    };
    while sig.recv().await.is_some() {
        send(client.clone(), base.clone()).await;
    }
}

/// Parses docker's detach-keys syntax ("ctrl-p,ctrl-q", "a,ctrl-[").
pub fn parse_keys(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for k in s.split(',') {
        let k = k.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b @ b'a'..=b'z'] => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => anyhow::bail!("Unknown character: '{k}'"),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            anyhow::bail!("Unknown character: '{k}'");
        }
    }
    Ok(out)
}

/// Copies stdin to the connection until EOF or the detach sequence; returns
/// true when the user detached (the keys are forwarded so the daemon detaches too).
async fn pump_stdin<W: AsyncWrite + Unpin>(mut w: W, keys: Vec<u8>) -> bool {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 32 * 1024];
    let mut matched = 0usize;
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for (i, &b) in buf[..n].iter().enumerate() {
            if keys.is_empty() {
                break;
            }
            if b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    let _ = w.write_all(&buf[..=i]).await;
                    let _ = w.flush().await;
                    return true;
                }
            } else {
                matched = usize::from(b == keys[0]);
            }
        }
        if w.write_all(&buf[..n]).await.is_err() {
            return false;
        }
        let _ = w.flush().await;
    }
    // Half-close so the container sees EOF on its stdin.
    let _ = w.shutdown().await;
    false
}

/// Splits docker's multiplexed stream (8-byte headers) to stdout and stderr.
pub async fn demux<R: AsyncRead + Unpin>(mut r: R) -> Result<()> {
    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();
    let mut hdr = [0u8; 8];
    loop {
        match r.read_exact(&mut hdr).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as usize;
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload).await?;
        if hdr[0] == 2 {
            err.write_all(&payload).await?;
            err.flush().await?;
        } else {
            out.write_all(&payload).await?;
            out.flush().await?;
        }
    }
}

/// Copies a raw (tty) stream to stdout.
pub async fn raw_copy<R: AsyncRead + Unpin>(mut r: R) -> Result<()> {
    let mut out = tokio::io::stdout();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        out.write_all(&buf[..n]).await?;
        out.flush().await?;
    }
}

/// Runs a hijacked session until the output ends or the user detaches.
/// Returns true when the user detached.
pub async fn session<S>(io: S, tty: bool, stdin: bool, keys: &str) -> Result<bool>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let keys = parse_keys(keys)?;
    let (r, w) = tokio::io::split(io);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let input = if stdin {
        Some(tokio::spawn(async move {
            if pump_stdin(w, keys).await {
                let _ = tx.send(());
            }
        }))
    } else {
        drop(w);
        drop(tx);
        None
    };
    let detach = async move {
        if rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let output = async move {
        if tty {
            raw_copy(r).await
        } else {
            demux(r).await
        }
    };
    let res = tokio::select! {
        res = output => res.map(|_| false),
        _ = detach => Ok(true),
    };
    if let Some(h) = input {
        h.abort();
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_keys("a,ctrl-[").unwrap(), vec![b'a', 27]);
        assert!(parse_keys("ctrl-1").is_err());
        assert!(parse_keys("abc").is_err());
    }
}
