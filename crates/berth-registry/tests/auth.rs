//! Basic auth over TLS with a test CA, and the bearer token flow.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use berth_registry::server::{AuthConfig, TlsFiles, TokenConfig};
use common::*;

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// curl over TLS trusting the test CA; returns the status and the headers.
fn curl(ca: &Path, url: &str, creds: Option<&str>) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}"])
        .arg("--cacert")
        .arg(ca);
    if let Some(u) = creds {
        c.args(["-u", u]);
    }
    let out = run(c.arg(url));
    let status = out[out.len() - 3..].parse().unwrap();
    (status, out)
}

#[test]
fn htpasswd_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path());
    let htpasswd = dir.path().join("htpasswd");
    make_htpasswd(&htpasswd, &[("alice", "s3cret"), ("bob", "hunter2")]);
    let auth = AuthConfig {
        htpasswd: Some(htpasswd),
        realm: "test realm".into(),
        token: None,
    };
    let tls = TlsFiles {
        cert: certs.cert.clone(),
        key: certs.key.clone(),
    };
    let reg = TestRegistry::start_with(
        &dir.path().join("root"),
        auth,
        Some(tls),
        "127.0.0.1:0".parse().unwrap(),
    );
    let base = format!("https://{}/v2/", reg.host());

    let (status, headers) = curl(&certs.ca, &base, None);
    assert_eq!(status, 401);
    assert!(
        headers
            .to_lowercase()
            .contains("www-authenticate: basic realm=\"test realm\""),
        "{headers}"
    );
    assert_eq!(curl(&certs.ca, &base, Some("alice:wrong")).0, 401);
    assert_eq!(curl(&certs.ca, &base, Some("mallory:s3cret")).0, 401);
    assert_eq!(curl(&certs.ca, &base, Some("alice:s3cret")).0, 200);
    assert_eq!(curl(&certs.ca, &base, Some("bob:hunter2")).0, 200);
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{}/v2/", reg.host()))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");

    // skopeo with the CA in a cert dir, as docker's certs.d.
    let cert_dir = dir.path().join("certs.d");
    std::fs::create_dir_all(&cert_dir).unwrap();
    std::fs::copy(&certs.ca, cert_dir.join("ca.crt")).unwrap();
    let policy = skopeo_policy(dir.path());
    let src = dir.path().join("src");
    let digest = busybox_oci_layout(&src, "1");
    let dest = format!("docker://{}/secure/busybox:1", reg.host());
    let copy = |creds: &str| {
        Command::new("skopeo")
            .arg("--policy")
            .arg(&policy)
            .args(["copy", "--dest-creds", creds])
            .arg("--dest-cert-dir")
            .arg(&cert_dir)
            .arg(format!("oci:{}:1", src.display()))
            .arg(&dest)
            .output()
            .unwrap()
    };
    let refused = copy("alice:nope");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(
        err.contains("unauthorized") || err.contains("authentication required"),
        "{err}"
    );
    let ok = copy("alice:s3cret");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = run(Command::new("skopeo")
        .arg("--policy")
        .arg(&policy)
        .args(["inspect", "--raw", "--creds", "bob:hunter2"])
        .arg("--cert-dir")
        .arg(&cert_dir)
        .arg(&dest));
    assert_eq!(sha256(out.as_bytes()), digest);
}

