//! Answering a query ourselves: deciding between our names and forwarding, building
//! replies (A and AAAA, PTR, errors), fitting them in the client's size, and reading
//! reverse names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tracing::debug;

use super::{random_u64, Answer, Server, EDNS_PAYLOAD, TTL};

/// What to do with one incoming packet.
#[derive(Debug)]
pub(super) enum Decision {
    /// Answer it ourselves; `udp_limit` is the size the client accepts over UDP.
    Reply { response: Message, udp_limit: usize },
    /// Not ours: send the raw packet upstream. `query` builds the SERVFAIL if that fails.
    Forward { query: Message, udp_limit: usize },
    /// Not worth an answer (a response, or too short to carry an id).
    Ignore,
}

impl Server {
    /// Parses a packet and decides between answering, forwarding and ignoring it.
    pub(super) fn decide(&self, from: &str, packet: &[u8]) -> Decision {
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
pub(super) fn reply_to(query: &Message, code: ResponseCode) -> Message {
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
pub(super) fn encode(mut response: Message, limit: usize) -> Vec<u8> {
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

fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (random_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
