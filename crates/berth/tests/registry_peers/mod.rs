//! The other side of the registry tests: Debian's `docker-registry` (Distribution 2.8) or
//! berth's own `berth registry serve` on a free port of 127.0.0.1, and small TCP peers: a proxy that cuts a download mid-layer, a v1
//! search API, a bearer-token front. Each stops with its owner (killed or closed on drop).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `docker-registry serve` of the test's own: free port, temp storage, killed on drop.
pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
    tls: bool,
}

/// A `berth registry serve` of the test's own: free port, temp root, killed on drop.
pub struct BerthRegistry {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl BerthRegistry {
    /// `prepare` gets the registry's temp dir and port and answers more `berth registry serve`
    /// flags (their files may be made in that dir).
    pub fn start(prepare: impl FnOnce(&Path, u16) -> Vec<String>) -> BerthRegistry {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir_in("/tmp")
            .unwrap();
        let port = free_port();
        let args = prepare(dir.path(), port);
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["registry", "serve", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start berth registry serve");
        let r = BerthRegistry { dir, port, child };
        wait_listening(port, &r.dir.path().join("registry.log"));
        r
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

impl Drop for BerthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 20 s) until a registry accepts connections on `port`; fails with its log.
fn wait_listening(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "registry on port {port} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    pub fn start() -> Registry {
        Self::start_with("", false)
    }

    /// `extra` is more YAML under `http:`/top level; `tls` serves HTTPS with a cert of the
    /// test CA in `dir/ca.crt`.
    pub fn start_with(auth_yaml: &str, tls: bool) -> Registry {
        Self::start_full(auth_yaml, tls, false)
    }

    /// As `start_with`; `client_certs` makes the registry ask for client certificates
    /// signed by the test CA.
    pub fn start_full(auth_yaml: &str, tls: bool, client_certs: bool) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir_in("/tmp")
            .unwrap();
        let port = free_port();
        let tls_yaml = if tls {
            make_certs(dir.path());
            let mut y = format!(
                "  tls:\n    certificate: {0}/server.crt\n    key: {0}/server.key\n",
                dir.path().display()
            );
            if client_certs {
                y.push_str(&format!(
                    "    clientcas:\n      - {}/ca.crt\n",
                    dir.path().display()
                ));
            }
            y
        } else {
            String::new()
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}/data\n  delete:\n    enabled: true\n{auth_yaml}http:\n  addr: 127.0.0.1:{port}\n{tls_yaml}",
            dir.path().display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry (apt install docker-registry)");
        let r = Registry {
            dir,
            port,
            child,
            tls,
        };
        wait_listening(port, &r.dir.path().join("registry.log"));
        r
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data/docker/registry/v2")
    }

    /// curl against the registry: (status, body).
    pub fn curl(&self, args: &[&str], path: &str) -> (u16, String) {
        let scheme = if self.tls { "https" } else { "http" };
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "-", "-w", "\n%{http_code}"]);
        if self.tls {
            c.arg("--cacert").arg(self.dir.path().join("ca.crt"));
        }
        let out = c
            .args(args)
            .arg(format!("{scheme}://{}{path}", self.host()))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA and a server certificate for 127.0.0.1 signed by it.
pub fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=berth test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
}

