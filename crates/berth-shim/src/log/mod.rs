//! Logging drivers: the container's output, cut into lines, goes to one [`Driver`].
//!
//! `json-file` and `local` append json lines to a rotated file ([`rotate`]); `syslog` and
//! `gelf` send each line over the network and keep nothing to read back; `none` drops it.
//! The daemon validates the options at create with [`validate`], which the shim's
//! [`Log::open`] applies again, so both sides agree on every option.

mod gelf;
mod json;
mod rotate;
mod syslog;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::{LogConfig, LogInfo};
pub use rotate::{parse_size, FileSettings};

/// Partial lines are held until their newline, or until this many bytes are pending.
const MAX_PARTIAL: usize = 16 * 1024;

/// berth's `json-file` rotation when no `max-size` is given: logs never fill the disk by
/// default (Docker keeps one unbounded file). `max-size=-1` asks for Docker's behaviour.
pub const DEFAULT_JSON_MAX_SIZE: u64 = 100_000_000;
pub const DEFAULT_JSON_MAX_FILE: u32 = 3;

/// Where a driver sends one line.
pub(crate) trait Driver {
    /// One line of `stream` (0 stdout, 1 stderr), with its newline unless it was cut.
    fn line(&mut self, stream: usize, line: &[u8], time: DateTime<Utc>);
}

pub fn timestamp() -> String {
    format_time(Utc::now())
}

pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The drivers `docker logs` can read.
pub fn readable(driver: &str) -> bool {
    matches!(driver, "json-file" | "local")
}

/// Options every driver takes (dockerd's generic ones); berth accepts and ignores them.
const GENERIC: &[&str] = &["mode", "max-buffer-size"];

/// Checks a driver's name and options as dockerd does at create.
pub fn validate(driver: &str, opts: &BTreeMap<String, String>) -> Result<(), String> {
    let known: &[&str] = match driver {
        // dockerd accepts anything for `none`.
        "none" => return Ok(()),
        "json-file" => &[
            "max-file",
            "max-size",
            "compress",
            "labels",
            "labels-regex",
            "env",
            "env-regex",
            "tag",
        ],
        "local" => &["max-file", "max-size", "compress"],
        "syslog" => &[
            "env",
            "env-regex",
            "labels",
            "labels-regex",
            "syslog-address",
            "syslog-facility",
            "syslog-format",
            "tag",
        ],
        "gelf" => &[
            "gelf-address",
            "gelf-compression-type",
            "gelf-compression-level",
            "env",
            "env-regex",
            "labels",
            "labels-regex",
            "tag",
        ],
        other => {
            return Err(format!(
                "logger: no log driver named '{other}' is registered"
            ))
        }
    };
    for key in opts.keys() {
        if !known.contains(&key.as_str()) && !GENERIC.contains(&key.as_str()) {
            return Err(format!("unknown log opt '{key}' for {driver} log driver"));
        }
    }
    match driver {
        "json-file" | "local" => FileSettings::parse(driver, opts).map(drop),
        "syslog" => syslog::Settings::parse(opts).map(drop),
        "gelf" => gelf::Settings::parse(opts).map(drop),
        _ => Ok(()),
    }
}

/// The output of a container, split into lines for its driver.
pub struct Log {
    driver: Box<dyn Driver>,
    pending: [Vec<u8>; 2],
}

impl Log {
    /// Opens the driver; `None` for `none`.
    pub fn open(config: &LogConfig) -> Result<Option<Log>, String> {
        validate(&config.driver, &config.opts)?;
        let driver: Box<dyn Driver> = match config.driver.as_str() {
            "none" => return Ok(None),
            "json-file" | "local" => {
                let path = config
                    .path
                    .as_ref()
                    .ok_or_else(|| format!("{} log driver: no log file", config.driver))?;
                let settings = FileSettings::parse(&config.driver, &config.opts)?;
                Box::new(
                    json::JsonFile::open(path, settings)
                        .map_err(|e| format!("open log {}: {e}", path.display()))?,
                )
            }
            "syslog" => Box::new(syslog::Syslog::open(&config.opts, &config.info)?),
            "gelf" => Box::new(gelf::Gelf::open(&config.opts, &config.info)?),
            other => {
                return Err(format!(
                    "failed to get logging factory: logger: no log driver named '{other}' is registered"
                ))
            }
        };
        Ok(Some(Log {
            driver,
            pending: [Vec::new(), Vec::new()],
        }))
    }

