//! Unit tests of the server's decisions and replies, against a fixed set of names.

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::answer::{encode, Decision};
use super::{Answer, Names, Server, TTL};

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
fn set_upstreams_replaces_the_list() {
    let s = server(true);
    assert!(s.upstreams().is_empty());
    s.set_upstreams(vec!["192.0.2.1:53".parse().unwrap()]);
    assert_eq!(s.upstreams(), vec!["192.0.2.1:53".parse().unwrap()]);
}
