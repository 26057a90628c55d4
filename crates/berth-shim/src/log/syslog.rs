//! The `syslog` driver: each line is one message to `syslog-address` (`udp://host:port`,
//! `tcp://host:port`, `unix:///path`, `unixgram:///path`; the local `/dev/log` by default),
//! stdout at severity info, stderr at err, in Docker's formats.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};

use chrono::{DateTime, Utc};

use super::{hostname, message, tag, Driver};
use crate::config::LogInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Docker's default: Go's log/syslog format (`<pri>ts host tag[pid]: msg`); on a
    /// local socket without the host.
    Default,
    Rfc3164,
    Rfc5424,
    Rfc5424Micro,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Udp(String),
    Tcp(String),
    Unix(String),
    Unixgram(String),
    /// `/dev/log`, datagram or stream, whichever it is.
    Local,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub address: Address,
    pub facility: u8,
    pub format: Format,
}

const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp",
];

fn facility(name: &str) -> Option<u8> {
    if let Ok(n) = name.parse::<u8>() {
        return (n < 24).then_some(n);
    }
    if let Some(pos) = FACILITIES.iter().position(|f| *f == name) {
        return Some(pos as u8);
    }
    let n: u8 = name.strip_prefix("local")?.parse().ok()?;
    (n < 8).then_some(16 + n)
}

fn with_port(hostport: &str) -> String {
    // The syslog port when none is given; a bracketed IPv6 address has colons of its own.
    let has_port = match hostport.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:514")
    }
}

impl Settings {
    pub fn parse(opts: &BTreeMap<String, String>) -> Result<Settings, String> {
        let address = match opts.get("syslog-address").map(String::as_str) {
            None | Some("") => Address::Local,
            Some(a) => match a.split_once("://") {
                Some(("udp", rest)) if !rest.is_empty() => Address::Udp(with_port(rest)),
                Some(("tcp", rest)) if !rest.is_empty() => Address::Tcp(with_port(rest)),
                Some(("unix", rest)) if !rest.is_empty() => Address::Unix(rest.into()),
                Some(("unixgram", rest)) if !rest.is_empty() => Address::Unixgram(rest.into()),
                Some(("tcp+tls", _)) => {
                    return Err("syslog-address tcp+tls:// is not supported by berth".into())
                }
                _ => return Err(format!("unsupported scheme: '{a}'")),
            },
        };
        let facility = match opts.get("syslog-facility") {
            None => 3,
            Some(f) => facility(f).ok_or_else(|| format!("invalid syslog facility: {f}"))?,
        };
        let format = match opts.get("syslog-format").map(String::as_str) {
            None | Some("") => Format::Default,
            Some("rfc3164") => Format::Rfc3164,
            Some("rfc5424") => Format::Rfc5424,
            Some("rfc5424micro") => Format::Rfc5424Micro,
            Some(f) => return Err(format!("Invalid syslog format: {f}")),
        };
        Ok(Settings {
            address,
            facility,
            format,
        })
    }
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Stream(UnixStream),
    Dgram(UnixDatagram),
}

pub struct Syslog {
    conn: Conn,
    settings: Settings,
    header: Header,
}

/// What every message of a container says besides its text.
pub struct Header {
    pub format: Format,
    /// Sent to a local socket (Docker's default format leaves the host out).
    pub local: bool,
    pub hostname: String,
    pub tag: String,
    pub pid: u32,
}

fn connect(address: &Address) -> std::io::Result<Conn> {
    Ok(match address {
        Address::Udp(a) => {
            let target = std::net::ToSocketAddrs::to_socket_addrs(a.as_str())?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("no address for {a}")))?;
            let bind = if target.is_ipv6() {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let s = UdpSocket::bind(bind)?;
            s.connect(target)?;
            Conn::Udp(s)
        }
        Address::Tcp(a) => Conn::Tcp(TcpStream::connect(a.as_str())?),
        Address::Unix(p) => Conn::Stream(UnixStream::connect(p)?),
        Address::Unixgram(p) => {
            let s = UnixDatagram::unbound()?;
            s.connect(p)?;
            Conn::Dgram(s)
        }
        Address::Local => {
            let s = UnixDatagram::unbound()?;
            match s.connect("/dev/log") {
                Ok(()) => Conn::Dgram(s),
                Err(_) => Conn::Stream(UnixStream::connect("/dev/log")?),
            }
        }
    })
}

impl Syslog {
    pub fn open(opts: &BTreeMap<String, String>, info: &LogInfo) -> Result<Syslog, String> {
        let settings = Settings::parse(opts)?;
        let conn = connect(&settings.address)
            .map_err(|e| format!("failed to initialize logging driver: syslog: {e}"))?;
        let header = Header {
            format: settings.format,
            local: matches!(
                settings.address,
                Address::Local | Address::Unix(_) | Address::Unixgram(_)
            ),
            hostname: hostname(),
            tag: tag(opts, info),
            pid: std::process::id(),
        };
        Ok(Syslog {
            conn,
            settings,
            header,
        })
    }
}

