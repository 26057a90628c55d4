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
//!
//! This file holds the pool configuration, its errors and its parsing. `alloc.rs`
//! picks gateways and container addresses (and their MACs), `pools.rs` carves new
//! subnets out of the default address pools.

mod alloc;
mod pools;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use alloc::{allocate, allocate_after, format_mac, gateway, mac_for};
pub use ipnet::IpNet;
pub use pools::{default_address_pools, next_subnet, overlaps, parse_address_pool, AddressPool};

use alloc::is_subnet_reserved;

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
