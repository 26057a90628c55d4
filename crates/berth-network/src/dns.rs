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

use std::collections::hash_map::RandomState;
use std::ffi::CString;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;
use tracing::debug;

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

/// Why a forwarded query got no usable answer from one upstream (logged, then the next
/// upstream is asked).
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error("upstream {upstream}: {source}")]
    Io {
        upstream: SocketAddr,
        source: io::Error,
    },
    #[error("upstream {upstream}: no answer within {UPSTREAM_TIMEOUT:?}")]
    Timeout { upstream: SocketAddr },
    #[error("upstream {upstream}: answered {rcode}")]
    Failed {
        upstream: SocketAddr,
        rcode: ResponseCode,
    },
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

/// What to do with one incoming packet.
#[derive(Debug)]
enum Decision {
    /// Answer it ourselves; `udp_limit` is the size the client accepts over UDP.
    Reply { response: Message, udp_limit: usize },
    /// Not ours: send the raw packet upstream. `query` builds the SERVFAIL if that fails.
    Forward { query: Message, udp_limit: usize },
    /// Not worth an answer (a response, or too short to carry an id).
    Ignore,
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

    /// Parses a packet and decides between answering, forwarding and ignoring it.
    fn decide(&self, from: &str, packet: &[u8]) -> Decision {
        let query = match Message::from_vec(packet) {
            Ok(query) => query,
            Err(e) => {
                debug!(from, "dns: malformed query: {e}");
                return malformed(packet);
            }
        };
        if query.metadata.message_type != MessageType::Query {
            return Decision::Ignore;
        }
        let udp_limit = query
            .edns
            .as_ref()
            .map_or(512, |edns| usize::from(edns.max_payload()).max(512));
        let reply = |response| Decision::Reply {
            response,
            udp_limit,
        };
        if query.metadata.op_code != OpCode::Query {
            return reply(reply_to(&query, ResponseCode::NotImp));
        }
        if query.queries.len() != 1 {
            return reply(reply_to(&query, ResponseCode::FormErr));
        }
        let question = &query.queries[0];
        let name = question.name().to_lowercase().to_ascii();
        let name = name.strip_suffix('.').unwrap_or(&name);
        let kind = question.query_type();
        debug!(from, name, ?kind, "dns: query");

        if question.query_class() == DNSClass::IN {
            if kind == RecordType::PTR {
                if let Some(ip) = parse_reverse(name) {
                    if let Some(host) = self.names.reverse(from, ip) {
                        return reply(ptr_answer(&query, &host));
                    }
                }
            }
            if let Answer::Addresses(ips) = self.names.lookup(from, name) {
                // Other types for our names: NOERROR without answers, the name exists
                // (Docker does this for MX so that mailers fall back to A/AAAA).
                return reply(address_answer(&query, kind, ips));
            }
        }
        if !self.names.may_forward(from) {
            debug!(
                from,
                name, "dns: not ours and the container may not forward"
            );
            return reply(reply_to(&query, ResponseCode::ServFail));
        }
        Decision::Forward { query, udp_limit }
    }

    /// The upstream's answer to `packet` with the client's id, or SERVFAIL.
    async fn forward_or_fail(
        &self,
        query: &Message,
        packet: &[u8],
        transport: Transport,
        udp_limit: usize,
    ) -> Vec<u8> {
        match self.forward(packet, transport).await {
            Some(answer) => answer,
            None => encode(reply_to(query, ResponseCode::ServFail), udp_limit),
        }
    }

