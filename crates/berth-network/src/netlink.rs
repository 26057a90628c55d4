//! A small synchronous rtnetlink client: links, addresses and routes.
//!
//! The daemon calls it from blocking threads (often a thread that entered a container's
//! network namespace, see [`crate::netns`]). One [`Netlink`] owns one `NETLINK_ROUTE`
//! socket and talks to the kernel one request at a time: send, then read the reply to
//! its end (every part of a dump up to `NLMSG_DONE`, or the ack of a change).
//!
//! Errors name the operation and the object, and keep the kernel's errno reachable
//! through [`NetlinkError::errno`], so callers can tell `EEXIST` from `ENODEV`.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use ipnet::IpNet;
use netlink_packet_core::{
    DefaultNla, Emitable, ErrorBuffer, ErrorMessage, NetlinkBuffer, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NlasIterator, Parseable, NLA_F_NESTED, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP,
    NLMSG_OVERRUN, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoPortData, InfoVeth,
    IpVlanMode, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// `IFLA_PROTINFO`: per-port bridge settings in an `AF_BRIDGE` `RTM_SETLINK`.
const IFLA_PROTINFO: u16 = 12;
/// `IFLA_BRPORT_MODE`: the bridge port's hairpin mode (u8).
const IFLA_BRPORT_MODE: u16 = 4;
/// `NLMSGERR_ATTR_MSG`: the extended ack's human readable message.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// `IFNAMSIZ` minus the terminating NUL.
const MAX_IFNAME_LEN: usize = 15;
/// The main routing table (`RT_TABLE_MAIN`).
const MAIN_TABLE: u32 = RouteHeader::RT_TABLE_MAIN as u32;
/// How many times a dump is restarted when the kernel says it was interrupted by a
/// concurrent change (`NLM_F_DUMP_INTR`) or replies were lost (`ENOBUFS`).
const DUMP_ATTEMPTS: usize = 5;

/// What went wrong talking to the kernel, with the operation and object it was about.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket could not be opened or set up.
    #[error("open rtnetlink socket: {0}")]
    Open(io::Error),
    /// The kernel (or the socket) refused the request; `ext_ack` is the kernel's own
    /// explanation when it gave one.
    #[error("{op}: {err}{}", ext_ack_suffix(.ext_ack))]
    Os {
        op: String,
        err: io::Error,
        ext_ack: Option<String>,
    },
    /// A reply could not be decoded.
    #[error("{op}: malformed reply from the kernel: {msg}")]
    Decode { op: String, msg: String },
    /// The request was rejected before it was sent (bad name, prefix length, ...).
    #[error("{op}: {msg}")]
    Invalid { op: String, msg: String },
}

fn ext_ack_suffix(ext_ack: &Option<String>) -> String {
    match ext_ack {
        Some(msg) => format!(" ({msg})"),
        None => String::new(),
    }
}

impl NetlinkError {
    /// The errno behind the error, if it came from the kernel or a syscall
    /// (`libc::EEXIST`, `libc::ENODEV`, ...).
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Open(err) | NetlinkError::Os { err, .. } => err.raw_os_error(),
            NetlinkError::Decode { .. } | NetlinkError::Invalid { .. } => None,
        }
    }
}

/// A request that failed, before the caller names the operation.
#[derive(Debug)]
enum Failure {
    Os {
        err: io::Error,
        ext_ack: Option<String>,
    },
    Decode(String),
}

impl Failure {
    fn errno(&self) -> Option<i32> {
        match self {
            Failure::Os { err, .. } => err.raw_os_error(),
            Failure::Decode(_) => None,
        }
    }

    fn os(err: io::Error) -> Failure {
        Failure::Os { err, ext_ack: None }
    }

    fn context(self, op: impl Into<String>) -> NetlinkError {
        let op = op.into();
        match self {
            Failure::Os { err, ext_ack } => NetlinkError::Os { op, err, ext_ack },
            Failure::Decode(msg) => NetlinkError::Decode { op, msg },
        }
    }
}

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

