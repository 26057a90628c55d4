//! The nft script of berth's table. Chains, in the order they are written:
//!
//! | chain | hook, priority | holds |
//! | --- | --- | --- |
//! | set `bridges` | | the names of berth's bridges |
//! | `localnet-guard` | filter prerouting, raw | drop 127.0.0.0/8 arriving on a bridge |
//! | `prerouting` | nat prerouting, dstnat | local destinations jump to `published` |
//! | `output` | nat output, -100 | the same for the host's own traffic, but 127.0.0.0/8 only with `loopback_dnat`, `::1` never |
//! | `published` | (jumped to) | one DNAT per published port |
//! | `postrouting` | nat postrouting, srcnat | masquerade out of a network, hairpin, loopback |
//! | `forward` | filter forward, filter | internal networks, replies, published ports, isolation, icc |
//!
//! Kernel DNAT for every published port (no userland proxy in the path) keeps the
//! client's address, and serves a container that reaches a published port through
//! the host's address (hairpin). Traffic that hairpins back into its own bridge is
//! masqueraded, or the reply would go straight from container to container and miss
//! the reverse NAT; traffic from elsewhere keeps its source address. A container that
//! reaches *itself* that way also needs hairpin mode on its bridge port (the bridge
//! drops the routed packet otherwise), which Docker sets without its userland proxy.
//!
//! `forward` drops, per network, whatever enters the bridge from another interface
//! unless it is a reply or goes to a published port. That one rule isolates berth's
//! networks from each other (`iifname "brA" oifname "brB"` enters brB) and from hosts
//! that route to a container's subnet directly, as Docker 28 does. Internal networks
//! drop everything that crosses their bridge before anything is accepted.
//!
//! Ports published on an internal network are left out (Docker publishes nothing
//! there), and so are ports whose host address and container address differ in
//! family (Docker leaves those to its userland proxy).

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Desired, PortRule, Proto};

/// The script that atomically replaces table `inet <table>` with `d`.
pub fn render(table: &str, d: &Desired) -> String {
    let networks = networks(d);
    let ports = ports(d, &networks);
    let mut s = String::new();
    let w = &mut s;
    line(
        w,
        0,
        &format!("# berth firewall: table inet {table}, generated and replaced as a whole"),
    );
    line(w, 0, &format!("add table inet {table}"));
    line(w, 0, &format!("delete table inet {table}"));
    line(w, 0, &format!("table inet {table} {{"));
    if networks.is_empty() && ports.is_empty() {
        line(w, 0, "}");
        return s;
    }

    line(w, 1, "set bridges {");
    line(w, 2, "type ifname");
    if !networks.is_empty() {
        let names: Vec<String> = networks.iter().map(|n| quote(&n.bridge)).collect();
        line(w, 2, &format!("elements = {{ {} }}", names.join(", ")));
    }
    line(w, 1, "}");

    chain(
        w,
        "localnet-guard",
        "type filter hook prerouting priority raw; policy accept;",
    );
    line(w, 2, "# route_localnet=1 on a bridge must not open the host's loopback services to containers (CVE-2020-8558)");
    line(w, 2, "iifname @bridges ip daddr 127.0.0.0/8 drop");
    line(w, 1, "}");

    chain(
        w,
        "prerouting",
        "type nat hook prerouting priority dstnat; policy accept;",
    );
    line(w, 2, "fib daddr type local jump published");
    line(w, 1, "}");

    chain(
        w,
        "output",
        "type nat hook output priority -100; policy accept;",
    );
    if d.loopback_dnat {
        line(
            w,
            2,
            "meta nfproto ipv4 fib daddr type local jump published",
        );
    } else {
        line(w, 2, "# loopback is left to the userland proxy");
        line(
            w,
            2,
            "ip daddr != 127.0.0.0/8 fib daddr type local jump published",
        );
    }
    line(w, 2, "ip6 daddr != ::1 fib daddr type local jump published");
    line(w, 1, "}");

    chain(w, "published", "");
    for p in &ports {
        let dst = match p.host_ip {
            Some(ip) => format!("{} daddr {ip}", family(ip)),
            None => format!("meta nfproto {}", nfproto(p.container_ip)),
        };
        line(
            w,
            2,
            &format!(
                "{dst} {} dport {} dnat {} to {}",
                p.proto.as_str(),
                p.host_port,
                family(p.container_ip),
                socket(p.container_ip, p.container_port)
            ),
        );
    }
    line(w, 1, "}");

    chain(
        w,
        "postrouting",
        "type nat hook postrouting priority srcnat; policy accept;",
    );
    for n in networks.iter().filter(|n| !n.internal) {
        let br = quote(&n.bridge);
        for net in n.subnets.iter().filter(|_| n.masquerade) {
            let f = family(net.addr());
            line(w, 2, &format!("{f} saddr {net} oifname != {br} masquerade"));
        }
        for net in &n.subnets {
            let f = family(net.addr());
            line(
                w,
                2,
                &format!("oifname {br} {f} saddr {net} ct status dnat masquerade"),
            );
        }
    }
    if d.loopback_dnat && !networks.is_empty() {
        line(w, 2, "oifname @bridges ip saddr 127.0.0.0/8 masquerade");
    }
    line(w, 1, "}");

    chain(
        w,
        "forward",
        "type filter hook forward priority filter; policy accept;",
    );
    let internal: Vec<&Network> = networks.iter().filter(|n| n.internal).collect();
    if !internal.is_empty() {
        line(w, 2, "# internal networks: nothing crosses the bridge");
    }
    for n in &internal {
        let br = quote(&n.bridge);
        line(w, 2, &format!("iifname {br} oifname != {br} drop"));
        line(w, 2, &format!("oifname {br} iifname != {br} drop"));
    }
    line(w, 2, "ct state established,related accept");
    let published: BTreeSet<(&str, IpAddr, Proto, u16)> = ports
        .iter()
        .map(|p| (p.bridge.as_str(), p.container_ip, p.proto, p.container_port))
        .collect();
    for (bridge, ip, proto, port) in published {
        line(
            w,
            2,
            &format!(
                "oifname {} {} daddr {ip} {} dport {port} ct status dnat accept",
                quote(bridge),
                family(ip),
                proto.as_str()
            ),
        );
    }
    let open: Vec<&Network> = networks.iter().filter(|n| !n.internal).collect();
    if !open.is_empty() {
        line(w, 2, "# nothing else enters a network: isolation from berth's other bridges and from direct routing");
    }
    for n in &open {
        let br = quote(&n.bridge);
        line(w, 2, &format!("oifname {br} iifname != {br} drop"));
    }
    for n in networks.iter().filter(|n| !n.icc) {
        let br = quote(&n.bridge);
        line(w, 2, &format!("# icc=false on {br}"));
        line(w, 2, &format!("iifname {br} oifname {br} drop"));
    }
    line(w, 1, "}");
    line(w, 0, "}");
    s
}

