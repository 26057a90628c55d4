//! A small synchronous rtnetlink client: links, addresses and routes.
//!
//! The daemon calls it from blocking threads (often a thread that entered a container's
//! network namespace, see [`crate::netns`]). One [`Netlink`] owns one `NETLINK_ROUTE`
//! socket and talks to the kernel one request at a time: send, then read the reply to
//! its end (every part of a dump up to `NLMSG_DONE`, or the ack of a change).
//!
//! Errors name the operation and the object, and keep the kernel's errno reachable
//! through [`NetlinkError::errno`], so callers can tell `EEXIST` from `ENODEV`.
//!
//! This file holds the socket and the errors. The rest is one file per topic:
//! `exchange.rs` sends a request and reads its reply (dumps, acks, extended acks),
//! `link.rs` lists and changes links, `create.rs` creates them, `addr.rs` and
//! `route.rs` handle addresses and routes, and `names.rs` checks and makes up interface
//! names and MAC addresses.

mod addr;
mod create;
mod exchange;
mod link;
mod names;
mod route;

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

pub use create::{IpvlanMode, MacvlanMode};
pub use link::Link;
pub use names::{random_mac_for, random_veth_name};

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
    }
}