/// A `NETLINK_ROUTE` socket and the sequence number of its last request.
///
/// The socket belongs to the network namespace of the thread that called
/// [`Netlink::open`], for its whole life: using it later from another thread (in another
/// namespace) still changes the namespace it was opened in. Every method takes
/// `&mut self`, so one socket never has two requests in flight.
pub struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl fmt::Debug for Netlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netlink")
            .field("fd", &self.socket.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

/// The messages answering one request, and whether a dump was interrupted.
#[derive(Default)]
struct Reply {
    messages: Vec<RouteNetlinkMessage>,
    interrupted: bool,
}

/// One route of the main table, as much of it as the daemon looks at.
#[derive(Debug, Clone, PartialEq)]
struct RouteEntry {
    dest: IpNet,
    gateway: Option<IpAddr>,
    oif: Option<u32>,
}

impl Netlink {
    /// Opens a socket in the calling thread's current network namespace.
    pub fn open() -> Result<Netlink, NetlinkError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Open)?;
        socket.bind_auto().map_err(NetlinkError::Open)?;
        // Only the kernel (port 0) may talk to us.
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Open)?;
        // The kernel explains many EINVALs in an extended ack; ask for it, and for acks
        // that do not echo our whole request back. Both are best effort (old kernels).
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        Ok(Netlink {
            socket,
            seq: 0,
            buf: Vec::with_capacity(32 * 1024),
        })
    }

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

    /// A dump request, restarted when the kernel says the dump was interrupted by a
    /// concurrent change or replies were lost.
    fn dump(&mut self, msg: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, Failure> {
        for attempt in 1..=DUMP_ATTEMPTS {
            match self.exchange(&msg, NLM_F_DUMP) {
                Ok(reply) if !reply.interrupted => return Ok(reply.messages),
                Ok(_) => tracing::debug!(attempt, "netlink dump interrupted, restarting"),
                Err(f) if f.errno() == Some(libc::ENOBUFS) => {
                    tracing::debug!(attempt, "netlink dump lost replies (ENOBUFS), restarting")
                }
                Err(f) => return Err(f),
            }
        }
        Err(Failure::Os {
            err: io::Error::from_raw_os_error(libc::EINTR),
            ext_ack: Some(format!(
                "dump interrupted by concurrent changes {DUMP_ATTEMPTS} times"
            )),
        })
    }

    /// A request the kernel acknowledges; returns whatever data came before the ack.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, Failure> {
        self.exchange(&msg, flags | NLM_F_ACK)
            .map(|reply| reply.messages)
    }

    /// Sends one request and reads every message answering it: up to `NLMSG_DONE` for
    /// a dump, up to the ack (or error) otherwise. Messages with another sequence number
    /// (left over from an earlier request that failed half way) are dropped.
    fn exchange(&mut self, msg: &RouteNetlinkMessage, flags: u16) -> Result<Reply, Failure> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg.clone()));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.send(&out)?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut reply = Reply::default();
        // A message we cannot decode does not stop us reading to the end, so the next
        // request starts on a clean socket.
        let mut undecodable: Option<String> = None;
        let mut buf = std::mem::take(&mut self.buf);
        let result = loop {
            match self.recv(&mut buf) {
                Ok(()) => {}
                // The kernel could not queue the next part of a dump (or lost a
                // message): the dump itself goes on as we read, so read it to its end
                // (a new dump cannot start while this one runs) and have it redone.
                Err(err) if dump && err.raw_os_error() == Some(libc::ENOBUFS) => {
                    reply.interrupted = true;
                    continue;
                }
                Err(err) => break Err(Failure::os(err)),
            }
            match parse_datagram(&buf, seq, &mut reply, &mut undecodable) {
                Ok(false) => continue,
                Ok(true) => break Ok(()),
                Err(f) => break Err(f),
            }
        };
        self.buf = buf;
        result?;
        match undecodable {
            Some(msg) => Err(Failure::Decode(msg)),
            None => Ok(reply),
        }
    }

    fn send(&mut self, packet: &[u8]) -> Result<(), Failure> {
        loop {
            match self.socket.send(packet, 0) {
                Ok(n) if n == packet.len() => return Ok(()),
                Ok(n) => {
                    return Err(Failure::Os {
                        err: io::Error::from_raw_os_error(libc::EMSGSIZE),
                        ext_ack: Some(format!("sent {n} of {} bytes", packet.len())),
                    })
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(Failure::os(err)),
            }
        }
    }

    /// Reads one whole datagram into `buf`, however large (a link with many VFs can be
    /// bigger than any fixed buffer): peek at its size first.
    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        loop {
            buf.clear();
            let size = match self.socket.recv(buf, libc::MSG_PEEK | libc::MSG_TRUNC) {
                Ok(size) => size,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            buf.clear();
            buf.reserve(size.max(1));
            match self.socket.recv(buf, 0) {
                Ok(_) => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
    }
}

/// Handles the messages of one datagram; `Ok(true)` once the reply is complete.
fn parse_datagram(
    data: &[u8],
    seq: u32,
    reply: &mut Reply,
    undecodable: &mut Option<String>,
) -> Result<bool, Failure> {
    let mut offset = 0;
    while offset < data.len() {
        let rest = &data[offset..];
        let nl = NetlinkBuffer::new_checked(rest)
            .map_err(|e| Failure::Decode(format!("bad netlink header: {e}")))?;
        let len = nl.length() as usize;
        offset += (len + 3) & !3;
        if nl.sequence_number() != seq {
            tracing::debug!(
                got = nl.sequence_number(),
                want = seq,
                "dropping netlink message with another sequence number"
            );
            continue;
        }
        match nl.message_type() {
            NLMSG_NOOP => {}
            NLMSG_ERROR => {
                let payload = nl.payload();
                let err = ErrorBuffer::new_checked(&payload)
                    .and_then(|b| ErrorMessage::parse(&b))
                    .map_err(|e| Failure::Decode(format!("bad error message: {e}")))?;
                return match err.code {
                    // An ack: a dump never gets one, but it does no harm.
                    None => Ok(true),
                    Some(code) => Err(Failure::Os {
                        err: io::Error::from_raw_os_error(-code.get()),
                        ext_ack: ext_ack_message(nl.flags(), &err.header),
                    }),
                };
            }
            NLMSG_DONE => {
                // A dump that failed half way says so in NLMSG_DONE's payload.
                let payload = nl.payload();
                if payload.len() >= 4 {
                    let code = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
                    if code < 0 {
                        return Err(Failure::Os {
                            err: io::Error::from_raw_os_error(-code),
                            ext_ack: None,
                        });
                    }
                }
                return Ok(true);
            }
            NLMSG_OVERRUN => {
                return Err(Failure::os(io::Error::from_raw_os_error(libc::ENOBUFS)));
            }
            _ => {
                if nl.flags() & NLM_F_DUMP_INTR != 0 {
                    reply.interrupted = true;
                }
                match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..len]) {
                    Ok(msg) => {
                        if let NetlinkPayload::InnerMessage(msg) = msg.payload {
                            reply.messages.push(msg);
                        }
                    }
                    Err(e) => {
                        if undecodable.is_none() {
                            *undecodable = Some(format!("message type {}: {e}", nl.message_type()));
                        }
                    }
                }
            }
        }
    }
    Ok(false)
}