/// A network with sorted, deduplicated subnets (host bits cleared).
struct Network {
    bridge: String,
    subnets: Vec<IpNet>,
    masquerade: bool,
    internal: bool,
    icc: bool,
}

fn networks(d: &Desired) -> Vec<Network> {
    let mut out: Vec<Network> = d
        .networks
        .iter()
        .map(|n| {
            let mut subnets: Vec<IpNet> = n.subnets.iter().map(IpNet::trunc).collect();
            subnets.sort();
            subnets.dedup();
            Network {
                bridge: n.bridge.clone(),
                subnets,
                masquerade: n.masquerade,
                internal: n.internal,
                icc: n.icc,
            }
        })
        .collect();
    out.sort_by(|a, b| a.bridge.cmp(&b.bridge));
    out
}

/// The ports to publish, sorted and deduplicated, `0.0.0.0` / `::` as `None`.
fn ports(d: &Desired, networks: &[Network]) -> Vec<PortRule> {
    let mut out: Vec<PortRule> = Vec::new();
    for p in &d.ports {
        let mut p = p.clone();
        p.host_ip = p.host_ip.filter(|ip| !ip.is_unspecified());
        if networks.iter().any(|n| n.internal && n.bridge == p.bridge) {
            tracing::debug!(?p, "not publishing a port on an internal network");
            continue;
        }
        if p.host_ip
            .is_some_and(|ip| ip.is_ipv4() != p.container_ip.is_ipv4())
        {
            tracing::warn!(?p, "not publishing a port across address families");
            continue;
        }
        out.push(p);
    }
    out.sort_by(|a, b| {
        let key = |p: &PortRule| {
            (
                p.host_port,
                p.proto,
                p.host_ip,
                p.container_ip,
                p.container_port,
                p.bridge.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    out.dedup();
    out
}

fn line(w: &mut String, indent: usize, text: &str) {
    for _ in 0..indent {
        w.push('\t');
    }
    w.push_str(text);
    w.push('\n');
}

/// Opens a chain after a blank line; `hook` is empty for a regular chain.
fn chain(w: &mut String, name: &str, hook: &str) {
    w.push('\n');
    line(w, 1, &format!("chain {name} {{"));
    if !hook.is_empty() {
        line(w, 2, hook);
    }
}

/// Names are checked by the caller (no quote, no backslash), see `check_ifname`.
fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "ip"
    } else {
        "ip6"
    }
}

fn nfproto(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "ipv4"
    } else {
        "ipv6"
    }
}

fn socket(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    }
}
