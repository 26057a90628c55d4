//! berth's nftables table: golden scripts, and the real nft in private network
//! namespaces (one per test, made by `unshare(CLONE_NEWNET)` on a fresh thread whose
//! child processes inherit it), so the machine's own ruleset is never touched.
//!
//! `BLESS=1 cargo test -p berth-network --test firewall` rewrites the golden files.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use berth_network::firewall::{Desired, Firewall, FirewallError, NetworkRules, PortRule, Proto};

// ---------------------------------------------------------------------------
// Scenarios

fn net(bridge: &str, subnets: &[&str]) -> NetworkRules {
    NetworkRules {
        bridge: bridge.into(),
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        masquerade: true,
        internal: false,
        icc: true,
    }
}

fn port(
    proto: Proto,
    host: Option<&str>,
    host_port: u16,
    ip: &str,
    cport: u16,
    bridge: &str,
) -> PortRule {
    PortRule {
        proto,
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port,
        container_ip: ip.parse().unwrap(),
        container_port: cport,
        bridge: bridge.into(),
    }
}

fn default_bridge() -> Desired {
    Desired {
        networks: vec![net("berth0", &["172.17.0.0/16"])],
        ports: vec![port(Proto::Tcp, None, 8080, "172.17.0.2", 80, "berth0")],
        loopback_dnat: false,
    }
}

fn loopback_dnat() -> Desired {
    let mut d = default_bridge();
    d.loopback_dnat = true;
    d.ports.push(port(
        Proto::Tcp,
        Some("127.0.0.1"),
        9000,
        "172.17.0.3",
        9000,
        "berth0",
    ));
    d
}

fn user_networks() -> Desired {
    let mut b = net("br-b", &["172.19.0.0/16"]);
    b.icc = false;
    let mut internal = net("br-int", &["172.20.0.0/16"]);
    internal.internal = true;
    let mut plain = net("br-nomasq", &["172.21.0.0/16"]);
    plain.masquerade = false;
    Desired {
        // Unsorted on purpose: the script is sorted.
        networks: vec![internal, b, net("br-a", &["172.18.0.0/16"]), plain],
        ports: vec![
            port(Proto::Udp, None, 5353, "172.19.0.2", 53, "br-b"),
            port(
                Proto::Tcp,
                Some("192.0.2.10"),
                8081,
                "172.18.0.2",
                80,
                "br-a",
            ),
            port(
                Proto::Sctp,
                Some("0.0.0.0"),
                3868,
                "172.18.0.3",
                3868,
                "br-a",
            ),
            // Published on an internal network: left out, as Docker does.
            port(Proto::Tcp, None, 8082, "172.20.0.2", 80, "br-int"),
            // Two host ports to one container port: one forward rule.
            port(Proto::Tcp, None, 8083, "172.18.0.2", 80, "br-a"),
        ],
        loopback_dnat: false,
    }
}

fn ipv6() -> Desired {
    Desired {
        networks: vec![net("berth0", &["fd00:b::/64", "172.17.0.0/16"])],
        ports: vec![
            port(Proto::Tcp, None, 8080, "172.17.0.2", 80, "berth0"),
            port(Proto::Tcp, None, 8080, "fd00:b::2", 80, "berth0"),
            port(
                Proto::Tcp,
                Some("2001:db8::1"),
                8443,
                "fd00:b::2",
                443,
                "berth0",
            ),
            // Across families: left out.
            port(
                Proto::Tcp,
                Some("192.0.2.1"),
                8444,
                "fd00:b::2",
                443,
                "berth0",
            ),
        ],
        loopback_dnat: false,
    }
}

fn scenarios() -> Vec<(&'static str, Desired)> {
    vec![
        ("empty", Desired::default()),
        ("default-bridge", default_bridge()),
        ("loopback-dnat", loopback_dnat()),
        ("user-networks", user_networks()),
        ("ipv6", ipv6()),
    ]
}

