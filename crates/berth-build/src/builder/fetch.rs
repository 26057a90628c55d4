//! ADD of a URL: a plain HTTP/1.1 GET (redirects followed), the body saved
//! to a temporary file. https is refused with a clear message: berth has
//! no TLS client with trust roots in the builder yet.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("unsupported URL {0}: only http:// sources can be fetched by berth's builder")]
    Unsupported(String),
    #[error("invalid URL {0}")]
    Invalid(String),
    #[error("failed to GET {url} with status {status}")]
    Status { url: String, status: String },
    #[error("fetch {url}: {source}")]
    Io { url: String, source: io::Error },
    #[error("fetch {0}: too many redirects")]
    Redirects(String),
}

/// Downloads `url` into `dest`; returns the file name docker would use (the
/// last path segment of the URL).
pub fn fetch(url: &str, dest: &Path) -> Result<String, FetchError> {
    let mut current = url.to_string();
    for _ in 0..10 {
        match get(&current, dest)? {
            Outcome::Done => return Ok(file_name(url)),
            Outcome::Redirect(to) => current = to,
        }
    }
    Err(FetchError::Redirects(url.to_string()))
}

/// The name a downloaded URL gets when the destination is a directory.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    after_host
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string()
}

enum Outcome {
    Done,
    Redirect(String),
}

fn get(url: &str, dest: &Path) -> Result<Outcome, FetchError> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(FetchError::Unsupported(url.to_string()));
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if hostport.is_empty() {
        return Err(FetchError::Invalid(url.to_string()));
    }
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let io_err = |source| FetchError::Io {
        url: url.to_string(),
        source,
    };
    let mut stream = TcpStream::connect(&addr).map_err(io_err)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(io_err)?;
    // One write: a server may answer (and close) as soon as the request is complete.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: berth-builder\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io_err)?;
    let mut r = BufReader::new(stream);
    let mut status_line = String::new();
    r.read_line(&mut status_line).map_err(io_err)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut location = None;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).map_err(io_err)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "location" => location = Some(v.to_string()),
                "content-length" => length = v.parse::<u64>().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
    }
    if status.starts_with('3') {
        if let Some(loc) = location {
            let next = if loc.starts_with('/') {
                format!("http://{hostport}{loc}")
            } else {
                loc
            };
            return Ok(Outcome::Redirect(next));
        }
    }
    if !status.starts_with('2') {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: status_line
                .trim()
                .split_once(' ')
                .map_or("", |(_, s)| s)
                .to_string(),
        });
    }
    let mut out = std::fs::File::create(dest).map_err(io_err)?;
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).map_err(io_err)?;
            let n = u64::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).map_err(
                |_| io_err(io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")),
            )?;
            if n == 0 {
                break;
            }
            io::copy(&mut (&mut r).take(n), &mut out).map_err(io_err)?;
            let mut crlf = String::new();
            r.read_line(&mut crlf).map_err(io_err)?;
        }
    } else if let Some(n) = length {
        let copied = io::copy(&mut (&mut r).take(n), &mut out).map_err(io_err)?;
        if copied != n {
            return Err(io_err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("body ended after {copied} of {n} bytes"),
            )));
        }
    } else {
        io::copy(&mut r, &mut out).map_err(io_err)?;
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn names() {
        assert_eq!(file_name("http://h:1/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(file_name("http://h/"), "");
    }

    #[test]
    fn downloads_from_a_local_server() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for body in ["", "hello"] {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).unwrap();
                if body.is_empty() {
                    s.write_all(
                        b"HTTP/1.1 302 Found\r\nLocation: /real\r\nContent-Length: 0\r\n\r\n",
                    )
                    .unwrap();
                } else {
                    write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .unwrap();
                }
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let name = fetch(&format!("http://127.0.0.1:{port}/x/file.txt"), &dest).unwrap();
        server.join().unwrap();
        assert_eq!(name, "file.txt");
        assert_eq!(std::fs::read_to_string(dest).unwrap(), "hello");
        assert!(matches!(
            fetch("https://example.com/x", &dir.path().join("g")),
            Err(FetchError::Unsupported(_))
        ));
    }
}
