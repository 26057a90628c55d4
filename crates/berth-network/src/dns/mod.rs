//! The embedded DNS server of user-defined networks: Docker's `127.0.0.11`.
//!
//! Docker gives every container on a user-defined network a resolver at
//! `127.0.0.11:53` inside the container's network namespace. It answers the names of
//! containers that share a network with the asker and forwards everything else to the
//! host's resolvers. berth does the same:
//!
//! ```text
//!  container netns                        daemon (host netns, tokio runtime)
//!  ───────────────                        ──────────────────────────────────
//!  thread in netns: bind_internal() ──► (udp, tcp) ──► Server::serve(from, udp, tcp)
//!  app ─► 127.0.0.11:53 ─────────────────────────────► Names::lookup / reverse
//!                                                       └─ not ours: upstream from host netns
//! ```
//!
//! The sockets are created by a thread that entered the container's netns; a socket
//! stays in the netns it was created in, so the daemon's runtime can serve it from
//! anywhere. Forwarded queries go out through sockets the runtime creates, i.e. from the
//! daemon's own netns, which is why a host resolver on `127.0.0.53` works.
//!
//! Replies follow moby's `libnetwork/resolver.go`: TTL 600, RA set, AA not set, RD
//! copied, addresses shuffled for round robin, NOERROR with no answer for our names
//! asked with another type (or family), SERVFAIL when no upstream answers or when the
//! container may not forward (only on `--internal` networks).
//!
//! This file holds the server and its serving loops. `answer.rs` decides what to do
//! with a query and builds our own replies, `forward.rs` asks the upstream resolvers,
//! and `resolv.rs` reads them from a resolv.conf.

mod answer;
mod forward;
mod resolv;
#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};
use tracing::debug;

use answer::{encode, reply_to, Decision};
use forward::{read_framed, write_framed};

pub use resolv::upstreams_from_resolv_conf;

/// Where containers find the embedded server (`nameserver 127.0.0.11` in their
/// resolv.conf). It is on `lo`: all of 127.0.0.0/8 is local once `lo` is up.
pub const INTERNAL_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// TTL of the records we answer ourselves (Docker's `respTTL`).
pub const TTL: u32 = 600;

/// How long one upstream gets before the next one is asked (Docker's `extIOTimeout`).
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Forwarded queries in flight per served socket pair; beyond it queries get REFUSED,
/// like Docker's `maxConcurrent`.
const MAX_IN_FLIGHT: usize = 1024;

/// Open TCP connections per served socket pair; more are closed on accept.
const MAX_TCP_CONNECTIONS: usize = 128;

/// A TCP client that says nothing for this long is disconnected (RFC 7766 suggests
/// seconds, not minutes).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The UDP payload we advertise in EDNS replies (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

/// The answer of [`Names::lookup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The name is ours. A and AAAA answers come from these addresses; when none has
    /// the asked family the reply is NOERROR without answers (the name exists).
    Addresses(Vec<IpAddr>),
    /// Not a name of this network: forward the query.
    NotOurs,
}

/// The daemon's view of which names a container can see.
///
/// Called on the runtime for every query, so it must answer from memory, quickly.
pub trait Names: Send + Sync + 'static {
    /// The addresses of `name` as seen from the container `from` (the key the socket
    /// pair was registered with). `name` is lower-cased, without the trailing dot.
    fn lookup(&self, from: &str, name: &str) -> Answer;
    /// The name of a container address for a PTR query, `None` to forward the query.
    /// A trailing dot is added when missing.
    fn reverse(&self, from: &str, ip: IpAddr) -> Option<String>;
    /// Whether names that are not ours may be forwarded upstream. False for a
    /// container only on `--internal` networks: those queries get SERVFAIL, as in Docker.
    fn may_forward(&self, from: &str) -> bool;
}

/// The embedded DNS server: one per daemon, serving any number of socket pairs.
pub struct Server {
    names: Arc<dyn Names>,
    upstreams: RwLock<Arc<[SocketAddr]>>,
}

/// One socket pair being served. Dropping it stops serving: the tasks are aborted and
/// the sockets close when the runtime drops them (right away, but asynchronously).
#[must_use = "dropping Served stops serving the sockets"]
pub struct Served {
    udp: JoinHandle<()>,
    tcp: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.udp.abort();
        self.tcp.abort();
    }
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").finish_non_exhaustive()
    }
}

/// Which transport a query came on: forwarded the same way, and it bounds the size of
/// our own replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

impl Server {
    pub fn new(names: Arc<dyn Names>, upstreams: Vec<SocketAddr>) -> Arc<Server> {
        Arc::new(Server {
            names,
            upstreams: RwLock::new(upstreams.into()),
        })
    }

    /// Replaces the upstream resolvers (the host's resolv.conf changed). Queries in
    /// flight finish with the old list.
    pub fn set_upstreams(&self, upstreams: Vec<SocketAddr>) {
        *self
            .upstreams
            .write()
            .unwrap_or_else(PoisonError::into_inner) = upstreams.into();
    }

    pub fn upstreams(&self) -> Vec<SocketAddr> {
        self.current_upstreams().to_vec()
    }