    /// Sends the raw query to each upstream in turn until one answers with something
    /// other than SERVFAIL or REFUSED (Docker moves on for those too).
    async fn forward(&self, packet: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let client_id = [packet[0], packet[1]];
        let upstreams = self.current_upstreams();
        if upstreams.is_empty() {
            debug!("dns: no upstream resolvers to forward to");
        }
        for &upstream in upstreams.iter() {
            // A fresh id (and, over UDP, a fresh source port) per upstream query, so an
            // off-path spoofer cannot guess it from the client's.
            let id = random_u64().to_be_bytes();
            let id = [id[0], id[1]];
            let mut out = packet.to_vec();
            out[..2].copy_from_slice(&id);
            let exchange = async {
                match transport {
                    Transport::Udp => exchange_udp(upstream, &out, id).await,
                    Transport::Tcp => exchange_tcp(upstream, &out, id).await,
                }
                .map_err(|source| ForwardError::Io { upstream, source })
            };
            let result = match timeout(UPSTREAM_TIMEOUT, exchange).await {
                Ok(Ok(answer)) => match ResponseCode::from_low(answer[3] & 0x0f) {
                    rcode @ (ResponseCode::ServFail | ResponseCode::Refused) => {
                        Err(ForwardError::Failed { upstream, rcode })
                    }
                    _ => Ok(answer),
                },
                Ok(Err(e)) => Err(e),
                Err(_) => Err(ForwardError::Timeout { upstream }),
            };
            match result {
                Ok(mut answer) => {
                    answer[..2].copy_from_slice(&client_id);
                    return Some(answer);
                }
                Err(e) => debug!(?transport, "dns: forward: {e}"),
            }
        }
        None
    }
}

/// One UDP exchange from a fresh socket connected to the upstream; datagrams that are
/// not the answer (wrong id, not a response) are skipped.
async fn exchange_udp(upstream: SocketAddr, query: &[u8], id: [u8; 2]) -> io::Result<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let len = socket.recv(&mut buf).await?;
        if is_answer(&buf[..len], id) {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}

async fn exchange_tcp(upstream: SocketAddr, query: &[u8], id: [u8; 2]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    write_framed(&mut stream, query).await?;
    let answer = read_framed(&mut stream, UPSTREAM_TIMEOUT)
        .await
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))?;
    if !is_answer(&answer, id) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "answer does not match the query",
        ));
    }
    Ok(answer)
}

/// A response (QR set) with our id and a whole header.
fn is_answer(packet: &[u8], id: [u8; 2]) -> bool {
    packet.len() >= 12 && packet[..2] == id && packet[2] & 0x80 != 0
}

/// Reads one length-prefixed DNS message; `None` on EOF, error or idle timeout.
async fn read_framed(stream: &mut TcpStream, idle: Duration) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    timeout(idle, stream.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
    timeout(idle, stream.read_exact(&mut packet))
        .await
        .ok()?
        .ok()?;
    Some(packet)
}

async fn write_framed(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "dns message over 64 KiB"))?;
    let mut framed = Vec::with_capacity(2 + message.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}

/// FORMERR for a packet hickory cannot parse, when its header at least says it is a
/// query and carries an id to answer to.
fn malformed(packet: &[u8]) -> Decision {
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return Decision::Ignore;
    }
    let mut response = Message::error_msg(
        u16::from_be_bytes([packet[0], packet[1]]),
        OpCode::Query,
        ResponseCode::FormErr,
    );
    response.metadata.recursion_desired = packet[2] & 0x01 != 0;
    response.metadata.recursion_available = true;
    Decision::Reply {
        response,
        udp_limit: 512,
    }
}

/// The reply skeleton Docker's `createRespMsg` makes: id, opcode, question, RD and CD
/// copied; RA set; AA not set. An EDNS query gets an EDNS reply (RFC 6891).
fn reply_to(query: &Message, code: ResponseCode) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.checking_disabled = query.metadata.checking_disabled;
    response.metadata.recursion_available = true;
    response.metadata.response_code = code;
    response.add_queries(query.queries.iter().cloned());
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        response.set_edns(edns);
    }
    response
}

/// The answer for one of our names: A or AAAA records of the asked family (shuffled,
/// for round robin between containers sharing an alias), none for other types.
fn address_answer(query: &Message, kind: RecordType, mut ips: Vec<IpAddr>) -> Message {
    let mut response = reply_to(query, ResponseCode::NoError);
    let owner = query.queries[0].name().clone();
    ips.retain(|ip| match kind {
        RecordType::A => ip.is_ipv4(),
        RecordType::AAAA => ip.is_ipv6(),
        _ => false,
    });
    shuffle(&mut ips);
    for ip in ips {
        let data = match ip {
            IpAddr::V4(ip) => RData::A(A(ip)),
            IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
        };
        response.add_answer(Record::from_rdata(owner.clone(), TTL, data));
    }
    response
}

