//! Networking end to end with the docker CLI (and the berth CLI where outputs are
//! compared): user networks with DNS, isolation, published ports (tcp, udp, -P), outbound
//! NAT to a namespace the test made, connect/disconnect, a daemon restart, bad input, and
//! that nothing is left on the host afterwards.
//!
//! Each daemon has its own bridge, subnets and nftables table (see `common`); traffic goes
//! only to loopback, the daemon's bridges and namespaces the test made.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::compare::{code, same, started};
use common::{assert_ok, inspect, network_leftovers, stderr, stdout, wait_for, TestDaemon};

fn run_ok(d: &TestDaemon, args: &[&str]) -> String {
    let o = d.docker(args);
    assert_ok(&o, &format!("docker {args:?}"));
    stdout(&o)
}

/// A busybox HTTP server serving its hostname at /hostname.
fn web(d: &TestDaemon, name: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    run_ok(d, &args);
}

fn sh(d: &TestDaemon, net: &str, script: &str) -> Output {
    d.docker(&[
        "run",
        "--rm",
        "--network",
        net,
        "busybox",
        "sh",
        "-c",
        script,
    ])
}

fn curl(url: &str) -> Option<String> {
    let o = Command::new("curl")
        .args(["-s", "-m", "3", url])
        .output()
        .ok()?;
    o.status.success().then(|| stdout(&o))
}

/// Asserts the daemon's links, table and accept rules are gone once it is dropped.
fn assert_clean_after(d: TestDaemon) {
    let links = d.network_links();
    let table = d.nft_table();
    drop(d);
    let left = network_leftovers(&links, &table);
    assert!(left.is_empty(), "left on the host: {left:?}");
}

#[test]
fn user_network_names_ping_and_fetch() {
    let d = started();
    run_ok(&d, &["network", "create", "app"]);
    web(
        &d,
        "api",
        &["--network", "app", "--network-alias", "backend"],
    );
    let id = inspect(&d, "api", "{{.Id}}");
    let script = format!(
        "ping -c1 -W2 api >/dev/null && ping -c1 -W2 backend >/dev/null && \
         ping -c1 -W2 {} >/dev/null && wget -qO- http://api/hostname && \
         nslookup api.app 127.0.0.11 >/dev/null && cat /etc/resolv.conf",
        &id[..12]
    );
    let o = sh(&d, "app", &script);
    assert_ok(&o, "reach api by name, alias and short id");
    let out = stdout(&o);
    assert!(out.starts_with(&id[..12]), "{out}");
    assert!(out.contains("nameserver 127.0.0.11"), "{out}");
    // Both ways: the server reaches a client by name too.
    run_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "client",
            "--network",
            "app",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let o = d.docker(&["exec", "api", "ping", "-c1", "-W2", "client"]);
    assert_ok(&o, "api pings client");
    // Names outside the network are not ours: NXDOMAIN/SERVFAIL from upstream, never an
    // address of a container on another network.
    run_ok(
        &d,
        &["run", "-d", "--name", "stranger", "busybox", "sleep", "60"],
    );
    assert_ne!(code(&sh(&d, "app", "ping -c1 -W1 stranger")), 0);
    // inspect shows the endpoint; the network lists the container.
    let ip = inspect(&d, "api", "{{.NetworkSettings.Networks.app.IPAddress}}");
    assert!(ip.starts_with("10."), "{ip}");
    let members = run_ok(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{end}}",
            "app",
        ],
    );
    assert!(
        members.contains("api") && members.contains("client"),
        "{members}"
    );
    // The berth CLI prints what the docker CLI prints.
    same(&d, &["network", "ls"]);
    same(&d, &["network", "inspect", "app"]);
    same(
        &d,
        &[
            "network",
            "ls",
            "--filter",
            "type=custom",
            "--format",
            "{{.Name}} {{.Driver}}",
        ],
    );
    run_ok(&d, &["rm", "-f", "api", "client", "stranger"]);
    run_ok(&d, &["network", "rm", "app"]);
    assert_clean_after(d);
}

