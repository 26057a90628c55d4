//! IP address management as Docker's default IPAM driver does it: a network's pool
//! (subnet, gateway, ip-range, aux addresses), picking a container's address from it,
//! carving new subnets out of the default address pools, and the MAC address Docker's
//! bridge driver derives from an IPv4 address.
//!
//! Everything here is pure: the caller says which addresses and subnets are taken.
//! Error messages are Docker's where Docker has one, so clients that match on them
//! keep working. When the docker CLI and the daemon word a check differently, the
//! CLI's words are used, because that is what a Docker user sees; the daemon prefixes
//! pool errors with `invalid network config:` itself.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ipnet::IpNet;

/// One subnet of a network, as `docker network create --subnet --gateway --ip-range
/// --aux-address` configures it. Build it with [`parse_pool`], which checks it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolConfig {
    pub subnet: IpNet,
    /// `None`: the default of [`gateway`].
    pub gateway: Option<IpAddr>,
    /// Where dynamically allocated addresses come from; `None`: the whole subnet.
    pub ip_range: Option<IpNet>,
    /// Addresses reserved for things outside Docker (`--aux-address name=ip`).
    pub aux_addresses: BTreeMap<String, IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// The wording of Docker's `opts.ValidateIPAddress`.
    #[error("IP address is not correctly formatted: {0}")]
    InvalidAddress(String),
    #[error("invalid subnet {0}: invalid CIDR block notation")]
    InvalidSubnet(String),
    #[error("invalid subnet {given}: it should be {canonical}")]
    NonCanonicalSubnet { given: IpNet, canonical: IpNet },
    #[error("invalid ip-range {0}: invalid CIDR block notation")]
    InvalidRange(String),
    #[error("invalid ip-range {given}: it should be {canonical}")]
    NonCanonicalRange { given: IpNet, canonical: IpNet },
    #[error("invalid ip-range {range}: CIDR block is bigger than its parent subnet {subnet}")]
    RangeTooBig { range: IpNet, subnet: IpNet },
    #[error("no matching subnet for range {0}")]
    RangeOutsideSubnet(IpNet),
    #[error("no matching subnet for gateway {0}")]
    GatewayOutsideSubnet(IpAddr),
    #[error("no matching subnet for aux-address {0}")]
    AuxOutsideSubnet(IpAddr),
    /// An explicit gateway on the subnet's network or broadcast address.
    #[error("failed to allocate gateway ({0}): Address already in use")]
    GatewayInUse(IpAddr),
    /// An aux address on the gateway, another aux address, or a reserved address.
    #[error("failed to allocate secondary ip address ({name}:{addr}): Address already in use")]
    AuxInUse { name: String, addr: IpAddr },
    /// A requested address (`--ip`) outside the subnet; the daemon's wording.
    #[error("no configured subnet contains IP address {addr}")]
    OutOfSubnet { addr: IpAddr, subnet: IpNet },
    /// A requested address that is taken; Docker names no address here.
    #[error("Address already in use")]
    AddressInUse(IpAddr),
    /// Docker says `no available IPv4 addresses on this network's address pools:
    /// NAME (ID)`; the network's name is the caller's to add.
    #[error("no available addresses in {0}")]
    Exhausted(IpNet),
    /// A bad `--default-address-pool`, with dockerd's message.
    #[error("{0}")]
    InvalidAddressPool(String),
    #[error("could not find an available, non-overlapping {family} address pool among the defaults to assign to the network")]
    NoAvailablePool { family: &'static str },
}

pub fn parse_ip(s: &str) -> Result<IpAddr, IpamError> {
    s.parse()
        .map_err(|_| IpamError::InvalidAddress(s.to_string()))
}

