//! The registry client end to end, against Debian's `docker-registry` (Distribution 2.8) on
//! 127.0.0.1: push, pull back, by digest, up to date, manifest lists, resumed pulls, corrupt
//! blobs, htpasswd + TLS logins; with the berth CLI and the docker CLI.

mod common;
mod registry_peers;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

use common::{assert_ok, stderr, stdout, TestDaemon};
use registry_peers::{serve_token_front, serve_v1_search, Proxy, Registry};

fn lines_with<'a>(out: &'a str, needle: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.contains(needle)).collect()
}

fn image_id(d: &TestDaemon, name: &str) -> String {
    let o = d.berth(&["image", "inspect", "-f", "{{.Id}}", name]);
    assert_ok(&o, "inspect");
    stdout(&o).trim().to_string()
}

#[test]
fn push_then_pull_back_with_the_berth_cli() {
    let reg = Registry::start();
    let d = TestDaemon::start();
    d.import_busybox();
    let name = format!("{}/test/busybox:v1", reg.host());
    assert_ok(&d.berth(&["tag", "busybox", &name]), "tag");
    let id = image_id(&d, &name);

    let o = d.berth(&["push", &name]);
    assert_ok(&o, "push");
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/test/busybox]",
            reg.host()
        )),
        "{out}"
    );
    let digest_line = lines_with(&out, "v1: digest: sha256:");
    assert_eq!(digest_line.len(), 1, "{out}");
    let digest = digest_line[0]
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    // The registry has it under that digest.
    let (code, _) = reg.curl(&["-I"], &format!("/v2/test/busybox/manifests/{digest}"));
    assert_eq!(code, 200);

    // --platform: the image's own platform only.
    let o = d.berth(&["push", "--platform", "linux/arm64", &name]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(
            "does not match the specified platform: wanted linux/arm64, actual: linux/amd64"
        ),
        "{}",
        stderr(&o)
    );
    // A second push finds the layer there.
    let o = d.berth(&["push", "--platform", "linux/amd64", &name]);
    assert_ok(&o, "push again");
    assert!(
        stdout(&o).contains("Layer already exists"),
        "{}",
        stdout(&o)
    );

    assert_ok(&d.berth(&["rmi", &name, "busybox"]), "rmi");
    let o = d.berth(&["pull", &name]);
    assert_ok(&o, "pull");
    let out = stdout(&o);
    assert!(out.contains("v1: Pulling from test/busybox"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out}"
    );
    assert_eq!(image_id(&d, &name), id, "the same image comes back");
    let digests = stdout(&d.berth(&["image", "inspect", "-f", "{{json .RepoDigests}}", &name]));
    assert!(
        digests.contains(&format!("{}/test/busybox@{digest}", reg.host())),
        "{digests}"
    );
    let o = d.berth(&["run", "--rm", &name, "echo", "pulled"]);
    assert_ok(&o, "run pulled image");
    assert_eq!(stdout(&o).trim(), "pulled");

    // On a terminal each layer has one line, rewritten in place.
    assert_ok(&d.berth(&["rmi", &name]), "rmi");
    let o = Command::new("script")
        .args(["-qefc"])
        .arg(format!(
            "{} -H {} pull {name}",
            common::berth_exe(),
            d.host()
        ))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ok(&o, "pull on a terminal");
    let tty = stdout(&o);
    assert!(tty.contains("\x1b[1A\r\x1b[2K"), "cursor moves: {tty:?}");
    assert_eq!(
        tty.matches(": Pulling fs layer").count(),
        1,
        "one line per layer: {tty:?}"
    );

    // Pulled again: nothing to do.
    let o = d.berth(&["pull", &name]);
    assert_ok(&o, "pull again");
    assert!(
        stdout(&o).contains(&format!("Status: Image is up to date for {name}")),
        "{}",
        stdout(&o)
    );

    // By digest: the push's digest.
    let by_digest = format!("{}/test/busybox@{digest}", reg.host());
    assert_ok(&d.berth(&["rmi", &name]), "rmi");
    let o = d.berth(&["pull", &by_digest]);
    assert_ok(&o, "pull by digest");
    assert!(
        stdout(&o).contains(&format!("Digest: {digest}")),
        "{}",
        stdout(&o)
    );
    assert_eq!(image_id(&d, &by_digest), id);

    // Unknown images: docker's message.
    let o = d.berth(&["pull", &format!("{}/test/nope", reg.host())]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!(
            "manifest for {}/test/nope:latest not found: manifest unknown",
            reg.host()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_docker_cli_pushes_and_pulls_through_berth() {
    let reg = Registry::start();
    let d = TestDaemon::start();
    d.import_busybox();
    let name = format!("{}/dock/bb:latest", reg.host());
    assert_ok(&d.docker(&["tag", "busybox", &name]), "tag");
    let o = d.docker(&["push", &name]);
    assert_ok(&o, "docker push");
    let out = stdout(&o);
    assert!(out.contains("latest: digest: sha256:"), "{out}");
    let digest = out
        .split("latest: digest: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_ok(&d.docker(&["rmi", &name]), "rmi");
    let o = d.docker(&["pull", &name]);
    assert_ok(&o, "docker pull");
    let out = stdout(&o);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(
        out.contains("Pull complete") || out.contains("Already exists"),
        "{out}"
    );
    // The busybox layer was still there (the busybox tag kept it).
    assert!(out.contains("Already exists"), "{out}");
    let o = d.docker(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Digest}}",
    ]);
    assert!(
        stdout(&o).contains(&format!("{}/dock/bb {digest}", reg.host())),
        "{}",
        stdout(&o)
    );
    let o = d.docker(&["pull", &format!("{}/dock/nope", reg.host())]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Error response from daemon: manifest for"),
        "{}",
        stderr(&o)
    );
}

