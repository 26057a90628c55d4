//! Picking addresses from a pool: the gateway, a container's address, and the MAC
//! address Docker derives from it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use super::{from_bits, to_bits, IpNet, IpamError, PoolConfig};

/// The explicit gateway, else the first address the subnet can hand out: 172.18.0.1 in
/// 172.18.0.0/16, fd00::1 in fd00::/64. That is where libnetwork's first allocation
/// lands, which also gives its answers for the tiny subnets: the lower address of an
/// IPv4 /31 (which has no network address) and the only address of a /32.
pub fn gateway(pool: &PoolConfig) -> IpAddr {
    pool.gateway.unwrap_or_else(|| {
        let net = pool.subnet;
        let first = to_bits(net.network());
        if is_subnet_reserved(&net, net.network()) && first < to_bits(net.broadcast()) {
            from_bits(&net, first + 1)
        } else {
            net.network()
        }
    })
}

/// An address for a container: `requested` (`--ip`) if it is free, else the lowest
/// free address of the ip-range (or of the subnet). Never the subnet's reserved
/// addresses, the gateway, an aux address or anything in `used`.
///
/// As in Docker, a requested address may lie outside the ip-range as long as it is in
/// the subnet: the range only limits dynamic allocation.
pub fn allocate(
    pool: &PoolConfig,
    used: &BTreeSet<IpAddr>,
    requested: Option<IpAddr>,
) -> Result<IpAddr, IpamError> {
    let taken = taken_in(pool, used);
    if let Some(ip) = requested {
        if !pool.subnet.contains(&ip) {
            return Err(IpamError::OutOfSubnet {
                addr: ip,
                subnet: pool.subnet,
            });
        }
        return if taken(ip) {
            Err(IpamError::AddressInUse(ip))
        } else {
            Ok(ip)
        };
    }
    allocate_after(pool, used, None)
}

/// The first free address after `after` (wrapping around to the start of the range), as
/// libnetwork allocates serially: an address just released is not handed out again while
/// others are free, so a new container does not inherit the old one's connections in
/// conntrack or its peers' ARP caches.
pub fn allocate_after(
    pool: &PoolConfig,
    used: &BTreeSet<IpAddr>,
    after: Option<IpAddr>,
) -> Result<IpAddr, IpamError> {
    let taken = taken_in(pool, used);
    // Like libnetwork, the range's own first and last addresses are ordinary host
    // addresses unless they are the subnet's network or broadcast address.
    // Every address skipped is reserved, the gateway, an aux address or in `used`, so
    // the scan stops after a few steps even in an IPv6 /64.
    let range = pool.ip_range.unwrap_or(pool.subnet);
    let (lo, hi) = (to_bits(range.network()), to_bits(range.broadcast()));
    let start = after
        .filter(|a| range.contains(a))
        .map(to_bits)
        .filter(|a| *a < hi)
        .map_or(lo, |a| a + 1);
    (start..=hi)
        .chain(lo..start)
        .map(|n| from_bits(&range, n))
        .find(|ip| !taken(*ip))
        .ok_or(IpamError::Exhausted(range))
}

/// Whether an address of the pool cannot be handed out: reserved, the gateway, an aux
/// address or in `used`.
fn taken_in<'a>(pool: &'a PoolConfig, used: &'a BTreeSet<IpAddr>) -> impl Fn(IpAddr) -> bool + 'a {
    let gw = gateway(pool);
    move |ip| {
        is_subnet_reserved(&pool.subnet, ip)
            || ip == gw
            || pool.aux_addresses.values().any(|a| *a == ip)
            || used.contains(&ip)
    }
}

/// libnetwork never hands out an IPv4 subnet's network and broadcast addresses (from
/// /30 up; a /31 or /32 has none) nor an IPv6 subnet's first address, the
/// subnet-router anycast address.
pub(super) fn is_subnet_reserved(subnet: &IpNet, ip: IpAddr) -> bool {
    match subnet {
        IpNet::V4(net) if net.prefix_len() >= 31 => false,
        IpNet::V4(net) => ip == IpAddr::V4(net.network()) || ip == IpAddr::V4(net.broadcast()),
        IpNet::V6(net) => ip == IpAddr::V6(net.network()),
    }
}