/// Checks a pool as Docker does. Empty strings count as absent, as in Docker's API.
pub fn parse_pool(
    subnet: &str,
    gateway: Option<&str>,
    ip_range: Option<&str>,
    aux: &BTreeMap<String, String>,
) -> Result<PoolConfig, IpamError> {
    let given: IpNet = subnet
        .parse()
        .map_err(|_| IpamError::InvalidSubnet(subnet.to_string()))?;
    let subnet = given.trunc();
    if given != subnet {
        return Err(IpamError::NonCanonicalSubnet {
            given,
            canonical: subnet,
        });
    }
    let ip_range = non_empty(ip_range)
        .map(|r| parse_range(&subnet, r))
        .transpose()?;
    let gateway = non_empty(gateway)
        .map(|g| {
            let ip = parse_ip(g)?;
            if !subnet.contains(&ip) {
                return Err(IpamError::GatewayOutsideSubnet(ip));
            }
            if is_subnet_reserved(&subnet, ip) {
                return Err(IpamError::GatewayInUse(ip));
            }
            Ok(ip)
        })
        .transpose()?;

    let mut pool = PoolConfig {
        subnet,
        gateway,
        ip_range,
        aux_addresses: BTreeMap::new(),
    };
    // libnetwork reserves the gateway (explicit or default) before the aux addresses,
    // so an aux address on the default gateway fails too.
    let gw = self::gateway(&pool);
    for (name, value) in aux {
        let ip = parse_ip(value)?;
        if !subnet.contains(&ip) {
            return Err(IpamError::AuxOutsideSubnet(ip));
        }
        if is_subnet_reserved(&subnet, ip)
            || ip == gw
            || pool.aux_addresses.values().any(|a| *a == ip)
        {
            return Err(IpamError::AuxInUse {
                name: name.clone(),
                addr: ip,
            });
        }
        pool.aux_addresses.insert(name.clone(), ip);
    }
    Ok(pool)
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn parse_range(subnet: &IpNet, s: &str) -> Result<IpNet, IpamError> {
    let given: IpNet = s
        .parse()
        .map_err(|_| IpamError::InvalidRange(s.to_string()))?;
    let range = given.trunc();
    if given != range {
        return Err(IpamError::NonCanonicalRange {
            given,
            canonical: range,
        });
    }
    if range.contains(subnet) && range != *subnet {
        return Err(IpamError::RangeTooBig {
            range,
            subnet: *subnet,
        });
    }
    if !subnet.contains(&range) {
        return Err(IpamError::RangeOutsideSubnet(range));
    }
    Ok(range)
}

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
    let gw = gateway(pool);
    let taken = |ip: IpAddr| {
        is_subnet_reserved(&pool.subnet, ip)
            || ip == gw
            || pool.aux_addresses.values().any(|a| *a == ip)
            || used.contains(&ip)
    };
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
    // Like libnetwork, the range's own first and last addresses are ordinary host
    // addresses unless they are the subnet's network or broadcast address.
    // Every address skipped is reserved, the gateway, an aux address or in `used`, so
    // the scan stops after a few steps even in an IPv6 /64.
    let range = pool.ip_range.unwrap_or(pool.subnet);
    (to_bits(range.network())..=to_bits(range.broadcast()))
        .map(|n| from_bits(&range, n))
        .find(|ip| !taken(*ip))
        .ok_or(IpamError::Exhausted(range))
}

/// libnetwork never hands out an IPv4 subnet's network and broadcast addresses (from
/// /30 up; a /31 or /32 has none) nor an IPv6 subnet's first address, the
/// subnet-router anycast address.
fn is_subnet_reserved(subnet: &IpNet, ip: IpAddr) -> bool {
    match subnet {
        IpNet::V4(net) if net.prefix_len() >= 31 => false,
        IpNet::V4(net) => ip == IpAddr::V4(net.network()) || ip == IpAddr::V4(net.broadcast()),
        IpNet::V6(net) => ip == IpAddr::V6(net.network()),
    }
}

fn to_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(ip) => u32::from(ip).into(),
        IpAddr::V6(ip) => ip.into(),
    }
}