// ---------------------------------------------------------------------------
// Golden files (no privileges needed)

#[test]
fn rendered_scripts_match_the_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let fw = Firewall::new("berth");
    let mut mismatched = Vec::new();
    for (name, d) in scenarios() {
        let path = dir.join(format!("{name}.nft"));
        let got = fw.render(&d);
        if bless {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 writes it)", path.display()));
        if got != want {
            eprintln!("--- {}\n+++ rendered\n{got}", path.display());
            mismatched.push(name);
        }
    }
    assert!(
        mismatched.is_empty(),
        "golden files differ: {mismatched:?} (BLESS=1 rewrites them)"
    );
}

#[test]
fn rendering_does_not_depend_on_input_order() {
    let fw = Firewall::new("berth");
    let d = user_networks();
    let mut r = d.clone();
    r.networks.reverse();
    r.ports.reverse();
    r.ports.push(r.ports[0].clone());
    assert_eq!(fw.render(&d), fw.render(&r));
}

// ---------------------------------------------------------------------------
// Private network namespaces

/// A thread in a network namespace of its own; closures sent to it run there, and
/// the processes they start (nft, ip) inherit it. The namespace goes away with the
/// thread.
struct Netns {
    tx: Option<mpsc::Sender<Box<dyn FnOnce() + Send>>>,
    tid: i32,
    thread: Option<JoinHandle<()>>,
}

impl Netns {
    /// A new namespace, or `None` where this process may not make one.
    fn new() -> Option<Netns> {
        let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
                ready_tx.send(Err(e)).unwrap();
                return;
            }
            ready_tx.send(Ok(nix::unistd::gettid().as_raw())).unwrap();
            for job in rx {
                job();
            }
        });
        match ready_rx.recv().unwrap() {
            Ok(tid) => Some(Netns {
                tx: Some(tx),
                tid,
                thread: Some(thread),
            }),
            Err(e) => {
                eprintln!("skipped: unshare(CLONE_NEWNET): {e}");
                None
            }
        }
    }

    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        self.tx
            .as_ref()
            .unwrap()
            .send(Box::new(move || {
                let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
            }))
            .unwrap();
        match rx.recv().unwrap() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `f` in a fresh private namespace ("the host" of the test); skips (passes with
/// a note) where namespaces or nft are not available.
fn in_private_host(f: impl FnOnce() + Send + 'static) {
    if !std::path::Path::new(berth_network::firewall::DEFAULT_NFT).exists() {
        eprintln!("skipped: no {}", berth_network::firewall::DEFAULT_NFT);
        return;
    }
    let Some(host) = Netns::new() else { return };
    host.run(f);
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn nft_list(what: &str) -> String {
    sh(&format!("nft list {what}"))
}

/// `nft -a list` minus counters: what a rule is, not how often it matched.
fn nft_list_handles(what: &str) -> String {
    sh(&format!(
        "nft -a list {what} | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'"
    ))
}

fn nft_script(script: &str) {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "nft -f - failed:\n{script}"
    );
}

/// What iptables-nft and dockerd leave: FORWARD with policy drop jumping to
/// DOCKER-USER (which returns), and some rule after it.
const DOCKERD_FILTER: &str = "table ip filter {
	chain DOCKER-USER {
		counter return
	}
	chain FORWARD {
		type filter hook forward priority filter; policy drop;
		counter jump DOCKER-USER
		oifname \"docker0\" ct state established,related counter accept
	}
}
";

// ---------------------------------------------------------------------------
// The table

#[test]
fn every_golden_script_is_accepted_by_nft() {
    in_private_host(|| {
        let fw = Firewall::new("berth-golden");
        for (name, d) in scenarios() {
            fw.apply(&d).unwrap_or_else(|e| panic!("{name}: {e}"));
            let listed = nft_list("table inet berth-golden");
            // Rules as the script writes them come back the same from the kernel.
            for rule in fw.render(&d).lines().map(str::trim) {
                if rule.contains(" dnat ")
                    || rule.contains(" masquerade")
                    || rule.ends_with(" drop")
                {
                    assert!(listed.contains(rule), "{name}: {rule:?} not in\n{listed}");
                }
            }
        }
        fw.remove().unwrap();
    });
}

