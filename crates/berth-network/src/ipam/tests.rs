//! Unit tests of pool parsing, and the helpers the other test modules share.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{gateway, parse_pool, IpNet, IpamError, PoolConfig};

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub(super) fn pool(subnet: &str) -> PoolConfig {
    parse_pool(subnet, None, None, &BTreeMap::new()).unwrap()
}

pub(super) fn pool_with(
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

pub(super) fn err(r: Result<impl std::fmt::Debug, IpamError>) -> String {
    r.unwrap_err().to_string()
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
    let check =
        |range, msg: &str| assert_eq!(err(pool_with("172.20.0.0/16", None, Some(range), &[])), msg);
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
