//! The host's resolvers, read from its resolv.conf.

use std::ffi::CString;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use tracing::debug;

/// The resolvers of a resolv.conf: its `nameserver` lines, on port 53. A link-local
/// IPv6 address may carry a scope, `%eth0` or `%2`; one naming an interface that does
/// not exist (in the daemon's netns) is skipped.
///
/// An empty result means the host names none; Docker then uses 8.8.8.8 and 8.8.4.4,
/// which is the daemon's call to make.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next()? != "nameserver" {
                return None;
            }
            let address = words.next()?;
            let parsed = parse_nameserver(address);
            if parsed.is_none() {
                debug!(address, "dns: resolv.conf: unusable nameserver");
            }
            parsed
        })
        .collect()
}

fn parse_nameserver(text: &str) -> Option<SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    let (ip, scope) = text.split_once('%')?;
    let ip: Ipv6Addr = ip.parse().ok()?;
    let scope_id = match scope.parse::<u32>() {
        Ok(index) => index,
        Err(_) => interface_index(scope)?,
    };
    Some(SocketAddr::V6(SocketAddrV6::new(ip, 53, 0, scope_id)))
}

fn interface_index(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf() {
        let text = "\
# Generated
search example.com
nameserver 192.0.2.1
  nameserver   2001:db8::53  # trailing words are ignored
;nameserver 192.0.2.9
nameserver fe80::1%1
nameserver fe80::2%lo
nameserver fe80::3%no-such-interface
nameserver not-an-address
nameserver
options ndots:2
";
        let lo = interface_index("lo").expect("lo exists");
        assert_eq!(
            upstreams_from_resolv_conf(text),
            vec![
                "192.0.2.1:53".parse().unwrap(),
                "[2001:db8::53]:53".parse().unwrap(),
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 1)),
                SocketAddr::V6(SocketAddrV6::new("fe80::2".parse().unwrap(), 53, 0, lo)),
            ]
        );
        assert!(upstreams_from_resolv_conf("").is_empty());
    }
}
