//! Test harness: a `berth daemon` of the test's own (socket, data root, exec root, cgroup
//! parent under a temp dir), driven with the berth CLI, the docker CLI or raw HTTP, and torn
//! down on drop even when the test fails: processes killed, mounts unmounted, cgroups removed.
#![allow(dead_code)]

pub mod compare;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct TestDaemon {
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub cgroup_parent: String,
    /// The default network's bridge, of this daemon only (its nftables table is
    /// `berth-<bridge>`).
    pub bridge: String,
    /// The default bridge's subnet, e.g. `10.201.4.0/24`.
    pub subnet: String,
    /// Where networks created without `--subnet` get theirs (/28s).
    pub pool: String,
    /// Networking flags given at every (re)start, unless the test gives its own.
    net_args: Vec<String>,
    /// Environment of the daemon process, at every (re)start.
    env: Vec<(String, String)>,
    child: Option<Child>,
    _tmp: tempfile::TempDir,
}

pub fn berth_exe() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

impl TestDaemon {
    pub fn start() -> TestDaemon {
        Self::start_with(&[])
    }

    /// Starts a daemon with extra flags.
    pub fn start_with(extra: &[&str]) -> TestDaemon {
        Self::start_with_env(extra, &[])
    }

    /// Starts a daemon with extra flags and environment (`SSL_CERT_FILE`, ...).
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> TestDaemon {
        let tmp = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let tag: u32 = std::process::id() ^ (Instant::now().elapsed().subsec_nanos());
        let cgroup_parent = format!("/berth-test-{}-{:x}", std::process::id(), tag ^ rand_u32());
        // Subnets of this daemon only: 10.X.(2k).0/24 for the default bridge, 10.X.(2k+1).0/24
        // cut in /28s for new networks (X by process, k by daemon).
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 128;
        let x = 150 + std::process::id() % 100;
        let bridge = format!("bt{:x}", rand_u32() & 0xff_ffff);
        let subnet = format!("10.{x}.{}.0/24", 2 * k);
        let pool = format!("10.{x}.{}.0/24", 2 * k + 1);
        let net_args = vec![
            format!("--bridge={bridge}"),
            format!("--bip=10.{x}.{}.1/24", 2 * k),
            format!("--default-address-pool=base={pool},size=28"),
        ];
        let mut d = TestDaemon {
            sock: dir.join("berth.sock"),
            dir,
            cgroup_parent,
            bridge,
            subnet,
            pool,
            net_args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            _tmp: tmp,
        };
        d.spawn(extra);
        d
    }

    fn spawn(&mut self, extra: &[&str]) {
        let extra: Vec<&str> = extra.to_vec();
        let extra = extra.as_slice();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.log"))
            .expect("daemon log");
        // Never read the host's /etc/berth/daemon.json: each test has its own (empty) one.
        let config_file = self.dir.join("daemon.json");
        if !config_file.exists() {
            std::fs::write(&config_file, "{}").expect("write daemon.json");
        }
        let child = Command::new(berth_exe())
            .arg("daemon")
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.dir.join("data"))
            .arg("--exec-root")
            .arg(self.dir.join("exec"))
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .arg("--config-file")
            .arg(&config_file)
            .args(self.net_args.iter().filter(|a| {
                let flag = a.split('=').next().unwrap_or("");
                !extra.iter().any(|e| e.split('=').next() == Some(flag))
            }))
            .args(extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn berth daemon");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&self.sock).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("daemon exited with {status}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("daemon did not come up: {}", self.log());
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// Kills the daemon with SIGKILL (containers and shims keep running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the daemon (if running) and starts it again on the same state.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn(&[]);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY-free: a plain signal to our own child.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs the berth CLI against this daemon.
    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_cmd(args).output().expect("run berth")
    }

    pub fn berth_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(berth_exe());
        c.arg("-H")
            .arg(self.host())
            .args(args)
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null());
        c
    }

    /// Runs the official docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args).output().expect("run docker")
    }

    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Raw HTTP through curl: returns (status, headers, body).
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String, String) {
        let mut c = Command::new("curl");
        c.args(["-s", "-i", "-X", method, "--unix-socket"])
            .arg(&self.sock);
        if method == "HEAD" {
            c.arg("-I");
        }
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "-d", b]);
        }
        c.arg(format!("http://berth{path}"));
        let out = c.output().expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_lowercase(), body.to_string())
    }

    /// Imports the busybox fixture as `busybox:latest` (with the berth CLI).
    pub fn import_busybox(&self) {
        let tar = busybox_tar();
        let out = self.berth(&["import", tar.to_str().unwrap(), "busybox:latest"]);
        assert_ok(&out, "import busybox");
    }
}

impl TestDaemon {
    /// The links of this daemon's networks (default bridge and `br-<id>` bridges).
    pub fn network_links(&self) -> Vec<String> {
        let mut links = vec![self.bridge.clone()];
        let (status, _, body) = self.http("GET", "/networks", None);
        if status == 200 {
            let nets: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            for n in nets.as_array().into_iter().flatten() {
                if n["Driver"] == "bridge" && n["Name"] != "bridge" {
                    let id = n["Id"].as_str().unwrap_or("");
                    let name = n["Options"]["com.docker.network.bridge.name"]
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| format!("br-{}", &id[..12.min(id.len())]));
                    links.push(name);
                }
            }
        }
        links
    }

    /// The daemon's nftables table.
    pub fn nft_table(&self) -> String {
        format!("berth-{}", self.bridge)
    }
}