fn ptr_answer(query: &Message, host: &str) -> Message {
    let mut target = match Name::from_ascii(host) {
        Ok(target) => target,
        Err(e) => {
            debug!(host, "dns: reverse name is not a domain name: {e}");
            return reply_to(query, ResponseCode::ServFail);
        }
    };
    target.set_fqdn(true);
    let mut response = reply_to(query, ResponseCode::NoError);
    let owner = query.queries[0].name().clone();
    response.add_answer(Record::from_rdata(owner, TTL, RData::PTR(PTR(target))));
    response
}

/// Encodes a reply that fits in `limit` bytes: answers are dropped from the end, with TC
/// set, until it does (the client then asks again over TCP).
fn encode(mut response: Message, limit: usize) -> Vec<u8> {
    loop {
        match response.to_vec() {
            Ok(bytes) if bytes.len() <= limit => return bytes,
            Ok(_) if !response.answers.is_empty() || !response.additionals.is_empty() => {
                response.additionals.clear();
                response.answers.pop();
                response.metadata.truncation = true;
            }
            Ok(bytes) => return bytes,
            Err(e) => {
                debug!("dns: encoding a reply: {e}");
                let mut failure = Message::error_msg(
                    response.metadata.id,
                    response.metadata.op_code,
                    ResponseCode::ServFail,
                );
                failure.metadata.recursion_desired = response.metadata.recursion_desired;
                failure.metadata.recursion_available = true;
                return failure.to_vec().unwrap_or_default();
            }
        }
    }
}

