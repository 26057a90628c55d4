//! berth's networking, below the daemon's object model: what a network driver does on
//! the host and in a container's network namespace.
//!
//! - [`netlink`]: links, addresses and routes through rtnetlink (no `ip` command).
//! - [`netns`]: network namespaces kept open by a bind mount, and running code in one.
//! - [`ipam`]: subnets, gateways and address allocation.
//! - [`firewall`]: NAT, published ports and isolation as one nftables table per daemon.
//! - [`dns`]: the embedded DNS server that user-defined networks get.

pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod netlink;
pub mod netns;
pub mod sysctl;