    /// Appends output of stream 0 (stdout) or 1 (stderr).
    pub fn write(&mut self, stream: usize, data: &[u8]) {
        self.pending[stream].extend_from_slice(data);
        while let Some(pos) = self.pending[stream].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending[stream].drain(..=pos).collect();
            self.driver.line(stream, &line, Utc::now());
        }
        if self.pending[stream].len() >= MAX_PARTIAL {
            let line = std::mem::take(&mut self.pending[stream]);
            self.driver.line(stream, &line, Utc::now());
        }
    }

    /// Writes what is left of unfinished lines (at exit).
    pub fn flush(&mut self) {
        for stream in 0..2 {
            if !self.pending[stream].is_empty() {
                let line = std::mem::take(&mut self.pending[stream]);
                self.driver.line(stream, &line, Utc::now());
            }
        }
    }
}

/// The `tag` option: Docker's template fields, `{{.ID}}` (12 characters) by default.
pub(crate) fn tag(opts: &BTreeMap<String, String>, info: &LogInfo) -> String {
    let template = opts.get("tag").map_or("{{.ID}}", String::as_str);
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let image_id = info.image_id.trim_start_matches("sha256:");
    template
        .replace("{{.ID}}", &short(&info.id))
        .replace("{{.FullID}}", &info.id)
        .replace("{{.Name}}", info.name.trim_start_matches('/'))
        .replace("{{.ImageID}}", &short(image_id))
        .replace("{{.ImageFullID}}", &info.image_id)
        .replace("{{.ImageName}}", &info.image_name)
        .replace("{{.DaemonName}}", "docker")
}

pub(crate) fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// A line without its newline (network drivers send messages, not lines).
pub(crate) fn message(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Driver options from pairs (shared by the drivers' tests).
    pub(super) fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validation_like_dockerd() {
        assert_eq!(
            validate("x", &opts(&[])).unwrap_err(),
            "logger: no log driver named 'x' is registered"
        );
        assert_eq!(
            validate("json-file", &opts(&[("x", "1")])).unwrap_err(),
            "unknown log opt 'x' for json-file log driver"
        );
        assert!(validate("none", &opts(&[("x", "1")])).is_ok());
        assert!(validate(
            "json-file",
            &opts(&[("max-size", "10k"), ("mode", "blocking")])
        )
        .is_ok());
        assert!(validate("json-file", &opts(&[("max-size", "ten")])).is_err());
        assert!(validate("json-file", &opts(&[("max-file", "0")])).is_err());
        assert!(validate("local", &opts(&[("tag", "x")])).is_err());
        assert!(validate("gelf", &opts(&[])).is_err());
        assert!(validate("gelf", &opts(&[("gelf-address", "udp://127.0.0.1:1")])).is_ok());
        assert!(validate("syslog", &opts(&[("syslog-address", "http://x")])).is_err());
        assert!(validate("syslog", &opts(&[("syslog-facility", "local7")])).is_ok());
    }

    #[test]
    fn tags() {
        let info = LogInfo {
            id: "0123456789abcdef0123".into(),
            name: "/web".into(),
            image_name: "busybox".into(),
            ..Default::default()
        };
        assert_eq!(tag(&opts(&[]), &info), "0123456789ab");
        assert_eq!(
            tag(&opts(&[("tag", "{{.Name}}/{{.ImageName}}")]), &info),
            "web/busybox"
        );
    }

    struct Lines(std::rc::Rc<std::cell::RefCell<Vec<(usize, String)>>>);

    impl Driver for Lines {
        fn line(&mut self, stream: usize, line: &[u8], _: DateTime<Utc>) {
            self.0
                .borrow_mut()
                .push((stream, String::from_utf8_lossy(line).into_owned()));
        }
    }

    #[test]
    fn lines_and_partials() {
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut log = Log {
            driver: Box::new(Lines(seen.clone())),
            pending: [Vec::new(), Vec::new()],
        };
        log.write(0, b"a\nb");
        log.write(1, b"err\n");
        log.write(0, b"c\n");
        log.write(0, b"tail");
        log.flush();
        let seen = seen.borrow();
        let seen: Vec<(usize, &str)> = seen.iter().map(|(s, l)| (*s, l.as_str())).collect();
        assert_eq!(seen, [(0, "a\n"), (1, "err\n"), (0, "bc\n"), (0, "tail")]);
    }
}
