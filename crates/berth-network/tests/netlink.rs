//! rtnetlink, network namespaces and sysctls against the real kernel. Every test runs in
//! a private network namespace of its own (`netns::run_in_new`), so the machine's own
//! network is never touched; needs root.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_network::netlink::{
    random_mac_for, random_veth_name, IpvlanMode, MacvlanMode, Netlink, NetlinkError,
};
use berth_network::{netns, sysctl};

/// Removes a namespace file (unmount and unlink) however the test ends.
struct NetnsGuard(PathBuf);

impl NetnsGuard {
    fn create(path: PathBuf) -> NetnsGuard {
        netns::create(&path).unwrap_or_else(|e| panic!("{e}"));
        NetnsGuard(path)
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if let Err(e) = netns::remove(&self.0) {
            eprintln!("cleanup: {e}");
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn is_errno(err: &NetlinkError, errno: i32) -> bool {
    err.errno() == Some(errno)
}

/// `ping` if installed, else busybox's; `None` when there is neither.
fn ping_command() -> Option<Vec<String>> {
    let in_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
    };
    if in_path("ping") {
        Some(vec!["ping".into()])
    } else if in_path("busybox") {
        Some(vec!["busybox".into(), "ping".into()])
    } else {
        None
    }
}

#[test]
fn bridge_veth_and_container_side() {
    netns::run_in_new(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netns").join("c1");
        let guard = NetnsGuard::create(path.clone());
        let ns = netns::open(&path).unwrap();
        let mut nl = Netlink::open().unwrap();

        // Host side: a bridge with one veth port, hairpin on.
        let br = nl.add_bridge("br-test", Some(1450)).unwrap();
        let host_if = random_veth_name("veth");
        let veth = nl
            .add_veth(&host_if, "tmp-peer", Some(ns.as_fd()), Some(1450))
            .unwrap();
        assert!(
            nl.link("tmp-peer").unwrap().is_none(),
            "the peer is created in the container's namespace, not here"
        );
        nl.set_master(veth, br).unwrap();
        assert_eq!(nl.hairpin(veth).unwrap(), Some(false));
        nl.set_hairpin(veth, true).unwrap();
        assert_eq!(nl.hairpin(veth).unwrap(), Some(true));
        assert_eq!(nl.hairpin(br).unwrap(), None);
        nl.set_up(veth).unwrap();
        nl.set_up(br).unwrap();
        nl.add_address(br, ip("172.30.0.1"), 24).unwrap();
        nl.add_address(br, ip("fd00:30::1"), 64).unwrap();
        // No DAD: the IPv6 address can be bound at once.
        UdpSocket::bind("[fd00:30::1]:0").expect("bind a fresh IPv6 address");

        let links = nl.links().unwrap();
        let bridge = links.iter().find(|l| l.index == br).unwrap();
        assert_eq!(bridge.name, "br-test");
        assert_eq!(bridge.kind.as_deref(), Some("bridge"));
        assert!(bridge.up);
        let port = links.iter().find(|l| l.name == host_if).unwrap();
        assert_eq!(port.index, veth);
        assert_eq!(port.kind.as_deref(), Some("veth"));
        assert_eq!(port.master, Some(br));
        assert_eq!(port.mtu, 1450);
        assert!(port.up);
        assert!(port.mac.is_some());
        assert!(links.iter().any(|l| l.name == "lo" && l.up));
        let addrs = nl.addresses(Some(br)).unwrap();
        assert!(addrs.contains(&(br, ip("172.30.0.1"), 24)), "{addrs:?}");
        assert!(addrs.contains(&(br, ip("fd00:30::1"), 64)), "{addrs:?}");
        assert!(addrs.iter().all(|(i, _, _)| *i == br));
        let routes = nl.routes().unwrap();
        assert!(
            routes.contains(&"172.30.0.0/24".parse().unwrap()),
            "{routes:?}"
        );
        assert!(
            routes.contains(&"fd00:30::/64".parse().unwrap()),
            "{routes:?}"
        );

        // Container side, from a thread inside the namespace.
        let mac = random_mac_for(Ipv4Addr::new(172, 30, 0, 2));
        let (inner_links, inner_addrs) = netns::run_in(&path, move || {
            let mut nl = Netlink::open().unwrap();
            let peer = nl.link("tmp-peer").unwrap().expect("peer in the netns");
            assert_eq!(peer.mtu, 1450);
            nl.set_name(peer.index, "eth0").unwrap();
            nl.set_mac(peer.index, mac).unwrap();
            nl.set_mtu(peer.index, 1400).unwrap();
            nl.add_address(peer.index, ip("172.30.0.2"), 24).unwrap();
            nl.add_address(peer.index, ip("fd00:30::2"), 64).unwrap();
            nl.set_up(peer.index).unwrap();
            nl.add_route(None, Some(ip("172.30.0.1")), peer.index)
                .unwrap();
            nl.add_route(None, Some(ip("fd00:30::1")), peer.index)
                .unwrap();
            // Idempotent: the same route again is fine, another default route is not.
            nl.add_route(None, Some(ip("172.30.0.1")), peer.index)
                .unwrap();
            nl.add_route(None, Some(ip("fd00:30::1")), peer.index)
                .unwrap();
            let err = nl
                .add_route(None, Some(ip("172.30.0.3")), peer.index)
                .unwrap_err();
            assert!(is_errno(&err, libc::EEXIST), "{err}");
            assert!(
                err.to_string()
                    .starts_with("add default route via 172.30.0.3"),
                "{err}"
            );
            nl.add_route(Some("10.99.0.0/16".parse().unwrap()), None, peer.index)
                .unwrap();
            UdpSocket::bind("[fd00:30::2]:0").expect("bind a fresh IPv6 address");

            let eth0 = nl.link("eth0").unwrap().unwrap();
            assert_eq!(eth0.index, peer.index);
            assert_eq!(eth0.mac, Some(mac));
            assert_eq!(eth0.mtu, 1400);
            assert!(eth0.up);
            assert_eq!(eth0.kind.as_deref(), Some("veth"));
            assert_eq!(eth0.master, None);
            let routes = nl.routes().unwrap();
            assert!(
                routes.contains(&"172.30.0.0/24".parse().unwrap()),
                "{routes:?}"
            );
            assert!(
                routes.contains(&"10.99.0.0/16".parse().unwrap()),
                "{routes:?}"
            );
            assert!(routes.iter().all(|r| r.prefix_len() > 0), "{routes:?}");
            (nl.links().unwrap(), nl.addresses(None).unwrap())
        })
        .unwrap();
        let names: Vec<&str> = inner_links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names.contains(&"lo") && names.contains(&"eth0"),
            "{names:?}"
        );
        let eth0 = inner_links.iter().find(|l| l.name == "eth0").unwrap().index;
        assert!(inner_addrs.contains(&(eth0, ip("172.30.0.2"), 24)));
        assert!(inner_addrs.contains(&(eth0, ip("fd00:30::2"), 64)));
        assert!(inner_addrs.iter().any(|(_, a, _)| *a == ip("127.0.0.1")));
        // Nothing of the container leaked to the host side.
        assert!(nl.link("eth0").unwrap().is_none());
        assert!(!nl
            .addresses(None)
            .unwrap()
            .iter()
            .any(|(_, a, _)| *a == ip("172.30.0.2")));

        // Traffic: TCP from the container to the bridge address, then ping.
        let listener = TcpListener::bind("172.30.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = netns::run_in(&path, move || {
            let to = SocketAddr::new(ip("172.30.0.1"), port);
            let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("connect to {to} from the netns: {e}"));
            stream.write_all(b"hello").unwrap();
            stream.local_addr().unwrap().ip()
        })
        .unwrap();
        assert_eq!(sent, ip("172.30.0.2"));
        let (mut conn, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), ip("172.30.0.2"));
        let mut got = String::new();
        conn.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hello");

        match ping_command() {
            Some(cmd) => {
                let out = netns::run_in(&path, move || {
                    Command::new(&cmd[0])
                        .args(&cmd[1..])
                        .args(["-c1", "-W1", "172.30.0.1"])
                        .output()
                        .unwrap()
                })
                .unwrap();
                assert!(
                    out.status.success(),
                    "ping 172.30.0.1 from the netns: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => eprintln!("no ping installed, TCP only"),
        }

        // Deleting the host end takes the container end with it.
        nl.del_link(veth).unwrap();
        nl.del_link(veth).unwrap();
        let inner = netns::run_in(&path, || Netlink::open().unwrap().links().unwrap()).unwrap();
        assert_eq!(inner.len(), 1, "{inner:?}");

        drop(ns);
        drop(guard);
        assert!(!path.exists());
    });
}

