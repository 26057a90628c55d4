//! One request and its whole reply: sending it, reading datagrams up to the ack or the
//! end of a dump, restarting interrupted dumps, and the kernel's extended acks.

use std::io;

use netlink_packet_core::{
    ErrorBuffer, ErrorMessage, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NlasIterator, Parseable, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK,
    NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::{Failure, Netlink};

/// `NLMSGERR_ATTR_MSG`: the extended ack's human readable message.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// How many times a dump is restarted when the kernel says it was interrupted by a
/// concurrent change (`NLM_F_DUMP_INTR`) or replies were lost (`ENOBUFS`).
const DUMP_ATTEMPTS: usize = 5;

/// The messages answering one request, and whether a dump was interrupted.
#[derive(Default)]
struct Reply {
    messages: Vec<RouteNetlinkMessage>,
    interrupted: bool,
}

impl Netlink {
    /// A dump request, restarted when the kernel says the dump was interrupted by a
    /// concurrent change or replies were lost.
    pub(super) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, Failure> {
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
    pub(super) fn request(
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

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{DefaultNla, Emitable};

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
}