/// The address a full reverse name stands for: `4.3.2.1.in-addr.arpa` or the 32
/// nibbles of `….ip6.arpa`. Expects lower case without the trailing dot; partial names
/// (a whole subnet) give `None`.
fn parse_reverse(name: &str) -> Option<IpAddr> {
    if let Some(labels) = name.strip_suffix(".in-addr.arpa") {
        let mut octets = [0u8; 4];
        let mut count = 0;
        for label in labels.split('.') {
            if count == 4
                || label.is_empty()
                || label.len() > 3
                || !label.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            octets[3 - count] = label.parse().ok()?;
            count += 1;
        }
        return (count == 4).then(|| IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(labels) = name.strip_suffix(".ip6.arpa") {
        let mut address: u128 = 0;
        let mut count = 0;
        for label in labels.split('.') {
            let mut chars = label.chars();
            let nibble = match (chars.next(), chars.next()) {
                (Some(c), None) if count < 32 => c.to_digit(16)?,
                _ => return None,
            };
            address |= u128::from(nibble) << (4 * count);
            count += 1;
        }
        return (count == 32).then(|| IpAddr::V6(Ipv6Addr::from(address)));
    }
    None
}

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

fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (random_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use std::str::FromStr;

    struct Fixed {
        forward: bool,
    }

    impl Names for Fixed {
        fn lookup(&self, from: &str, name: &str) -> Answer {
            assert_eq!(from, "c1");
            match name {
                "web" | "web.net1" => Answer::Addresses(vec!["10.0.0.2".parse().unwrap()]),
                "db" => Answer::Addresses(vec![
                    "10.0.0.3".parse().unwrap(),
                    "fd00::3".parse().unwrap(),
                ]),
                "many" => Answer::Addresses(
                    (1..=100u8)
                        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)))
                        .collect(),
                ),
                _ => Answer::NotOurs,
            }
        }
        fn reverse(&self, _from: &str, ip: IpAddr) -> Option<String> {
            (ip == IpAddr::from([10, 0, 0, 2])).then(|| "web.net1".to_string())
        }
        fn may_forward(&self, _from: &str) -> bool {
            self.forward
        }
    }

    fn server(forward: bool) -> Arc<Server> {
        Server::new(Arc::new(Fixed { forward }), vec![])
    }

    fn query(name: &str, kind: RecordType) -> Message {
        let mut message = Message::query();
        message.metadata.id = 0x1234;
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_str(name).unwrap(), kind));
        message
    }

    fn reply(decision: Decision) -> (Message, usize) {
        match decision {
            Decision::Reply {
                response,
                udp_limit,
            } => (response, udp_limit),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn decide(server: &Server, message: &Message) -> Decision {
        server.decide("c1", &message.to_vec().unwrap())
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            parse_reverse("4.3.2.10.in-addr.arpa"),
            Some("10.2.3.4".parse().unwrap())
        );
        assert_eq!(
            parse_reverse("255.0.0.0.in-addr.arpa"),
            Some("0.0.0.255".parse().unwrap())
        );
        let v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(parse_reverse(v6), Some("fd00::1".parse().unwrap()));
        let v6 = "f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.0.f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.0.ip6.arpa";
        assert_eq!(
            parse_reverse(v6),
            Some("0123:4567:89ab:cdef:0123:4567:89ab:cdef".parse().unwrap())
        );
        for bad in [
            "3.2.10.in-addr.arpa",
            "5.4.3.2.10.in-addr.arpa",
            "256.3.2.10.in-addr.arpa",
            "a.3.2.10.in-addr.arpa",
            "+1.3.2.10.in-addr.arpa",
            ".3.2.10.in-addr.arpa",
            "in-addr.arpa",
            "4.3.2.10.in-addr.arpa.example",
            "1.0.ip6.arpa",
            "10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
            "g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
            "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
            "web",
        ] {
            assert_eq!(parse_reverse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_for_our_name_like_docker() {
        let (response, limit) = reply(decide(&server(true), &query("Web.", RecordType::A)));
        assert_eq!(limit, 512);
        assert_eq!(response.metadata.id, 0x1234);
        assert_eq!(response.metadata.message_type, MessageType::Response);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(response.metadata.recursion_desired);
        assert!(response.metadata.recursion_available);
        assert!(!response.metadata.authoritative);
        assert_eq!(response.queries, query("Web.", RecordType::A).queries);
        assert_eq!(response.answers.len(), 1);
        let record = &response.answers[0];
        // The owner keeps the asker's case: some resolvers randomise it (0x20 bits).
        assert!(record.name.eq_case(&Name::from_str("Web.").unwrap()));
        assert_eq!(record.ttl, TTL);
        assert_eq!(record.data, RData::A(A::new(10, 0, 0, 2)));
    }

    #[test]
    fn family_and_type_filtering() {
        let s = server(true);
        let (response, _) = reply(decide(&s, &query("web.", RecordType::AAAA)));
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(response.answers.is_empty());

        let (response, _) = reply(decide(&s, &query("db.", RecordType::AAAA)));
        assert_eq!(response.answers.len(), 1);
        assert_eq!(
            response.answers[0].data,
            RData::AAAA(AAAA("fd00::3".parse().unwrap()))
        );

        for kind in [
            RecordType::MX,
            RecordType::TXT,
            RecordType::SRV,
            RecordType::PTR,
        ] {
            let (response, _) = reply(decide(&s, &query("web.net1.", kind)));
            assert_eq!(
                response.metadata.response_code,
                ResponseCode::NoError,
                "{kind}"
            );
            assert!(response.answers.is_empty(), "{kind}");
        }
    }

    #[test]
    fn ptr_for_container_addresses() {
        let s = server(true);
        let (response, _) = reply(decide(
            &s,
            &query("2.0.0.10.in-addr.arpa.", RecordType::PTR),
        ));
        assert_eq!(response.answers.len(), 1);
        assert_eq!(response.answers[0].ttl, TTL);
        assert_eq!(
            response.answers[0].data,
            RData::PTR(PTR(Name::from_str("web.net1.").unwrap()))
        );
        assert!(matches!(
            decide(&s, &query("9.0.0.10.in-addr.arpa.", RecordType::PTR)),
            Decision::Forward { .. }
        ));
    }

    #[test]
    fn unknown_names_forward_unless_internal() {
        match decide(&server(true), &query("example.com.", RecordType::A)) {
            Decision::Forward { query, udp_limit } => {
                assert_eq!(query.metadata.id, 0x1234);
                assert_eq!(udp_limit, 512);
            }
            other => panic!("expected forward, got {other:?}"),
        }
        let s = server(false);
        for (name, kind) in [
            ("example.com.", RecordType::A),
            ("9.0.0.10.in-addr.arpa.", RecordType::PTR),
        ] {
            let (response, _) = reply(decide(&s, &query(name, kind)));
            assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
            assert_eq!(response.metadata.id, 0x1234);
        }
        // Our names still resolve on internal networks.
        let (response, _) = reply(decide(&s, &query("web.", RecordType::A)));
        assert_eq!(response.answers.len(), 1);
        // Non-IN classes (CHAOS version.bind) are never ours.
        let mut chaos = query("web.", RecordType::TXT);
        chaos.queries[0].set_query_class(DNSClass::CH);
        assert!(matches!(
            decide(&server(true), &chaos),
            Decision::Forward { .. }
        ));
    }

    #[test]
    fn bad_queries() {
        let s = server(true);
        let mut two = query("web.", RecordType::A);
        two.add_query(Query::query(Name::from_str("db.").unwrap(), RecordType::A));
        let (response, _) = reply(decide(&s, &two));
        assert_eq!(response.metadata.response_code, ResponseCode::FormErr);

        let mut none = query("web.", RecordType::A);
        none.queries.clear();
        let (response, _) = reply(decide(&s, &none));
        assert_eq!(response.metadata.response_code, ResponseCode::FormErr);

        let mut update = query("web.", RecordType::A);
        update.metadata.op_code = OpCode::Update;
        let (response, _) = reply(decide(&s, &update));
        assert_eq!(response.metadata.response_code, ResponseCode::NotImp);

        // Header says one question, then the packet ends: FORMERR with the id.
        let truncated = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'];
        let (response, _) = reply(s.decide("c1", &truncated));
        assert_eq!(response.metadata.id, 0xabcd);
        assert_eq!(response.metadata.response_code, ResponseCode::FormErr);
        assert!(response.metadata.recursion_desired);

        assert!(matches!(s.decide("c1", &[1, 2, 3]), Decision::Ignore));
        let mut answer = query("web.", RecordType::A);
        answer.metadata.message_type = MessageType::Response;
        assert!(matches!(decide(&s, &answer), Decision::Ignore));
    }

    #[test]
    fn edns_queries_get_edns_replies_and_their_size() {
        let mut q = query("many.", RecordType::A);
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        q.set_edns(edns);
        let (response, limit) = reply(decide(&server(true), &q));
        assert_eq!(limit, 4096);
        assert!(response.edns.is_some());
        let bytes = encode(response, limit);
        let decoded = Message::from_vec(&bytes).unwrap();
        assert_eq!(decoded.answers.len(), 100);
        assert!(!decoded.metadata.truncation);
    }

    #[test]
    fn large_answers_truncate_to_512() {
        let (response, limit) = reply(decide(&server(true), &query("many.", RecordType::A)));
        let bytes = encode(response.clone(), limit);
        assert!(bytes.len() <= 512);
        let decoded = Message::from_vec(&bytes).unwrap();
        assert!(decoded.metadata.truncation);
        assert!(!decoded.answers.is_empty() && decoded.answers.len() < 100);
        let whole = Message::from_vec(&encode(response, 65535)).unwrap();
        assert_eq!(whole.answers.len(), 100);
        assert!(!whole.metadata.truncation);
    }

    #[test]
    fn shuffles_addresses() {
        let s = server(true);
        let first = |_| {
            let (response, _) = reply(decide(&s, &query("many.", RecordType::A)));
            response.answers[0].data.clone()
        };
        let firsts: std::collections::HashSet<_> = (0..20).map(first).collect();
        assert!(firsts.len() > 1);
    }

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

    #[test]
    fn set_upstreams_replaces_the_list() {
        let s = server(true);
        assert!(s.upstreams().is_empty());
        s.set_upstreams(vec!["192.0.2.1:53".parse().unwrap()]);
        assert_eq!(s.upstreams(), vec!["192.0.2.1:53".parse().unwrap()]);
    }

    #[test]
    fn answer_matching() {
        let id = [0x12, 0x34];
        let mut packet = [0u8; 12];
        packet[..2].copy_from_slice(&id);
        assert!(!is_answer(&packet, id), "a query is not an answer");
        packet[2] = 0x80;
        assert!(is_answer(&packet, id));
        assert!(!is_answer(&packet, [0x12, 0x35]));
        assert!(!is_answer(&packet[..11], id));
    }
}