#[test]
fn apply_replaces_the_table_and_reads_back() {
    in_private_host(|| {
        let fw = Firewall::new("berth-t");
        assert_eq!(fw.table(), "berth-t");
        let mut d = default_bridge();
        fw.apply(&d).unwrap();
        let listed = nft_list("table inet berth-t");
        assert!(
            listed.contains("meta nfproto ipv4 tcp dport 8080 dnat ip to 172.17.0.2:80"),
            "{listed}"
        );
        assert!(
            listed.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"),
            "{listed}"
        );
        assert!(
            listed.contains("type nat hook prerouting priority dstnat; policy accept;"),
            "{listed}"
        );

        // Ports added and removed: the new table only, nothing left of the old one.
        d.ports = vec![
            port(Proto::Udp, None, 9090, "172.17.0.5", 90, "berth0"),
            port(Proto::Tcp, None, 9091, "172.17.0.5", 91, "berth0"),
        ];
        fw.apply(&d).unwrap();
        let listed = nft_list("table inet berth-t");
        assert!(!listed.contains("8080"), "{listed}");
        assert!(
            listed.contains("udp dport 9090 dnat ip to 172.17.0.5:90"),
            "{listed}"
        );
        assert!(
            listed.contains("tcp dport 9091 dnat ip to 172.17.0.5:91"),
            "{listed}"
        );
        assert_eq!(sh("nft list tables"), "table inet berth-t\n");

        // No networks: an empty table.
        fw.apply(&Desired::default()).unwrap();
        assert_eq!(nft_list("table inet berth-t"), "table inet berth-t {\n}\n");
    });
}

#[test]
fn a_refused_apply_leaves_the_previous_table() {
    in_private_host(|| {
        let fw = Firewall::new("berth-t");
        fw.apply(&default_bridge()).unwrap();
        let before = nft_list_handles("table inet berth-t");

        // A quote would end the string in the script: refused before nft runs.
        let mut bad = default_bridge();
        bad.networks.push(net("br\"x", &["10.9.0.0/24"]));
        let err = fw.apply(&bad).unwrap_err();
        assert!(matches!(err, FirewallError::InvalidName { .. }), "{err:?}");
        assert!(err.to_string().contains("table inet berth-t"), "{err}");
        assert_eq!(nft_list_handles("table inet berth-t"), before);

        // nft refuses a name over IFNAMSIZ: the whole batch, delete included, is void.
        let mut bad = default_bridge();
        bad.ports.push(port(
            Proto::Tcp,
            None,
            9999,
            "10.9.0.2",
            80,
            "br-much-too-long-for-linux",
        ));
        bad.networks
            .push(net("br-much-too-long-for-linux", &["10.9.0.0/24"]));
        let err = fw.apply(&bad).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, FirewallError::Nft { .. }), "{err:?}");
        assert!(msg.starts_with("nft: apply table inet berth-t: "), "{msg}");
        assert!(
            msg.contains("Error: String exceeds maximum length"),
            "{msg}"
        );
        assert_eq!(nft_list_handles("table inet berth-t"), before);
    });
}

#[test]
fn remove_deletes_the_table_and_twice_is_ok() {
    in_private_host(|| {
        let fw = Firewall::new("berth-t");
        fw.remove().unwrap(); // never applied
        fw.apply(&user_networks()).unwrap();
        fw.remove().unwrap();
        assert_eq!(sh("nft list ruleset"), "");
        fw.remove().unwrap();
    });
}

