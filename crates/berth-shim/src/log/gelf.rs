//! The `gelf` driver: each line is one GELF 1.1 message (JSON) to `gelf-address`:
//! over UDP gzip'd by default (`gelf-compression-type` gzip, zlib or none) and cut into GELF
//! chunks when larger than a datagram should be; over TCP uncompressed, NUL-terminated.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{hostname, message, tag, Driver};
use crate::config::LogInfo;

/// Graylog's chunk size for the WAN; a message larger than this is chunked.
const CHUNK_SIZE: usize = 1420;
const CHUNK_DATA: usize = CHUNK_SIZE - 12;
const MAX_CHUNKS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zlib,
    None,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub tcp: bool,
    pub address: String,
    pub compression: Compression,
    pub level: u32,
}

impl Settings {
    pub fn parse(opts: &BTreeMap<String, String>) -> Result<Settings, String> {
        let Some(address) = opts.get("gelf-address").filter(|a| !a.is_empty()) else {
            return Err("gelf-address is a required parameter".into());
        };
        let (tcp, hostport) = match address.split_once("://") {
            Some(("udp", rest)) => (false, rest),
            Some(("tcp", rest)) => (true, rest),
            _ => return Err(format!("gelf: endpoint needs to be TCP or UDP: {address}")),
        };
        if hostport
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(format!(
                "gelf: please provide gelf-address as proto://host:port: {address}"
            ));
        }
        let compression = match opts.get("gelf-compression-type").map(String::as_str) {
            None | Some("gzip") => Compression::Gzip,
            Some("zlib") => Compression::Zlib,
            Some("none") => Compression::None,
            Some(c) => return Err(format!("Unknown gelf compression type: {c}")),
        };
        let level = match opts.get("gelf-compression-level") {
            None => 1,
            Some(l) => match l.parse::<i32>() {
                Ok(-1) => 6,
                Ok(n @ 0..=9) => n as u32,
                _ => return Err(format!("Invalid gelf-compression-level: {l}")),
            },
        };
        if tcp && opts.keys().any(|k| k.starts_with("gelf-compression")) {
            return Err("gelf: compression is not supported over TCP".into());
        }
        Ok(Settings {
            tcp,
            address: hostport.to_string(),
            compression: if tcp { Compression::None } else { compression },
            level,
        })
    }
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

pub struct Gelf {
    conn: Conn,
    settings: Settings,
    /// The fields every message carries (`host`, `_container_id`, ...).
    base: serde_json::Map<String, serde_json::Value>,
    /// Chunked messages' ids: distinct per message of this shim.
    next_id: u64,
}

fn connect(settings: &Settings) -> std::io::Result<Conn> {
    if settings.tcp {
        return Ok(Conn::Tcp(TcpStream::connect(settings.address.as_str())?));
    }
    let target = std::net::ToSocketAddrs::to_socket_addrs(settings.address.as_str())?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("no address for {}", settings.address)))?;
    let s = UdpSocket::bind(if target.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    })?;
    s.connect(target)?;
    Ok(Conn::Udp(s))
}

impl Gelf {
    pub fn open(opts: &BTreeMap<String, String>, info: &LogInfo) -> Result<Gelf, String> {
        let settings = Settings::parse(opts)?;
        let conn = connect(&settings)
            .map_err(|e| format!("failed to initialize logging driver: gelf: {e}"))?;
        let base = json!({
            "version": "1.1",
            "host": hostname(),
            "_container_id": info.id,
            "_container_name": info.name.trim_start_matches('/'),
            "_image_id": info.image_id,
            "_image_name": info.image_name,
            "_command": info.command,
            "_tag": tag(opts, info),
            "_created": info.created,
        });
        let serde_json::Value::Object(base) = base else {
            unreachable!("a json object literal")
        };
        Ok(Gelf {
            conn,
            settings,
            base,
            next_id: (std::process::id() as u64) << 32 | Utc::now().timestamp_subsec_nanos() as u64,
        })
    }

