//! The `json-file` log, as Docker writes it: one JSON object per line of output,
//! `{"log":"line\n","stream":"stdout","time":"2026-12-01T00:00:00.000000000Z"}`.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

/// Partial lines are held until their newline, or until this many bytes are pending.
const MAX_PARTIAL: usize = 16 * 1024;

#[derive(Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: String,
}

pub struct JsonLog {
    file: File,
    pending: [Vec<u8>; 2],
}

pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl JsonLog {
    pub fn open(path: &Path) -> std::io::Result<JsonLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(JsonLog {
            file,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Appends output of stream 0 (stdout) or 1 (stderr).
    pub fn write(&mut self, stream: usize, data: &[u8]) {
        self.pending[stream].extend_from_slice(data);
        while let Some(pos) = self.pending[stream].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending[stream].drain(..=pos).collect();
            self.entry(stream, &line);
        }
        if self.pending[stream].len() >= MAX_PARTIAL {
            let line = std::mem::take(&mut self.pending[stream]);
            self.entry(stream, &line);
        }
    }

    /// Writes what is left of unfinished lines (at exit).
    pub fn flush(&mut self) {
        for stream in 0..2 {
            if !self.pending[stream].is_empty() {
                let line = std::mem::take(&mut self.pending[stream]);
                self.entry(stream, &line);
            }
        }
    }

    fn entry(&mut self, stream: usize, line: &[u8]) {
        let entry = Entry {
            log: &String::from_utf8_lossy(line),
            stream: if stream == 0 { "stdout" } else { "stderr" },
            time: timestamp(),
        };
        if let Ok(mut bytes) = serde_json::to_vec(&entry) {
            bytes.push(b'\n');
            // A full disk must not stop the container: the entry is dropped.
            let _ = self.file.write_all(&bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_partials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let mut log = JsonLog::open(&path).unwrap();
        log.write(0, b"a\nb");
        log.write(1, b"err\n");
        log.write(0, b"c\n");
        log.write(0, b"tail");
        log.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let logs: Vec<(&str, &str)> = lines
            .iter()
            .map(|v| (v["log"].as_str().unwrap(), v["stream"].as_str().unwrap()))
            .collect();
        assert_eq!(
            logs,
            [
                ("a\n", "stdout"),
                ("err\n", "stderr"),
                ("bc\n", "stdout"),
                ("tail", "stdout")
            ]
        );
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    }
}