#[test]
fn macvlan_and_ipvlan_in_a_netns() {
    netns::run_in_new(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c2");
        let _guard = NetnsGuard::create(path.clone());
        let ns = netns::open(&path).unwrap();
        let mut nl = Netlink::open().unwrap();

        // Some kernels are built without dummy: then a veth end is the parent.
        let parent = match nl.add_dummy("parent0") {
            Ok(index) => {
                assert_eq!(
                    nl.link("parent0").unwrap().unwrap().kind.as_deref(),
                    Some("dummy")
                );
                index
            }
            Err(e) if is_errno(&e, libc::EOPNOTSUPP) => {
                assert!(e.to_string().starts_with("create dummy parent0: "), "{e}");
                eprintln!("{e}: using a veth end as the parent");
                nl.add_veth("parent0", "parent0-peer", None, None).unwrap()
            }
            Err(e) => panic!("{e}"),
        };
        nl.set_up(parent).unwrap();

        nl.add_macvlan("mv0", parent, MacvlanMode::Bridge, Some(ns.as_fd()))
            .unwrap();
        assert!(nl.link("mv0").unwrap().is_none());
        let have_ipvlan = match nl.add_ipvlan("iv0", parent, IpvlanMode::L2, Some(ns.as_fd())) {
            Ok(()) => true,
            Err(e) if is_errno(&e, libc::EOPNOTSUPP) => {
                assert!(
                    e.to_string().starts_with("create ipvlan iv0 (parent link "),
                    "{e}"
                );
                eprintln!("{e}: this kernel has no ipvlan, skipping that part");
                false
            }
            Err(e) => panic!("{e}"),
        };
        // A macvlan can also be made here and moved over afterwards.
        nl.add_macvlan("mv1", parent, MacvlanMode::Private, None)
            .unwrap();
        let mv1 = nl.link("mv1").unwrap().unwrap();
        assert_eq!(mv1.kind.as_deref(), Some("macvlan"));
        nl.set_netns(mv1.index, ns.as_fd()).unwrap();
        assert!(nl.link("mv1").unwrap().is_none());

        netns::run_in(&path, move || {
            let mut nl = Netlink::open().unwrap();
            let links = nl.links().unwrap();
            let mv0 = links
                .iter()
                .find(|l| l.name == "mv0")
                .expect("mv0 moved in");
            assert_eq!(mv0.kind.as_deref(), Some("macvlan"));
            let mv1 = links
                .iter()
                .find(|l| l.name == "mv1")
                .expect("mv1 moved in");
            assert_eq!(mv1.kind.as_deref(), Some("macvlan"));
            assert!(!mv1.up, "a moved link is down");
            if have_ipvlan {
                let iv0 = links
                    .iter()
                    .find(|l| l.name == "iv0")
                    .expect("iv0 moved in");
                assert_eq!(iv0.kind.as_deref(), Some("ipvlan"));
            }
            nl.add_address(mv0.index, ip("192.168.77.2"), 24).unwrap();
            nl.set_up(mv0.index).unwrap();
            nl.set_down(mv0.index).unwrap();
            assert!(!nl.link("mv0").unwrap().unwrap().up);
            assert_eq!(
                nl.addresses(Some(mv0.index)).unwrap(),
                vec![(mv0.index, ip("192.168.77.2"), 24)]
            );
        })
        .unwrap();
    });
}