#[test]
fn bearer_token_flow() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    make_htpasswd(&htpasswd, &[("alice", "s3cret")]);
    let key = dir.path().join("token.key");
    std::fs::write(
        &key,
        run(Command::new("openssl").args(["rand", "-hex", "32"])),
    )
    .unwrap();
    let addr = free_addr();
    let token = TokenConfig {
        realm: format!("http://{addr}/auth/token"),
        service: "berth-test".into(),
        issuer: "berth-test-issuer".into(),
        key: key.clone(),
        expiry_secs: 300,
    };
    let auth = AuthConfig {
        htpasswd: Some(htpasswd),
        realm: "unused".into(),
        token: Some(token),
    };
    let reg = TestRegistry::start_with(&dir.path().join("root"), auth, None, addr);

    let r = get(reg.addr, "/v2/app/tags/list");
    assert_eq!((r.status, r.error_code().as_str()), (401, "UNAUTHORIZED"));
    assert_eq!(
        r.header("WWW-Authenticate").unwrap(),
        format!("Bearer realm=\"http://{addr}/auth/token\",service=\"berth-test\",scope=\"repository:app:pull\"")
    );
    let path = "/auth/token?service=berth-test&scope=repository:app:pull";
    assert_eq!(get(reg.addr, path).status, 401);
    assert_eq!(
        request(
            reg.addr,
            "GET",
            path,
            &[("Authorization", &basic("alice", "bad"))],
            b""
        )
        .status,
        401
    );
    let r = request(
        reg.addr,
        "GET",
        path,
        &[("Authorization", &basic("alice", "s3cret"))],
        b"",
    );
    assert_eq!(r.status, 200);
    let pull = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(r.json()["access_token"], pull.as_str());
    let bearer = format!("Bearer {pull}");

    // The OAuth2 form containerd posts first.
    let form = |pass: &str, grant: &str| {
        let body = format!("grant_type={grant}&username=alice&password={pass}&service=berth-test&scope=repository%3Aapp%3Apull&client_id=test");
        request(
            reg.addr,
            "POST",
            "/auth/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    };
    let r = form("s3cret", "password");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["scope"], "repository:app:pull");
    let oauth = r.json()["access_token"].as_str().unwrap().to_string();
    let r = request(
        reg.addr,
        "GET",
        "/v2/app/tags/list",
        &[("Authorization", &format!("Bearer {oauth}"))],
        b"",
    );
    assert_eq!(
        r.status, 404,
        "the token is good: only the repository is unknown"
    );
    let r = form("bad", "password");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("invalid_grant"))
    );
    let r = form("s3cret", "refresh_token");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    // A pull token reads but does not write.
    let r = request(
        reg.addr,
        "GET",
        "/v2/app/tags/list",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!((r.status, r.error_code().as_str()), (404, "NAME_UNKNOWN"));
    let r = request(
        reg.addr,
        "POST",
        "/v2/app/blobs/uploads/",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 401);
    assert!(r
        .header("WWW-Authenticate")
        .unwrap()
        .contains("error=\"insufficient_scope\""));
    let r = request(
        reg.addr,
        "GET",
        "/v2/other/tags/list",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 401);
    // A tampered or foreign token is refused.
    let mut tampered = pull.clone();
    tampered.pop();
    tampered.push(if pull.ends_with('A') { 'B' } else { 'A' });
    let r = request(
        reg.addr,
        "GET",
        "/v2/app/tags/list",
        &[("Authorization", &format!("Bearer {tampered}"))],
        b"",
    );
    assert_eq!(r.status, 401);
    assert!(r
        .header("WWW-Authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));

    // skopeo follows the challenge with the credentials and pushes.
    let policy = skopeo_policy(dir.path());
    let src = dir.path().join("src");
    let digest = busybox_oci_layout(&src, "1");
    let dest = format!("docker://{addr}/team/busybox:1");
    let copy = |creds: &str| {
        Command::new("skopeo")
            .arg("--policy")
            .arg(&policy)
            .args(["copy", "--dest-tls-verify=false", "--dest-creds", creds])
            .arg(format!("oci:{}:1", src.display()))
            .arg(&dest)
            .output()
            .unwrap()
    };
    assert!(!copy("alice:bad").status.success());
    let ok = copy("alice:s3cret");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = run(Command::new("skopeo")
        .arg("--policy")
        .arg(&policy)
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            "alice:s3cret",
        ])
        .arg(&dest));
    assert_eq!(sha256(out.as_bytes()), digest);
}