#[test]
fn daemons_side_by_side_keep_to_their_own_table_and_rules() {
    in_private_host(|| {
        nft_script(DOCKERD_FILTER);
        let a = Firewall::new("berth-a");
        let b = Firewall::new("berth-b");
        a.apply(&default_bridge()).unwrap();
        b.apply(&Desired {
            networks: vec![net("br-b", &["10.5.0.0/24"])],
            ..Desired::default()
        })
        .unwrap();
        a.remove().unwrap();
        let listed = nft_list("ruleset");
        assert!(!listed.contains("berth-a"), "{listed}");
        assert!(listed.contains("table inet berth-b"), "{listed}");
        assert!(
            listed.contains(
                "iifname \"br-b\" counter packets 0 bytes 0 accept comment \"berth:berth-b\""
            ),
            "{listed}"
        );
        b.remove().unwrap();
    });
}

// ---------------------------------------------------------------------------
// iptables-nft's filter tables

fn berth_rules(chain: &str, table: &str) -> Vec<String> {
    nft_list(&format!("chain {chain}"))
        .lines()
        .map(str::trim)
        .filter(|l| l.ends_with(&format!("comment \"berth:{table}\"")))
        .map(|l| l.replace(" counter packets 0 bytes 0", " counter"))
        .collect()
}

fn accepts(table: &str, bridges: &[&str]) -> Vec<String> {
    bridges
        .iter()
        .flat_map(|b| {
            ["iifname", "oifname"]
                .map(|dir| format!("{dir} \"{b}\" counter accept comment \"berth:{table}\""))
        })
        .collect()
}

#[test]
fn accept_rules_go_to_the_top_of_docker_user() {
    in_private_host(|| {
        nft_script(DOCKERD_FILTER);
        let pristine = nft_list_handles("table ip filter");
        let fw = Firewall::new("berth-t");
        let mut d = default_bridge();
        d.networks.push(net("br-a", &["172.18.0.0/16"]));
        fw.apply(&d).unwrap();

        assert_eq!(
            berth_rules("ip filter DOCKER-USER", "berth-t"),
            accepts("berth-t", &["berth0", "br-a"])
        );
        let chain = nft_list("chain ip filter DOCKER-USER");
        let first = chain.lines().nth(2).unwrap().trim();
        assert!(first.starts_with("iifname \"berth0\""), "{chain}");
        assert!(berth_rules("ip filter FORWARD", "berth-t").is_empty());
        // iptables-nft still reads the chain (dockerd must be able to).
        if std::path::Path::new("/usr/sbin/iptables-nft").exists() {
            let ipt = sh("iptables-nft -n -L DOCKER-USER");
            assert!(
                ipt.contains("ACCEPT") && ipt.contains("/* berth:berth-t */"),
                "{ipt}"
            );
        }

        // Unchanged desired state: the rules stay as they are (same handles).
        let placed = nft_list_handles("chain ip filter DOCKER-USER");
        fw.apply(&d).unwrap();
        assert_eq!(nft_list_handles("chain ip filter DOCKER-USER"), placed);

        // One bridge less: exactly the bridges of the desired state.
        d.networks.truncate(1);
        fw.apply(&d).unwrap();
        assert_eq!(
            berth_rules("ip filter DOCKER-USER", "berth-t"),
            accepts("berth-t", &["berth0"])
        );

        fw.remove().unwrap();
        assert_eq!(nft_list_handles("table ip filter"), pristine);
        fw.remove().unwrap();
        assert_eq!(nft_list_handles("table ip filter"), pristine);
    });
}