#[test]
fn idempotence_and_errors() {
    netns::run_in_new(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut nl = Netlink::open().unwrap();

        let br = nl.add_bridge("br-idem", None).unwrap();
        assert_eq!(nl.add_bridge("br-idem", Some(1500)).unwrap(), br);

        let veth = nl.add_veth("dupveth0", "dupveth0p", None, None).unwrap();
        let err = nl
            .add_veth("dupveth0", "dupveth0q", None, None)
            .unwrap_err();
        assert!(is_errno(&err, libc::EEXIST), "{err}");
        assert!(
            err.to_string()
                .starts_with("create veth dupveth0 (peer dupveth0q): File exists (os error 17)"),
            "{err}"
        );
        let err = nl.add_bridge("dupveth0", None).unwrap_err();
        assert!(is_errno(&err, libc::EEXIST), "{err}");
        assert!(err.to_string().contains("dupveth0"), "{err}");

        let err = nl.add_bridge("a-name-far-too-long", None).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("create bridge a-name-far-too-long: "));
        let err = nl.set_mtu(999_999, 1500).unwrap_err();
        assert!(is_errno(&err, libc::ENODEV), "{err}");
        assert!(
            err.to_string()
                .starts_with("set mtu of link 999999 to 1500: "),
            "{err}"
        );

        nl.add_address(br, ip("10.88.0.1"), 16).unwrap();
        nl.add_address(br, ip("10.88.0.1"), 16).unwrap();
        nl.add_address(br, ip("fd00:88::1"), 64).unwrap();
        nl.add_address(br, ip("fd00:88::1"), 64).unwrap();
        // Same IPv6 address, other prefix: not "already there".
        let err = nl.add_address(br, ip("fd00:88::1"), 48).unwrap_err();
        assert!(is_errno(&err, libc::EEXIST), "{err}");
        assert_eq!(nl.addresses(Some(br)).unwrap().len(), 2);
        nl.del_address(br, ip("10.88.0.1"), 16).unwrap();
        nl.del_address(br, ip("10.88.0.1"), 16).unwrap();
        nl.del_address(br, ip("fd00:88::1"), 64).unwrap();
        nl.del_address(br, ip("fd00:88::1"), 64).unwrap();
        assert!(nl.addresses(Some(br)).unwrap().is_empty());
        let err = nl.add_address(br, ip("10.88.0.1"), 33).unwrap_err();
        assert!(matches!(err, NetlinkError::Invalid { .. }), "{err}");

        nl.del_link(veth).unwrap();
        nl.del_link(veth).unwrap();
        assert!(nl.link("dupveth0p").unwrap().is_none());
        nl.del_link(br).unwrap();
        assert!(nl.links().unwrap().iter().all(|l| l.name == "lo"));
        nl.del_address(br, ip("10.88.0.1"), 16).unwrap();

        // Namespaces: create refuses an existing file and leaves it alone; remove twice.
        let path = dir.path().join("ns").join("c3");
        let guard = NetnsGuard::create(path.clone());
        let err = netns::create(&path).unwrap_err();
        assert_eq!(err.errno(), Some(libc::EEXIST), "{err}");
        netns::open(&path).expect("the first namespace is still there");
        assert_eq!(netns::list(&dir.path().join("ns")), vec![path.clone()]);
        netns::remove(&path).unwrap();
        netns::remove(&path).unwrap();
        assert!(!path.exists());
        assert!(netns::list(&dir.path().join("ns")).is_empty());
        let err = netns::run_in(&path, || ()).unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENOENT), "{err}");
        drop(guard);

        // A failed create leaves nothing behind.
        let bad = dir.path().join("file-not-dir");
        std::fs::write(&bad, b"").unwrap();
        assert!(netns::create(&bad.join("ns")).is_err());
        assert!(!bad.join("ns").exists());
    });
}