/// The digest and size of a manifest in the registry.
fn manifest_of(reg: &Registry, repo: &str, tag: &str) -> (String, usize, String) {
    let (code, body) = reg.curl(
        &[
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ],
        &format!("/v2/{repo}/manifests/{tag}"),
    );
    assert_eq!(code, 200, "{body}");
    let digest = {
        use std::fmt::Write as _;
        let out = Command::new("sha256sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(body.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        let mut s = String::new();
        let _ = write!(
            s,
            "sha256:{}",
            stdout(&out).split_whitespace().next().unwrap()
        );
        s
    };
    (digest, body.len(), body)
}

#[test]
fn a_manifest_list_gives_the_platform_asked_for() {
    let reg = Registry::start();
    let d = TestDaemon::start();
    let tar = common::busybox_tar();
    let h = reg.host();
    for (tag, env) in [("arm", "FOR=arm64"), ("amd", "FOR=amd64")] {
        let name = format!("{h}/test/multi:{tag}");
        let o = d.berth(&[
            "import",
            "-c",
            &format!("ENV {env}"),
            tar.to_str().unwrap(),
            &name,
        ]);
        assert_ok(&o, "import");
        assert_ok(&d.berth(&["push", &name]), "push");
    }
    let arm_id = image_id(&d, &format!("{h}/test/multi:arm"));
    let amd_id = image_id(&d, &format!("{h}/test/multi:amd"));
    let (arm, arm_size, _) = manifest_of(&reg, "test/multi", "arm");
    let (amd, amd_size, _) = manifest_of(&reg, "test/multi", "amd");
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{arm}","size":{arm_size},"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{amd}","size":{amd_size},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
    );
    let (code, body) = reg.curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.docker.distribution.manifest.list.v2+json",
            "--data-binary",
            &list,
        ],
        "/v2/test/multi/manifests/latest",
    );
    assert_eq!(code, 201, "{body}");
    assert_ok(
        &d.berth(&[
            "rmi",
            &format!("{h}/test/multi:arm"),
            &format!("{h}/test/multi:amd"),
        ]),
        "rmi",
    );
    let name = format!("{h}/test/multi");
    let o = d.berth(&["pull", &name]);
    assert_ok(&o, "pull the list");
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this test expects an amd64 host"
    );
    assert_eq!(image_id(&d, &name), amd_id, "the host's platform");
    let o = d.docker(&["pull", "--platform", "linux/arm64", &name]);
    assert_ok(&o, "docker pull --platform");
    assert_eq!(image_id(&d, &name), arm_id, "the platform asked for");
    let o = d.berth(&["pull", "--platform", "linux/s390x", &name]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{}",
        stderr(&o)
    );
    // What the registry offers, through the daemon.
    let (code, _, body) = d.http("GET", &format!("/distribution/{name}/json"), None);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["Descriptor"]["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let archs: Vec<&str> = v["Platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["arm64", "amd64"]);
    // A single-platform image asked for another platform.
    let o = d.berth(&[
        "pull",
        "--platform",
        "linux/arm64",
        &format!("{h}/test/multi:amd"),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64"),
        "{}",
        stderr(&o)
    );
    // pull -a: every tag.
    let o = d.berth(&["pull", "-a", &name]);
    assert_ok(&o, "pull -a");
    let o = d.berth(&["images", "--format", "{{.Tag}}", &name]);
    let mut tags: Vec<String> = stdout(&o).lines().map(String::from).collect();
    tags.sort();
    assert_eq!(tags, ["amd", "arm", "latest"]);
}