#[test]
fn networks_are_isolated_and_internal_has_no_way_out() {
    let d = started();
    run_ok(&d, &["network", "create", "red"]);
    run_ok(&d, &["network", "create", "blue"]);
    run_ok(&d, &["network", "create", "--internal", "vault"]);
    web(&d, "r1", &["--network", "red"]);
    let ip = inspect(&d, "r1", "{{.NetworkSettings.Networks.red.IPAddress}}");
    assert_ok(
        &sh(&d, "red", &format!("ping -c1 -W2 {ip}")),
        "same network",
    );
    assert_ne!(
        code(&sh(&d, "blue", &format!("ping -c1 -W1 {ip}"))),
        0,
        "blue reached red"
    );
    assert_ne!(
        code(&sh(&d, "bridge", &format!("ping -c1 -W1 {ip}"))),
        0,
        "bridge reached red"
    );
    // An internal network: members talk to each other, nothing leaves.
    web(&d, "v1", &["--network", "vault"]);
    assert_ok(
        &sh(&d, "vault", "wget -qO- http://v1/hostname"),
        "inside vault",
    );
    let gw = inspect(&d, "r1", "{{.NetworkSettings.Networks.red.Gateway}}");
    assert_ne!(code(&sh(&d, "vault", &format!("ping -c1 -W1 {ip}"))), 0);
    assert_ne!(
        code(&sh(&d, "vault", "ip route | grep default")),
        0,
        "no default route"
    );
    assert!(!gw.is_empty());
    run_ok(&d, &["rm", "-f", "r1", "v1"]);
    assert_clean_after(d);
}

#[test]
fn published_ports_tcp_all_and_hairpin() {
    let d = started();
    let port = 20000 + (common::rand_u32() % 20000) as u16;
    let spec = format!("127.0.0.1:{port}:80");
    web(&d, "pub", &["-p", &spec]);
    assert_eq!(
        curl(&format!("http://127.0.0.1:{port}/hostname")),
        Some(format!("{}\n", &inspect(&d, "pub", "{{.Id}}")[..12]))
    );
    assert_eq!(
        run_ok(&d, &["port", "pub"]),
        format!("80/tcp -> 127.0.0.1:{port}\n")
    );
    same(&d, &["port", "pub", "80"]);
    // -P: every EXPOSEd port on an ephemeral host port, on all host addresses.
    web(&d, "all", &["-P", "--expose", "80", "--expose", "81"]);
    let ports = inspect(&d, "all", "{{json .NetworkSettings.Ports}}");
    let v: serde_json::Value = serde_json::from_str(&ports).unwrap();
    let host_port = v["80/tcp"][0]["HostPort"].as_str().unwrap().to_string();
    assert_eq!(v["80/tcp"][0]["HostIp"], "0.0.0.0");
    assert!(v["81/tcp"][0]["HostPort"].as_str().is_some(), "{ports}");
    let expect = Some(format!("{}\n", &inspect(&d, "all", "{{.Id}}")[..12]));
    assert_eq!(
        curl(&format!("http://127.0.0.1:{host_port}/hostname")),
        expect
    );
    // Through the host's own address, from the host and from another container (hairpin).
    let host_ip = host_address(&d);
    assert_eq!(
        curl(&format!("http://{host_ip}:{host_port}/hostname")),
        expect
    );
    let o = sh(
        &d,
        "bridge",
        &format!("wget -qO- http://{host_ip}:{host_port}/hostname"),
    );
    assert_eq!(Some(stdout(&o)), expect, "hairpin: {}", stderr(&o));
    let ps = run_ok(&d, &["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(
        ps.contains(&format!("pub 127.0.0.1:{port}->80/tcp")),
        "{ps}"
    );
    // The port is released with the container.
    run_ok(&d, &["rm", "-f", "pub", "all"]);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port free again");
    assert_clean_after(d);
}

/// The host's first global IPv4 address (not on one of the test daemon's bridges).
fn host_address(d: &TestDaemon) -> String {
    let o = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .unwrap();
    stdout(&o)
        .lines()
        .filter(|l| !l.contains(&d.bridge) && !l.contains(" br-") && !l.contains(" bt"))
        .find_map(|l| l.split_whitespace().nth(3))
        .and_then(|a| a.split('/').next())
        .map(String::from)
        .expect("a global IPv4 address on the host")
}

#[test]
fn published_udp_port() {
    let d = started();
    // busybox's nc has no UDP: the server is the host's python3, run in the container's
    // network namespace through a read-only view of the host's root.
    let server = "import socket\n\
                  s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                  s.bind(('0.0.0.0',5353))\n\
                  while True:\n  m,a=s.recvfrom(100); s.sendto(b'pong:'+m,a)\n";
    run_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "udp",
            "-p",
            "127.0.0.1::5353/udp",
            "-v",
            "/:/host:ro",
            "busybox",
            "chroot",
            "/host",
            "python3",
            "-c",
            server,
        ],
    );
    let port = run_ok(&d, &["port", "udp", "5353/udp"]);
    let port: u16 = port.trim().rsplit(':').next().unwrap().parse().unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = None;
    for _ in 0..30 {
        sock.send_to(b"ping", ("127.0.0.1", port)).unwrap();
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            got = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            break;
        }
    }
    assert_eq!(got.as_deref(), Some("pong:ping"));
    run_ok(&d, &["rm", "-f", "udp"]);
    assert_clean_after(d);
}

