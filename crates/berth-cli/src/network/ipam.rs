//! `network create`'s IPAM consolidation: which `--ip-range`, `--gateway` and
//! `--aux-address` go with which `--subnet`, matched as Go's net package does.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::values::obj;

/// Go's net.ParseCIDR: the address and the prefix length.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len.is_empty() || len.len() > 3 || !len.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u8 = len.parse().ok()?;
    (n <= max).then_some((ip, n))
}

/// IPv4-mapped IPv6 addresses count as IPv4, as in Go's net package.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Go's IPNet.Contains for a network parsed by ParseCIDR.
fn contains((net, len): (IpAddr, u8), ip: IpAddr) -> bool {
    let (net, len) = match (net, unmap(net)) {
        (IpAddr::V6(_), v4 @ IpAddr::V4(_)) => (v4, len.saturating_sub(96)),
        (n, _) => (n, len),
    };
    match (net, unmap(ip)) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// docker's subnetMatches: does `subnet` contain `data` (an address or a CIDR)?
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let net = parse_cidr(subnet)
        .ok_or_else(|| format!("invalid subnet: invalid CIDR address: {subnet}"))?;
    let ip = if data.contains('/') {
        Some(
            parse_cidr(data)
                .ok_or_else(|| format!("invalid CIDR address: {data}"))?
                .0,
        )
    } else {
        data.parse::<IpAddr>().ok()
    };
    Ok(ip.is_some_and(|ip| contains(net, ip)))
}

/// The `--subnet`, `--ip-range`, `--gateway` and `--aux-address` values of `network create`.
#[derive(Debug, Default, Clone)]
pub struct IpamOpts {
    pub driver: String,
    pub options: BTreeMap<String, String>,
    pub subnets: Vec<String>,
    pub ranges: Vec<String>,
    pub gateways: Vec<String>,
    pub aux: BTreeMap<String, String>,
}

#[derive(Default)]
struct Pool {
    subnet: String,
    range: String,
    gateway: String,
    aux: BTreeMap<String, String>,
}

/// docker/cli's createIPAMConfig: pairs each range, gateway and auxiliary address with
/// the subnet that contains it. Pools keep the order of `--subnet` (docker's is random).
pub fn ipam_config(o: &IpamOpts) -> Result<Value, String> {
    if o.subnets.len() < o.ranges.len() || o.subnets.len() < o.gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut pools: Vec<Pool> = Vec::new();
    for s in &o.subnets {
        for p in &pools {
            if subnet_matches(s, &p.subnet)? || subnet_matches(&p.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        pools.push(Pool {
            subnet: s.clone(),
            ..Pool::default()
        });
    }
    for r in &o.ranges {
        let mut matched = false;
        for p in pools.iter_mut() {
            if parse_cidr(r).is_none() {
                return Err(format!("invalid CIDR address: {r}"));
            }
            if !subnet_matches(&p.subnet, r)? {
                continue;
            }
            if !p.range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({})",
                    p.range, p.subnet
                ));
            }
            p.range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in &o.gateways {
        let mut matched = false;
        for p in pools.iter_mut() {
            if !subnet_matches(&p.subnet, g)? {
                continue;
            }
            if !p.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                    p.gateway, p.subnet
                ));
            }
            p.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, addr) in &o.aux {
        let mut matched = false;
        for p in pools.iter_mut() {
            if subnet_matches(&p.subnet, addr)? {
                p.aux.insert(key.clone(), addr.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    let config: Vec<Value> = pools
        .into_iter()
        .map(|p| {
            let mut c = Map::new();
            c.insert("Subnet".into(), Value::String(p.subnet));
            if !p.range.is_empty() {
                c.insert("IPRange".into(), Value::String(p.range));
            }
            if !p.gateway.is_empty() {
                c.insert("Gateway".into(), Value::String(p.gateway));
            }
            if !p.aux.is_empty() {
                c.insert("AuxiliaryAddresses".into(), obj(p.aux));
            }
            Value::Object(c)
        })
        .collect();
    Ok(json!({
        "Driver": o.driver,
        "Options": obj(o.options.clone()),
        "Config": config,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipam(
        subnets: &[&str],
        ranges: &[&str],
        gateways: &[&str],
        aux: &[(&str, &str)],
    ) -> Result<Value, String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        ipam_config(&IpamOpts {
            driver: "default".into(),
            options: BTreeMap::new(),
            subnets: s(subnets),
            ranges: s(ranges),
            gateways: s(gateways),
            aux: aux
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    #[test]
    fn ipam_errors() {
        let err = |r: Result<Value, String>| r.unwrap_err();
        assert_eq!(
            err(ipam(&[], &[], &["10.0.0.1"], &[])),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8"], &[], &["10.0.0.1", "10.0.0.2"], &[])),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8"], &[], &["11.0.0.1"], &[])),
            "no matching subnet for gateway 11.0.0.1"
        );
        assert_eq!(
            err(ipam(
                &["10.0.0.0/8", "11.0.0.0/8"],
                &[],
                &["10.0.0.1", "10.0.0.2"],
                &[]
            )),
            "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/8)"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8", "11.0.0.0/8"], &["10.1.0.0/16", "10.2.0.0/16"], &[], &[])),
            "cannot configure multiple ranges (10.2.0.0/16, 10.1.0.0/16) on the same subnet (10.0.0.0/8)"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8"], &["11.1.0.0/16"], &[], &[])),
            "no matching subnet for range 11.1.0.0/16"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8"], &["10.1.0.1"], &[], &[])),
            "invalid CIDR address: 10.1.0.1"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8", "10.1.0.0/16"], &[], &[], &[])),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8"], &[], &[], &[("a", "11.0.0.1")])),
            "no matching subnet for aux-address 11.0.0.1"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8"], &[], &[], &[("a", "")])),
            "no matching subnet for aux-address "
        );
        assert_eq!(
            err(ipam(&["bogus"], &[], &["10.0.0.1"], &[])),
            "invalid subnet: invalid CIDR address: bogus"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8", "bogus"], &[], &[], &[])),
            "invalid subnet: invalid CIDR address: bogus"
        );
        assert_eq!(
            err(ipam(&["10.0.0.0/8"], &[], &["bogus"], &[])),
            "no matching subnet for gateway bogus"
        );
        // The host part of a subnet is kept; the gateway still matches it.
        let ok = ipam(&["10.0.0.1/8"], &[], &["10.0.0.1"], &[]).unwrap();
        assert_eq!(
            ok["Config"],
            json!([{"Subnet": "10.0.0.1/8", "Gateway": "10.0.0.1"}])
        );
        // IPv4-mapped addresses count as IPv4, as in Go.
        assert!(subnet_matches("10.0.0.0/8", "::ffff:10.1.2.3").unwrap());
        assert!(!subnet_matches("2001:db8::/32", "10.1.2.3").unwrap());
    }
}