#[test]
fn namespaces_are_separate() {
    netns::run_in_new(|| {
        let dir = tempfile::tempdir().unwrap();
        let a = NetnsGuard::create(dir.path().join("a"));
        let b = NetnsGuard::create(dir.path().join("b"));
        let make = |path: &Path, name: &'static str| {
            netns::run_in(path, move || {
                let mut nl = Netlink::open().unwrap();
                nl.add_bridge(name, None).unwrap();
                // lo is up in a namespace from netns::create.
                assert!(nl.link("lo").unwrap().unwrap().up);
            })
            .unwrap()
        };
        make(&a.0, "br-a");
        make(&b.0, "br-b");
        let names = |path: &Path| {
            netns::run_in(path, || {
                let mut names: Vec<String> = Netlink::open()
                    .unwrap()
                    .links()
                    .unwrap()
                    .into_iter()
                    .map(|l| l.name)
                    .collect();
                names.sort();
                names
            })
            .unwrap()
        };
        assert_eq!(names(&a.0), ["br-a", "lo"]);
        assert_eq!(names(&b.0), ["br-b", "lo"]);
        assert!(Netlink::open().unwrap().link("br-a").unwrap().is_none());

        // A socket stays in the namespace it was opened in, whichever thread uses it.
        let mut in_a = netns::run_in(&a.0, || Netlink::open().unwrap()).unwrap();
        assert!(in_a.link("br-a").unwrap().is_some());
        in_a.add_bridge("br-a2", None).unwrap();
        assert!(names(&a.0).contains(&"br-a2".to_string()));
        assert!(Netlink::open().unwrap().link("br-a2").unwrap().is_none());
    });
}

#[test]
fn sysctls_are_per_namespace() {
    let key = "net.ipv4.ip_unprivileged_port_start";
    let host_value = sysctl::get(key).unwrap();
    netns::run_in_new(move || {
        sysctl::set(key, "1000").unwrap();
        sysctl::set(key, "1000").unwrap();
        assert_eq!(sysctl::get(key).unwrap(), "1000");
        // Multi-valued keys compare by words, whatever the separator.
        let range = sysctl::get("net.ipv4.ip_local_port_range").unwrap();
        let spaced = range.split_whitespace().collect::<Vec<_>>().join(" ");
        sysctl::set("net.ipv4.ip_local_port_range", &spaced).unwrap();
        assert_eq!(sysctl::get("net.ipv4.ip_local_port_range").unwrap(), range);

        let mut nl = Netlink::open().unwrap();
        nl.add_bridge("br-sys", None).unwrap();
        sysctl::set("net.ipv4.conf.br-sys.route_localnet", "1").unwrap();
        assert_eq!(
            sysctl::get("net.ipv4.conf.br-sys.route_localnet").unwrap(),
            "1"
        );
        let err = sysctl::set("net.ipv4.conf.nosuch0.route_localnet", "1").unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENOENT), "{err}");
        assert!(err
            .to_string()
            .starts_with("set sysctl net.ipv4.conf.nosuch0.route_localnet to \"1\": "));
    });
    assert_eq!(sysctl::get(key).unwrap(), host_value);
    assert!(sysctl::get("net.ipv4.conf.br-sys.route_localnet").is_err());
}