/// Links, nftables tables and accept rules that name one of `links` or `table`: what a
/// test asserts is empty after its daemon is gone.
pub fn network_leftovers(links: &[String], table: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in links {
        if Path::new("/sys/class/net").join(l).exists() {
            out.push(format!("link {l}"));
        }
    }
    let ruleset = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if ruleset.contains(&format!("table inet {table} ")) {
        out.push(format!("nftables table {table}"));
    }
    if ruleset.contains(&format!("\"berth:{table}\"")) {
        out.push(format!("accept rules of {table}"));
    }
    out
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        let links = if self.child.is_some() {
            self.network_links()
        } else {
            vec![self.bridge.clone()]
        };
        self.stop();
        kill_cgroup_members(&self.cgroup_parent);
        unmount_under(&self.dir);
        remove_cgroups(&self.cgroup_parent);
        // What a daemon stopped with containers running keeps (a test that failed).
        for l in &links {
            let _ = Command::new("ip")
                .args(["link", "del", l])
                .stderr(Stdio::null())
                .status();
        }
        let _ = berth_network::firewall::Firewall::new(&self.nft_table()).remove();
    }
}

pub fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    u32::from_ne_bytes(b)
}

/// Every v1 hierarchy (and the unified one) that may hold our cgroups.
fn cgroup_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            if e.path().is_dir() {
                roots.push(e.path());
            }
        }
    }
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    roots
}

fn kill_cgroup_members(parent: &str) {
    for root in cgroup_roots() {
        let base = root.join(parent.trim_start_matches('/'));
        for procs in walk_files(&base, "cgroup.procs") {
            if let Ok(s) = std::fs::read_to_string(&procs) {
                for pid in s.lines() {
                    let _ = Command::new("kill").arg("-KILL").arg(pid).status();
                }
            }
        }
    }
    std::thread::sleep(Duration::from_millis(100));
}

fn walk_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p, name));
            } else if p.file_name().is_some_and(|n| n == name) {
                out.push(p);
            }
        }
    }
    out
}

pub fn remove_cgroups(parent: &str) {
    fn rm_tree(p: &Path) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    rm_tree(&e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(p);
    }
    for root in cgroup_roots() {
        let base = root.join(parent.trim_start_matches('/'));
        if base.exists() {
            rm_tree(&base);
        }
    }
}

/// Mount points under `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().to_string();
    let mut v: Vec<String> = info
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.len()));
    v
}

fn unmount_under(dir: &Path) {
    for m in mounts_under(dir) {
        let _ = Command::new("umount").arg("-l").arg(&m).status();
    }
}

/// Cgroup directories left under a parent (every hierarchy).
pub fn cgroups_under(parent: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in cgroup_roots() {
        let base = root.join(parent.trim_start_matches('/'));
        if let Ok(rd) = std::fs::read_dir(&base) {
            out.extend(rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.path()));
        }
    }
    out
}

/// The busybox rootfs tar from Debian's busybox-static, made once under cargo's target/tmp
/// and shared by every test binary (each makes it in a dir of its own and renames that into
/// place; one that loses the race uses the winner's).
pub fn busybox_tar() -> PathBuf {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join("busybox-fixture");
        let tar = dir.join("busybox.tar");
        if tar.exists() {
            return tar;
        }
        let mine = base.join(format!("busybox-fixture-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&mine);
        std::fs::create_dir_all(&mine).unwrap();
        let script = fixtures_dir().join("make-busybox-rootfs.sh");
        let out = Command::new("sh")
            .arg(&script)
            .arg(mine.join("rootfs"))
            .arg(mine.join("busybox.tar"))
            .output()
            .expect("run make-busybox-rootfs.sh");
        assert!(
            out.status.success(),
            "fixture: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if std::fs::rename(&mine, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&mine);
        }
        assert!(tar.exists(), "fixture {} missing", tar.display());
        tar
    })
    .clone()
}

/// A fresh busybox root filesystem at `dir` (unpacked from the fixture tar).
pub fn busybox_rootfs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new("tar")
        .arg("-xf")
        .arg(busybox_tar())
        .arg("-C")
        .arg(dir)
        .output()
        .expect("untar busybox");
    assert!(
        out.status.success(),
        "untar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fixtures_dir() -> PathBuf {
    if let Ok(d) = std::env::var("BERTH_FIXTURES") {
        return PathBuf::from(d);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    if beside.exists() {
        return beside;
    }
    PathBuf::from("/work/shared/fixtures")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[track_caller]
pub fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// Polls `f` for up to 10 s.
#[track_caller]
pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// `docker inspect -f FORMAT NAME`, trimmed; the command must succeed.
#[track_caller]
pub fn inspect(d: &TestDaemon, name: &str, format: &str) -> String {
    let o = d.docker(&["inspect", "-f", format, name]);
    assert_ok(&o, "inspect");
    stdout(&o).trim().to_string()
}