/// The MAC address Docker's bridge driver derives from an IPv4 address:
/// 02:42 (locally administered, unicast) and the address's four bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::tests::{err, ip, pool, pool_with};
    use std::net::Ipv6Addr;

    fn used(addrs: &[&str]) -> BTreeSet<IpAddr> {
        addrs.iter().map(|a| ip(a)).collect()
    }

    /// The first `n` addresses handed out one after the other.
    fn allocate_n(pool: &PoolConfig, n: usize) -> Vec<IpAddr> {
        let mut taken = BTreeSet::new();
        for _ in 0..n {
            taken.insert(allocate(pool, &taken, None).unwrap());
        }
        taken.into_iter().collect()
    }

    #[test]
    fn serial_allocation_does_not_reuse_at_once() {
        let p = pool("10.0.0.0/29");
        // .1 is the gateway; after .3 comes .4 even though .2 is free again.
        assert_eq!(
            allocate_after(&p, &used(&[]), Some(ip("10.0.0.3"))).unwrap(),
            ip("10.0.0.4")
        );
        // At the end of the range it wraps around to the lowest free address.
        assert_eq!(
            allocate_after(&p, &used(&[]), Some(ip("10.0.0.6"))).unwrap(),
            ip("10.0.0.2")
        );
        let full = used(&["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
        assert!(allocate_after(&p, &full, Some(ip("10.0.0.4"))).is_err());
        // A hint outside the range is ignored.
        assert_eq!(
            allocate_after(&p, &used(&[]), Some(ip("192.0.2.1"))).unwrap(),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn default_gateways() {
        assert_eq!(gateway(&pool("172.18.0.0/16")), ip("172.18.0.1"));
        assert_eq!(gateway(&pool("10.0.0.4/30")), ip("10.0.0.5"));
        assert_eq!(gateway(&pool("10.0.0.4/31")), ip("10.0.0.4"));
        assert_eq!(gateway(&pool("10.0.0.4/32")), ip("10.0.0.4"));
        assert_eq!(gateway(&pool("fd00::/64")), ip("fd00::1"));
        assert_eq!(gateway(&pool("fd00::/127")), ip("fd00::1"));
        assert_eq!(gateway(&pool("fd00::/128")), ip("fd00::"));
    }

    #[test]
    fn allocates_lowest_free_address() {
        let p = pool("172.17.0.0/16");
        assert_eq!(
            allocate(&p, &BTreeSet::new(), None).unwrap(),
            ip("172.17.0.2")
        );
        let u = used(&["172.17.0.2", "172.17.0.3", "172.17.0.5"]);
        assert_eq!(allocate(&p, &u, None).unwrap(), ip("172.17.0.4"));
        // Addresses outside the subnet in `used` change nothing.
        assert_eq!(
            allocate(&p, &used(&["10.0.0.2"]), None).unwrap(),
            ip("172.17.0.2")
        );
    }

    #[test]
    fn skips_explicit_gateway_and_aux_addresses() {
        let p = pool_with(
            "172.20.0.0/24",
            Some("172.20.0.2"),
            None,
            &[("a", "172.20.0.1"), ("b", "172.20.0.3")],
        )
        .unwrap();
        assert_eq!(allocate_n(&p, 2), vec![ip("172.20.0.4"), ip("172.20.0.5")]);
    }

    #[test]
    fn exhausts_a_small_subnet() {
        let p = pool("10.0.0.0/29");
        let all = allocate_n(&p, 5);
        assert_eq!(all.first(), Some(&ip("10.0.0.2")));
        assert_eq!(all.last(), Some(&ip("10.0.0.6")));
        let taken = all.into_iter().collect();
        assert_eq!(
            err(allocate(&p, &taken, None)),
            "no available addresses in 10.0.0.0/29"
        );
    }

    #[test]
    fn slash_31_and_32() {
        // /31: no network or broadcast address; the gateway takes the lower one.
        let p = pool("10.0.0.4/31");
        assert_eq!(
            allocate(&p, &BTreeSet::new(), None).unwrap(),
            ip("10.0.0.5")
        );
        assert!(allocate(&p, &used(&["10.0.0.5"]), None).is_err());
        // /32: the gateway takes the only address.
        let p = pool("10.0.0.4/32");
        assert_eq!(
            err(allocate(&p, &BTreeSet::new(), None)),
            "no available addresses in 10.0.0.4/32"
        );
        // And a /32 has nowhere else to put the gateway.
        assert!(pool_with("10.0.0.4/32", Some("10.0.0.5"), None, &[]).is_err());
    }

    #[test]
    fn allocates_from_the_ip_range() {
        let p = pool_with("172.20.0.0/16", None, Some("172.20.5.0/24"), &[]).unwrap();
        // The range's first address is an ordinary host address of the /16.
        assert_eq!(
            allocate(&p, &BTreeSet::new(), None).unwrap(),
            ip("172.20.5.0")
        );
        assert_eq!(gateway(&p), ip("172.20.0.1"));
    }

    #[test]
    fn ip_range_at_the_subnet_start_skips_network_and_gateway() {
        let p = pool_with("172.20.0.0/16", None, Some("172.20.0.0/30"), &[]).unwrap();
        assert_eq!(allocate_n(&p, 2), vec![ip("172.20.0.2"), ip("172.20.0.3")]);
    }

    #[test]
    fn ip_range_at_the_subnet_end_never_gives_the_broadcast() {
        let p = pool_with("172.20.0.0/16", None, Some("172.20.255.252/30"), &[]).unwrap();
        let all = allocate_n(&p, 3);
        assert_eq!(
            all,
            vec![
                ip("172.20.255.252"),
                ip("172.20.255.253"),
                ip("172.20.255.254")
            ]
        );
        let taken = all.into_iter().collect();
        assert_eq!(
            err(allocate(&p, &taken, None)),
            "no available addresses in 172.20.255.252/30"
        );
    }

    #[test]
    fn gateway_inside_the_ip_range_is_skipped() {
        let p = pool_with(
            "192.168.0.0/24",
            Some("192.168.0.130"),
            Some("192.168.0.128/30"),
            &[],
        )
        .unwrap();
        assert_eq!(
            allocate_n(&p, 3),
            vec![
                ip("192.168.0.128"),
                ip("192.168.0.129"),
                ip("192.168.0.131")
            ]
        );
    }

    #[test]
    fn requested_addresses() {
        let p = pool_with(
            "172.20.0.0/16",
            None,
            Some("172.20.5.0/24"),
            &[("aux", "172.20.0.9")],
        )
        .unwrap();
        let u = used(&["172.20.5.0"]);
        // Outside the ip-range but inside the subnet is fine, as in Docker.
        assert_eq!(
            allocate(&p, &u, Some(ip("172.20.9.9"))).unwrap(),
            ip("172.20.9.9")
        );
        assert_eq!(
            allocate(&p, &u, Some(ip("172.20.5.1"))).unwrap(),
            ip("172.20.5.1")
        );
        for taken in [
            "172.20.5.0",
            "172.20.0.1",
            "172.20.0.9",
            "172.20.0.0",
            "172.20.255.255",
        ] {
            let e = allocate(&p, &u, Some(ip(taken))).unwrap_err();
            assert!(
                matches!(e, IpamError::AddressInUse(a) if a == ip(taken)),
                "{taken}"
            );
            assert_eq!(e.to_string(), "Address already in use");
        }
        assert_eq!(
            err(allocate(&p, &u, Some(ip("10.0.0.5")))),
            "no configured subnet contains IP address 10.0.0.5"
        );
        assert!(matches!(
            allocate(&p, &u, Some(ip("fd00::5"))),
            Err(IpamError::OutOfSubnet { .. })
        ));
    }

    #[test]
    fn ipv6_pools() {
        let p = pool("fd00::/64");
        assert_eq!(allocate_n(&p, 2), vec![ip("fd00::2"), ip("fd00::3")]);
        // No broadcast in IPv6: the last address of the subnet can be handed out.
        let last = ip("fd00::ffff:ffff:ffff:ffff");
        assert_eq!(allocate(&p, &BTreeSet::new(), Some(last)).unwrap(), last);
        // The subnet-router anycast address is reserved.
        assert!(matches!(
            allocate(&p, &BTreeSet::new(), Some(ip("fd00::"))),
            Err(IpamError::AddressInUse(_))
        ));
        // A thousand used addresses cost a thousand steps, not 2^64.
        let many: BTreeSet<IpAddr> = (2..1002u128)
            .map(|n| IpAddr::V6(Ipv6Addr::from(to_bits(ip("fd00::")) + n)))
            .collect();
        assert_eq!(allocate(&p, &many, None).unwrap(), ip("fd00::3ea"));
        let r = pool_with("fd00::/64", None, Some("fd00::ff00/120"), &[]).unwrap();
        assert_eq!(
            allocate(&r, &BTreeSet::new(), None).unwrap(),
            ip("fd00::ff00")
        );
        assert_eq!(
            err(allocate(&pool("fd00::/128"), &BTreeSet::new(), None)),
            "no available addresses in fd00::/128"
        );
    }

    #[test]
    fn mac_addresses() {
        let mac = mac_for(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        assert_eq!(format_mac(mac), "02:42:ac:11:00:02");
        assert_eq!(
            format_mac(mac_for(Ipv4Addr::new(255, 255, 10, 1))),
            "02:42:ff:ff:0a:01"
        );
    }
}
