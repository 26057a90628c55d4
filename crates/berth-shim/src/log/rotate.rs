//! A log file rotated as Docker's json-file driver does: when the file has reached
//! `max-size`, `<path>.N` becomes `<path>.N+1` (the oldest is dropped so that `max-file` files
//! remain), `<path>` becomes `<path>.1`, and a new `<path>` is started. With `compress`,
//! rotated files are gzip'd (`<path>.1.gz`, ...).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{DEFAULT_JSON_MAX_FILE, DEFAULT_JSON_MAX_SIZE};

/// Rotation of one driver's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSettings {
    /// Rotate once the file has this many bytes; `None`: never.
    pub max_size: Option<u64>,
    /// Files kept, the current one included (at least 1).
    pub max_file: u32,
    pub compress: bool,
}

/// Docker's `max-size` values (go-units' `FromHumanSize`): decimal units, `10k`, `1.5m`, `2MB`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return None,
    };
    Some((n * mult) as u64)
}

impl FileSettings {
    /// The options of `json-file` (berth rotates by default, see [`DEFAULT_JSON_MAX_SIZE`])
    /// or `local` (Docker's defaults: 20m, 5 files, compressed).
    pub fn parse(driver: &str, opts: &BTreeMap<String, String>) -> Result<FileSettings, String> {
        let local = driver == "local";
        let max_size = match opts.get("max-size").map(String::as_str) {
            // Beyond Docker: `-1` keeps one unbounded file, as Docker does without max-size.
            Some("-1") => None,
            Some(v) => match parse_size(v) {
                Some(0) => return Err("max-size must be a positive number".into()),
                Some(n) => Some(n),
                None => return Err(format!("invalid size: '{v}'")),
            },
            None if local => Some(20_000_000),
            None => Some(DEFAULT_JSON_MAX_SIZE),
        };
        let max_file = match opts.get("max-file") {
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if n < 1 => return Err("max-file cannot be less than 1".into()),
                Ok(n) => n.min(u32::MAX as i64) as u32,
                Err(_) => return Err(format!("invalid max-file '{v}': not a number")),
            },
            None if local => 5,
            // Docker's default is one file once max-size is given; berth's own default
            // (max-size not given) keeps a few.
            None if opts.contains_key("max-size") => 1,
            None => DEFAULT_JSON_MAX_FILE,
        };
        let compress = match opts.get("compress").map(String::as_str) {
            Some(v) => match v {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                _ => return Err(format!("invalid compress '{v}': not a boolean")),
            },
            None => local,
        };
        if compress && (max_file < 2 || max_size.is_none()) {
            if local && !opts.contains_key("compress") {
                // local's default compress simply has nothing to compress.
                return Ok(FileSettings {
                    max_size,
                    max_file,
                    compress: false,
                });
            }
            return Err(
                "compress cannot be true when max-file is less than 2 or max-size is not set"
                    .into(),
            );
        }
        Ok(FileSettings {
            max_size,
            max_file,
            compress,
        })
    }
}

pub struct RotatingFile {
    path: PathBuf,
    settings: FileSettings,
    file: File,
    size: u64,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// `<path>.<n>`, with `.gz` when compressed.
pub fn rotated_name(path: &Path, n: u32, gz: bool) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}{}", if gz { ".gz" } else { "" }));
    PathBuf::from(name)
}

impl RotatingFile {
    pub fn open(path: &Path, settings: FileSettings) -> std::io::Result<RotatingFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            settings,
            file,
            size,
        })
    }

    /// Appends one record whole. Errors (a full disk) are the caller's to ignore.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        // As Docker: rotate before a write once the file has reached max-size, so a file
        // may exceed it by one record.
        if self.settings.max_size.is_some_and(|max| self.size >= max) {
            self.rotate()?;
        }
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let FileSettings {
            max_file, compress, ..
        } = self.settings;
        if max_file > 1 {
            let _ = std::fs::remove_file(rotated_name(&self.path, max_file - 1, compress));
            for n in (1..max_file - 1).rev() {
                let from = rotated_name(&self.path, n, compress);
                if from.exists() {
                    std::fs::rename(&from, rotated_name(&self.path, n + 1, compress))?;
                }
            }
            std::fs::rename(&self.path, rotated_name(&self.path, 1, false))?;
        } else {
            // One file: start it again. A new file (not a truncation) so that a reader
            // following the old one sees a new inode, as after any rotation.
            std::fs::remove_file(&self.path)?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        if compress && max_file > 1 {
            // Synchronous (the shim has one thread) but fast: at most max-size bytes at
            // the lowest compression level.
            let plain = rotated_name(&self.path, 1, false);
            let gz = rotated_name(&self.path, 1, true);
            gzip(&plain, &gz)?;
            std::fs::remove_file(&plain)?;
        }
        Ok(())
    }
}