fn layer_digests(manifest: &str) -> Vec<(String, u64)> {
    let v: serde_json::Value = serde_json::from_str(manifest).unwrap();
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["digest"].as_str().unwrap().to_string(),
                l["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_interrupted_pull_resumes_without_refetching_finished_layers() {
    let reg = Registry::start();
    let mut d = TestDaemon::start();
    d.import_busybox();
    let h = reg.host();
    // A second layer of 6 MB that gzip cannot shrink.
    let o = d.berth(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "head -c 6000000 /dev/urandom > /big",
    ]);
    assert_ok(&o, "run");
    let name = format!("{h}/test/big:1");
    assert_ok(&d.berth(&["commit", "big", &name]), "commit");
    assert_ok(&d.berth(&["rm", "big"]), "rm");
    let id = image_id(&d, &name);
    assert_ok(&d.berth(&["push", &name]), "push");
    let (_, _, manifest) = manifest_of(&reg, "test/big", "1");
    let layers = layer_digests(&manifest);
    assert_eq!(layers.len(), 2);
    let (small, _) = layers[0].clone();
    let (big, big_size) = layers[1].clone();
    assert!(big_size > 5_000_000);
    assert_ok(&d.berth(&["rmi", &name, "busybox"]), "rmi");

    let proxy = Proxy::start(reg.port, big.clone(), 2_000_000);
    let via = format!("127.0.0.1:{}/test/big:1", proxy.port);
    let o = d.berth(&["pull", &via]);
    assert!(!o.status.success(), "the cut pull fails: {}", stdout(&o));
    let partial = d.dir.join(format!(
        "data/downloads/{}.partial",
        big.trim_start_matches("sha256:")
    ));
    let kept = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    assert!(kept > 0 && kept < big_size, "partial download kept: {kept}");
    assert!(
        d.berth(&["image", "inspect", &via]).status.code() != Some(0),
        "no image after a failed pull"
    );

    // What was downloaded survives a restart of the daemon.
    d.restart();
    proxy.cut.store(false, Ordering::SeqCst);
    let before = proxy.requests().len();
    let o = d.berth(&["pull", &via]);
    assert_ok(&o, "resumed pull");
    let out = stdout(&o);
    assert!(
        out.contains(&format!("{}: Already exists", &small[7..19])),
        "the finished layer is not fetched again: {out}"
    );
    let again: Vec<String> = proxy.requests()[before..].to_vec();
    assert!(
        !again.iter().any(|r| r.contains(&small)),
        "small layer refetched: {again:?}"
    );
    let big_gets: Vec<&String> = again.iter().filter(|r| r.contains(&big)).collect();
    assert_eq!(big_gets.len(), 1, "{again:?}");
    assert!(
        big_gets[0]
            .to_lowercase()
            .contains(&format!("[range: bytes={kept}-]")),
        "continued with Range: {big_gets:?}"
    );
    assert_eq!(image_id(&d, &via), id);
    assert!(!partial.exists(), "the partial file is gone");
    let o = d.berth(&["run", "--rm", &via, "sh", "-c", "wc -c < /big"]);
    assert_ok(&o, "run pulled");
    assert_eq!(stdout(&o).trim(), "6000000");
}

