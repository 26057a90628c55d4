//! The address pools that networks without `--subnet` get their subnets from, and
//! finding the next free subnet in them.

use std::net::{IpAddr, Ipv4Addr};

use super::{from_bits, to_bits, IpNet, IpamError};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::tests::{err, net};

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
}