/// The kernel's extended ack message, from the payload of an `NLMSG_ERROR` after its
/// error code: the request's header (or whole request, when not capped), then
/// attributes when `NLM_F_ACK_TLVS` is set.
fn ext_ack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || payload.len() < 16 {
        return None;
    }
    let request_len = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        u32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]) as usize
    };
    let tlvs = payload.get((request_len + 3) & !3..)?;
    NlasIterator::new(tlvs)
        .filter_map(Result::ok)
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .map(|nla| {
            let value = nla.value();
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            String::from_utf8_lossy(&value[..end]).into_owned()
        })
        .filter(|msg| !msg.is_empty())
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

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty interface name".to_string());
    }
    if name.len() > MAX_IFNAME_LEN {
        return Err(format!(
            "interface name {name:?} is longer than {MAX_IFNAME_LEN} bytes"
        ));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Err(format!("invalid interface name {name:?}"));
    }
    Ok(())
}

fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Docker's MAC address for a container address: `02:42` and the four bytes of the
/// IPv4 address (locally administered, unicast, and unique as long as the address is).
pub fn random_mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// A fresh interface name like docker's: `prefix` and 7 random lowercase hex digits
/// ("veth1a2b3c4"). Keep `prefix` to 8 bytes or less to stay within `IFNAMSIZ`.
pub fn random_veth_name(prefix: &str) -> String {
    let hex: String = random_u32()
        .to_be_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{prefix}{}", &hex[..7])
}