/// A TCP proxy in front of the registry that records each request's first line and Range
/// header, and in `cut` mode breaks the download of blob `cut_blob` after `cut_after` bytes
/// and refuses it afterwards.
pub struct Proxy {
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    pub cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: u16, cut_blob: String, cut_after: usize) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let cut = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (rq, ct, st) = (requests.clone(), cut.clone(), stop.clone());
        std::thread::spawn(move || {
            let was_cut = Arc::new(AtomicBool::new(false));
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let (rq, ct, was_cut, blob) =
                    (rq.clone(), ct.clone(), was_cut.clone(), cut_blob.clone());
                std::thread::spawn(move || {
                    let _ = relay(client, upstream, &rq, &ct, &was_cut, &blob, cut_after);
                });
            }
        });
        Proxy {
            port,
            requests,
            cut,
            stop,
        }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub fn relay(
    mut client: TcpStream,
    upstream: u16,
    requests: &Mutex<Vec<String>>,
    cut: &AtomicBool,
    was_cut: &AtomicBool,
    blob: &str,
    cut_after: usize,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut b)? == 0 {
            return Ok(());
        }
        // Not HTTP (a TLS hello, tried first for insecure registries): refused.
        if head.is_empty() && !b[0].is_ascii_uppercase() {
            return Ok(());
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let first = text.lines().next().unwrap_or("").to_string();
    let range = text
        .lines()
        .find(|l| l.to_lowercase().starts_with("range:"))
        .map(|l| format!(" [{}]", l.trim()))
        .unwrap_or_default();
    requests.lock().unwrap().push(format!("{first}{range}"));
    let for_blob = first.contains(&format!("/blobs/{blob}"));
    let cutting = cut.load(Ordering::SeqCst) && for_blob;
    if cutting && was_cut.load(Ordering::SeqCst) {
        return Ok(()); // refused: closed at once
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(&head)?;
    let mut up_reader = up.try_clone()?;
    let mut client_writer = client.try_clone()?;
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client, &mut up);
        let _ = up.shutdown(std::net::Shutdown::Both);
    });
    let mut buf = [0u8; 16 * 1024];
    let mut sent = 0usize;
    loop {
        let n = up_reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let n = if cutting {
            n.min(cut_after.saturating_sub(sent))
        } else {
            n
        };
        client_writer.write_all(&buf[..n])?;
        sent += n;
        if cutting && sent >= cut_after {
            was_cut.store(true, Ordering::SeqCst);
            break;
        }
    }
    let _ = client_writer.shutdown(std::net::Shutdown::Both);
    let _ = up_reader.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// A registry's v1 search API, as Docker Hub's index serves it (Distribution has none).
pub fn serve_v1_search() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match c.read(&mut b) {
                    // Not HTTP (the TLS hello tried first): closed.
                    Ok(1) if head.is_empty() && !b[0].is_ascii_uppercase() => break,
                    Ok(1) => head.push(b[0]),
                    _ => break,
                }
            }
            let line = String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            s.lock().unwrap().push(line.clone());
            let body = if line.starts_with("GET /v1/search?q=box&n=25 ") {
                r#"{"num_results":2,"query":"box","results":[{"name":"tools/box","description":"a box","star_count":12,"is_official":false,"is_automated":false},{"name":"library/busybox","description":"small","star_count":3,"is_official":true,"is_automated":false}]}"#
            } else {
                r#"{"errors":[{"code":"NOT_FOUND"}]}"#
            };
            let status = if body.contains("results") {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

/// A bearer-token front for the registry, as Docker Hub does it: `/token` hands out
/// `pull-token` anonymously and `all-token` for alice:s3cret; `/v2/` requests need a token
/// (only `all-token` for anything but GET and HEAD) and are relayed to the registry.
pub fn serve_token_front(upstream: u16) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(c) = conn else { continue };
            let s = s.clone();
            std::thread::spawn(move || {
                let _ = token_front(c, upstream, port, &s);
            });
        }
    });
    (port, seen)
}

pub fn token_front(
    mut c: TcpStream,
    upstream: u16,
    port: u16,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut b)? == 0 || (head.is_empty() && !b[0].is_ascii_uppercase()) {
            return Ok(());
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let first = text.lines().next().unwrap_or("").to_string();
    let auth = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    seen.lock().unwrap().push(format!("{first} [{auth}]"));
    let reply = |c: &mut TcpStream, status: &str, extra: &str, body: &str| {
        write!(
            c,
            "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    if first.starts_with("GET /token") {
        // "alice:s3cret" in base64
        return match auth.as_str() {
            "Basic YWxpY2U6czNjcmV0" => reply(&mut c, "200 OK", "", r#"{"token":"all-token"}"#),
            "" => reply(&mut c, "200 OK", "", r#"{"token":"pull-token"}"#),
            _ => reply(
                &mut c,
                "401 Unauthorized",
                "",
                r#"{"details":"incorrect username or password"}"#,
            ),
        };
    }
    let read_only = first.starts_with("GET ") || first.starts_with("HEAD ");
    let allowed = auth == "Bearer all-token" || (auth == "Bearer pull-token" && read_only);
    if !allowed {
        let challenge = format!(
            "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"berth-test\"\r\n"
        );
        return reply(
            &mut c,
            "401 Unauthorized",
            &challenge,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        );
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(&head)?;
    let mut up_reader = up.try_clone()?;
    let mut c_writer = c.try_clone()?;
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c, &mut up);
        let _ = up.shutdown(std::net::Shutdown::Both);
    });
    let _ = std::io::copy(&mut up_reader, &mut c_writer);
    let _ = c_writer.shutdown(std::net::Shutdown::Both);
    Ok(())
}