#[test]
fn accept_rules_go_to_forward_without_docker_user() {
    in_private_host(|| {
        nft_script(
            "table ip filter {
	chain FORWARD {
		type filter hook forward priority filter; policy drop;
		ct state established,related counter accept
	}
}
",
        );
        let fw = Firewall::new("berth-t");
        fw.apply(&default_bridge()).unwrap();
        assert_eq!(
            berth_rules("ip filter FORWARD", "berth-t"),
            accepts("berth-t", &["berth0"])
        );
        let chain = nft_list("chain ip filter FORWARD");
        assert!(
            chain
                .lines()
                .nth(3)
                .unwrap()
                .trim()
                .starts_with("iifname \"berth0\""),
            "{chain}"
        );

        // dockerd starts later and creates DOCKER-USER: the next apply moves them.
        nft_script(
            "add chain ip filter DOCKER-USER\ninsert rule ip filter FORWARD jump DOCKER-USER\n",
        );
        fw.apply(&default_bridge()).unwrap();
        assert!(berth_rules("ip filter FORWARD", "berth-t").is_empty());
        assert_eq!(
            berth_rules("ip filter DOCKER-USER", "berth-t"),
            accepts("berth-t", &["berth0"])
        );

        fw.remove().unwrap();
        assert!(!nft_list("ruleset").contains("berth"));
    });
}

#[test]
fn no_filter_table_means_no_accept_rules() {
    in_private_host(|| {
        let fw = Firewall::new("berth-t");
        fw.apply(&default_bridge()).unwrap();
        assert_eq!(sh("nft list tables"), "table inet berth-t\n");
        fw.remove().unwrap();
    });
}

#[test]
fn ipv6_bridges_get_accept_rules_in_ip6_filter() {
    in_private_host(|| {
        nft_script(DOCKERD_FILTER);
        nft_script(&DOCKERD_FILTER.replace("table ip filter", "table ip6 filter"));
        let fw = Firewall::new("berth-t");
        let mut d = ipv6();
        d.networks.push(net("br-v4only", &["10.3.0.0/24"]));
        fw.apply(&d).unwrap();
        assert_eq!(
            berth_rules("ip6 filter DOCKER-USER", "berth-t"),
            accepts("berth-t", &["berth0"])
        );
        assert_eq!(
            berth_rules("ip filter DOCKER-USER", "berth-t"),
            accepts("berth-t", &["berth0", "br-v4only"])
        );
        let listed = nft_list("table inet berth-t");
        assert!(
            listed.contains("meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00:b::2]:80"),
            "{listed}"
        );
        fw.remove().unwrap();
        assert!(!nft_list("ruleset").contains("berth"));
    });
}

// ---------------------------------------------------------------------------
// Traffic: a bridge with one "container", a "client" behind a routed link, both in
// namespaces of their own below the private host.
//
//   client 10.77.0.2 --veth-- 10.77.0.1 host 10.88.0.1 [br-e2e] --veth-- 10.88.0.2 container
//                                          10.89.0.1 [br-e2f] --veth-- 10.89.0.2 other

/// Moves the peer of a new veth pair into `ns` and addresses both ends.
fn link(
    ns: &Netns,
    host_if: &str,
    host_addr: Option<&str>,
    addr: &str,
    gw: &str,
    bridge: Option<&str>,
) {
    sh(&format!(
        "ip link add {host_if} type veth peer name {host_if}p"
    ));
    sh(&format!("ip link set {host_if}p netns {}", ns.tid));
    match (bridge, host_addr) {
        // Hairpin mode, as Docker sets without its userland proxy: without it the
        // bridge drops a container's packet DNATed back to that same container.
        (Some(br), _) => sh(&format!(
            "ip link set {host_if} master {br} up && bridge link set dev {host_if} hairpin on"
        )),
        (None, Some(a)) => sh(&format!(
            "ip addr add {a} dev {host_if} && ip link set {host_if} up"
        )),
        (None, None) => unreachable!(),
    };
    let (addr, gw, dev) = (addr.to_owned(), gw.to_owned(), format!("{host_if}p"));
    ns.run(move || {
        sh(&format!(
            "ip link set lo up && ip addr add {addr} dev {dev} && ip link set {dev} up && ip route add default via {gw}"
        ))
    });
}

/// Serves the peer's address as seen by the container, one line per connection.
fn serve_peer_address(listener: TcpListener) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let peer = s.peer_addr().unwrap().ip().to_string();
            let _ = s.write_all(peer.as_bytes());
        }
    });
}