/// Compresses `from` into `to` (through a temporary file, so `to` is whole or absent).
fn gzip(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut tmp = to.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut input = File::open(from)?;
    let mut enc = flate2::write::GzEncoder::new(File::create(&tmp)?, flate2::Compression::fast());
    std::io::copy(&mut input, &mut enc)?;
    enc.finish()?.sync_all()?;
    std::fs::rename(&tmp, to)
}

#[cfg(test)]
mod tests {
    use super::super::tests::opts;
    use super::*;
    use std::io::Read;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10k"), Some(10_000));
        assert_eq!(parse_size("1m"), Some(1_000_000));
        assert_eq!(parse_size("1.5MB"), Some(1_500_000));
        assert_eq!(parse_size("2 g"), Some(2_000_000_000));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_size("k"), None);
    }

    #[test]
    fn defaults() {
        let json = FileSettings::parse("json-file", &opts(&[])).unwrap();
        assert_eq!(json.max_size, Some(DEFAULT_JSON_MAX_SIZE));
        assert_eq!(json.max_file, DEFAULT_JSON_MAX_FILE);
        assert!(!json.compress);
        let docker = FileSettings::parse("json-file", &opts(&[("max-size", "1m")])).unwrap();
        assert_eq!((docker.max_size, docker.max_file), (Some(1_000_000), 1));
        let unbounded = FileSettings::parse("json-file", &opts(&[("max-size", "-1")])).unwrap();
        assert_eq!(unbounded.max_size, None);
        let local = FileSettings::parse("local", &opts(&[])).unwrap();
        assert_eq!(
            local,
            FileSettings {
                max_size: Some(20_000_000),
                max_file: 5,
                compress: true
            }
        );
        assert!(FileSettings::parse("json-file", &opts(&[("compress", "true")])).is_ok());
        assert!(FileSettings::parse(
            "json-file",
            &opts(&[("compress", "true"), ("max-size", "1k")])
        )
        .is_err());
    }

    fn write_records(f: &mut RotatingFile, from: usize, to: usize) {
        for i in from..to {
            f.write(format!("{i:04}\n").as_bytes()).unwrap();
        }
    }

    #[test]
    fn rotation_keeps_max_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let settings = FileSettings {
            max_size: Some(10),
            max_file: 3,
            compress: false,
        };
        let mut f = RotatingFile::open(&path, settings).unwrap();
        // 5 bytes a record, 2 records a file.
        write_records(&mut f, 0, 9);
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), "0008\n");
        assert_eq!(read(rotated_name(&path, 1, false)), "0006\n0007\n");
        assert_eq!(read(rotated_name(&path, 2, false)), "0004\n0005\n");
        assert!(!rotated_name(&path, 3, false).exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn one_file_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let settings = FileSettings {
            max_size: Some(10),
            max_file: 1,
            compress: false,
        };
        let mut f = RotatingFile::open(&path, settings).unwrap();
        write_records(&mut f, 0, 5);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0004\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn compressed_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let settings = FileSettings {
            max_size: Some(10),
            max_file: 3,
            compress: true,
        };
        let mut f = RotatingFile::open(&path, settings).unwrap();
        write_records(&mut f, 0, 7);
        let gunzip = |p: PathBuf| {
            let mut s = String::new();
            flate2::read::GzDecoder::new(File::open(p).unwrap())
                .read_to_string(&mut s)
                .unwrap();
            s
        };
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0006\n");
        assert_eq!(gunzip(rotated_name(&path, 1, true)), "0004\n0005\n");
        assert_eq!(gunzip(rotated_name(&path, 2, true)), "0002\n0003\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }
}
