//! Links as the kernel reports them, and changes to existing links: up and down, name,
//! MAC address, MTU, bridge master, hairpin mode, namespace, deletion.

use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{DefaultNla, Emitable, NLA_F_NESTED};
use netlink_packet_route::link::{
    InfoBridgePort, InfoPortData, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::names::{check_name, format_mac};
use super::{Failure, Netlink, NetlinkError};

/// `IFLA_PROTINFO`: per-port bridge settings in an `AF_BRIDGE` `RTM_SETLINK`.
const IFLA_PROTINFO: u16 = 12;
/// `IFLA_BRPORT_MODE`: the bridge port's hairpin mode (u8).
const IFLA_BRPORT_MODE: u16 = 4;

/// A network interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// The link type: "bridge", "veth", "macvlan", "ipvlan", "dummy", ... (`None` for
    /// physical devices and loopback).
    pub kind: Option<String>,
    /// The index of the bridge (or other master) this link is a port of.
    pub master: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// Administratively up (`IFF_UP`), not necessarily with carrier.
    pub up: bool,
}

impl Netlink {
    /// Every link in the socket's namespace.
    pub fn links(&mut self) -> Result<Vec<Link>, NetlinkError> {
        let reply = self
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .map_err(|f| f.context("list links"))?;
        Ok(reply
            .into_iter()
            .filter_map(|msg| match msg {
                RouteNetlinkMessage::NewLink(link) => Some(link_from(&link)),
                _ => None,
            })
            .collect())
    }

    /// The link called `name`, if there is one.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>, NetlinkError> {
        let op = || format!("get link {name}");
        check_name(name).map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.get_link(msg).map_err(|f| f.context(op()))
    }

    /// The link with index `index`, if there is one.
    pub fn link_by_index(&mut self, index: u32) -> Result<Option<Link>, NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.get_link(msg)
            .map_err(|f| f.context(format!("get link {index}")))
    }

    /// Whether the bridge port `index` is in hairpin mode; `None` when it is not a
    /// bridge port (or does not exist).
    pub fn hairpin(&mut self, index: u32) -> Result<Option<bool>, NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        let reply = match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(reply) => reply,
            Err(f) if f.errno() == Some(libc::ENODEV) => return Ok(None),
            Err(f) => return Err(f.context(format!("get hairpin mode of link {index}"))),
        };
        let link = reply.into_iter().find_map(|msg| match msg {
            RouteNetlinkMessage::NewLink(link) => Some(link),
            _ => None,
        });
        Ok(link.and_then(|link| port_hairpin(&link)))
    }

    fn get_link(&mut self, msg: LinkMessage) -> Result<Option<Link>, Failure> {
        match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(reply) => Ok(reply.into_iter().find_map(|msg| match msg {
                RouteNetlinkMessage::NewLink(link) => Some(link_from(&link)),
                _ => None,
            })),
            Err(f) if f.errno() == Some(libc::ENODEV) => Ok(None),
            Err(f) => Err(f),
        }
    }

    fn set_link(
        &mut self,
        index: u32,
        attributes: Vec<LinkAttribute>,
        op: impl FnOnce() -> String,
    ) -> Result<(), NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes = attributes;
        self.request(RouteNetlinkMessage::SetLink(msg), 0)
            .map(drop)
            .map_err(|f| f.context(op()))
    }

    /// Makes link `index` a port of the bridge `master`.
    pub fn set_master(&mut self, index: u32, master: u32) -> Result<(), NetlinkError> {
        self.set_link(index, vec![LinkAttribute::Controller(master)], || {
            format!("attach link {index} to master {master}")
        })
    }

    /// Brings link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.set_flag_up(index, true)
    }

    /// Brings link `index` down.
    pub fn set_down(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.set_flag_up(index, false)
    }

    fn set_flag_up(&mut self, index: u32, up: bool) -> Result<(), NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.change_mask = LinkFlags::Up;
        if up {
            msg.header.flags = LinkFlags::Up;
        }
        self.request(RouteNetlinkMessage::SetLink(msg), 0)
            .map(drop)
            .map_err(|f| {
                f.context(format!(
                    "set link {index} {}",
                    if up { "up" } else { "down" }
                ))
            })
    }

    /// Renames link `index` (the kernel refuses while it is up: `EBUSY`).
    pub fn set_name(&mut self, index: u32, name: &str) -> Result<(), NetlinkError> {
        let op = || format!("rename link {index} to {name}");
        check_name(name).map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        self.set_link(index, vec![LinkAttribute::IfName(name.to_string())], op)
    }

    /// Sets the MAC address of link `index`.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<(), NetlinkError> {
        self.set_link(index, vec![LinkAttribute::Address(mac.to_vec())], || {
            format!("set mac of link {index} to {}", format_mac(mac))
        })
    }

    /// Sets the MTU of link `index`.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<(), NetlinkError> {
        self.set_link(index, vec![LinkAttribute::Mtu(mtu)], || {
            format!("set mtu of link {index} to {mtu}")
        })
    }

    /// Moves link `index` into the network namespace `netns` (it keeps its name, gets a
    /// new index there, and is down).
    pub fn set_netns(&mut self, index: u32, netns: BorrowedFd<'_>) -> Result<(), NetlinkError> {
        self.set_link(
            index,
            vec![LinkAttribute::NetNsFd(netns.as_raw_fd())],
            || format!("move link {index} to another network namespace"),
        )
    }

    /// Turns hairpin mode of the bridge port `index` on or off, so a container can reach
    /// itself through a published port (docker's userland-proxy=false setup).
    pub fn set_hairpin(&mut self, index: u32, on: bool) -> Result<(), NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.interface_family = AddressFamily::Bridge;
        msg.header.index = index;
        msg.attributes
            .push(LinkAttribute::Other(hairpin_protinfo(on)));
        self.request(RouteNetlinkMessage::SetLink(msg), 0)
            .map(drop)
            .map_err(|f| {
                f.context(format!(
                    "set hairpin {} on link {index}",
                    if on { "on" } else { "off" }
                ))
            })
    }

    /// Deletes link `index` (for a veth, both ends). A link that is gone is fine.
    pub fn del_link(&mut self, index: u32) -> Result<(), NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.request(RouteNetlinkMessage::DelLink(msg), 0) {
            Ok(_) => Ok(()),
            Err(f) if f.errno() == Some(libc::ENODEV) => Ok(()),
            Err(f) => Err(f.context(format!("delete link {index}"))),
        }
    }
}

