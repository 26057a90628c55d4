//! The embedded DNS server on real sockets: served on 127.0.0.1 ports, forwarding to
//! fake upstreams, and once on 127.0.0.11:53 in a private network namespace.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_network::dns::{bind_internal, Answer, Names, Served, Server, UPSTREAM_TIMEOUT};
use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;

const WEB: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 2);
const UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);

struct Network {
    forward: bool,
}

impl Names for Network {
    fn lookup(&self, from: &str, name: &str) -> Answer {
        assert_eq!(from, "c1");
        match name {
            "web" | "web.net1" => Answer::Addresses(vec![IpAddr::V4(WEB)]),
            _ => Answer::NotOurs,
        }
    }
    fn reverse(&self, _from: &str, ip: IpAddr) -> Option<String> {
        (ip == IpAddr::V4(WEB)).then(|| "web.net1".to_string())
    }
    fn may_forward(&self, _from: &str) -> bool {
        self.forward
    }
}

/// A resolver on 127.0.0.1 that answers every query, over UDP and TCP on the same port,
/// with one A record after `delay`, and counts the queries it saw.
struct Upstream {
    address: SocketAddr,
    queries: Arc<AtomicUsize>,
}

async fn upstream(delay: Duration) -> Upstream {
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            break (Arc::new(udp), tcp);
        }
    };
    let address = udp.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&queries);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        loop {
            let (len, client) = udp.recv_from(&mut buf).await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let answer = upstream_answer(&buf[..len]);
            let udp = Arc::clone(&udp);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                udp.send_to(&answer, client).await.unwrap();
            });
        }
    });
    let counter = Arc::clone(&queries);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = tcp.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let query = read_framed(&mut stream).await;
                write_framed(&mut stream, &upstream_answer(&query)).await;
            });
        }
    });
    Upstream { address, queries }
}

fn upstream_answer(query: &[u8]) -> Vec<u8> {
    let query = Message::from_vec(query).unwrap();
    let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
    answer.metadata.recursion_desired = query.metadata.recursion_desired;
    answer.metadata.recursion_available = true;
    answer.add_queries(query.queries.iter().cloned());
    let name = query.queries[0].name().clone();
    answer.add_answer(Record::from_rdata(name, 42, RData::A(A(UPSTREAM_ANSWER))));
    answer.to_vec().unwrap()
}

/// A resolver that reads queries and never answers.
async fn silent_upstream() -> (SocketAddr, UdpSocket) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (socket.local_addr().unwrap(), socket)
}

/// An address nothing listens on (UDP gets ICMP port unreachable, TCP is refused).
async fn dead_upstream() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.local_addr().unwrap()
}

struct Running {
    udp: SocketAddr,
    tcp: SocketAddr,
    _served: Served,
}

fn serve(server: &Arc<Server>) -> Running {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (udp_address, tcp_address) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
    let served = server.serve("c1".to_string(), udp, tcp).unwrap();
    Running {
        udp: udp_address,
        tcp: tcp_address,
        _served: served,
    }
}

fn start(forward: bool, upstreams: Vec<SocketAddr>) -> (Arc<Server>, Running) {
    let server = Server::new(Arc::new(Network { forward }), upstreams);
    let running = serve(&server);
    (server, running)
}

fn query(id: u16, name: &str, kind: RecordType) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_str(name).unwrap(), kind));
    message.to_vec().unwrap()
}

async fn ask_udp(server: SocketAddr, packet: &[u8], wait: Duration) -> std::io::Result<Message> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    socket.connect(server).await?;
    socket.send(packet).await?;
    let mut buf = vec![0u8; 65535];
    let len = timeout(wait, socket.recv(&mut buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply"))??;
    Ok(Message::from_vec(&buf[..len]).unwrap())
}

async fn udp(server: SocketAddr, id: u16, name: &str, kind: RecordType) -> Message {
    ask_udp(server, &query(id, name, kind), Duration::from_secs(10))
        .await
        .unwrap()
}

async fn read_framed(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.unwrap();
    let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut packet).await.unwrap();
    packet
}

