//! Creating links: bridges, veth pairs, macvlan, ipvlan and dummy interfaces.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoVeth, IpVlanMode, LinkAttribute, LinkInfo,
    LinkMessage, MacVlanMode,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::names::check_name;
use super::{Failure, Netlink, NetlinkError};

/// How macvlan interfaces on one parent see each other (docker's `macvlan_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    Bridge,
    Private,
    Vepa,
    Passthru,
}

/// Which layer an ipvlan interface switches at (docker's `ipvlan_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvlanMode {
    L2,
    L3,
    L3s,
}

impl Netlink {
    /// Creates a bridge and returns its index. A bridge of that name already there is
    /// fine (its index is returned, its MTU left alone); any other link of that name is
    /// an `EEXIST` error.
    pub fn add_bridge(&mut self, name: &str, mtu: Option<u32>) -> Result<u32, NetlinkError> {
        let op = || format!("create bridge {name}");
        check_name(name).map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        match self.create_link(msg) {
            Ok(()) => {}
            Err(f) if f.errno() == Some(libc::EEXIST) => {
                let existing = self.link(name)?;
                match existing {
                    Some(link) if link.kind.as_deref() == Some("bridge") => return Ok(link.index),
                    Some(link) => {
                        let ext_ack = format!(
                            "link {name} exists and is a {}, not a bridge",
                            link.kind.as_deref().unwrap_or("device")
                        );
                        return Err(NetlinkError::Os {
                            op: op(),
                            err: io::Error::from_raw_os_error(libc::EEXIST),
                            ext_ack: Some(ext_ack),
                        });
                    }
                    // Gone again in between: report what the kernel said.
                    None => return Err(f.context(op())),
                }
            }
            Err(f) => return Err(f.context(op())),
        }
        self.index_of(name, op)
    }

    /// Creates a veth pair `name` – `peer`, the peer directly in `peer_netns` when given
    /// (so it never shows up in this namespace), and returns the index of `name`.
    /// `mtu` applies to both ends.
    pub fn add_veth(
        &mut self,
        name: &str,
        peer: &str,
        peer_netns: Option<BorrowedFd<'_>>,
        mtu: Option<u32>,
    ) -> Result<u32, NetlinkError> {
        let op = || format!("create veth {name} (peer {peer})");
        check_name(name)
            .and_then(|()| check_name(peer))
            .map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        if let Some(mtu) = mtu {
            peer_msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(fd) = peer_netns {
            peer_msg
                .attributes
                .push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.create_link(msg).map_err(|f| f.context(op()))?;
        self.index_of(name, op)
    }

    /// Creates a macvlan interface on the parent link `parent`, directly in `netns` when
    /// given (the parent stays here).
    pub fn add_macvlan(
        &mut self,
        name: &str,
        parent: u32,
        mode: MacvlanMode,
        netns: Option<BorrowedFd<'_>>,
    ) -> Result<(), NetlinkError> {
        let op = || format!("create macvlan {name} (parent link {parent})");
        check_name(name).map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        let mode = match mode {
            MacvlanMode::Bridge => MacVlanMode::Bridge,
            MacvlanMode::Private => MacVlanMode::Private,
            MacvlanMode::Vepa => MacVlanMode::Vepa,
            MacvlanMode::Passthru => MacVlanMode::Passthrough,
        };
        let info = vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(mode)])),
        ];
        let msg = sub_link_message(name, parent, info, netns);
        self.create_link(msg).map_err(|f| f.context(op()))
    }

    /// Creates an ipvlan interface on the parent link `parent`, directly in `netns` when
    /// given (the parent stays here).
    pub fn add_ipvlan(
        &mut self,
        name: &str,
        parent: u32,
        mode: IpvlanMode,
        netns: Option<BorrowedFd<'_>>,
    ) -> Result<(), NetlinkError> {
        let op = || format!("create ipvlan {name} (parent link {parent})");
        check_name(name).map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        let mode = match mode {
            IpvlanMode::L2 => IpVlanMode::L2,
            IpvlanMode::L3 => IpVlanMode::L3,
            IpvlanMode::L3s => IpVlanMode::L3S,
        };
        let info = vec![
            LinkInfo::Kind(InfoKind::IpVlan),
            LinkInfo::Data(InfoData::IpVlan(vec![InfoIpVlan::Mode(mode)])),
        ];
        let msg = sub_link_message(name, parent, info, netns);
        self.create_link(msg).map_err(|f| f.context(op()))
    }

    /// Creates a dummy interface and returns its index.
    pub fn add_dummy(&mut self, name: &str) -> Result<u32, NetlinkError> {
        let op = || format!("create dummy {name}");
        check_name(name).map_err(|msg| NetlinkError::Invalid { op: op(), msg })?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Dummy,
            )]));
        self.create_link(msg).map_err(|f| f.context(op()))?;
        self.index_of(name, op)
    }

    fn create_link(&mut self, msg: LinkMessage) -> Result<(), Failure> {
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
            .map(drop)
    }

    /// The index of a link just created (the kernel does not echo it back everywhere).
    fn index_of(&mut self, name: &str, op: impl Fn() -> String) -> Result<u32, NetlinkError> {
        match self.link(name)? {
            Some(link) => Ok(link.index),
            None => Err(NetlinkError::Os {
                op: op(),
                err: io::Error::from_raw_os_error(libc::ENODEV),
                ext_ack: Some("the new link disappeared at once".to_string()),
            }),
        }
    }
}

fn sub_link_message(
    name: &str,
    parent: u32,
    info: Vec<LinkInfo>,
    netns: Option<BorrowedFd<'_>>,
) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    msg.attributes.push(LinkAttribute::Link(parent));
    msg.attributes.push(LinkAttribute::LinkInfo(info));
    if let Some(fd) = netns {
        msg.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
    }
    msg
}
