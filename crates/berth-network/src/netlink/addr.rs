//! Addresses on links: adding, removing and listing them.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{Netlink, NetlinkError};

impl Netlink {
    /// Adds `addr/prefix` to link `index`. Already there is fine. IPv6 addresses skip
    /// duplicate address detection so they can be used at once.
    pub fn add_address(
        &mut self,
        index: u32,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<(), NetlinkError> {
        let op = || format!("add address {addr}/{prefix} to link {index}");
        let msg = address_message(index, addr, prefix)
            .map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Ok(_) => Ok(()),
            Err(f) if f.errno() == Some(libc::EEXIST) => {
                // IPv6 says EEXIST for the same address with another prefix length too:
                // only the very same address is "already there".
                let present = self
                    .addresses(Some(index))?
                    .contains(&(index, addr, prefix));
                if present {
                    Ok(())
                } else {
                    Err(f.context(op()))
                }
            }
            Err(f) => Err(f.context(op())),
        }
    }

    /// Removes `addr/prefix` from link `index`. An address (or link) that is not there
    /// is fine.
    pub fn del_address(
        &mut self,
        index: u32,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<(), NetlinkError> {
        let op = || format!("delete address {addr}/{prefix} from link {index}");
        let msg = address_message(index, addr, prefix)
            .map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        match self.request(RouteNetlinkMessage::DelAddress(msg), 0) {
            Ok(_) => Ok(()),
            Err(f) if matches!(f.errno(), Some(libc::EADDRNOTAVAIL | libc::ENODEV)) => Ok(()),
            Err(f) => Err(f.context(op())),
        }
    }

    /// `(ifindex, address, prefix length)` of every IPv4 and IPv6 address, or only of
    /// link `index`'s.
    pub fn addresses(
        &mut self,
        index: Option<u32>,
    ) -> Result<Vec<(u32, IpAddr, u8)>, NetlinkError> {
        let reply = self
            .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))
            .map_err(|f| f.context("list addresses"))?;
        Ok(reply
            .into_iter()
            .filter_map(|msg| match msg {
                RouteNetlinkMessage::NewAddress(msg) => address_from(&msg),
                _ => None,
            })
            .filter(|(i, _, _)| index.is_none_or(|index| index == *i))
            .collect())
    }
}

fn address_message(index: u32, addr: IpAddr, prefix: u8) -> Result<AddressMessage, String> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(format!("prefix length {prefix} is longer than {max}"));
    }
    let mut msg = AddressMessage::default();
    msg.header.prefix_len = prefix;
    msg.header.index = index;
    msg.header.scope = AddressScope::Universe;
    match addr {
        IpAddr::V4(v4) => {
            msg.header.family = AddressFamily::Inet;
            msg.attributes.push(AddressAttribute::Local(addr));
            msg.attributes.push(AddressAttribute::Address(addr));
            // Like `ip addr add ... brd +` (and docker): the subnet's broadcast address.
            if prefix < 31 {
                let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
                let brd = Ipv4Addr::from(u32::from(v4) | host_bits);
                msg.attributes.push(AddressAttribute::Broadcast(brd));
            }
        }
        IpAddr::V6(_) => {
            msg.header.family = AddressFamily::Inet6;
            msg.header.flags = AddressHeaderFlags::Nodad;
            msg.attributes.push(AddressAttribute::Address(addr));
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
    }
    Ok(msg)
}

fn address_from(msg: &AddressMessage) -> Option<(u32, IpAddr, u8)> {
    let mut address = None;
    let mut local = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Local(a) => local = Some(*a),
            _ => {}
        }
    }
    // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is always ours.
    let addr = local.or(address)?;
    Some((msg.header.index, addr, msg.header.prefix_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_addresses_get_a_broadcast_and_ipv6_no_dad() {
        let msg = address_message(3, "172.30.0.1".parse().unwrap(), 24).unwrap();
        assert!(msg
            .attributes
            .contains(&AddressAttribute::Broadcast(Ipv4Addr::new(172, 30, 0, 255))));
        let msg = address_message(3, "fd00::1".parse().unwrap(), 64).unwrap();
        assert!(msg
            .attributes
            .contains(&AddressAttribute::Flags(AddressFlags::Nodad)));
        assert!(address_message(3, "10.0.0.1".parse().unwrap(), 33).is_err());
    }
}