fn random_u32() -> u32 {
    use std::io::Read;
    let mut bytes = [0u8; 4];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)) {
        Ok(()) => u32::from_ne_bytes(bytes),
        Err(_) => {
            // No /dev (odd chroots): std's hasher keys are random per process.
            use std::hash::{BuildHasher, Hasher};
            use std::sync::atomic::{AtomicU64, Ordering};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            hasher.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            hasher.finish() as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<Netlink>();
    }

    #[test]
    fn docker_mac_scheme() {
        assert_eq!(
            random_mac_for(Ipv4Addr::new(172, 17, 0, 2)),
            [0x02, 0x42, 172, 17, 0, 2]
        );
        assert_eq!(
            format_mac([0x02, 0x42, 0xac, 0x11, 0, 2]),
            "02:42:ac:11:00:02"
        );
    }

    #[test]
    fn veth_names_are_short_and_random() {
        let a = random_veth_name("veth");
        let b = random_veth_name("veth");
        assert_eq!(a.len(), 11);
        assert!(a.starts_with("veth"));
        assert!(a[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert!(check_name(&a).is_ok());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("eth0").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a-name-that-is-too-long").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("a b").is_err());
    }

    #[test]
    fn error_messages_name_the_operation_and_keep_errno() {
        let err = Failure::os(io::Error::from_raw_os_error(libc::EEXIST))
            .context("create veth veth1a2b3c (peer eth0)");
        assert_eq!(
            err.to_string(),
            "create veth veth1a2b3c (peer eth0): File exists (os error 17)"
        );
        assert_eq!(err.errno(), Some(libc::EEXIST));

        let err = Failure::Os {
            err: io::Error::from_raw_os_error(libc::EOPNOTSUPP),
            ext_ack: Some("Unknown device type".into()),
        }
        .context("create dummy d0");
        assert_eq!(
            err.to_string(),
            "create dummy d0: Operation not supported (os error 95) (Unknown device type)"
        );
        assert_eq!(
            route_op(None, Some("10.0.0.1".parse().unwrap()), 3),
            "add default route via 10.0.0.1 dev 3"
        );
    }

    #[test]
    fn ext_ack_is_found_after_the_capped_header() {
        let mut payload = vec![0u8; 16];
        payload[..4].copy_from_slice(&40u32.to_ne_bytes());
        let msg = DefaultNla::new(NLMSGERR_ATTR_MSG, b"Unknown device type\0".to_vec());
        let mut tlv = vec![0; msg.buffer_len()];
        msg.emit(&mut tlv);
        payload.extend_from_slice(&tlv);
        assert_eq!(
            ext_ack_message(NLM_F_CAPPED | NLM_F_ACK_TLVS, &payload).as_deref(),
            Some("Unknown device type")
        );
        assert_eq!(ext_ack_message(NLM_F_CAPPED, &payload), None);
    }

    #[test]
    fn hairpin_attribute_is_nested() {
        let nla = hairpin_protinfo(true);
        let mut buf = vec![0; nla.buffer_len()];
        nla.emit(&mut buf);
        // len 12, type IFLA_PROTINFO|NLA_F_NESTED, then len 5 type 4 value 1 + padding
        assert_eq!(&buf[..4], &[12, 0, 12, 0x80]);
        assert_eq!(&buf[4..9], &[5, 0, 4, 0, 1]);
    }

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
}