    fn current_upstreams(&self) -> Arc<[SocketAddr]> {
        self.upstreams
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves a UDP socket and a TCP listener for the container `from` on the current
    /// tokio runtime (panics outside one). Any bound sockets do: [`bind_internal`]'s in
    /// production, `127.0.0.1:0` in tests. The sockets are made nonblocking here.
    pub fn serve(
        self: &Arc<Self>,
        from: String,
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
    ) -> io::Result<Served> {
        let udp = udp
            .set_nonblocking(true)
            .and_then(|()| UdpSocket::from_std(udp))
            .map_err(|e| context(e, &format!("dns for {from}: udp socket")))?;
        let tcp = tcp
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(tcp))
            .map_err(|e| context(e, &format!("dns for {from}: tcp listener")))?;
        debug!(from, udp = ?udp.local_addr().ok(), tcp = ?tcp.local_addr().ok(), "dns: serving");
        let from: Arc<str> = from.into();
        Ok(Served {
            udp: tokio::spawn(Arc::clone(self).serve_udp(Arc::clone(&from), udp)),
            tcp: tokio::spawn(Arc::clone(self).serve_tcp(from, tcp)),
        })
    }

    async fn serve_udp(self: Arc<Self>, from: Arc<str>, socket: UdpSocket) {
        let socket = Arc::new(socket);
        let mut in_flight = JoinSet::new();
        let mut buf = vec![0u8; 65535];
        loop {
            tokio::select! {
                received = socket.recv_from(&mut buf) => {
                    let (len, client) = match received {
                        Ok(received) => received,
                        Err(e) if transient(&e) => continue,
                        Err(e) => {
                            debug!(%from, "dns: udp socket failed, no longer serving it: {e}");
                            return;
                        }
                    };
                    let packet = &buf[..len];
                    let reply = match self.decide(&from, packet) {
                        Decision::Ignore => continue,
                        Decision::Reply { response, udp_limit } => encode(response, udp_limit),
                        Decision::Forward { query, .. } if in_flight.len() >= MAX_IN_FLIGHT => {
                            debug!(%from, "dns: more than {MAX_IN_FLIGHT} queries in flight, refusing");
                            encode(reply_to(&query, ResponseCode::Refused), 512)
                        }
                        Decision::Forward { query, udp_limit } => {
                            let server = Arc::clone(&self);
                            let socket = Arc::clone(&socket);
                            let packet = packet.to_vec();
                            in_flight.spawn(async move {
                                let reply = server.forward_or_fail(&query, &packet, Transport::Udp, udp_limit).await;
                                if let Err(e) = socket.send_to(&reply, client).await {
                                    debug!("dns: reply to {client}: {e}");
                                }
                            });
                            continue;
                        }
                    };
                    if let Err(e) = socket.send_to(&reply, client).await {
                        debug!(%from, "dns: reply to {client}: {e}");
                    }
                }
                Some(_) = in_flight.join_next() => {}
            }
        }
    }

    async fn serve_tcp(self: Arc<Self>, from: Arc<str>, listener: TcpListener) {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if connections.len() >= MAX_TCP_CONNECTIONS {
                            debug!(%from, "dns: more than {MAX_TCP_CONNECTIONS} tcp connections, closing {peer}");
                            continue;
                        }
                        connections.spawn(Arc::clone(&self).serve_connection(Arc::clone(&from), stream));
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning on accept.
                        debug!(%from, "dns: tcp accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next() => {}
            }
        }
    }

    /// Queries on one TCP connection, each with its two-byte length prefix, answered in
    /// order.
    async fn serve_connection(self: Arc<Self>, from: Arc<str>, mut stream: TcpStream) {
        loop {
            let Some(packet) = read_framed(&mut stream, TCP_IDLE).await else {
                return;
            };
            let reply = match self.decide(&from, &packet) {
                Decision::Ignore => continue,
                Decision::Reply { response, .. } => encode(response, usize::from(u16::MAX)),
                Decision::Forward { query, .. } => {
                    self.forward_or_fail(&query, &packet, Transport::Tcp, usize::from(u16::MAX))
                        .await
                }
            };
            if let Err(e) = write_framed(&mut stream, &reply).await {
                debug!(%from, "dns: tcp reply: {e}");
                return;
            }
        }
    }
}

/// Binds `127.0.0.11:53` over UDP and TCP in the calling thread's network namespace.
/// The caller runs it on a thread inside the container's netns, with `lo` up (until
/// then no 127.0.0.0/8 address is local and the bind fails with EADDRNOTAVAIL).
pub fn bind_internal() -> io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let address = SocketAddr::from((INTERNAL_ADDR, 53));
    let udp = std::net::UdpSocket::bind(address)
        .map_err(|e| context(e, &format!("bind {address}/udp")))?;
    let tcp = std::net::TcpListener::bind(address)
        .map_err(|e| context(e, &format!("bind {address}/tcp")))?;
    Ok((udp, tcp))
}

fn context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    )
}

/// Randomness for query ids and shuffling; no need for a crate. Each `RandomState` has
/// fresh keys, and the counter keeps two calls apart even if they did not.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}