/// The address `n` in `net`'s family; `n` comes from an address of that family.
fn from_bits(net: &IpNet, n: u128) -> IpAddr {
    match net {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

/// Whether two subnets share an address; subnets of different families never do.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// A range that networks without `--subnet` get their subnets from: subnets of prefix
/// length `size` carved out of `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPool {
    pub base: IpNet,
    pub size: u8,
}

/// dockerd's `--default-address-pool base=10.10.0.0/16,size=24`, with its messages.
/// A base with host bits set is truncated, as Go's `net.ParseCIDR` does for dockerd.
pub fn parse_address_pool(s: &str) -> Result<AddressPool, IpamError> {
    let bad = IpamError::InvalidAddressPool;
    let (mut base, mut size) = (None, None);
    for field in s.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            return Err(bad(format!(
                "invalid field '{field}' must be a key=value pair"
            )));
        };
        // dockerd matches keys case-insensitively.
        match key.to_ascii_lowercase().as_str() {
            "base" => {
                let net: IpNet = value.parse().map_err(|_| {
                    bad(format!(
                        "invalid base pool {value:?}: invalid CIDR block notation"
                    ))
                })?;
                base = Some(net.trunc());
            }
            "size" => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| bad(format!("invalid size value: {s:?} (must be integer)")))?;
                size = Some(n);
            }
            _ => return Err(bad(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    let base = base.ok_or_else(|| bad(format!("missing base in {s:?}")))?;
    let size = size.ok_or_else(|| bad(format!("missing size in {s:?}")))?;
    match u8::try_from(size) {
        Ok(n) if n >= base.prefix_len() && n <= base.max_prefix_len() => {
            Ok(AddressPool { base, size: n })
        }
        _ => Err(bad(format!("invalid pools size: {size}"))),
    }
}

/// Docker's defaults: 172.17.0.0/16 to 172.31.0.0/16 whole, then 192.168.0.0/16 in /20s.
pub fn default_address_pools() -> Vec<AddressPool> {
    let pool = |a, b, len, size| AddressPool {
        base: IpNet::new_assert(IpAddr::V4(Ipv4Addr::new(a, b, 0, 0)), len),
        size,
    };
    (17..=31)
        .map(|b| pool(172, b, 16, 16))
        .chain([pool(192, 168, 16, 20)])
        .collect()
}

/// The first subnet carved out of `pools`, in order, that overlaps nothing in `taken`
/// (other networks' subnets and the host's routes; leave out default routes, as
/// Docker does).
pub fn next_subnet(pools: &[AddressPool], taken: &[IpNet]) -> Result<IpNet, IpamError> {
    if let Some(net) = pools.iter().find_map(|p| first_free(p, taken)) {
        return Ok(net);
    }
    let v6 = !pools.is_empty() && pools.iter().all(|p| matches!(p.base, IpNet::V6(_)));
    Err(IpamError::NoAvailablePool {
        family: if v6 { "IPv6" } else { "IPv4" },
    })
}

fn first_free(pool: &AddressPool, taken: &[IpNet]) -> Option<IpNet> {
    let base = pool.base.trunc();
    if pool.size < base.prefix_len() || pool.size > base.max_prefix_len() {
        return None;
    }
    let host_bits = u32::from(base.max_prefix_len() - pool.size);
    let span = u128::MAX.checked_shr(128 - host_bits).unwrap_or(0);
    let end = to_bits(base.broadcast());
    let mut start = to_bits(base.network());
    loop {
        let candidate = IpNet::new(from_bits(&base, start), pool.size).ok()?;
        // Jump past the largest clash: a taken /8 covers 65536 candidate /24s, and an
        // IPv6 pool has far more.
        let clash_end = taken
            .iter()
            .filter(|t| overlaps(&candidate, t))
            .map(|t| to_bits(t.broadcast()))
            .max();
        let Some(clash_end) = clash_end else {
            return Some(candidate);
        };
        let last = clash_end.max(start + span);
        if last >= end {
            return None;
        }
        start = last + 1;
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn pool(subnet: &str) -> PoolConfig {
        parse_pool(subnet, None, None, &BTreeMap::new()).unwrap()
    }

    fn pool_with(
        subnet: &str,
        gateway: Option<&str>,
        range: Option<&str>,
        aux: &[(&str, &str)],
    ) -> Result<PoolConfig, IpamError> {
        let aux = aux
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_pool(subnet, gateway, range, &aux)
    }

    fn err(r: Result<impl std::fmt::Debug, IpamError>) -> String {
        r.unwrap_err().to_string()
    }

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
    fn parses_a_full_pool() {
        let p = pool_with(
            "172.20.0.0/16",
            Some("172.20.0.254"),
            Some("172.20.5.0/24"),
            &[("router", "172.20.0.3")],
        )
        .unwrap();
        assert_eq!(p.subnet, net("172.20.0.0/16"));
        assert_eq!(p.gateway, Some(ip("172.20.0.254")));
        assert_eq!(p.ip_range, Some(net("172.20.5.0/24")));
        assert_eq!(p.aux_addresses["router"], ip("172.20.0.3"));
        assert_eq!(gateway(&p), ip("172.20.0.254"));
    }

    #[test]
    fn empty_strings_are_absent() {
        let p = pool_with("172.20.0.0/16", Some(""), Some(""), &[]).unwrap();
        assert_eq!(p, pool("172.20.0.0/16"));
    }

    #[test]
    fn rejects_bad_and_non_canonical_subnets() {
        assert_eq!(
            err(pool_with("172.20.0.1/16", None, None, &[])),
            "invalid subnet 172.20.0.1/16: it should be 172.20.0.0/16"
        );
        assert_eq!(
            err(pool_with("fd00::1/64", None, None, &[])),
            "invalid subnet fd00::1/64: it should be fd00::/64"
        );
        for bad in ["172.20.0.0", "172.20.0.0/33", "nope", ""] {
            assert_eq!(
                err(pool_with(bad, None, None, &[])),
                format!("invalid subnet {bad}: invalid CIDR block notation")
            );
        }
    }

    #[test]
    fn rejects_gateways_docker_rejects() {
        let check =
            |gw, msg: &str| assert_eq!(err(pool_with("172.20.0.0/16", Some(gw), None, &[])), msg);
        check("10.0.0.1", "no matching subnet for gateway 10.0.0.1");
        check("fd00::1", "no matching subnet for gateway fd00::1");
        check(
            "172.20.0",
            "IP address is not correctly formatted: 172.20.0",
        );
        check(
            "172.20.0.0",
            "failed to allocate gateway (172.20.0.0): Address already in use",
        );
        check(
            "172.20.255.255",
            "failed to allocate gateway (172.20.255.255): Address already in use",
        );
    }

    #[test]
    fn rejects_ip_ranges_docker_rejects() {
        let check = |range, msg: &str| {
            assert_eq!(err(pool_with("172.20.0.0/16", None, Some(range), &[])), msg)
        };
        check("10.1.0.0/24", "no matching subnet for range 10.1.0.0/24");
        check("fd00::/64", "no matching subnet for range fd00::/64");
        check(
            "172.16.0.0/12",
            "invalid ip-range 172.16.0.0/12: CIDR block is bigger than its parent subnet 172.20.0.0/16",
        );
        check(
            "172.20.5.7/24",
            "invalid ip-range 172.20.5.7/24: it should be 172.20.5.0/24",
        );
        check(
            "172.20.5.0",
            "invalid ip-range 172.20.5.0: invalid CIDR block notation",
        );
        // The whole subnet is a valid range.
        assert!(pool_with("172.20.0.0/16", None, Some("172.20.0.0/16"), &[]).is_ok());
    }

    #[test]
    fn rejects_aux_addresses_docker_rejects() {
        assert_eq!(
            err(pool_with("172.20.0.0/16", None, None, &[("a", "10.0.0.9")])),
            "no matching subnet for aux-address 10.0.0.9"
        );
        assert_eq!(
            err(pool_with("172.20.0.0/16", None, None, &[("a", "bad")])),
            "IP address is not correctly formatted: bad"
        );
        // The default gateway is reserved before the aux addresses.
        assert_eq!(
            err(pool_with(
                "172.20.0.0/16",
                None,
                None,
                &[("host1", "172.20.0.1")]
            )),
            "failed to allocate secondary ip address (host1:172.20.0.1): Address already in use"
        );
        assert_eq!(
            err(pool_with(
                "172.20.0.0/16",
                Some("172.20.0.9"),
                None,
                &[("gw", "172.20.0.9")]
            )),
            "failed to allocate secondary ip address (gw:172.20.0.9): Address already in use"
        );
        assert_eq!(
            err(pool_with(
                "172.20.0.0/16",
                None,
                None,
                &[("a", "172.20.0.7"), ("b", "172.20.0.7")]
            )),
            "failed to allocate secondary ip address (b:172.20.0.7): Address already in use"
        );
        assert!(pool_with("172.20.0.0/16", None, None, &[("bcast", "172.20.255.255")]).is_err());
        // With an explicit gateway elsewhere, .1 is free for an aux address.
        assert!(pool_with(
            "172.20.0.0/16",
            Some("172.20.0.254"),
            None,
            &[("a", "172.20.0.1")]
        )
        .is_ok());
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
    fn overlapping_subnets() {
        assert!(overlaps(&net("10.0.0.0/8"), &net("10.1.2.0/24")));
        assert!(overlaps(&net("10.1.2.0/24"), &net("10.0.0.0/8")));
        assert!(overlaps(&net("10.1.2.0/24"), &net("10.1.2.0/24")));
        assert!(overlaps(&net("10.1.2.0/24"), &net("10.1.2.77/32")));
        assert!(!overlaps(&net("10.1.2.0/24"), &net("10.1.3.0/24")));
        assert!(!overlaps(&net("0.0.0.0/0"), &net("::/0")));
        assert!(overlaps(&net("fd00::/8"), &net("fd12::/64")));
    }

    #[test]
    fn parses_default_address_pools() {
        assert_eq!(
            parse_address_pool("base=10.10.0.0/16,size=24").unwrap(),
            AddressPool {
                base: net("10.10.0.0/16"),
                size: 24
            }
        );
        assert_eq!(
            parse_address_pool("SIZE=64,Base=fd00:1::/48").unwrap(),
            AddressPool {
                base: net("fd00:1::/48"),
                size: 64
            }
        );
        assert_eq!(
            parse_address_pool("base=10.10.3.4/16,size=16")
                .unwrap()
                .base,
            net("10.10.0.0/16")
        );
        let check = |s, msg: &str| assert_eq!(err(parse_address_pool(s)), msg);
        check("base", "invalid field 'base' must be a key=value pair");
        check(
            "base=10.0.0.0/8,color=red",
            "unexpected key 'color' in 'color=red'",
        );
        check(
            "base=10.0.0.0/8,size=x",
            "invalid size value: \"base=10.0.0.0/8,size=x\" (must be integer)",
        );
        check(
            "base=10.0.0.0,size=24",
            "invalid base pool \"10.0.0.0\": invalid CIDR block notation",
        );
        check("base=10.0.0.0/16,size=8", "invalid pools size: 8");
        check("base=10.0.0.0/16,size=33", "invalid pools size: 33");
        check("base=10.0.0.0/16,size=-1", "invalid pools size: -1");
        check("size=24", "missing base in \"size=24\"");
        check("base=10.0.0.0/16", "missing size in \"base=10.0.0.0/16\"");
    }

    #[test]
    fn dockers_default_pools() {
        let pools = default_address_pools();
        assert_eq!(pools.len(), 16);
        assert_eq!(
            pools[0],
            AddressPool {
                base: net("172.17.0.0/16"),
                size: 16
            }
        );
        assert_eq!(
            pools[14],
            AddressPool {
                base: net("172.31.0.0/16"),
                size: 16
            }
        );
        assert_eq!(
            pools[15],
            AddressPool {
                base: net("192.168.0.0/16"),
                size: 20
            }
        );
    }

    #[test]
    fn next_subnet_from_the_defaults() {
        let pools = default_address_pools();
        assert_eq!(next_subnet(&pools, &[]).unwrap(), net("172.17.0.0/16"));
        // The default bridge and a host route into 172.18.
        let taken = [net("172.17.0.0/16"), net("172.18.3.0/24")];
        assert_eq!(next_subnet(&pools, &taken).unwrap(), net("172.19.0.0/16"));
        // A host on 172.16.0.0/12 rules out every /16; 192.168.0.0/24 the first /20.
        let taken = [net("172.16.0.0/12"), net("192.168.0.0/24")];
        assert_eq!(next_subnet(&pools, &taken).unwrap(), net("192.168.16.0/20"));
        let taken = [net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert_eq!(
            err(next_subnet(&pools, &taken)),
            "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
        );
        // Other families and other ranges do not get in the way.
        let taken = [net("::/0"), net("10.0.0.0/8")];
        assert_eq!(next_subnet(&pools, &taken).unwrap(), net("172.17.0.0/16"));
    }

    #[test]
    fn next_subnet_from_configured_pools() {
        let pools = [
            parse_address_pool("base=10.10.0.0/16,size=24").unwrap(),
            parse_address_pool("base=10.20.0.0/16,size=24").unwrap(),
        ];
        let taken = [net("10.10.0.0/24"), net("10.10.1.5/32")];
        assert_eq!(next_subnet(&pools, &taken).unwrap(), net("10.10.2.0/24"));
        // Walking past a large clash is one step, not 256.
        let taken = [net("10.10.0.0/16")];
        assert_eq!(next_subnet(&pools, &taken).unwrap(), net("10.20.0.0/24"));
        // The pool's last subnet.
        let taken = [
            net("10.10.0.0/17"),
            net("10.10.128.0/18"),
            net("10.10.192.0/19"),
            net("10.10.224.0/20"),
            net("10.10.240.0/21"),
            net("10.10.248.0/22"),
            net("10.10.252.0/23"),
            net("10.10.254.0/24"),
        ];
        assert_eq!(next_subnet(&pools, &taken).unwrap(), net("10.10.255.0/24"));
        // A pool whose size equals its base is a single subnet.
        let whole = [AddressPool {
            base: net("10.30.0.0/16"),
            size: 16,
        }];
        assert_eq!(next_subnet(&whole, &[]).unwrap(), net("10.30.0.0/16"));
        assert!(next_subnet(&whole, &[net("10.30.9.0/24")]).is_err());
        assert!(next_subnet(&[], &[]).is_err());
    }

    #[test]
    fn next_subnet_ipv6() {
        let pools = [parse_address_pool("base=fd00::/8,size=64").unwrap()];
        let taken = [net("fd00::/16"), net("fd01::/64")];
        assert_eq!(next_subnet(&pools, &taken).unwrap(), net("fd01:0:0:1::/64"));
        assert_eq!(
            err(next_subnet(&pools, &[net("fc00::/7")])),
            "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"
        );
        let everything = [AddressPool {
            base: net("::/0"),
            size: 0,
        }];
        assert_eq!(next_subnet(&everything, &[]).unwrap(), net("::/0"));
        let end = [AddressPool {
            base: net("ffff::/16"),
            size: 128,
        }];
        assert!(next_subnet(&end, &[net("ffff::/16")]).is_err());
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

    #[test]
    fn pool_config_round_trips_through_json() {
        let p = pool_with(
            "fd00::/64",
            Some("fd00::1"),
            Some("fd00::/80"),
            &[("a", "fd00::9")],
        )
        .unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"fd00::/64\""), "{json}");
        assert_eq!(serde_json::from_str::<PoolConfig>(&json).unwrap(), p);
    }
}
