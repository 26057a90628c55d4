//! Attaching to a container's or exec's streams: output from its hub (multiplexed when there
//! is no TTY), stdin to its shim, detach keys (default Ctrl-P Ctrl-Q).

use berth_api::stream::{frame, StdStream};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{broadcast, watch};

use super::{ExitState, Output};

/// Parses docker's `--detach-keys` (`ctrl-p,ctrl-q`, `a`, `ctrl-@`...).
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, String> {
    let mut keys = Vec::new();
    for key in s.split(',') {
        let k = key.trim().to_ascii_lowercase();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b] if b.is_ascii_lowercase() => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(format!("Unknown character: '{key}'")),
            };
            keys.push(b);
        } else if k.len() == 1 {
            keys.push(key.as_bytes()[0]);
        } else {
            return Err(format!("Unknown character: '{key}'"));
        }
    }
    Ok(keys)
}

/// What the stdin relay saw at its end.
#[derive(Debug, PartialEq, Eq)]
pub enum StdinEnd {
    Eof,
    Detached,
}

/// Reads client stdin, forwards it with `send`, and stops at EOF or the detach sequence.
/// Bytes of a partial detach sequence are held back, and sent if the sequence breaks.
pub async fn relay_stdin<R: AsyncRead + Unpin>(
    mut input: R,
    keys: &[u8],
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> StdinEnd {
    let mut buf = vec![0u8; 32 * 1024];
    let mut matched = 0usize;
    loop {
        let n = match input.read(&mut buf).await {
            Ok(0) | Err(_) => return StdinEnd::Eof,
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            if !keys.is_empty() && b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    if !out.is_empty() {
                        send(out);
                    }
                    return StdinEnd::Detached;
                }
                continue;
            }
            if matched > 0 {
                out.extend_from_slice(&keys[..matched]);
                matched = 0;
            }
            if !keys.is_empty() && b == keys[0] {
                matched = 1;
                continue;
            }
            out.push(b);
        }
        if !out.is_empty() && !send(out) {
            return StdinEnd::Eof;
        }
    }
}

/// Which output streams a client wants, and how to frame them.
#[derive(Clone, Copy)]
pub struct Streams {
    pub stdout: bool,
    pub stderr: bool,
    pub multiplex: bool,
}

pub fn encode(streams: Streams, out: &Output) -> Option<Bytes> {
    let wanted = match out.stream {
        1 => streams.stdout,
        _ => streams.stderr,
    };
    if !wanted {
        return None;
    }
    Some(if streams.multiplex {
        let stream = if out.stream == 1 {
            StdStream::Stdout
        } else {
            StdStream::Stderr
        };
        Bytes::from(frame(stream, &out.data))
    } else {
        out.data.clone()
    })
}

/// Copies output to `w` until the process exits (then drains what is queued) or `w` fails.
pub async fn relay_output<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: broadcast::Receiver<Output>,
    mut exit: watch::Receiver<ExitState>,
    streams: Streams,
    exits_at_start: u64,
) {
    loop {
        tokio::select! {
            biased;
            msg = rx.recv() => match msg {
                Ok(out) => {
                    if let Some(b) = encode(streams, &out) {
                        if w.write_all(&b).await.is_err() { return; }
                        let _ = w.flush().await;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            changed = exit.changed() => {
                let done = { let e = exit.borrow(); e.exits > exits_at_start || e.removed };
                if changed.is_err() || done {
                    while let Ok(out) = rx.try_recv() {
                        if let Some(b) = encode(streams, &out) {
                            if w.write_all(&b).await.is_err() { return; }
                        }
                    }
                    let _ = w.flush().await;
                    let _ = w.shutdown().await;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(parse_detach_keys("ctrl-ab").is_err());
    }

    #[tokio::test]
    async fn stdin_relay_detaches_and_keeps_partial_sequences() {
        let input: &[u8] = b"ab\x10c\x10\x11zz";
        let mut sent = Vec::new();
        let end = relay_stdin(input, &[16, 17], |d| {
            sent.extend(d);
            true
        })
        .await;
        assert_eq!(end, StdinEnd::Detached);
        assert_eq!(sent, b"ab\x10c");
        let mut sent = Vec::new();
        let end = relay_stdin(&b"xy"[..], &[16, 17], |d| {
            sent.extend(d);
            true
        })
        .await;
        assert_eq!(end, StdinEnd::Eof);
        assert_eq!(sent, b"xy");
    }
}
