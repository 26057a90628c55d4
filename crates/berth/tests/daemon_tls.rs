//! `tcp://` hosts with TLS, as dockerd serves them: mutual TLS with `--tlsverify`, checked
//! with the official docker CLI and the berth CLI; plaintext tcp still works, with dockerd's
//! warning.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{assert_ok, stderr, stdout, TestDaemon};

/// A test CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
struct Certs {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Certs {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert_ok(&out, &format!("openssl {}", args.join(" ")));
}

fn make_certs() -> Certs {
    let tmp = tempfile::Builder::new()
        .prefix("berth-tls-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let dir = tmp.path().to_path_buf();
    // The CA.
    openssl(&dir, &["genrsa", "-out", "ca-key.pem", "2048"]);
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-key",
            "ca-key.pem",
            "-sha256",
            "-subj",
            "/CN=berth test CA",
            "-out",
            "ca.pem",
        ],
    );
    // The server, for 127.0.0.1.
    openssl(&dir, &["genrsa", "-out", "server-key.pem", "2048"]);
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-key",
            "server-key.pem",
            "-subj",
            "/CN=127.0.0.1",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("server-ext.cnf"),
        "subjectAltName = IP:127.0.0.1,DNS:localhost\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-sha256",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-extfile",
            "server-ext.cnf",
            "-out",
            "server-cert.pem",
        ],
    );
    // The client.
    openssl(&dir, &["genrsa", "-out", "key.pem", "2048"]);
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-key",
            "key.pem",
            "-subj",
            "/CN=client",
            "-out",
            "client.csr",
        ],
    );
    std::fs::write(
        dir.join("client-ext.cnf"),
        "extendedKeyUsage = clientAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-sha256",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-extfile",
            "client-ext.cnf",
            "-out",
            "cert.pem",
        ],
    );
    Certs { _tmp: tmp, dir }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the daemon accepts tcp connections on `port`.