/// A namespace that stands for "the outside": a veth from the host to it, a listener in
/// it. Removed on drop.
struct Outside {
    ns: String,
    host_link: String,
    pub addr: String,
    pub host_addr: String,
    server: Option<std::process::Child>,
}

impl Outside {
    fn new(port: u16) -> Outside {
        let tag = format!("{:x}", common::rand_u32() & 0xfffff);
        let ns = format!("bout{tag}");
        let host_link = format!("bo{tag}");
        let n = 1 + common::rand_u32() % 250;
        let (host_addr, addr) = (format!("10.251.{n}.1"), format!("10.251.{n}.2"));
        let ip = |args: &str| {
            let st = Command::new("ip")
                .args(args.split_whitespace())
                .status()
                .unwrap();
            assert!(st.success(), "ip {args}");
        };
        ip(&format!("netns add {ns}"));
        let mut o = Outside {
            ns: ns.clone(),
            host_link: host_link.clone(),
            addr: addr.clone(),
            host_addr: host_addr.clone(),
            server: None,
        };
        ip(&format!(
            "link add {host_link} type veth peer name eth0 netns {ns}"
        ));
        ip(&format!("addr add {host_addr}/24 dev {host_link}"));
        ip(&format!("link set {host_link} up"));
        ip(&format!("-n {ns} addr add {addr}/24 dev eth0"));
        ip(&format!("-n {ns} link set eth0 up"));
        ip(&format!("-n {ns} link set lo up"));
        let dir = tempfile::tempdir().unwrap().keep();
        std::fs::write(dir.join("hello"), "outside\n").unwrap();
        let server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "python3",
                "-m",
                "http.server",
                "--bind",
                &addr,
            ])
            .arg(port.to_string())
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        o.server = Some(server);
        o
    }

    /// What the server logged (client addresses).
    fn stop_log(&mut self) -> String {
        let mut out = String::new();
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            if let Ok(o) = s.wait_with_output() {
                out = stderr(&o);
            }
        }
        out
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        self.stop_log();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .status();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

#[test]
fn outbound_nat_reaches_a_namespace_the_test_made() {
    let d = started();
    let mut outside = Outside::new(8000);
    let url = format!("http://{}:8000/hello", outside.addr);
    wait_for("the outside server", || curl(&url).is_some());
    let o = sh(&d, "bridge", &format!("wget -qO- {url}"));
    assert_eq!(stdout(&o), "outside\n", "{}", stderr(&o));
    run_ok(&d, &["network", "create", "egress"]);
    let o = sh(&d, "egress", &format!("wget -qO- {url}"));
    assert_eq!(stdout(&o), "outside\n", "{}", stderr(&o));
    // Masqueraded: the outside sees the host's address, never a container's.
    let log = outside.stop_log();
    assert!(log.contains(&outside.host_addr), "{log}");
    assert!(!log.contains(&d.subnet[..d.subnet.len() - 4]), "{log}");
    assert_clean_after(d);
}

