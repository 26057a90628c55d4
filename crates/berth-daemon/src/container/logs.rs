//! Reading the json-file log for `GET /containers/{id}/logs`: `tail`, `since`, `until`,
//! `timestamps`, and `follow` until the container stops.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_api::stream::{frame, StdStream};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::Container;

#[derive(Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// Number of last lines, or all.
    pub tail: Option<usize>,
    /// Unix time bounds in nanoseconds.
    pub since: Option<i128>,
    pub until: Option<i128>,
    pub multiplex: bool,
}

/// Docker's time arguments: unix seconds (with fraction), RFC 3339, or a duration (`10m`).
pub fn parse_time(s: &str) -> Option<i128> {
    if s.is_empty() {
        return None;
    }
    if let Ok(f) = s.parse::<f64>() {
        return Some((f * 1e9) as i128);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt().map(i128::from);
    }
    let unit_len = s
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
        .len();
    let (num, unit) = s.split_at(s.len() - unit_len);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "ms" => n / 1000.0,
        _ => return None,
    };
    let now = chrono::Utc::now().timestamp_nanos_opt()? as i128;
    Some(now - (secs * 1e9) as i128)
}

fn entry_nanos(time: &str) -> i128 {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0) as i128
}

fn render(opts: &LogOptions, e: &Entry) -> Option<Bytes> {
    let (wanted, stream) = match e.stream.as_str() {
        "stderr" => (opts.stderr, StdStream::Stderr),
        _ => (opts.stdout, StdStream::Stdout),
    };
    if !wanted {
        return None;
    }
    let t = entry_nanos(&e.time);
    if opts.since.is_some_and(|s| t < s) || opts.until.is_some_and(|u| t > u) {
        return None;
    }
    let line = if opts.timestamps {
        format!("{} {}", e.time, e.log)
    } else {
        e.log.clone()
    };
    Some(if opts.multiplex {
        Bytes::from(frame(stream, line.as_bytes()))
    } else {
        Bytes::from(line)
    })
}

/// Streams the log into `tx` (blocking reads run on a blocking thread).
pub fn stream(path: PathBuf, c: Arc<Container>, opts: LogOptions, tx: mpsc::Sender<Bytes>) {
    // Opened before the response goes out, and kept for the whole follow: a container removed
    // right after it exits (docker-py's `run(remove=True)` reads the stream only after `rm`)
    // keeps its log readable through this handle.
    let file = std::fs::File::open(&path);
    tokio::task::spawn_blocking(move || {
        let Ok(file) = file else {
            return;
        };
        let mut reader = BufReader::new(file);
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.ends_with('\n') {
                lines.push(std::mem::take(&mut line));
            } else {
                break;
            }
        }
        let mut offset: u64 = lines.iter().map(|l| l.len() as u64).sum();
        let skip = match opts.tail {
            Some(n) => lines.len().saturating_sub(n),
            None => 0,
        };
        for l in &lines[skip..] {
            if let Ok(e) = serde_json::from_str::<Entry>(l) {
                if let Some(b) = render(&opts, &e) {
                    if tx.blocking_send(b).is_err() {
                        return;
                    }
                }
            }
        }
        if !opts.follow {
            return;
        }
        let mut file = reader.into_inner();
        let exits = c.exit.borrow().exits;
        let running = c.exit.borrow().running;
        let mut stopped_checks = 0;
        loop {
            if file.seek(SeekFrom::Start(offset)).is_err() {
                return;
            }
            let mut reader = BufReader::new(&mut file);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
                offset += line.len() as u64;
                if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                    if let Some(b) = render(&opts, &e) {
                        if tx.blocking_send(b).is_err() {
                            return;
                        }
                    }
                }
                line.clear();
            }
            if opts
                .until
                .is_some_and(|u| u < chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as i128)
            {
                return;
            }
            let state = *c.exit.borrow();
            if !state.running || state.exits > exits || state.removed || !running {
                // One more pass after the exit so that the last lines are sent.
                stopped_checks += 1;
                if stopped_checks > 1 {
                    return;
                }
            }
            if tx.is_closed() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1.5"), Some(1_500_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:02Z"), Some(2_000_000_000));
        let ten_min = parse_time("10m").unwrap();
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap() as i128;
        assert!((now - ten_min - 600_000_000_000).abs() < 5_000_000_000);
        assert_eq!(parse_time("xyz"), None);
    }
}