fn wait_tcp(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

fn start_tls_daemon(certs: &Certs, verify: bool) -> (TestDaemon, String) {
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let (ca, cert, key) = (
        certs.path("ca.pem"),
        certs.path("server-cert.pem"),
        certs.path("server-key.pem"),
    );
    let mode = if verify { "--tlsverify" } else { "--tls" };
    let mut flags = vec!["-H", host.as_str(), mode];
    if verify {
        flags.extend(["--tlscacert", ca.as_str()]);
    }
    flags.extend(["--tlscert", cert.as_str(), "--tlskey", key.as_str()]);
    let d = TestDaemon::start_with(&flags);
    wait_tcp(port);
    (d, host)
}

/// The official docker CLI on `host` with extra global flags.
fn docker_tcp(d: &TestDaemon, host: &str, global: &[&str], args: &[&str]) -> Output {
    let mut c = d.docker_cmd(&[]);
    c.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .args(global)
        .args(["-H", host])
        .args(args);
    c.output().expect("run docker")
}

/// The berth CLI on `host` with extra global flags.
fn berth_tcp(host: &str, global: &[&str], args: &[&str]) -> Command {
    let mut c = Command::new(common::berth_exe());
    c.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .args(global)
        .args(["-H", host])
        .args(args)
        .stdin(Stdio::null());
    c
}

fn client_flags(certs: &Certs) -> Vec<String> {
    vec![
        "--tlsverify".into(),
        "--tlscacert".into(),
        certs.path("ca.pem"),
        "--tlscert".into(),
        certs.path("cert.pem"),
        "--tlskey".into(),
        certs.path("key.pem"),
    ]
}

#[test]
fn mutual_tls_with_docker_and_berth_clients() {
    let certs = make_certs();
    let (d, host) = start_tls_daemon(&certs, true);
    let flags = client_flags(&certs);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();

    // The official docker CLI.
    let out = docker_tcp(
        &d,
        &host,
        &flags,
        &[
            "version",
            "--format",
            "{{.Server.APIVersion}} {{.Server.Os}}",
        ],
    );
    assert_ok(&out, "docker --tlsverify version");
    assert_eq!(stdout(&out).trim(), "1.45 linux");
    let out = docker_tcp(&d, &host, &flags, &["info", "--format", "{{.OSType}}"]);
    assert_ok(&out, "docker --tlsverify info");
    assert_eq!(stdout(&out).trim(), "linux");

    // The berth CLI, with flags and with DOCKER_TLS_VERIFY + DOCKER_CERT_PATH.
    let out = berth_tcp(&host, &flags, &["version", "--format", "{{.Server.Os}}"])
        .output()
        .unwrap();
    assert_ok(&out, "berth --tlsverify version");
    assert_eq!(stdout(&out).trim(), "linux");
    let out = berth_tcp(&host, &[], &["info", "--format", "{{.OSType}}"])
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &certs.dir)
        .output()
        .unwrap();
    assert_ok(&out, "berth info with DOCKER_TLS_VERIFY");
    assert_eq!(stdout(&out).trim(), "linux");
    // The docker CLI reads the same environment.
    let mut c = d.docker_cmd(&["-H", &host, "version", "--format", "{{.Server.Os}}"]);
    let out = c
        .env_remove("DOCKER_HOST")
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &certs.dir)
        .output()
        .unwrap();
    assert_ok(&out, "docker version with DOCKER_TLS_VERIFY");

    // Without a client certificate the daemon refuses the connection.
    let ca = certs.path("ca.pem");
    let out = docker_tcp(
        &d,
        &host,
        &["--tlsverify", "--tlscacert", &ca],
        &["version"],
    );
    assert!(!out.status.success(), "docker without a client cert got in");
    let out = berth_tcp(&host, &["--tlsverify", "--tlscacert", &ca], &["version"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "berth without a client cert got in");
    assert!(
        stderr(&out).contains("CertificateRequired"),
        "{}",
        stderr(&out)
    );
    // Plain HTTP on the TLS port gets nowhere either.
    let out = docker_tcp(&d, &host, &[], &["version", "--format", "{{.Server.Os}}"]);
    assert!(!out.status.success(), "plain http on the TLS port got in");
    assert!(
        stderr(&out).contains("Client sent an HTTP request to an HTTPS server"),
        "{}",
        stderr(&out)
    );
    // A client that does not trust the daemon's CA refuses it.
    let out = berth_tcp(
        &host,
        &[
            "--tlsverify",
            "--tlscacert",
            &certs.path("cert.pem"),
            "--tlscert",
            &certs.path("cert.pem"),
            "--tlskey",
            &certs.path("key.pem"),
        ],
        &["version"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success(), "berth trusted a foreign CA");

    // A stalled handshake does not hold up others, and failed ones left the daemon serving.
    let _idle = std::net::TcpStream::connect(host.trim_start_matches("tcp://")).unwrap();
    let out = docker_tcp(
        &d,
        &host,
        &flags,
        &["version", "--format", "{{.Server.Os}}"],
    );
    assert_ok(&out, "docker version beside a stalled handshake");
    assert!(
        !d.log()
            .contains("Binding to IP address without --tlsverify"),
        "{}",
        d.log()
    );
}

#[test]
fn docker_run_attaches_over_tls() {
    let certs = make_certs();
    let (d, host) = start_tls_daemon(&certs, true);
    d.import_busybox();
    let flags = client_flags(&certs);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let out = docker_tcp(&d, &host, &flags, &["run", "--rm", "busybox", "echo", "hi"]);
    assert_ok(&out, "docker run over TLS");
    assert_eq!(stdout(&out), "hi\n");
    // Stdin through the hijacked TLS stream, half-closed at its end (close_notify).
    let mut c = d.docker_cmd(&[]);
    c.env_remove("DOCKER_HOST")
        .args(&flags)
        .args([
            "-H",
            &host,
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "cat; echo done",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"over tls\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_ok(&out, "docker run -i over TLS");
    assert_eq!(stdout(&out), "over tls\ndone\n");
    // Exec, another hijack.
    assert_ok(
        &docker_tcp(
            &d,
            &host,
            &flags,
            &["run", "-d", "--name", "tlsexec", "busybox", "sleep", "60"],
        ),
        "docker run -d over TLS",
    );
    let out = docker_tcp(&d, &host, &flags, &["exec", "tlsexec", "echo", "exec ok"]);
    assert_ok(&out, "docker exec over TLS");
    assert_eq!(stdout(&out), "exec ok\n");
    let _ = docker_tcp(&d, &host, &flags, &["rm", "-f", "tlsexec"]);
    let out = berth_tcp(&host, &flags, &["run", "--rm", "busybox", "echo", "hi"])
        .output()
        .unwrap();
    assert_ok(&out, "berth run over TLS");
    assert_eq!(stdout(&out), "hi\n");
}

#[test]
fn server_tls_without_client_verification() {
    let certs = make_certs();
    let (d, host) = start_tls_daemon(&certs, false);
    // --tls alone: no client certificate needed, the server's is not checked (the docker
    // CLI still insists on reading a CA file, here one that did not sign the server's).
    let out = docker_tcp(
        &d,
        &host,
        &["--tls", "--tlscacert", &certs.path("cert.pem")],
        &["version", "--format", "{{.Server.Os}}"],
    );
    assert_ok(&out, "docker --tls version");
    assert_eq!(stdout(&out).trim(), "linux");
    let out = berth_tcp(
        &host,
        &["--tls"],
        &["version", "--format", "{{.Server.Os}}"],
    )
    .env("DOCKER_CONFIG", d.dir.join("docker-config"))
    .output()
    .unwrap();
    assert_ok(&out, "berth --tls version");
    // The daemon warns, as dockerd does, since clients are not authenticated.
    assert!(
        d.log()
            .contains("Binding to IP address without --tlsverify"),
        "{}",
        d.log()
    );
}

#[test]
fn plaintext_tcp_works_with_dockerds_warning() {
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let d = TestDaemon::start_with(&["-H", &host]);
    wait_tcp(port);
    let out = docker_tcp(&d, &host, &[], &["version", "--format", "{{.Server.Os}}"]);
    assert_ok(&out, "docker version over plain tcp");
    assert_eq!(stdout(&out).trim(), "linux");
    let out = berth_tcp(&host, &[], &["info", "--format", "{{.OSType}}"])
        .output()
        .unwrap();
    assert_ok(&out, "berth info over plain tcp");
    let log = d.log();
    assert!(
        log.contains("Binding to IP address without --tlsverify is insecure"),
        "{log}"
    );
}

#[test]
fn bad_certificate_paths_stop_startup_naming_the_file() {
    let certs = make_certs();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-cert.pem");
    std::fs::write(dir.path().join("daemon.json"), "{}").unwrap();
    let port = free_port();
    let out = Command::new(common::berth_exe())
        .args(["daemon", "-H"])
        .arg(format!("unix://{}", dir.path().join("s.sock").display()))
        .arg("-H")
        .arg(format!("tcp://127.0.0.1:{port}"))
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--config-file")
        .arg(dir.path().join("daemon.json"))
        .args([
            "--tlsverify",
            "--tlscacert",
            &certs.path("ca.pem"),
            "--tlscert",
        ])
        .arg(&missing)
        .args(["--tlskey", &certs.path("server-key.pem")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no-such-cert.pem"),
        "{}",
        stderr(&out)
    );
}
