//! Routes in the main table: listing their destinations and adding routes.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{Failure, Netlink, NetlinkError};

/// The main routing table (`RT_TABLE_MAIN`).
const MAIN_TABLE: u32 = RouteHeader::RT_TABLE_MAIN as u32;

/// One route of the main table, as much of it as the daemon looks at.
#[derive(Debug, Clone, PartialEq)]
struct RouteEntry {
    dest: IpNet,
    gateway: Option<IpAddr>,
    oif: Option<u32>,
}

impl Netlink {
    /// The destinations of the main table's IPv4 and IPv6 routes, sorted, without
    /// duplicates and without default routes (a default route overlaps everything; the
    /// daemon uses this list to avoid subnets the host already routes).
    pub fn routes(&mut self) -> Result<Vec<IpNet>, NetlinkError> {
        let mut nets: Vec<IpNet> = self
            .route_entries()
            .map_err(|f| f.context("list routes"))?
            .into_iter()
            .map(|r| r.dest)
            .filter(|d| d.prefix_len() > 0)
            .collect();
        nets.sort();
        nets.dedup();
        Ok(nets)
    }

    fn route_entries(&mut self) -> Result<Vec<RouteEntry>, Failure> {
        let mut entries = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut msg = RouteMessage::default();
            msg.header.address_family = family;
            for reply in self.dump(RouteNetlinkMessage::GetRoute(msg))? {
                if let RouteNetlinkMessage::NewRoute(route) = reply {
                    entries.extend(route_from(&route));
                }
            }
        }
        Ok(entries)
    }

    /// Adds a route to `dest` (the default route when `None`; its family then comes
    /// from `gateway`) through link `index`, via `gateway` when given. A route to the same
    /// destination through the same gateway and link already there is fine; another one
    /// to the same destination is an `EEXIST` error.
    pub fn add_route(
        &mut self,
        dest: Option<IpNet>,
        gateway: Option<IpAddr>,
        index: u32,
    ) -> Result<(), NetlinkError> {
        let op = || route_op(dest, gateway, index);
        let msg = route_message(dest, gateway, index)
            .map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        let want = RouteEntry {
            dest: msg_dest(&msg),
            gateway,
            oif: Some(index),
        };
        match self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Ok(_) => Ok(()),
            Err(f) if f.errno() == Some(libc::EEXIST) => {
                let entries = self.route_entries().map_err(|f| f.context(op()))?;
                if entries.contains(&want) {
                    Ok(())
                } else {
                    Err(f.context(op()))
                }
            }
            Err(f) => Err(f.context(op())),
        }
    }
}

fn route_message(
    dest: Option<IpNet>,
    gateway: Option<IpAddr>,
    index: u32,
) -> Result<RouteMessage, String> {
    let dest = dest.filter(|d| d.prefix_len() > 0);
    let v4 = match (dest, gateway) {
        (None, None) => return Err("a default route needs a gateway".to_string()),
        (Some(d), Some(g)) if d.addr().is_ipv4() != g.is_ipv4() => {
            return Err("destination and gateway are of different IP versions".to_string())
        }
        (Some(d), _) => d.addr().is_ipv4(),
        (None, Some(g)) => g.is_ipv4(),
    };
    let mut msg = RouteMessage::default();
    msg.header.address_family = if v4 {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    msg.header.protocol = RouteProtocol::Boot;
    msg.header.kind = RouteType::Unicast;
    msg.header.scope = if gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    if let Some(dest) = dest {
        msg.header.destination_prefix_length = dest.prefix_len();
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                dest.network(),
            )));
    }
    if let Some(gateway) = gateway {
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
    }
    msg.attributes.push(RouteAttribute::Oif(index));
    Ok(msg)
}

/// The destination a route message (ours or the kernel's) is about.
fn msg_dest(msg: &RouteMessage) -> IpNet {
    let v4 = msg.header.address_family == AddressFamily::Inet;
    let addr = msg
        .attributes
        .iter()
        .find_map(|attr| match attr {
            RouteAttribute::Destination(a) => route_ip(a),
            _ => None,
        })
        .unwrap_or(if v4 {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        });
    IpNet::new(addr, msg.header.destination_prefix_length)
        .unwrap_or_else(|_| IpNet::from(addr))
        .trunc()
}

fn route_from(msg: &RouteMessage) -> Option<RouteEntry> {
    if !matches!(
        msg.header.address_family,
        AddressFamily::Inet | AddressFamily::Inet6
    ) {
        return None;
    }
    let mut table = u32::from(msg.header.table);
    let mut gateway = None;
    let mut oif = None;
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Gateway(a) => gateway = route_ip(a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            _ => {}
        }
    }
    if table != MAIN_TABLE {
        return None;
    }
    Some(RouteEntry {
        dest: msg_dest(msg),
        gateway,
        oif,
    })
}

fn route_ip(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

fn route_op(dest: Option<IpNet>, gateway: Option<IpAddr>, index: u32) -> String {
    let mut op = match dest {
        Some(dest) => format!("add route {dest}"),
        None => "add default route".to_string(),
    };
    if let Some(gateway) = gateway {
        op.push_str(&format!(" via {gateway}"));
    }
    op.push_str(&format!(" dev {index}"));
    op
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_messages() {
        assert!(route_message(None, None, 1).is_err());
        assert!(route_message(
            Some("10.0.0.0/8".parse().unwrap()),
            Some("fd00::1".parse().unwrap()),
            1
        )
        .is_err());
        let msg = route_message(None, Some("fd00::1".parse().unwrap()), 1).unwrap();
        assert_eq!(msg.header.address_family, AddressFamily::Inet6);
        assert_eq!(msg_dest(&msg), "::/0".parse::<IpNet>().unwrap());
        let msg = route_message(Some("10.1.2.0/24".parse().unwrap()), None, 1).unwrap();
        assert_eq!(msg.header.scope, RouteScope::Link);
        assert_eq!(msg_dest(&msg), "10.1.2.0/24".parse::<IpNet>().unwrap());
    }

    #[test]
    fn operations_name_the_route() {
        assert_eq!(
            route_op(None, Some("10.0.0.1".parse().unwrap()), 3),
            "add default route via 10.0.0.1 dev 3"
        );
    }
}