#[test]
fn a_published_port_sees_the_clients_address() {
    let d = started();
    let outside = Outside::new(8001);
    let port = 20000 + (common::rand_u32() % 20000) as u16;
    // busybox httpd runs CGI: the script answers the address the server saw.
    run_ok(
        &d,
        &[
            "run", "-d", "--name", "seer", "-p", &format!("{port}:80"), "busybox", "sh", "-c",
            "mkdir -p /w/cgi-bin && printf '#!/bin/sh\\necho\\necho $REMOTE_ADDR\\n' > /w/cgi-bin/ip \
             && chmod +x /w/cgi-bin/ip && exec httpd -f -p 80 -h /w",
        ],
    );
    let url = format!("http://{}:{port}/cgi-bin/ip", outside.host_addr);
    let fetch = || {
        Command::new("ip")
            .args(["netns", "exec", &outside.ns, "curl", "-s", "-m", "3", &url])
            .output()
            .ok()
            .map(|o| stdout(&o))
    };
    let mut seen = None;
    wait_for("the published port from outside", || {
        seen = fetch().filter(|s| !s.is_empty());
        seen.is_some()
    });
    // busybox httpd shows it IPv4-mapped: [::ffff:10.251.n.2].
    let seen = seen.unwrap();
    assert!(
        seen.trim()
            .trim_end_matches(']')
            .ends_with(&format!(":{}", outside.addr)),
        "the server saw {seen}, not the client {}",
        outside.addr
    );
    run_ok(&d, &["rm", "-f", "seer"]);
    assert_clean_after(d);
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let d = started();
    run_ok(&d, &["network", "create", "back"]);
    web(&d, "db", &["--network", "back"]);
    run_ok(
        &d,
        &["run", "-d", "--name", "app", "busybox", "sleep", "60"],
    );
    assert_ne!(
        code(&d.docker(&["exec", "app", "ping", "-c1", "-W1", "db"])),
        0
    );
    run_ok(
        &d,
        &["network", "connect", "--alias", "front", "back", "app"],
    );
    let o = d.docker(&[
        "exec",
        "app",
        "sh",
        "-c",
        "ls /sys/class/net; wget -qO- http://db/hostname",
    ]);
    assert_ok(&o, "after connect");
    assert!(stdout(&o).starts_with("eth0\neth1\nlo\n"), "{}", stdout(&o));
    assert_ok(
        &d.docker(&["exec", "db", "ping", "-c1", "-W2", "front"]),
        "alias",
    );
    let nets = inspect(
        &d,
        "app",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert_eq!(nets, "back bridge");
    // Connecting twice is refused; disconnect removes the interface.
    let o = d.docker(&["network", "connect", "back", "app"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("already exists in network back"),
        "{}",
        stderr(&o)
    );
    run_ok(&d, &["network", "disconnect", "back", "app"]);
    let o = d.docker(&["exec", "app", "ls", "/sys/class/net"]);
    assert_eq!(stdout(&o), "eth0\nlo\n");
    let o = d.docker(&["network", "disconnect", "back", "app"]);
    assert_eq!(code(&o), 1);
    // A stopped container is connected in its record, and gets the endpoint at start.
    run_ok(&d, &["create", "--name", "later", "busybox", "sleep", "60"]);
    run_ok(&d, &["network", "connect", "back", "later"]);
    run_ok(&d, &["start", "later"]);
    assert_ok(
        &d.docker(&["exec", "later", "ping", "-c1", "-W2", "db"]),
        "later on back",
    );
    run_ok(&d, &["rm", "-f", "db", "app", "later"]);
    assert_clean_after(d);
}

#[test]
fn daemon_restart_keeps_running_containers_networked() {
    let mut d = started();
    run_ok(&d, &["network", "create", "keep"]);
    let port = 20000 + (common::rand_u32() % 20000) as u16;
    web(
        &d,
        "kept",
        &["--network", "keep", "-p", &format!("127.0.0.1:{port}:80")],
    );
    let ip_before = inspect(&d, "kept", "{{.NetworkSettings.Networks.keep.IPAddress}}");
    d.kill9();
    d.restart();
    let url = format!("http://127.0.0.1:{port}/hostname");
    assert!(curl(&url).is_some(), "published port after restart");
    assert_ok(
        &sh(&d, "keep", "wget -qO- http://kept/hostname"),
        "DNS after restart",
    );
    assert_eq!(
        inspect(&d, "kept", "{{.NetworkSettings.Networks.keep.IPAddress}}"),
        ip_before
    );
    // A new container does not get the address the running one holds.
    let o = sh(&d, "keep", "ip -4 -o addr show eth0");
    assert!(
        !stdout(&o).contains(&format!("{ip_before}/")),
        "{}",
        stdout(&o)
    );
    // The port is still held: another container cannot take it.
    let o = d.docker(&[
        "run",
        "--rm",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "true",
    ]);
    assert_eq!(code(&o), 125);
    run_ok(&d, &["rm", "-f", "kept"]);
    assert_clean_after(d);
}

#[test]
fn a_crash_with_a_container_that_exits_meanwhile_is_repaired() {
    let mut d = started();
    let port = 20000 + (common::rand_u32() % 20000) as u16;
    run_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "brief",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "busybox",
            "sleep",
            "2",
        ],
    );
    assert_eq!(
        bridge_ports(&d.bridge).len(),
        1,
        "the container's veth on the bridge"
    );
    d.kill9();
    std::thread::sleep(Duration::from_secs(3));
    d.restart();
    assert_eq!(inspect(&d, "brief", "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&d, "brief", "{{.NetworkSettings.IPAddress}}"), "");
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port released");
    let ns = std::fs::read_dir(d.dir.join("exec/netns"))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(ns, 0, "network namespaces left");
    // The veth goes in the background (a link deletion waits for RCU grace periods).
    wait_for("the veth to go", || bridge_ports(&d.bridge).is_empty());
    let rules = Command::new("nft")
        .args(["list", "table", "inet", &d.nft_table()])
        .output()
        .unwrap();
    assert!(
        !stdout(&rules).contains(&format!("dport {port}")),
        "{}",
        stdout(&rules)
    );
    assert_clean_after(d);
}

/// The links enslaved to a bridge (containers' host-side veths).
fn bridge_ports(bridge: &str) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let d = started();
    run_ok(
        &d,
        &["network", "create", "--subnet", "10.252.1.0/24", "first"],
    );
    // Overlapping subnets.
    let o = d.docker(&["network", "create", "--subnet", "10.252.1.128/25", "second"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("overlaps"), "{}", stderr(&o));
    same(
        &d,
        &["network", "create", "--subnet", "10.252.1.0/24", "first"],
    );
    // A taken host port: exit 125, no container left running, no veth, no namespace.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = d.docker(&[
        "run",
        "--name",
        "clash",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "true",
    ]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(stderr(&o).contains(&port), "{}", stderr(&o));
    assert_eq!(inspect(&d, "clash", "{{.State.Running}}"), "false");
    wait_for("no veth left", || bridge_ports(&d.bridge).is_empty());
    let ns = std::fs::read_dir(d.dir.join("exec/netns"))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(ns, 0);
    // Invalid port specs are the CLI's (exit 125 before anything is sent).
    for spec in ["99999:80", "80/icmp", "a:b"] {
        let b = d.berth(&["run", "--rm", "-p", spec, "busybox", "true"]);
        let k = d.docker(&["run", "--rm", "-p", spec, "busybox", "true"]);
        assert_eq!((code(&b), code(&k)), (125, 125), "-p {spec}");
    }
    // A network in use cannot be removed; an unknown one is reported.
    web(&d, "user", &["--network", "first"]);
    let o = d.docker(&["network", "rm", "first"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("has active endpoints"),
        "{}",
        stderr(&o)
    );
    same(&d, &["network", "rm", "nope"]);
    same(&d, &["network", "inspect", "nope"]);
    let o = d.docker(&["run", "--rm", "--network", "nope", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    // --ip outside the subnet, and on the default bridge.
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "first",
        "--ip",
        "10.9.9.9",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let o = d.docker(&["run", "--rm", "--ip", "10.9.9.9", "busybox", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    // --ip inside it works, and is not handed out twice.
    run_ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "fixed",
            "--network",
            "first",
            "--ip",
            "10.252.1.50",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "first",
        "--ip",
        "10.252.1.50",
        "busybox",
        "true",
    ]);
    assert_ne!(code(&o), 0);
    run_ok(&d, &["rm", "-f", "user", "clash", "fixed"]);
    // prune removes unused user networks only.
    run_ok(&d, &["network", "create", "unused"]);
    let o = run_ok(&d, &["network", "prune", "-f"]);
    assert!(o.contains("first") && o.contains("unused"), "{o}");
    let names = run_ok(&d, &["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names, "bridge\nhost\nnone\n");
    assert_clean_after(d);
}

#[test]
fn hosts_links_and_dns_options() {
    let d = started();
    web(&d, "db", &[]);
    let db_ip = inspect(&d, "db", "{{.NetworkSettings.IPAddress}}");
    let o = d.docker(&[
        "run",
        "--rm",
        "--link",
        "db:database",
        "--add-host",
        "gw:host-gateway",
        "--add-host",
        "static:10.1.2.3",
        "--dns-search",
        "example.test",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hosts; cat /etc/resolv.conf; wget -qO- http://database/hostname",
    ]);
    assert_ok(&o, "run with link");
    let out = stdout(&o);
    assert!(out.contains(&format!("{db_ip}\tdatabase")), "{out}");
    assert!(out.contains("10.1.2.3\tstatic"), "{out}");
    let gw = d.subnet.replace(".0/24", ".1");
    assert!(out.contains(&format!("{gw}\tgw")), "{out}");
    assert!(out.contains("search example.test"), "{out}");
    // Docker's link environment.
    let o = d.docker(&["run", "--rm", "--link", "db:database", "busybox", "env"]);
    let env = stdout(&o);
    assert!(env.contains("DATABASE_NAME=/"), "{env}");
    // A --link to a container that is not running is refused at start.
    run_ok(&d, &["create", "--name", "gone", "busybox", "true"]);
    let o = d.docker(&["run", "--rm", "--link", "gone", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("Cannot link to a non running container"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["run", "--rm", "--link", "nope:x", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    // On a user network --dns goes behind the embedded server: names still resolve.
    run_ok(&d, &["network", "create", "named"]);
    web(&d, "svc", &["--network", "named"]);
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "named",
        "--dns",
        "10.255.0.1",
        "--dns-option",
        "ndots:2",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; ping -c1 -W2 svc >/dev/null && echo ok",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("nameserver 127.0.0.11") && out.contains("ndots:2"),
        "{out}"
    );
    assert!(out.ends_with("ok\n"), "{out}{}", stderr(&o));
    run_ok(&d, &["rm", "-f", "svc", "gone"]);
    // The container's own address and hostname.
    let o = d.docker(&[
        "run",
        "--rm",
        "--hostname",
        "me",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        stdout(&o).lines().last().unwrap().ends_with("\tme"),
        "{}",
        stdout(&o)
    );
    run_ok(&d, &["rm", "-f", "db"]);
    assert_clean_after(d);
}

#[test]
fn macvlan_on_a_parent_link_the_test_made() {
    let d = started();
    // This kernel has no dummy links: a veth pair stands for the parent.
    let parent = format!("bmv{:x}", common::rand_u32() & 0xfffff);
    let st = Command::new("ip")
        .args([
            "link",
            "add",
            &parent,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{parent}p"),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    struct DelLink(String);
    impl Drop for DelLink {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).status();
        }
    }
    let _guard = DelLink(parent.clone());
    // Macvlan children switch through their parent only while it has a carrier.
    for l in [parent.clone(), format!("{parent}p")] {
        let _ = Command::new("ip").args(["link", "set", &l, "up"]).status();
    }
    run_ok(
        &d,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            "10.253.7.0/24",
            "-o",
            &format!("parent={parent}"),
            "mv",
        ],
    );
    web(&d, "m1", &["--network", "mv", "--ip", "10.253.7.10"]);
    let o = sh(
        &d,
        "mv",
        "ip -4 -o addr show eth0; wget -qO- http://10.253.7.10/hostname",
    );
    assert_ok(&o, "macvlan peers");
    assert!(stdout(&o).contains("10.253.7.2/24"), "{}", stdout(&o));
    let o = sh(&d, "mv", "ping -c1 -W1 m1");
    assert_ok(&o, "DNS on a macvlan network");
    run_ok(&d, &["rm", "-f", "m1"]);
    run_ok(&d, &["network", "rm", "mv"]);
    assert!(
        std::path::Path::new("/sys/class/net")
            .join(&parent)
            .exists(),
        "parent kept"
    );
    assert_clean_after(d);
}

#[test]
fn ipv6_user_network() {
    let d = started();
    let r = common::rand_u32();
    let subnet = format!(
        "fd{:02x}:{:x}:{:x}::/64",
        r & 0xff,
        (r >> 8) & 0xffff,
        r >> 24
    );
    run_ok(
        &d,
        &["network", "create", "--ipv6", "--subnet", &subnet, "six"],
    );
    web(&d, "s6", &["--network", "six"]);
    let v6 = inspect(
        &d,
        "s6",
        "{{.NetworkSettings.Networks.six.GlobalIPv6Address}}",
    );
    assert!(
        v6.starts_with(&subnet[..subnet.len() - 5]),
        "{v6} in {subnet}"
    );
    let o = sh(
        &d,
        "six",
        "ping6 -c1 -W2 s6 >/dev/null && nslookup -type=AAAA s6 127.0.0.11",
    );
    assert_ok(&o, "ping6 by name");
    assert!(stdout(&o).contains(&v6), "{}", stdout(&o));
    // Without a subnet, --ipv6 gets a ULA /64 of its own.
    run_ok(&d, &["network", "create", "--ipv6", "auto6"]);
    let cfg = run_ok(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
            "auto6",
        ],
    );
    assert!(cfg.contains("::/64"), "{cfg}");
    run_ok(&d, &["rm", "-f", "s6"]);
    assert_clean_after(d);
}
