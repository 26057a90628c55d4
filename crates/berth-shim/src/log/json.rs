//! The `json-file` log, as Docker writes it: one JSON object per line of output,
//! `{"log":"line\n","stream":"stdout","time":"2026-12-01T00:00:00.000000000Z"}`.
//! berth's `local` driver writes the same records (Docker's is protobuf; only berth reads it).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::rotate::{FileSettings, RotatingFile};
use super::{format_time, Driver};

#[derive(Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: String,
}

pub struct JsonFile {
    file: RotatingFile,
}

impl JsonFile {
    pub fn open(path: &Path, settings: FileSettings) -> std::io::Result<JsonFile> {
        Ok(JsonFile {
            file: RotatingFile::open(path, settings)?,
        })
    }
}

/// One record with its newline.
pub(crate) fn record(stream: usize, line: &[u8], time: DateTime<Utc>) -> Vec<u8> {
    let entry = Entry {
        log: &String::from_utf8_lossy(line),
        stream: if stream == 0 { "stdout" } else { "stderr" },
        time: format_time(time),
    };
    let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

impl Driver for JsonFile {
    fn line(&mut self, stream: usize, line: &[u8], time: DateTime<Utc>) {
        // A full disk must not stop the container: the entry is dropped.
        let _ = self.file.write(&record(stream, line, time));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let settings = FileSettings {
            max_size: None,
            max_file: 1,
            compress: false,
        };
        let mut log = JsonFile::open(&path, settings).unwrap();
        log.line(0, b"a\n", Utc::now());
        log.line(1, b"err\n", Utc::now());
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["log"], "a\n");
        assert_eq!(lines[0]["stream"], "stdout");
        assert_eq!(lines[1]["stream"], "stderr");
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    }
}