/// The address the server saw, or the connection error.
fn ask(to: &str) -> Result<String, std::io::Error> {
    let to: SocketAddr = to.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&to, Duration::from_millis(700))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn published_ports_reach_the_container_end_to_end() {
    in_private_host(|| {
        sh("ip link set lo up");
        for (br, gw) in [("br-e2e", "10.88.0.1/24"), ("br-e2f", "10.89.0.1/24")] {
            sh(&format!(
                "ip link add {br} type bridge && ip addr add {gw} dev {br} && ip link set {br} up"
            ));
        }
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").unwrap();
        let client = Netns::new().unwrap();
        let container = Netns::new().unwrap();
        let other = Netns::new().unwrap();
        link(
            &client,
            "ve-cl",
            Some("10.77.0.1/24"),
            "10.77.0.2/24",
            "10.77.0.1",
            None,
        );
        link(
            &container,
            "ve-c",
            None,
            "10.88.0.2/24",
            "10.88.0.1",
            Some("br-e2e"),
        );
        link(
            &other,
            "ve-o",
            None,
            "10.89.0.2/24",
            "10.89.0.1",
            Some("br-e2f"),
        );
        container.run(|| serve_peer_address(TcpListener::bind("0.0.0.0:80").unwrap()));

        let fw = Firewall::new("berth-e2e");
        let mut d = Desired {
            networks: vec![
                net("br-e2e", &["10.88.0.0/24"]),
                net("br-e2f", &["10.89.0.0/24"]),
            ],
            ports: vec![port(Proto::Tcp, None, 8080, "10.88.0.2", 80, "br-e2e")],
            loopback_dnat: false,
        };
        fw.apply(&d).unwrap();

        // From outside: DNAT, and the container sees the client's own address.
        assert_eq!(client.run(|| ask("10.77.0.1:8080")).unwrap(), "10.77.0.2");
        // Hairpin: the container reaches itself through the host's address,
        // masqueraded behind the gateway (or the reply would skip the reverse NAT).
        assert_eq!(
            container.run(|| ask("10.77.0.1:8080")).unwrap(),
            "10.88.0.1"
        );
        // Another berth network reaches the published port (masqueraded on its way out)...
        assert_eq!(other.run(|| ask("10.77.0.1:8080")).unwrap(), "10.88.0.1");
        // ...but not the container itself, and neither does the outside: isolation.
        assert!(other.run(|| ask("10.88.0.2:80")).is_err());
        assert!(client.run(|| ask("10.88.0.2:80")).is_err());
        // The host itself: its non-loopback address is DNATed, loopback is not
        // (left to the userland proxy, which is not running here).
        assert_eq!(ask("10.77.0.1:8080").unwrap(), "10.77.0.1");
        assert!(ask("127.0.0.1:8080").is_err());

        // --userland-proxy=false: the kernel also DNATs loopback (with route_localnet).
        std::fs::write("/proc/sys/net/ipv4/conf/br-e2e/route_localnet", "1").unwrap();
        d.loopback_dnat = true;
        fw.apply(&d).unwrap();
        assert_eq!(ask("127.0.0.1:8080").unwrap(), "10.88.0.1");

        // An internal network reaches nothing beyond its bridge, not even through a
        // published port of another network.
        d.networks[1].internal = true;
        fw.apply(&d).unwrap();
        assert!(other.run(|| ask("10.77.0.1:8080")).is_err());
        assert_eq!(client.run(|| ask("10.77.0.1:8080")).unwrap(), "10.77.0.2");

        // Removed: nothing is published any more, and what the table refused above
        // is plain routing again.
        fw.remove().unwrap();
        assert!(client.run(|| ask("10.77.0.1:8080")).is_err());
        assert_eq!(client.run(|| ask("10.88.0.2:80")).unwrap(), "10.77.0.2");
    });
}
