//! berth's registry client against berth's own registry server (`berth registry serve` as a
//! separate process on a free port of 127.0.0.1): the berth CLI and the docker CLI push and
//! pull through it, by tag and by digest, skopeo reads what they pushed; htpasswd over TLS
//! and bearer tokens accept good and refuse bad credentials.

mod common;
mod registry_peers;

use std::path::Path;
use std::process::Command;

use common::{assert_ok, stderr, stdout, TestDaemon};
use registry_peers::{make_certs, BerthRegistry};

fn image_id(d: &TestDaemon, name: &str) -> String {
    let o = d.berth(&["image", "inspect", "-f", "{{.Id}}", name]);
    assert_ok(&o, "inspect");
    stdout(&o).trim().to_string()
}

/// The digest in a push's `TAG: digest: sha256:... size: N` line.
fn pushed_digest(out: &str, tag: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{tag}: digest: sha256:")))
        .unwrap_or_else(|| panic!("no digest line for {tag}: {out}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

fn htpasswd(dir: &Path, user: &str, password: &str) -> String {
    let path = dir.join("htpasswd");
    let o = Command::new("htpasswd")
        .args(["-Bbc"])
        .arg(&path)
        .args([user, password])
        .output()
        .expect("htpasswd (apt install apache2-utils)");
    assert!(o.status.success(), "{}", stderr(&o));
    path.display().to_string()
}

#[test]
fn berth_and_docker_clis_push_and_pull_through_berths_registry() {
    let reg = BerthRegistry::start(|_, _| Vec::new());
    let h = reg.host();
    let d = TestDaemon::start();
    d.import_busybox();
    let id = image_id(&d, "busybox");

    // The berth CLI: push, pull back after rmi, by digest.
    let name = format!("{h}/lib/bb:1");
    assert_ok(&d.berth(&["tag", "busybox", &name]), "tag");
    let o = d.berth(&["push", &name]);
    assert_ok(&o, "push");
    let digest = pushed_digest(&stdout(&o), "1");
    let listed = Command::new("curl")
        .args(["-fsS", &format!("http://{h}/v2/lib/bb/tags/list")])
        .output()
        .unwrap();
    assert_eq!(stdout(&listed), r#"{"name":"lib/bb","tags":["1"]}"#);
    assert_ok(&d.berth(&["rmi", &name, "busybox"]), "rmi");
    let o = d.berth(&["pull", &name]);
    assert_ok(&o, "pull");
    assert!(
        stdout(&o).contains(&format!("Digest: {digest}")),
        "{}",
        stdout(&o)
    );
    assert_eq!(image_id(&d, &name), id, "the same image comes back");
    let by_digest = format!("{h}/lib/bb@{digest}");
    assert_ok(&d.berth(&["rmi", &name]), "rmi");
    let o = d.berth(&["pull", &by_digest]);
    assert_ok(&o, "pull by digest");
    assert_eq!(image_id(&d, &by_digest), id);
    let o = d.berth(&["run", "--rm", &by_digest, "echo", "from berth's registry"]);
    assert_ok(&o, "run the pulled image");
    assert_eq!(stdout(&o), "from berth's registry\n");

    // skopeo (another client) sees the same manifest digest.
    let o = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{h}/lib/bb:1"))
        .output()
        .expect("skopeo (apt install skopeo)");
    assert_ok(&o, "skopeo inspect");
    assert_eq!(stdout(&o).trim(), digest);

    // The docker CLI through berth: into another repository of the same registry (its layers
    // come from lib/bb), then back.
    let other = format!("{h}/apps/bb:2");
    assert_ok(&d.docker(&["tag", &by_digest, &other]), "docker tag");
    let o = d.docker(&["push", &other]);
    assert_ok(&o, "docker push");
    let out = stdout(&o);
    assert!(
        out.contains("Mounted from lib/bb") || out.contains("Layer already exists"),
        "{out}"
    );
    assert_eq!(
        pushed_digest(&out, "2"),
        digest,
        "same content, same digest"
    );
    assert_ok(&d.docker(&["rmi", &other]), "docker rmi");
    let o = d.docker(&["pull", &other]);
    assert_ok(&o, "docker pull");
    assert!(
        stdout(&o).contains(&format!("Digest: {digest}")),
        "{}",
        stdout(&o)
    );

    // An unknown tag: docker's message, exit 1, nothing stored.
    let before = stdout(&d.docker(&["images", "-q"]));
    let o = d.docker(&["pull", &format!("{h}/lib/bb:nope")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("manifest for {h}/lib/bb:nope not found")),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&d.docker(&["images", "-q"])), before);
}

#[test]
fn htpasswd_over_tls_and_bearer_tokens_on_berths_registry() {
    // Basic auth over TLS (the test CA's certificate given to the daemon).
    let reg = BerthRegistry::start(|dir, _| {
        make_certs(dir);
        vec![
            "--htpasswd".into(),
            htpasswd(dir, "alice", "s3cret"),
            "--tls-cert".into(),
            dir.join("server.crt").display().to_string(),
            "--tls-key".into(),
            dir.join("server.key").display().to_string(),
        ]
    });
    let h = reg.host();
    let certs = reg.dir.path().join("certs.d");
    std::fs::create_dir_all(certs.join(&h)).unwrap();
    std::fs::copy(reg.dir.path().join("ca.crt"), certs.join(&h).join("ca.crt")).unwrap();
    let d = TestDaemon::start_with(&[&format!("--registry-certs-dir={}", certs.display())]);
    d.import_busybox();
    let cfg = reg.dir.path().join("client-config");
    let berth = |args: &[&str]| {
        d.berth_cmd(args)
            .env("DOCKER_CONFIG", &cfg)
            .output()
            .unwrap()
    };
    let name = format!("{h}/private/bb:1");
    assert_ok(&berth(&["tag", "busybox", &name]), "tag");
    let o = berth(&["push", &name]);
    assert!(!o.status.success(), "no credentials: {}", stdout(&o));
    let o = berth(&["login", "-u", "alice", "-p", "wrong", &h]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("401 Unauthorized"), "{}", stderr(&o));
    let o = berth(&["login", "-u", "alice", "-p", "s3cret", &h]);
    assert_ok(&o, "login");
    assert!(stdout(&o).contains("Login Succeeded"));
    assert_ok(&berth(&["push", &name]), "push with credentials");
    assert_ok(&berth(&["rmi", &name]), "rmi");
    assert_ok(&berth(&["pull", &name]), "pull with credentials");
    let o = d.docker(&["login", "-u", "bob", "-p", "s3cret", &h]);
    assert!(!o.status.success(), "an unknown user");
    assert_ok(&berth(&["logout", &h]), "logout");
    assert_ok(&berth(&["rmi", &name]), "rmi");
    assert!(!berth(&["pull", &name]).status.success(), "logged out");
    drop(reg);

    // Bearer tokens issued by the registry itself after checking the htpasswd file.
    let reg = BerthRegistry::start(|dir, port| {
        let key = dir.join("token.key");
        std::fs::write(&key, "a test signing secret of enough bytes!").unwrap();
        vec![
            "--htpasswd".into(),
            htpasswd(dir, "alice", "s3cret"),
            "--token-realm".into(),
            format!("http://127.0.0.1:{port}/token"),
            "--token-service".into(),
            "berth-test".into(),
            "--token-issuer".into(),
            "berth-test-issuer".into(),
            "--token-key".into(),
            key.display().to_string(),
        ]
    });
    let h = reg.host();
    let name = format!("{h}/tok/bb:1");
    assert_ok(&berth(&["tag", "busybox", &name]), "tag");
    let o = berth(&["login", "-u", "alice", "-p", "nope", &h]);
    assert!(!o.status.success(), "bad credentials: {}", stdout(&o));
    assert_ok(
        &berth(&["login", "-u", "alice", "-p", "s3cret", &h]),
        "login",
    );
    assert_ok(&berth(&["push", &name]), "push with a token");
    assert_ok(&berth(&["rmi", &name]), "rmi");
    assert_ok(&berth(&["pull", &name]), "pull with a token");
    assert_ok(&berth(&["logout", &h]), "logout");
}