/// `IFLA_PROTINFO` with `IFLA_BRPORT_MODE`. The bridge only reads it as port settings
/// when `NLA_F_NESTED` is set (without it, it takes the attribute as an STP state, for
/// old RSTP daemons), and netlink-packet-route does not set it, so it is built here.
fn hairpin_protinfo(on: bool) -> DefaultNla {
    let mode = DefaultNla::new(IFLA_BRPORT_MODE, vec![u8::from(on)]);
    let mut nested = vec![0; mode.buffer_len()];
    mode.emit(&mut nested);
    DefaultNla::new(IFLA_PROTINFO | NLA_F_NESTED, nested)
}

fn port_hairpin(link: &LinkMessage) -> Option<bool> {
    link.attributes.iter().find_map(|attr| match attr {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|info| match info {
            LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                port.iter().find_map(|p| match p {
                    InfoBridgePort::HairpinMode(on) => Some(*on),
                    _ => None,
                })
            }
            _ => None,
        }),
        _ => None,
    })
}

fn link_from(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        kind: None,
        master: None,
        mac: None,
        mtu: 0,
        up: msg.header.flags.contains(LinkFlags::Up),
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::Controller(master) => link.master = Some(*master),
            LinkAttribute::Address(mac) => link.mac = <[u8; 6]>::try_from(mac.as_slice()).ok(),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hairpin_attribute_is_nested() {
        let nla = hairpin_protinfo(true);
        let mut buf = vec![0; nla.buffer_len()];
        nla.emit(&mut buf);
        // len 12, type IFLA_PROTINFO|NLA_F_NESTED, then len 5 type 4 value 1 + padding
        assert_eq!(&buf[..4], &[12, 0, 12, 0x80]);
        assert_eq!(&buf[4..9], &[5, 0, 4, 0, 1]);
    }
}
