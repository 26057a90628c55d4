//! Logging drivers on the daemon's side: `HostConfig.LogConfig` resolved and validated at
//! create, what the shim is told, and reading the `json-file` / `local` log (rotated files
//! included) for `GET /containers/{id}/logs`: `tail`, `since`, `until`, `timestamps`, and
//! `follow` until the container stops, across rotations.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_api::stream::{frame, StdStream};
use berth_api::ApiError;
use berth_shim::{LogConfig, LogInfo};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::record::Record;
use super::Container;
use crate::{Config, Daemon};

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

/// A container's log config as the daemon keeps it in `HostConfig.LogConfig`.
fn log_config(record: &Record) -> (String, BTreeMap<String, String>) {
    let lc = &record.host_config["LogConfig"];
    let driver = lc["Type"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or("json-file")
        .to_string();
    let opts = lc["Config"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    (driver, opts)
}

/// Fills `HostConfig.LogConfig` as dockerd does at create, then validates it: the daemon's
/// driver when none is named, the daemon's options under the container's when the driver is
/// the daemon's.
pub(crate) fn resolve_log_config(
    config: &Config,
    hc: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let lc = hc.get("LogConfig").cloned().unwrap_or(Value::Null);
    let driver = lc["Type"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or(&config.log_driver)
        .to_string();
    let mut opts = BTreeMap::new();
    for (k, v) in lc["Config"].as_object().into_iter().flatten() {
        let v = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        opts.insert(k.clone(), v);
    }
    if driver == config.log_driver {
        for (k, v) in &config.log_opts {
            opts.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    berth_shim::log::validate(&driver, &opts).map_err(ApiError::invalid)?;
    hc.insert("LogConfig".into(), json!({"Type": driver, "Config": opts}));
    Ok(())
}

impl Daemon {
    /// `LogPath` in inspect, as dockerd: the json-file driver's file once the container
    /// has started; empty for other drivers (the `local` driver's file is not an API).
    pub fn inspect_log_path(&self, record: &Record) -> String {
        let path = self.log_path(&record.id);
        if log_config(record).0 == "json-file" && path.exists() {
            path.to_string_lossy().into_owned()
        } else {
            String::new()
        }
    }

    /// The file `logs` reads, for the drivers that keep one.
    pub fn log_file(&self, record: &Record) -> Option<PathBuf> {
        match log_config(record).0.as_str() {
            "json-file" => Some(self.log_path(&record.id)),
            "local" => Some(
                self.container_dir(&record.id)
                    .join("local-logs")
                    .join("container.log"),
            ),
            _ => None,
        }
    }

    /// What the shim is told about the container's logging.
    pub(crate) fn shim_log_config(&self, record: &Record) -> LogConfig {
        let (driver, opts) = log_config(record);
        let command = std::iter::once(record.path.as_str())
            .chain(record.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        LogConfig {
            path: self.log_file(record),
            driver,
            opts,
            info: LogInfo {
                id: record.id.clone(),
                name: record.name.clone(),
                image_id: record.image_id.clone(),
                image_name: record.image_name.clone(),
                command,
                created: record.created.clone(),
            },
        }
    }

    /// Bytes of a container's log files, rotated ones included (for `system df`).
    pub fn log_bytes(&self, record: &Record) -> u64 {
        self.log_file(record)
            .map(|p| {
                log_files(&p)
                    .iter()
                    .filter_map(|f| std::fs::metadata(f).ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// A log's files, oldest first: `<path>.N[.gz]` ... `<path>.1[.gz]`, `<path>`.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = Vec::new();
    let (Some(dir), Some(base)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return vec![path.to_path_buf()];
    };
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(base))
            .and_then(|n| n.strip_prefix('.'))
        else {
            continue;
        };
        if let Ok(n) = rest.strip_suffix(".gz").unwrap_or(rest).parse::<u32>() {
            rotated.push((n, entry.path()));
        }
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    files.push(path.to_path_buf());
    files
}

/// Complete lines of a log file, to `each` until it says stop (then `None`); the bytes read.
fn read_lines(reader: impl Read, mut each: impl FnMut(String) -> bool) -> Option<u64> {
    let mut reader = BufReader::new(reader);
    let mut offset = 0u64;
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
        offset += line.len() as u64;
        if !each(std::mem::take(&mut line)) {
            return None;
        }
    }
    Some(offset)
}

fn send_line(opts: &LogOptions, tx: &mpsc::Sender<Bytes>, line: &str) -> bool {
    match serde_json::from_str::<Entry>(line) {
        Ok(e) => match render(opts, &e) {
            Some(b) => tx.blocking_send(b).is_ok(),
            None => true,
        },
        Err(_) => true,
    }
}

fn inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Streams the log into `tx` (blocking reads run on a blocking thread): the rotated files,
/// oldest first, then the current one, which `follow` keeps reading, from one file to the
/// next when the shim rotates it.
pub fn stream(path: PathBuf, c: Arc<Container>, opts: LogOptions, tx: mpsc::Sender<Bytes>) {
    // Opened before the response goes out, and kept for the whole follow: a container removed
    // right after it exits (docker-py's `run(remove=True)` reads the stream only after `rm`)
    // keeps its log readable through these handles.
    let files: Vec<(PathBuf, std::fs::File)> = log_files(&path)
        .into_iter()
        .filter_map(|p| std::fs::File::open(&p).ok().map(|f| (p, f)))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut files = files;
        let current = match files.last() {
            Some((p, _)) if *p == path => files.pop().map(|(_, f)| f),
            _ => None,
        };
        let mut tail: VecDeque<String> = VecDeque::new();
        // Older files first; with `tail`, only the last lines are kept before sending.
        let mut each = |line: String| -> bool {
            match opts.tail {
                Some(0) => true,
                Some(n) => {
                    if tail.len() == n {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                    true
                }
                None => send_line(&opts, &tx, &line),
            }
        };
        for (p, f) in files {
            let more = if p.extension().is_some_and(|e| e == "gz") {
                read_lines(flate2::read::GzDecoder::new(f), &mut each)
            } else {
                read_lines(f, &mut each)
            };
            if more.is_none() {
                return;
            }
        }
        let mut file = current;
        let mut offset = match file.as_mut().map(|f| read_lines(f, &mut each)) {
            Some(None) => return,
            Some(Some(n)) => n,
            None => 0,
        };
        for line in tail.drain(..) {
            if !send_line(&opts, &tx, &line) {
                return;
            }
        }
        let Some(mut file) = file else {
            return;
        };
        if !opts.follow {
            return;
        }
        let mut inode_now = file.metadata().ok().map(|m| m.ino());
        let exits = c.exit.borrow().exits;
        let running = c.exit.borrow().running;
        let mut stopped_checks = 0;
        loop {
            // A rotation is seen before the old file is drained: the shim writes nothing to
            // a file once it has renamed it, so what is read after this check is complete.
            let rotated = inode(&path).is_some_and(|i| Some(i) != inode_now);
            if file.seek(SeekFrom::Start(offset)).is_err() {
                return;
            }
            let mut reader = BufReader::new(&mut file);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
                offset += line.len() as u64;
                if !send_line(&opts, &tx, &line) {
                    return;
                }
                line.clear();
            }
            if rotated {
                if let Ok(next) = std::fs::File::open(&path) {
                    inode_now = next.metadata().ok().map(|m| m.ino());
                    file = next;
                    offset = 0;
                    continue;
                }
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
    fn rotated_files_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        for name in [
            "c-json.log",
            "c-json.log.1.gz",
            "c-json.log.2.gz",
            "c-json.log.10",
            "other",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let names: Vec<String> = log_files(&path)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "c-json.log.10",
                "c-json.log.2.gz",
                "c-json.log.1.gz",
                "c-json.log"
            ]
        );
    }

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
