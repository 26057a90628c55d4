//! `berth registry serve|gc` through the binary: flags, serving, stopping on SIGTERM, gc.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

fn berth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_berth"))
}

/// Kills the server if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http(addr: &str, head: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        format!(
            "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn registry_serve_and_gc_from_the_cli() {
    let help = berth().args(["registry", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.status.success() && text.contains("serve") && text.contains("gc"),
        "{text}"
    );
    let help = berth()
        .args(["registry", "serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--root",
        "--htpasswd",
        "--token-realm",
        "--token-key",
        "--tls-cert",
        "--tls-key",
    ] {
        assert!(text.contains(flag), "{flag} missing from {text}");
    }
    let bad = berth()
        .args(["registry", "serve", "--token-realm", "http://x/token"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--token-service"));

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let child = berth()
        .args(["registry", "serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(&root)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut lines = BufReader::new(server.0.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server logs its address").unwrap();
        if let Some(a) = line.split("listening on ").nth(1) {
            break a.trim().to_string();
        }
    };
    let resp = http(&addr, "GET /v2/ HTTP/1.1", b"");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let digest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let resp = http(
        &addr,
        &format!("POST /v2/cli/test/blobs/uploads/?digest={digest} HTTP/1.1"),
        b"hello",
    );
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    nix_kill_term(server.0.id());
    assert!(server.0.wait().unwrap().success());

    let blob = root.join("blobs/sha256/2c").join(&digest[7..]);
    assert!(blob.exists());
    let out = berth()
        .args(["registry", "gc", "--dry-run", "--grace", "0s", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&format!("would remove blob {digest}")),
        "{text}"
    );
    assert!(blob.exists());
    let out = berth()
        .args(["registry", "gc", "--grace", "0s", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&format!("removed blob {digest}")),
        "{text}"
    );
    assert!(!blob.exists());
}

fn nix_kill_term(pid: u32) {
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}