impl Header {
    /// One message, unframed.
    pub fn format(&self, pri: u8, time: DateTime<Utc>, msg: &str) -> String {
        let Header {
            format,
            local,
            hostname,
            tag,
            pid,
        } = self;
        let format = *format;
        match format {
            Format::Default if *local => {
                format!(
                    "<{pri}>{} {tag}[{pid}]: {msg}",
                    time.format("%b %e %H:%M:%S")
                )
            }
            Format::Default => format!(
                "<{pri}>{} {hostname} {tag}[{pid}]: {msg}",
                time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Format::Rfc3164 => format!(
                "<{pri}>{} {hostname} {tag}[{pid}]: {msg}",
                time.format("%b %e %H:%M:%S")
            ),
            Format::Rfc5424 | Format::Rfc5424Micro => {
                let secs = if format == Format::Rfc5424 {
                    chrono::SecondsFormat::Secs
                } else {
                    chrono::SecondsFormat::Micros
                };
                format!(
                    "<{pri}>1 {} {hostname} {tag} {pid} {tag} - {msg}",
                    time.to_rfc3339_opts(secs, true)
                )
            }
        }
    }
}

/// A message as sent on a stream: RFC 5425 octet counting for RFC 5424, else newline-ended.
pub fn frame(format: Format, msg: String) -> String {
    match format {
        Format::Rfc5424 | Format::Rfc5424Micro => format!("{} {msg}", msg.len()),
        _ if msg.ends_with('\n') => msg,
        _ => msg + "\n",
    }
}

impl Driver for Syslog {
    fn line(&mut self, stream: usize, line: &[u8], time: DateTime<Utc>) {
        let severity = if stream == 0 { 6 } else { 3 };
        let pri = self.settings.facility * 8 + severity;
        let msg = self.header.format(pri, time, &message(line));
        let format = self.settings.format;
        // Lost messages (a receiver that went away) must not stop the container.
        let sent = match &mut self.conn {
            Conn::Udp(s) => s.send(msg.as_bytes()).map(drop),
            Conn::Dgram(s) => s.send(msg.as_bytes()).map(drop),
            Conn::Tcp(s) => s.write_all(frame(format, msg).as_bytes()),
            Conn::Stream(s) => s.write_all(frame(format, msg).as_bytes()),
        };
        if sent.is_err() && matches!(self.conn, Conn::Tcp(_) | Conn::Stream(_)) {
            // One reconnection per failed message: a restarted receiver gets the next ones.
            if let Ok(conn) = connect(&self.settings.address) {
                self.conn = conn;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::opts;
    use super::*;

    #[test]
    fn addresses_and_facilities() {
        let s = Settings::parse(&opts(&[("syslog-address", "udp://127.0.0.1")])).unwrap();
        assert_eq!(s.address, Address::Udp("127.0.0.1:514".into()));
        assert_eq!(s.facility, 3);
        let s = Settings::parse(&opts(&[
            ("syslog-address", "tcp://[::1]:601"),
            ("syslog-facility", "local7"),
        ]))
        .unwrap();
        assert_eq!(s.address, Address::Tcp("[::1]:601".into()));
        assert_eq!(s.facility, 23);
        assert!(Settings::parse(&opts(&[("syslog-facility", "nope")])).is_err());
        assert!(Settings::parse(&opts(&[("syslog-format", "xml")])).is_err());
        assert_eq!(Settings::parse(&opts(&[])).unwrap().address, Address::Local);
    }

    #[test]
    fn formats() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let header = |format, local| Header {
            format,
            local,
            hostname: "h".into(),
            tag: "tag".into(),
            pid: 7,
        };
        assert_eq!(
            header(Format::Default, true).format(30, t, "hi"),
            "<30>Jan  2 03:04:05 tag[7]: hi"
        );
        assert_eq!(
            header(Format::Default, false).format(30, t, "hi"),
            "<30>2026-01-02T03:04:05Z h tag[7]: hi"
        );
        assert_eq!(
            header(Format::Rfc5424Micro, false).format(27, t, "hi"),
            "<27>1 2026-01-02T03:04:05.123456Z h tag 7 tag - hi"
        );
        assert_eq!(frame(Format::Rfc5424, "<27>1 x".into()), "7 <27>1 x");
        assert_eq!(frame(Format::Rfc3164, "<27>x".into()), "<27>x\n");
    }

    #[test]
    fn sends_over_udp() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = format!("udp://{}", rx.local_addr().unwrap());
        let info = LogInfo {
            id: "abcdef0123456789".into(),
            ..Default::default()
        };
        let mut log = Syslog::open(
            &opts(&[("syslog-address", &addr), ("syslog-format", "rfc5424")]),
            &info,
        )
        .unwrap();
        log.line(1, b"oops\n", Utc::now());
        let mut buf = [0u8; 1024];
        let n = rx.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(got.starts_with("<27>1 "), "{got}");
        assert!(got.ends_with(" abcdef012345 - oops"), "{got}");
    }
}