    /// The message as sent: JSON, compressed as configured.
    pub fn encode(&self, stream: usize, line: &[u8], time: DateTime<Utc>) -> Vec<u8> {
        let mut m = self.base.clone();
        m.insert("short_message".into(), json!(message(line)));
        m.insert(
            "timestamp".into(),
            json!(time.timestamp_micros() as f64 / 1e6),
        );
        // Docker: stdout at info (6), stderr at err (3).
        m.insert("level".into(), json!(if stream == 0 { 6 } else { 3 }));
        let body = serde_json::to_vec(&m).unwrap_or_default();
        let level = flate2::Compression::new(self.settings.level);
        match self.settings.compression {
            Compression::None => body,
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
                let _ = e.write_all(&body);
                e.finish().unwrap_or_default()
            }
            Compression::Zlib => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
                let _ = e.write_all(&body);
                e.finish().unwrap_or_default()
            }
        }
    }
}

/// GELF chunks of one message: magic `1e 0f`, message id, sequence number and count.
/// `None` when the message needs more than 128 chunks (GELF's limit): it is dropped.
pub fn chunks(id: u64, data: &[u8]) -> Option<Vec<Vec<u8>>> {
    if data.len() <= CHUNK_SIZE {
        return Some(vec![data.to_vec()]);
    }
    let count = data.len().div_ceil(CHUNK_DATA);
    if count > MAX_CHUNKS {
        return None;
    }
    Some(
        data.chunks(CHUNK_DATA)
            .enumerate()
            .map(|(i, part)| {
                let mut c = Vec::with_capacity(12 + part.len());
                c.extend_from_slice(&[0x1e, 0x0f]);
                c.extend_from_slice(&id.to_be_bytes());
                c.push(i as u8);
                c.push(count as u8);
                c.extend_from_slice(part);
                c
            })
            .collect(),
    )
}

impl Driver for Gelf {
    fn line(&mut self, stream: usize, line: &[u8], time: DateTime<Utc>) {
        let data = self.encode(stream, line, time);
        // Lost messages (no receiver) must not stop the container.
        match &mut self.conn {
            Conn::Udp(s) => {
                self.next_id = self.next_id.wrapping_add(1);
                for chunk in chunks(self.next_id, &data).unwrap_or_default() {
                    let _ = s.send(&chunk);
                }
            }
            Conn::Tcp(s) => {
                let mut framed = data;
                framed.push(0);
                if s.write_all(&framed).is_err() {
                    if let Ok(conn) = connect(&self.settings) {
                        self.conn = conn;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::opts;
    use super::*;
    use std::io::Read;

    #[test]
    fn settings() {
        assert!(Settings::parse(&opts(&[])).is_err());
        assert!(Settings::parse(&opts(&[("gelf-address", "http://x:1")])).is_err());
        assert!(Settings::parse(&opts(&[("gelf-address", "udp://x")])).is_err());
        let s = Settings::parse(&opts(&[("gelf-address", "udp://127.0.0.1:12201")])).unwrap();
        assert_eq!(s.compression, Compression::Gzip);
        assert!(!s.tcp);
        assert!(Settings::parse(&opts(&[
            ("gelf-address", "tcp://127.0.0.1:12201"),
            ("gelf-compression-type", "gzip")
        ]))
        .is_err());
    }

    #[test]
    fn chunking() {
        assert_eq!(chunks(1, b"small").unwrap(), vec![b"small".to_vec()]);
        let big = vec![7u8; CHUNK_DATA * 2 + 1];
        let parts = chunks(0x0102, &big).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(&parts[1][..12], &[0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 1, 2, 1, 3]);
        assert_eq!(parts.iter().map(|p| p.len() - 12).sum::<usize>(), big.len());
        assert!(chunks(1, &vec![0u8; CHUNK_DATA * 129]).is_none());
    }

    #[test]
    fn sends_gzipped_json() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = format!("udp://{}", rx.local_addr().unwrap());
        let info = LogInfo {
            id: "abcdef0123456789".into(),
            name: "/web".into(),
            ..Default::default()
        };
        let mut log = Gelf::open(&opts(&[("gelf-address", &addr)]), &info).unwrap();
        log.line(0, b"hello\n", Utc::now());
        let mut buf = [0u8; 4096];
        let n = rx.recv(&mut buf).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&buf[..n])
            .read_to_string(&mut text)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "1.1");
        assert_eq!(v["short_message"], "hello");
        assert_eq!(v["level"], 6);
        assert_eq!(v["_container_name"], "web");
        assert_eq!(v["_tag"], "abcdef012345");
    }
}