async fn write_framed(stream: &mut TcpStream, packet: &[u8]) {
    let mut framed = u16::try_from(packet.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await.unwrap();
}

fn addresses(message: &Message) -> Vec<RData> {
    message.answers.iter().map(|r| r.data.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_our_names() {
    let up = upstream(Duration::ZERO).await;
    let (_server, running) = start(true, vec![up.address]);

    let reply = udp(running.udp, 7, "WEB.", RecordType::A).await;
    assert_eq!(reply.metadata.id, 7);
    assert_eq!(reply.metadata.message_type, MessageType::Response);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.recursion_available);
    assert!(reply.metadata.recursion_desired);
    assert_eq!(addresses(&reply), vec![RData::A(A(WEB))]);
    assert_eq!(reply.answers[0].ttl, 600);

    let reply = udp(running.udp, 8, "web.", RecordType::AAAA).await;
    assert_eq!(reply.metadata.id, 8);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());

    let reply = udp(running.udp, 9, "2.0.89.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(
        addresses(&reply),
        vec![RData::PTR(PTR(Name::from_str("web.net1.").unwrap()))]
    );

    assert_eq!(
        up.queries.load(Ordering::SeqCst),
        0,
        "our names are never forwarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_other_names() {
    let up = upstream(Duration::ZERO).await;
    let (_server, running) = start(true, vec![up.address]);

    let reply = udp(running.udp, 0xbeef, "example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.id, 0xbeef);
    assert_eq!(addresses(&reply), vec![RData::A(A(UPSTREAM_ANSWER))]);
    assert_eq!(reply.answers[0].ttl, 42, "the upstream's answer, verbatim");

    // A PTR for an address that is not a container's goes upstream too.
    let reply = udp(running.udp, 3, "9.0.89.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(reply.metadata.id, 3);
    assert_eq!(up.queries.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_queries() {
    let up = upstream(Duration::ZERO).await;
    let (_server, running) = start(true, vec![up.address]);

    let mut stream = TcpStream::connect(running.tcp).await.unwrap();
    // Two queries on one connection: ours, then one forwarded over TCP.
    write_framed(&mut stream, &query(21, "web.", RecordType::A)).await;
    let reply = Message::from_vec(&read_framed(&mut stream).await).unwrap();
    assert_eq!(reply.metadata.id, 21);
    assert_eq!(addresses(&reply), vec![RData::A(A(WEB))]);

    write_framed(&mut stream, &query(22, "example.org.", RecordType::A)).await;
    let reply = Message::from_vec(&read_framed(&mut stream).await).unwrap();
    assert_eq!(reply.metadata.id, 22);
    assert_eq!(addresses(&reply), vec![RData::A(A(UPSTREAM_ANSWER))]);
    assert_eq!(
        up.queries.load(Ordering::SeqCst),
        1,
        "one TCP connection upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_when_upstreams_fail() {
    // Refused at once: SERVFAIL long before the timeout.
    let (_server, running) = start(true, vec![dead_upstream().await]);
    let started = Instant::now();
    let reply = udp(running.udp, 5, "example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.id, 5);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert!(started.elapsed() < UPSTREAM_TIMEOUT);

    // Silent: SERVFAIL once the timeout has passed.
    let (silent, _keep) = silent_upstream().await;
    let (_server, running) = start(true, vec![silent]);
    let started = Instant::now();
    let reply = udp(running.udp, 6, "example.com.", RecordType::A).await;
    let elapsed = started.elapsed();
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert!(elapsed >= UPSTREAM_TIMEOUT, "{elapsed:?}");
    assert!(
        elapsed < UPSTREAM_TIMEOUT + Duration::from_secs(1),
        "{elapsed:?}"
    );

    // No upstreams at all.
    let (_server, running) = start(true, vec![]);
    let reply = udp(running.udp, 7, "example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_upstream_after_a_failure() {
    let up = upstream(Duration::ZERO).await;
    let (silent, _keep) = silent_upstream().await;
    let (server, running) = start(true, vec![dead_upstream().await, silent, up.address]);
    let reply = udp(running.udp, 11, "example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.id, 11);
    assert_eq!(addresses(&reply), vec![RData::A(A(UPSTREAM_ANSWER))]);

    // resolv.conf changed: the new list is used right away.
    server.set_upstreams(vec![up.address]);
    let started = Instant::now();
    let reply = udp(running.udp, 12, "example.com.", RecordType::A).await;
    assert_eq!(addresses(&reply), vec![RData::A(A(UPSTREAM_ANSWER))]);
    assert!(started.elapsed() < UPSTREAM_TIMEOUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_networks_do_not_forward() {
    let up = upstream(Duration::ZERO).await;
    let (_server, running) = start(false, vec![up.address]);

    let reply = udp(running.udp, 1, "example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    let reply = udp(running.udp, 2, "web.", RecordType::A).await;
    assert_eq!(addresses(&reply), vec![RData::A(A(WEB))]);
    assert_eq!(up.queries.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_forwards_do_not_queue() {
    let delay = Duration::from_millis(500);
    let up = upstream(delay).await;
    let (_server, running) = start(true, vec![up.address]);

    let started = Instant::now();
    let mut queries = tokio::task::JoinSet::new();
    for id in 0..50u16 {
        let server = running.udp;
        queries.spawn(async move { (id, udp(server, id, "example.com.", RecordType::A).await) });
    }
    while let Some(done) = queries.join_next().await {
        let (id, reply) = done.unwrap();
        assert_eq!(reply.metadata.id, id);
        assert_eq!(addresses(&reply), vec![RData::A(A(UPSTREAM_ANSWER))]);
    }
    let elapsed = started.elapsed();
    assert!(elapsed < delay * 4, "50 queries took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries() {
    let (_server, running) = start(true, vec![]);
    // A header promising a question that is not there: FORMERR with the id.
    let packet = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'];
    let reply = ask_udp(running.udp, &packet, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reply.metadata.id, 0x1234);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);

    // Too short to answer: dropped, and the server keeps serving.
    assert!(ask_udp(running.udp, &[1, 2, 3], Duration::from_millis(300))
        .await
        .is_err());
    let reply = udp(running.udp, 4, "web.", RecordType::A).await;
    assert_eq!(addresses(&reply), vec![RData::A(A(WEB))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_served_stops_serving() {
    let server = Server::new(Arc::new(Network { forward: true }), vec![]);
    let running = serve(&server);
    let reply = udp(running.udp, 1, "web.", RecordType::A).await;
    assert_eq!(addresses(&reply), vec![RData::A(A(WEB))]);

    let (udp_address, tcp_address) = (running.udp, running.tcp);
    drop(running);
    // The sockets close when the runtime drops the aborted tasks.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(tcp_address).await.is_ok() {
        assert!(Instant::now() < deadline, "tcp listener still open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let packet = query(2, "web.", RecordType::A);
    assert!(ask_udp(udp_address, &packet, Duration::from_millis(300))
        .await
        .is_err());
}

/// `bind_internal` on 127.0.0.11:53 in a private netns, served by the runtime (whose
/// threads stay in the test's netns), asked from a thread in that private netns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_address_in_a_private_netns() {
    use std::sync::mpsc;

    let up = upstream(Duration::ZERO).await;
    let upstream_address = up.address;
    let (sockets_tx, sockets_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let client = std::thread::spawn(move || -> Result<Vec<String>, String> {
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
            sockets_tx.send(None).unwrap();
            return Err(format!("unshare(CLONE_NEWNET): {e}"));
        }
        let status = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .map_err(|e| format!("ip link set lo up: {e}"))?;
        assert!(status.success(), "ip link set lo up: {status}");
        sockets_tx.send(Some(bind_internal().unwrap())).unwrap();
        go_rx.recv().unwrap();

        let ask = |id: u16, name: &str| {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            socket
                .send_to(&query(id, name, RecordType::A), "127.0.0.11:53")
                .unwrap();
            let mut buf = [0u8; 4096];
            let len = socket.recv(&mut buf).unwrap();
            Message::from_vec(&buf[..len]).unwrap()
        };
        let ours = ask(31, "web.");
        assert_eq!(ours.metadata.id, 31);
        assert_eq!(addresses(&ours), vec![RData::A(A(WEB))]);
        // The fake upstream listens on 127.0.0.1 of the test's netns, which this netns
        // cannot reach: an answer proves forwarding leaves from the daemon's netns.
        let direct = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        direct
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        direct
            .send_to(&query(33, "example.com.", RecordType::A), upstream_address)
            .unwrap();
        assert!(
            direct.recv(&mut [0u8; 512]).is_err(),
            "upstream reachable from the netns"
        );
        let forwarded = ask(32, "example.com.");
        assert_eq!(forwarded.metadata.id, 32);
        assert_eq!(addresses(&forwarded), vec![RData::A(A(UPSTREAM_ANSWER))]);

        // A real stub resolver, when there is one; it inherits this thread's netns.
        let mut notes = Vec::new();
        match std::process::Command::new("busybox")
            .args(["nslookup", "web", "127.0.0.11"])
            .output()
        {
            Ok(output) => {
                let text = String::from_utf8_lossy(&output.stdout);
                assert!(text.contains(&WEB.to_string()), "busybox nslookup: {text}");
                notes.push(format!("busybox nslookup: {}", text.trim()));
            }
            Err(e) => notes.push(format!("no busybox: {e}")),
        }
        Ok(notes)
    });

    let sockets = tokio::task::spawn_blocking(move || sockets_rx.recv().unwrap())
        .await
        .unwrap();
    let Some((udp, tcp)) = sockets else {
        let reason = client.join().unwrap().unwrap_err();
        eprintln!("skipped: cannot make a network namespace: {reason}");
        return;
    };
    assert_eq!(udp.local_addr().unwrap(), "127.0.0.11:53".parse().unwrap());
    assert_eq!(tcp.local_addr().unwrap(), "127.0.0.11:53".parse().unwrap());
    let server = Server::new(Arc::new(Network { forward: true }), vec![upstream_address]);
    let _served = server.serve("c1".to_string(), udp, tcp).unwrap();
    go_tx.send(()).unwrap();
    let notes = tokio::task::spawn_blocking(move || client.join())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    for note in notes {
        eprintln!("{note}");
    }
    assert_eq!(up.queries.load(Ordering::SeqCst), 1);
}
