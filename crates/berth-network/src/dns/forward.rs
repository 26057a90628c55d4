//! Forwarding the queries that are not ours to the host's resolvers, over the
//! transport they came on, and the two-byte length framing of DNS over TCP.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use tracing::debug;

use super::answer::{encode, reply_to};
use super::{random_u64, Server, Transport, UPSTREAM_TIMEOUT};

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

impl Server {
    /// The upstream's answer to `packet` with the client's id, or SERVFAIL.
    pub(super) async fn forward_or_fail(
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
pub(super) async fn read_framed(stream: &mut TcpStream, idle: Duration) -> Option<Vec<u8>> {
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

pub(super) async fn write_framed(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "dns message over 64 KiB"))?;
    let mut framed = Vec::with_capacity(2 + message.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