#[test]
fn a_corrupt_blob_is_refused_and_nothing_is_stored() {
    let reg = Registry::start();
    let d = TestDaemon::start();
    d.import_busybox();
    let name = format!("{}/test/bad:1", reg.host());
    assert_ok(&d.berth(&["tag", "busybox", &name]), "tag");
    assert_ok(&d.berth(&["push", &name]), "push");
    assert_ok(&d.berth(&["rmi", &name, "busybox"]), "rmi");
    let (_, _, manifest) = manifest_of(&reg, "test/bad", "1");
    let (layer, _) = layer_digests(&manifest)[0].clone();
    let hex = layer.trim_start_matches("sha256:");
    let data = reg
        .storage()
        .join(format!("blobs/sha256/{}/{hex}/data", &hex[..2]));
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();

    let o = d.berth(&["pull", &name]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("digest mismatch"), "{}", stderr(&o));
    let o = d.berth(&["images", "-aq"]);
    assert_eq!(stdout(&o).trim(), "", "no image");
    let layers: Vec<_> = std::fs::read_dir(d.dir.join("data/layers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(layers.is_empty(), "no layer stored: {layers:?}");
    let downloads: Vec<_> = std::fs::read_dir(d.dir.join("data/downloads"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(downloads.is_empty(), "no download kept: {downloads:?}");
}

#[test]
fn htpasswd_and_tls_logins_accept_good_and_refuse_bad_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let o = Command::new("htpasswd")
        .args(["-Bbc"])
        .arg(&htpasswd)
        .args(["alice", "s3cret"])
        .output()
        .expect("htpasswd (apt install apache2-utils)");
    assert!(o.status.success(), "{}", stderr(&o));
    let auth = format!(
        "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
        htpasswd.display()
    );
    let reg = Registry::start_with(&auth, true);
    let h = reg.host();
    let (code, _) = reg.curl(&[], "/v2/");
    assert_eq!(code, 401, "the registry asks for credentials");
    // The daemon trusts the test CA for this registry.
    let certs = dir.path().join("certs.d");
    std::fs::create_dir_all(certs.join(&h)).unwrap();
    std::fs::copy(reg.dir.path().join("ca.crt"), certs.join(&h).join("ca.crt")).unwrap();
    let d = TestDaemon::start_with(&[&format!("--registry-certs-dir={}", certs.display())]);
    d.import_busybox();
    let cfg = dir.path().join("berth-config");
    let berth = |args: &[&str]| {
        d.berth_cmd(args)
            .env("DOCKER_CONFIG", &cfg)
            .output()
            .unwrap()
    };
    let name = format!("{h}/private/bb:1");
    assert_ok(&berth(&["tag", "busybox", &name]), "tag");

    // Without credentials: refused.
    let o = berth(&["push", &name]);
    assert!(!o.status.success(), "{}", stdout(&o));

    // Bad credentials: docker's 401.
    let o = berth(&["login", "-u", "alice", "-p", "wrong", &h]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("401 Unauthorized"), "{}", stderr(&o));
    let o = d.docker(&["login", "-u", "alice", "-p", "wrong", &h]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("401 Unauthorized"), "{}", stderr(&o));

    // Good ones: stored in config.json, sent with push and pull.
    let mut c = d.berth_cmd(&["login", "-u", "alice", "--password-stdin", &h]);
    c.env("DOCKER_CONFIG", &cfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_ok(&o, "login");
    assert!(stdout(&o).contains("Login Succeeded"));
    let saved = std::fs::read_to_string(cfg.join("config.json")).unwrap();
    assert!(saved.contains("YWxpY2U6czNjcmV0"), "{saved}"); // alice:s3cret
    assert_ok(&berth(&["push", &name]), "push with credentials");
    assert_ok(&berth(&["rmi", &name]), "rmi");
    assert_ok(&berth(&["pull", &name]), "pull with credentials");

    // The docker CLI: its own login, its X-Registry-Auth.
    let o = d.docker(&["login", "-u", "alice", "-p", "s3cret", &h]);
    assert_ok(&o, "docker login");
    assert_ok(&d.docker(&["rmi", &name]), "rmi");
    assert_ok(&d.docker(&["pull", &name]), "docker pull with credentials");

    let o = berth(&["logout", &h]);
    assert_ok(&o, "logout");
    assert!(stdout(&o).contains(&format!("Removing login credentials for {h}")));
    assert_ok(&berth(&["rmi", &name]), "rmi");
    let o = berth(&["pull", &name]);
    assert!(!o.status.success(), "logged out: {}", stdout(&o));

    // A credential helper (credsStore): docker-credential-NAME get|store|erase.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let store = dir.path().join("helper-store");
    let helper = bin.join("docker-credential-berthtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nS={}\ncase \"$1\" in\n  store) cat > \"$S\" ;;\n  get) read server; if [ -s \"$S\" ]; then sed 's/\"Secret\"/\"Secret\"/' \"$S\"; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n  erase) rm -f \"$S\" ;;\nesac\n",
            store.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(cfg.join("config.json"), r#"{"credsStore":"berthtest"}"#).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let with_helper = |args: &[&str]| {
        d.berth_cmd(args)
            .env("DOCKER_CONFIG", &cfg)
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let o = with_helper(&["login", "-u", "alice", "-p", "s3cret", &h]);
    assert_ok(&o, "login through the helper");
    let kept = std::fs::read_to_string(&store).unwrap();
    assert!(kept.contains(r#""Secret":"s3cret""#), "{kept}");
    let saved = std::fs::read_to_string(cfg.join("config.json")).unwrap();
    assert!(
        !saved.contains("YWxpY2U6czNjcmV0"),
        "no secret in config.json: {saved}"
    );
    assert_ok(
        &with_helper(&["pull", &name]),
        "pull with the helper's credentials",
    );
    assert_ok(&with_helper(&["logout", &h]), "logout");
    assert!(!store.exists(), "erased");
}

#[test]
fn search_uses_the_v1_api_and_says_when_there_is_none() {
    let (port, seen) = serve_v1_search();
    let reg = Registry::start();
    let d = TestDaemon::start();
    let o = d.docker(&["search", &format!("127.0.0.1:{port}/box")]);
    assert_ok(&o, "docker search");
    let out = stdout(&o);
    assert!(
        out.contains(&format!("127.0.0.1:{port}/tools/box")),
        "{out}"
    );
    assert!(out.contains("a box"), "{out}");
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("GET /v1/search?q=box")));
    let o = d.docker(&[
        "search",
        "--filter",
        "is-official=true",
        &format!("127.0.0.1:{port}/box"),
    ]);
    assert_ok(&o, "docker search --filter");
    assert!(!stdout(&o).contains("tools/box"), "{}", stdout(&o));
    assert!(stdout(&o).contains("busybox"), "{}", stdout(&o));
    // The berth CLI prints what the docker CLI prints.
    for args in [
        vec!["search".to_string(), format!("127.0.0.1:{port}/box")],
        vec![
            "search".to_string(),
            "--no-trunc".to_string(),
            "--format".to_string(),
            "{{.Name}}: {{.StarCount}} {{.IsOfficial}}".to_string(),
            format!("127.0.0.1:{port}/box"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (k, b) = (d.docker(&args), d.berth(&args));
        assert_ok(&b, "berth search");
        assert_eq!(stdout(&b), stdout(&k), "{args:?}");
    }
    // Distribution has no search API: a clear error.
    let o = d.docker(&["search", &format!("{}/box", reg.host())]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!(
            "search is not supported by registry {}",
            reg.host()
        )),
        "{}",
        stderr(&o)
    );
}

fn sha256_file(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    format!("sha256:{}", stdout(&out).split_whitespace().next().unwrap())
}

/// Puts a blob into the registry with curl (POST, then PUT ?digest=).
fn upload_blob(reg: &Registry, repo: &str, file: &Path) -> (String, u64) {
    let digest = sha256_file(file);
    let out = Command::new("curl")
        .args(["-s", "-i", "-X", "POST"])
        .arg(format!("http://{}/v2/{repo}/blobs/uploads/", reg.host()))
        .output()
        .unwrap();
    let head = stdout(&out);
    let loc = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.trim().to_string())
        })
        .expect("upload location");
    let sep = if loc.contains('?') { '&' } else { '?' };
    let url = if loc.starts_with("http") {
        loc.clone()
    } else {
        format!("http://{}{loc}", reg.host())
    };
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .args([
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(format!("{url}{sep}digest={digest}"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "201", "upload {}", file.display());
    (digest, std::fs::metadata(file).unwrap().len())
}

#[test]
fn oci_manifests_with_zstd_and_plain_layers() {
    let reg = Registry::start();
    let d = TestDaemon::start();
    let dir = tempfile::tempdir().unwrap();
    let base = common::busybox_tar();
    let zst = dir.path().join("base.tar.zst");
    let o = Command::new("zstd")
        .args(["-q", "-f"])
        .arg(&base)
        .arg("-o")
        .arg(&zst)
        .output()
        .unwrap();
    assert!(o.status.success(), "zstd: {}", stderr(&o));
    let files = dir.path().join("top");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("hello"), "hello from an OCI layer\n").unwrap();
    let top = dir.path().join("top.tar");
    let o = Command::new("tar")
        .arg("-cf")
        .arg(&top)
        .arg("-C")
        .arg(&files)
        .arg("hello")
        .output()
        .unwrap();
    assert!(o.status.success());
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{}","{}"]}},"history":[{{"created_by":"base"}},{{"created_by":"top"}}]}}"#,
        sha256_file(&base),
        sha256_file(&top)
    );
    let cfg = dir.path().join("config.json");
    std::fs::write(&cfg, &config).unwrap();
    let (zd, zs) = upload_blob(&reg, "oci/img", &zst);
    let (td, ts) = upload_blob(&reg, "oci/img", &top);
    let (cd, cs) = upload_blob(&reg, "oci/img", &cfg);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"{zd}","size":{zs}}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{td}","size":{ts}}}]}}"#
    );
    let (code, body) = reg.curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
            &manifest,
        ],
        "/v2/oci/img/manifests/1",
    );
    assert_eq!(code, 201, "{body}");
    let name = format!("{}/oci/img:1", reg.host());
    let o = d.berth(&["pull", &name]);
    assert_ok(&o, "pull OCI image");
    assert!(
        stdout(&o).contains(&format!("{}: Pull complete", &zd[7..19])),
        "{}",
        stdout(&o)
    );
    assert_eq!(image_id(&d, &name), cd);
    let o = d.berth(&["run", "--rm", &name, "cat", "/hello"]);
    assert_ok(&o, "run");
    assert_eq!(stdout(&o), "hello from an OCI layer\n");

    // Pushed to another repository of the same registry: the layers are mounted.
    let other = format!("{}/oci/copy:1", reg.host());
    assert_ok(&d.berth(&["tag", &name, &other]), "tag");
    let o = d.berth(&["push", &other]);
    assert_ok(&o, "push");
    // The zstd layer is pushed again as gzip; the plain one too (only gzip blobs are reused).
    assert!(stdout(&o).contains("Pushed"), "{}", stdout(&o));
    let third = format!("{}/oci/third:1", reg.host());
    assert_ok(&d.berth(&["tag", &name, &third]), "tag");
    let o = d.berth(&["push", &third]);
    assert_ok(&o, "push");
    assert_eq!(
        lines_with(&stdout(&o), "Mounted from oci/copy").len(),
        2,
        "{}",
        stdout(&o)
    );
}

#[test]
fn two_pulls_of_the_same_image_at_once() {
    let reg = Registry::start();
    let d = TestDaemon::start();
    d.import_busybox();
    let name = format!("{}/twice/bb:1", reg.host());
    assert_ok(&d.berth(&["tag", "busybox", &name]), "tag");
    assert_ok(&d.berth(&["push", &name]), "push");
    assert_ok(&d.berth(&["rmi", &name, "busybox"]), "rmi");
    let a = d
        .docker_cmd(&["pull", &name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = d
        .docker_cmd(&["pull", &name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_ok(&a, "first pull");
    assert_ok(&b, "second pull");
    let o = d.berth(&["run", "--rm", &name, "true"]);
    assert_ok(&o, "run");
}

#[test]
fn bearer_tokens_anonymous_and_with_credentials() {
    let reg = Registry::start();
    let (port, seen) = serve_token_front(reg.port);
    let d = TestDaemon::start();
    d.import_busybox();
    let cfg = tempfile::tempdir().unwrap();
    let berth = |args: &[&str]| {
        d.berth_cmd(args)
            .env("DOCKER_CONFIG", cfg.path())
            .output()
            .unwrap()
    };
    let h = format!("127.0.0.1:{port}");
    let name = format!("{h}/tok/bb:1");
    assert_ok(&berth(&["tag", "busybox", &name]), "tag");
    // Anonymous: a pull token, which cannot push.
    let o = berth(&["push", &name]);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|l| l.ends_with("[Bearer pull-token]")),
        "{:?}",
        seen.lock().unwrap()
    );
    let o = berth(&["login", "-u", "alice", "-p", "wrong", &h]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unauthorized"), "{}", stderr(&o));
    assert_ok(
        &berth(&["login", "-u", "alice", "-p", "s3cret", &h]),
        "login",
    );
    assert_ok(&berth(&["push", &name]), "push with a token");
    assert_ok(&berth(&["rmi", &name]), "rmi");
    assert_ok(&berth(&["logout", &h]), "logout");
    // Pulls work anonymously.
    let o = berth(&["pull", &name]);
    assert_ok(&o, "anonymous pull");
    let log = seen.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|l| l
                .starts_with("GET /token?service=berth-test&scope=repository%3Atok%2Fbb%3Apull")),
        "{log:?}"
    );
}

#[test]
fn info_shows_insecure_registries_and_mirrors() {
    let d = TestDaemon::start_with(&[
        "--insecure-registry=reg.test:5000",
        "--insecure-registry=10.9.0.0/16",
        "--registry-mirror=https://mirror.test",
    ]);
    for (who, o) in [
        ("docker", d.docker(&["info"])),
        ("berth", d.berth(&["info"])),
    ] {
        let out = stdout(&o);
        assert!(
            out.contains(
                " Insecure Registries:\n  reg.test:5000\n  ::1/128\n  127.0.0.0/8\n  10.9.0.0/16\n"
            ),
            "{who}: {out}"
        );
        assert!(
            out.contains(" Registry Mirrors:\n  https://mirror.test/\n"),
            "{who}: {out}"
        );
    }
}

#[test]
fn client_certificates_from_the_certs_dir() {
    let reg = Registry::start_full("", true, true);
    let h = reg.host();
    let ca = reg.dir.path();
    // A client certificate signed by the test CA.
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(ca)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    };
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=berth client",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ]);
    std::fs::write(ca.join("client-ext.cnf"), "extendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "client-ext.cnf",
        "-out",
        "client.cert",
    ]);
    let certs = tempfile::tempdir().unwrap();
    let mine = certs.path().join(&h);
    std::fs::create_dir_all(&mine).unwrap();
    for f in ["ca.crt", "client.cert", "client.key"] {
        std::fs::copy(ca.join(f), mine.join(f)).unwrap();
    }
    let d = TestDaemon::start_with(&[&format!("--registry-certs-dir={}", certs.path().display())]);
    d.import_busybox();
    let name = format!("{h}/mtls/bb:1");
    assert_ok(&d.berth(&["tag", "busybox", &name]), "tag");
    assert_ok(&d.berth(&["push", &name]), "push with a client certificate");
    assert_ok(&d.berth(&["rmi", &name]), "rmi");
    assert_ok(&d.berth(&["pull", &name]), "pull with a client certificate");

    // Without the certificate the registry refuses the handshake.
    std::fs::remove_file(mine.join("client.cert")).unwrap();
    assert_ok(&d.berth(&["rmi", &name]), "rmi");
    let o = d.berth(&["pull", &name]);
    assert!(!o.status.success(), "{}", stdout(&o));
}
