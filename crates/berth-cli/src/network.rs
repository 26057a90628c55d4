//! `network create|ls|rm|connect|disconnect|prune` (inspect lives in inspect.rs), and
//! the endpoint settings docker's CLI derives from `run --network/--ip/--ip6/...`.
//!
//! Request bodies follow docker/cli 28.2 field for field, including its quirks
//! (which empty values are `null`, `[]` or `{}`), so the daemon sees what the
//! official client would send.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::client::{is_not_found, query};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::table::{short_id, Formatter};
use crate::util::confirm;
use crate::{prog, status, Cli};

const FORMAT_HELP: &str = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

pub fn spec(canon: &str) -> Option<Spec> {
    Some(match canon {
        "network.create" => Spec::new(
            "network create",
            "network create [OPTIONS] NETWORK",
            "Create a network",
            vec![
                b("attachable", None, "Enable manual container attachment"),
                l("aux-address", None, "map", "Auxiliary IPv4 or IPv6 addresses used by Network driver").def("map[]"),
                v("config-from", None, "string", "The network from which to copy the configuration"),
                b("config-only", None, "Create a configuration only network"),
                v("driver", Some('d'), "string", "Driver to manage the Network").def("\"bridge\""),
                l("gateway", None, "strings", "IPv4 or IPv6 Gateway for the master subnet"),
                b("ingress", None, "Create swarm routing-mesh network"),
                b("internal", None, "Restrict external access to the network"),
                l("ip-range", None, "strings", "Allocate container ip from a sub-range"),
                v("ipam-driver", None, "string", "IP Address Management Driver").def("\"default\""),
                l("ipam-opt", None, "map", "Set IPAM driver specific options").def("map[]"),
                b("ipv4", None, "Enable or disable IPv4 address assignment").def("true"),
                b("ipv6", None, "Enable or disable IPv6 address assignment"),
                l("label", None, "list", "Set metadata on a network"),
                l("opt", Some('o'), "map", "Set driver specific options").def("map[]"),
                v("scope", None, "string", "Control the network's scope"),
                l("subnet", None, "strings", "Subnet in CIDR format that represents a network segment"),
            ],
        )
        .args(Args::Exact(1)),
        "network.ls" => Spec::new(
            "network ls",
            "network ls [OPTIONS]",
            "List networks",
            vec![
                l("filter", Some('f'), "filter", "Provide filter values (e.g. \"driver=bridge\")"),
                v("format", None, "string", FORMAT_HELP),
                b("no-trunc", None, "Do not truncate the output"),
                b("quiet", Some('q'), "Only display network IDs"),
            ],
        )
        .args(Args::None),
        "network.rm" => Spec::new(
            "network rm",
            "network rm NETWORK [NETWORK...]",
            "Remove one or more networks",
            vec![b("force", Some('f'), "Do not error if the network does not exist")],
        )
        .args(Args::Min(1)),
        "network.connect" => Spec::new(
            "network connect",
            "network connect [OPTIONS] NETWORK CONTAINER",
            "Connect a container to a network",
            vec![
                l("alias", None, "strings", "Add network-scoped alias for the container"),
                l("driver-opt", None, "strings", "driver options for the network"),
                v("gw-priority", None, "int", "Highest gw-priority provides the default gateway. Accepts positive and negative values."),
                v("ip", None, "string", "IPv4 address (e.g., \"172.30.100.104\")"),
                v("ip6", None, "string", "IPv6 address (e.g., \"2001:db8::33\")"),
                l("link", None, "list", "Add link to another container"),
                l("link-local-ip", None, "strings", "Add a link-local address for the container"),
            ],
        )
        .args(Args::Exact(2)),
        "network.disconnect" => Spec::new(
            "network disconnect",
            "network disconnect [OPTIONS] NETWORK CONTAINER",
            "Disconnect a container from a network",
            vec![b("force", Some('f'), "Force the container to disconnect from a network")],
        )
        .args(Args::Exact(2)),
        "network.prune" => Spec::new(
            "network prune",
            "network prune [OPTIONS]",
            "Remove all unused networks",
            vec![
                l("filter", None, "filter", "Provide filter values (e.g. \"until=<timestamp>\")"),
                b("force", Some('f'), "Do not prompt for confirmation"),
            ],
        )
        .args(Args::None),
        _ => return None,
    })
}

/// A client-side failure before any request: a value docker's flag parser rejects
/// (status 125, printed with the usage line) or a check made after parsing (status 1).
#[derive(Debug, PartialEq, Eq)]
pub enum OptErr {
    Flag(String),
    Plain(String),
}

fn into_error(canon: &str, e: OptErr) -> anyhow::Error {
    match e {
        OptErr::Plain(msg) => anyhow::anyhow!(msg),
        OptErr::Flag(msg) => {
            let usage = spec(canon).map(|s| s.usage_line()).unwrap_or_default();
            status(
                125,
                format!(
                    "{msg}\n\nUsage:  {usage}\n\nRun '{} {} --help' for more information",
                    prog(),
                    canon.replace('.', " ")
                ),
            )
        }
    }
}

fn bad_flag(value: &str, flag: &str, why: impl std::fmt::Display) -> OptErr {
    OptErr::Flag(format!(
        "invalid argument {value:?} for \"{flag}\" flag: {why}"
    ))
}

/// One line of Go's encoding/csv, as pflag reads `strings` flag values.
fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let mut field = Vec::new();
        if bytes.get(i) == Some(&b'"') {
            let start = i;
            i += 1;
            loop {
                match bytes.get(i) {
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            start + 1
                        ))
                    }
                    Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                        field.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        match bytes.get(i) {
                            None | Some(b',') => break,
                            Some(_) => {
                                return Err(format!(
                                    "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                                    i + 1
                                ))
                            }
                        }
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = bytes.get(i).filter(|c| **c != b',') {
                if *c == b'"' {
                    return Err(format!(
                        "parse error on line 1, column {}: bare \" in non-quoted-field",
                        i + 1
                    ));
                }
                field.push(*c);
                i += 1;
            }
        }
        out.push(String::from_utf8_lossy(&field).into_owned());
        if bytes.get(i) == Some(&b',') {
            i += 1;
            continue;
        }
        return Ok(out);
    }
}

/// The values of a pflag `strings` flag: each occurrence is split as CSV.
fn string_slice(m: &Matches, long: &str) -> Result<Vec<String>, OptErr> {
    let mut out = Vec::new();
    for val in m.list(long) {
        if val.is_empty() {
            continue;
        }
        out.extend(csv_fields(&val).map_err(|e| bad_flag(&val, &format!("--{long}"), e))?);
    }
    Ok(out)
}

/// docker's MapOpts without validator: `k=v`, or `k` for an empty value.
fn map_opt(m: &Matches, long: &str) -> BTreeMap<String, String> {
    m.list(long)
        .into_iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s, String::new()),
        })
        .collect()
}

fn obj(map: BTreeMap<String, String>) -> Value {
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// docker's ValidateLabel.
fn check_label(label: &str) -> Result<(), String> {
    let key = label.split_once('=').map(|(k, _)| k).unwrap_or(label);
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(format!("invalid label '{label}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(())
}

/// docker's ParseLink validation of `--link name[:alias]`.
pub fn check_link(link: &str) -> Result<(), String> {
    if link.is_empty() {
        return Err("empty string specified for links".into());
    }
    if link.splitn(3, ':').count() > 2 {
        return Err(format!("bad format for links: {link}"));
    }
    Ok(())
}

/// Go's net.ParseMAC: 6, 8 or 20 octets as `xx:xx..`, `xx-xx..` or `xxxx.xxxx..`.
pub fn valid_mac(s: &str) -> bool {
    let s = s.as_bytes();
    let hex = |g: &[u8]| g.iter().all(u8::is_ascii_hexdigit);
    let sizes = [6, 8, 20];
    if s.len() < 14 {
        return false;
    }
    if s[2] == b':' || s[2] == b'-' {
        if (s.len() + 1) % 3 != 0 || !sizes.contains(&((s.len() + 1) / 3)) {
            return false;
        }
        s.chunks(3)
            .all(|g| hex(&g[..2]) && (g.len() == 2 || g[2] == s[2]))
    } else if s[4] == b'.' {
        if (s.len() + 1) % 5 != 0 || !sizes.contains(&(2 * (s.len() + 1) / 5)) {
            return false;
        }
        s.chunks(5)
            .all(|g| hex(&g[..4]) && (g.len() == 4 || g[4] == b'.'))
    } else {
        false
    }
}

/// Go's strconv.ParseInt(s, 0, 64), as pflag's int flags parse.
fn go_int(s: &str) -> Result<i64, &'static str> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    // Underscores are allowed between digits only with a base prefix.
    let digits =
        if prefixed && !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__")
        {
            digits.replace('_', "")
        } else {
            digits
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err("invalid syntax");
    }
    let mag = u64::from_str_radix(&digits, radix).map_err(|_| "value out of range")?;
    if neg {
        if mag > i64::MAX as u64 + 1 {
            return Err("value out of range");
        }
        Ok((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).map_err(|_| "value out of range")
    }
}

// ---- filters ----

/// docker's FilterOpt: `name=value` with the name lower-cased and both trimmed;
/// an empty value is ignored. Returns the `filters` query value.
fn filters(m: &Matches, flag: &str, extra: &[String]) -> Result<String, OptErr> {
    let mut f: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for val in m.list("filter") {
        if val.is_empty() {
            continue;
        }
        let Some((k, v)) = val.split_once('=') else {
            return Err(bad_flag(
                &val,
                flag,
                "bad format of filter (expected name=value)",
            ));
        };
        f.entry(k.trim().to_lowercase())
            .or_default()
            .insert(v.trim().to_string(), true);
    }
    // The config file's pruneFilters, merged as docker's command.PruneFilters does.
    for p in extra {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let conflict = match k {
            "label" => "label!",
            "label!" => "label",
            _ => "",
        };
        // filters.Args.ExactMatch is true when the other key is absent, so docker
        // drops a config "label" filter unless the command line has "label!".
        if !conflict.is_empty() && f.get(conflict).is_none_or(|s| s.contains_key(v)) {
            continue;
        }
        f.entry(k.to_string())
            .or_default()
            .insert(v.to_string(), true);
    }
    Ok(if f.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&f).unwrap_or_default()
    })
}

// ---- create: IPAM consolidation ----

/// Go's net.ParseCIDR: the address and the prefix length.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len.is_empty() || len.len() > 3 || !len.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u8 = len.parse().ok()?;
    (n <= max).then_some((ip, n))
}

/// IPv4-mapped IPv6 addresses count as IPv4, as in Go's net package.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Go's IPNet.Contains for a network parsed by ParseCIDR.
fn contains((net, len): (IpAddr, u8), ip: IpAddr) -> bool {
    let (net, len) = match (net, unmap(net)) {
        (IpAddr::V6(_), v4 @ IpAddr::V4(_)) => (v4, len.saturating_sub(96)),
        (n, _) => (n, len),
    };
    match (net, unmap(ip)) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// docker's subnetMatches: does `subnet` contain `data` (an address or a CIDR)?
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let net = parse_cidr(subnet)
        .ok_or_else(|| format!("invalid subnet: invalid CIDR address: {subnet}"))?;
    let ip = if data.contains('/') {
        Some(
            parse_cidr(data)
                .ok_or_else(|| format!("invalid CIDR address: {data}"))?
                .0,
        )
    } else {
        data.parse::<IpAddr>().ok()
    };
    Ok(ip.is_some_and(|ip| contains(net, ip)))
}

/// The `--subnet`, `--ip-range`, `--gateway` and `--aux-address` values of `network create`.
#[derive(Debug, Default, Clone)]
pub struct IpamOpts {
    pub driver: String,
    pub options: BTreeMap<String, String>,
    pub subnets: Vec<String>,
    pub ranges: Vec<String>,
    pub gateways: Vec<String>,
    pub aux: BTreeMap<String, String>,
}

#[derive(Default)]
struct Pool {
    subnet: String,
    range: String,
    gateway: String,
    aux: BTreeMap<String, String>,
}

/// docker/cli's createIPAMConfig: pairs each range, gateway and auxiliary address with
/// the subnet that contains it. Pools keep the order of `--subnet` (docker's is random).
pub fn ipam_config(o: &IpamOpts) -> Result<Value, String> {
    if o.subnets.len() < o.ranges.len() || o.subnets.len() < o.gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut pools: Vec<Pool> = Vec::new();
    for s in &o.subnets {
        for p in &pools {
            if subnet_matches(s, &p.subnet)? || subnet_matches(&p.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        pools.push(Pool {
            subnet: s.clone(),
            ..Pool::default()
        });
    }
    for r in &o.ranges {
        let mut matched = false;
        for p in pools.iter_mut() {
            if parse_cidr(r).is_none() {
                return Err(format!("invalid CIDR address: {r}"));
            }
            if !subnet_matches(&p.subnet, r)? {
                continue;
            }
            if !p.range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({})",
                    p.range, p.subnet
                ));
            }
            p.range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in &o.gateways {
        let mut matched = false;
        for p in pools.iter_mut() {
            if !subnet_matches(&p.subnet, g)? {
                continue;
            }
            if !p.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                    p.gateway, p.subnet
                ));
            }
            p.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, addr) in &o.aux {
        let mut matched = false;
        for p in pools.iter_mut() {
            if subnet_matches(&p.subnet, addr)? {
                p.aux.insert(key.clone(), addr.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    let config: Vec<Value> = pools
        .into_iter()
        .map(|p| {
            let mut c = Map::new();
            c.insert("Subnet".into(), Value::String(p.subnet));
            if !p.range.is_empty() {
                c.insert("IPRange".into(), Value::String(p.range));
            }
            if !p.gateway.is_empty() {
                c.insert("Gateway".into(), Value::String(p.gateway));
            }
            if !p.aux.is_empty() {
                c.insert("AuxiliaryAddresses".into(), obj(p.aux));
            }
            Value::Object(c)
        })
        .collect();
    Ok(json!({
        "Driver": o.driver,
        "Options": obj(o.options.clone()),
        "Config": config,
    }))
}

/// The body of `POST /networks/create` for `network create NAME` with flags `m`.
pub fn create_body(name: &str, m: &Matches) -> Result<Value, OptErr> {
    let labels = m.list("label");
    for lb in &labels {
        check_label(lb).map_err(|e| bad_flag(lb, "--label", e))?;
    }
    let ipam = IpamOpts {
        driver: m.value("ipam-driver").unwrap_or("default").to_string(),
        options: map_opt(m, "ipam-opt"),
        subnets: string_slice(m, "subnet")?,
        ranges: string_slice(m, "ip-range")?,
        gateways: string_slice(m, "gateway")?,
        aux: map_opt(m, "aux-address"),
    };
    let ipam = ipam_config(&ipam).map_err(OptErr::Plain)?;
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap_or((s, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let config_from = match m.value("config-from") {
        Some(n) if !n.is_empty() => json!({ "Network": n }),
        _ => Value::Null,
    };
    let mut body = json!({
        "Name": name,
        "Driver": m.value("driver").unwrap_or("bridge"),
        "Scope": m.str("scope"),
        "IPAM": ipam,
        "Internal": m.flag("internal"),
        "Attachable": m.flag("attachable"),
        "Ingress": m.flag("ingress"),
        "ConfigOnly": m.flag("config-only"),
        "ConfigFrom": config_from,
        "Options": obj(map_opt(m, "opt")),
        "Labels": obj(labels),
    });
    // Sent only when given, so the daemon applies its own defaults.
    for (flag, key) in [("ipv4", "EnableIPv4"), ("ipv6", "EnableIPv6")] {
        if m.has(flag) {
            body[key] = Value::Bool(m.flag(flag));
        }
    }
    Ok(body)
}

// ---- ls ----

/// fvbommel/sortorder's NaturalLess, as a comparison: digit runs compare by value.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !da {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let (nz_a, nz_b) = (i, j);
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (la, lb) = (i - nz_a, j - nz_b);
        if la != lb {
            return la.cmp(&lb);
        }
        match a[nz_a..i].cmp(&b[nz_b..j]) {
            Ordering::Equal => {}
            o => return o,
        }
        if nz_a != nz_b {
            return nz_a.cmp(&nz_b);
        }
    }
    a.len().cmp(&b.len())
}

/// Go's time.Time.String() of an API timestamp, as docker prints `.CreatedAt`.
pub fn go_time_string(s: &str) -> String {
    use chrono::{Local, Offset, TimeZone};
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) else {
        return "0001-01-01 00:00:00 +0000 UTC".into();
    };
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(&t.format(" %z").to_string());
    let offset = t.offset().local_minus_utc();
    let local = Local
        .offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc();
    // Go names the zone for "Z" and for the local zone's offset; any other offset
    // gets a made-up zone printed as the offset again.
    let zone = if s.ends_with(['Z', 'z']) || (offset == local && local == 0) {
        "UTC".to_string()
    } else if offset == local {
        t.with_timezone(&Local).format("%Z").to_string()
    } else {
        t.format("%z").to_string()
    };
    out.push(' ');
    out.push_str(&zone);
    out
}

/// The rows of docker's networkContext for `network ls`.
pub fn rows(list: &[Value], trunc: bool) -> Vec<Value> {
    list.iter()
        .map(|n| {
            let labels = n.get("Labels").cloned().unwrap_or(Value::Null);
            let mut ls: Vec<String> = labels
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            ls.sort();
            let id = n["Id"].as_str().unwrap_or_default();
            let flag = |k: &str| n[k].as_bool().unwrap_or(false).to_string();
            json!({
                "ID": if trunc { short_id(id) } else { id.to_string() },
                "Name": n["Name"].as_str().unwrap_or_default(),
                "Driver": n["Driver"].as_str().unwrap_or_default(),
                "Scope": n["Scope"].as_str().unwrap_or_default(),
                "IPv4": flag("EnableIPv4"),
                "IPv6": flag("EnableIPv6"),
                "Internal": flag("Internal"),
                "Labels": ls.join(","),
                "CreatedAt": go_time_string(n["Created"].as_str().unwrap_or_default()),
                "__labels": labels,
            })
        })
        .collect()
}

fn headers() -> Value {
    json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
        "CreatedAt": "CREATED AT",
    })
}

/// The template for `--format`/`-q`, as docker's network.NewFormat resolves it.
fn ls_format(format: &str, config: Option<String>, quiet: bool) -> String {
    let format = match (format, config) {
        ("", Some(c)) if !c.is_empty() && !quiet => c,
        ("", _) => "table".to_string(),
        (f, _) => f.to_string(),
    };
    match (format.as_str(), quiet) {
        ("table", true) => "{{.ID}}".into(),
        ("table", false) => DEFAULT_TABLE.into(),
        ("raw", true) => "network_id: {{.ID}}".into(),
        ("raw", false) => {
            "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n"
                .into()
        }
        _ => format,
    }
}

// ---- inspect ----

use crate::template::typed::Ty;

const STRINGS: Ty = Ty::Map(&Ty::Str);
const IPAM_CONFIG: Ty = Ty::Struct(
    "network.IPAMConfig",
    &[
        ("Subnet", "Subnet", true, Ty::Str),
        ("IPRange", "IPRange", true, Ty::Str),
        ("Gateway", "Gateway", true, Ty::Str),
        ("AuxAddress", "AuxiliaryAddresses", true, STRINGS),
    ],
);
const ENDPOINT: Ty = Ty::Struct(
    "network.EndpointResource",
    &[
        ("Name", "Name", false, Ty::Str),
        ("EndpointID", "EndpointID", false, Ty::Str),
        ("MacAddress", "MacAddress", false, Ty::Str),
        ("IPv4Address", "IPv4Address", false, Ty::Str),
        ("IPv6Address", "IPv6Address", false, Ty::Str),
    ],
);
const PEER: Ty = Ty::Struct(
    "network.PeerInfo",
    &[
        ("Name", "Name", false, Ty::Str),
        ("IP", "IP", false, Ty::Str),
    ],
);

/// docker 28.2's network.Inspect, which `network inspect -f` templates run over first.
pub const INSPECT: Ty = Ty::Struct(
    "network.Inspect",
    &[
        ("Name", "Name", false, Ty::Str),
        ("ID", "Id", false, Ty::Str),
        ("Created", "Created", false, Ty::Time),
        ("Scope", "Scope", false, Ty::Str),
        ("Driver", "Driver", false, Ty::Str),
        ("EnableIPv4", "EnableIPv4", false, Ty::Bool),
        ("EnableIPv6", "EnableIPv6", false, Ty::Bool),
        (
            "IPAM",
            "IPAM",
            false,
            Ty::Struct(
                "network.IPAM",
                &[
                    ("Driver", "Driver", false, Ty::Str),
                    ("Options", "Options", false, STRINGS),
                    ("Config", "Config", false, Ty::Slice(&IPAM_CONFIG)),
                ],
            ),
        ),
        ("Internal", "Internal", false, Ty::Bool),
        ("Attachable", "Attachable", false, Ty::Bool),
        ("Ingress", "Ingress", false, Ty::Bool),
        (
            "ConfigFrom",
            "ConfigFrom",
            false,
            Ty::Struct(
                "network.ConfigReference",
                &[("Network", "Network", false, Ty::Str)],
            ),
        ),
        ("ConfigOnly", "ConfigOnly", false, Ty::Bool),
        ("Containers", "Containers", false, Ty::Map(&ENDPOINT)),
        ("Options", "Options", false, STRINGS),
        ("Labels", "Labels", false, STRINGS),
        ("Peers", "Peers", true, Ty::Slice(&PEER)),
        ("Services", "Services", true, Ty::Map(&Ty::Any)),
    ],
);

// ---- connect and run's endpoint settings ----

/// One `--network` value: a name, or docker 28's `name=NET,alias=A,ip=IP,...`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub links: Vec<String>,
    pub ipv4: String,
    pub ipv6: String,
    pub link_local_ips: Vec<String>,
    pub mac: String,
    pub gw_priority: i64,
}

/// Go's `\w+=\w+` search, which decides that a `--network` value is the long syntax.
fn long_syntax(s: &str) -> bool {
    let w = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    s.as_bytes()
        .windows(3)
        .any(|x| w(x[0]) && x[1] == b'=' && w(x[2]))
}

/// docker's NetworkOpt.Set; the error is the reason after `invalid argument ... flag:`.
pub fn parse_attachment(value: &str) -> Result<Attachment, String> {
    if !long_syntax(value) {
        return Ok(Attachment {
            target: value.to_string(),
            ..Attachment::default()
        });
    }
    let mut a = Attachment::default();
    for field in csv_fields(value)? {
        // docker lower-cases keys and values alike.
        let lower = field.to_lowercase();
        let Some((key, val)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let (key, val) = (key.trim(), val.trim().to_string());
        match key {
            "name" => a.target = val,
            "alias" => a.aliases.push(val),
            "ip" => a.ipv4 = val,
            "ip6" => a.ipv6 = val,
            "mac-address" => a.mac = val,
            "link-local-ip" => a.link_local_ips.push(val),
            "driver-opt" => {
                let (k, v) = val
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or("invalid key value pair format in driver options")?;
                a.driver_opts
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
            "gw-priority" => {
                a.gw_priority =
                    go_int10(&val).map_err(|e| format!("invalid gw-priority ({val}): {e}"))?;
            }
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if a.target.is_empty() {
        return Err("network name/id is not specified".into());
    }
    Ok(a)
}

/// Go's strconv.Atoi.
fn go_int10(s: &str) -> Result<i64, &'static str> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    s.parse().map_err(|_| "value out of range")
}

/// Not one of the predefined network modes (Linux's NetworkMode.IsUserDefined).
pub fn user_defined(mode: &str) -> bool {
    let container = mode
        .split_once(':')
        .is_some_and(|(kind, _)| kind == "container");
    !container && !matches!(mode, "default" | "bridge" | "host" | "none")
}

/// EndpointSettings as Go's encoder writes it: every field, operational ones zero.
fn endpoint_settings(
    ipam: Value,
    links: Value,
    aliases: Value,
    mac: &str,
    driver_opts: Value,
    gw_priority: i64,
) -> Value {
    json!({
        "IPAMConfig": ipam, "Links": links, "Aliases": aliases, "MacAddress": mac,
        "DriverOpts": driver_opts, "GwPriority": gw_priority, "NetworkID": "", "EndpointID": "",
        "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null,
    })
}

/// EndpointIPAMConfig: its fields are omitted when empty.
fn endpoint_ipam(v4: &str, v6: &str, link_local: &[String]) -> Value {
    let mut m = Map::new();
    if !v4.is_empty() {
        m.insert("IPv4Address".into(), json!(v4));
    }
    if !v6.is_empty() {
        m.insert("IPv6Address".into(), json!(v6));
    }
    if !link_local.is_empty() {
        m.insert("LinkLocalIPs".into(), json!(link_local));
    }
    Value::Object(m)
}

fn strs_or_null(v: &[String]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

/// docker's parseNetworkAttachmentOpt; `None` stands for an all-zero EndpointSettings.
fn attachment_endpoint(a: &Attachment) -> Result<Option<Value>, String> {
    if a.target.trim().is_empty() {
        return Err("no name set for network".into());
    }
    if !user_defined(&a.target) {
        if !a.aliases.is_empty() {
            return Err(
                "network-scoped aliases are only supported for user-defined networks".into(),
            );
        }
        if !a.links.is_empty() {
            return Err("links are only supported for user-defined networks".into());
        }
    }
    if !a.mac.is_empty() && !valid_mac(a.mac.trim()) {
        return Err(format!("{} is not a valid mac address", a.mac));
    }
    let ipam = if a.ipv4.is_empty() && a.ipv6.is_empty() && a.link_local_ips.is_empty() {
        Value::Null
    } else {
        endpoint_ipam(&a.ipv4, &a.ipv6, &a.link_local_ips)
    };
    let driver_opts = if a.driver_opts.is_empty() {
        Value::Null
    } else {
        obj(a.driver_opts.clone())
    };
    let zero = ipam.is_null()
        && a.links.is_empty()
        && a.aliases.is_empty()
        && a.mac.is_empty()
        && driver_opts.is_null()
        && a.gw_priority == 0;
    Ok((!zero).then(|| {
        endpoint_settings(
            ipam,
            strs_or_null(&a.links),
            strs_or_null(&a.aliases),
            &a.mac,
            driver_opts,
            a.gw_priority,
        )
    }))
}

/// The flag-level checks of `run`/`create` networking: `--network` values and `--link`
/// formats (docker rejects them while parsing flags), then `--mac-address`.
pub fn parse_run_networks(m: &Matches) -> Result<Vec<Attachment>, String> {
    let mut nets = Vec::new();
    for val in m.list("network") {
        nets.push(
            parse_attachment(&val)
                .map_err(|e| format!("invalid argument {val:?} for \"--network\" flag: {e}"))?,
        );
    }
    for link in m.list("link") {
        check_link(&link)
            .map_err(|e| format!("invalid argument {link:?} for \"--link\" flag: {e}"))?;
    }
    if let Some(mac) = m.value("mac-address").filter(|s| !s.is_empty()) {
        if !valid_mac(mac.trim()) {
            return Err(format!("{mac} is not a valid mac address"));
        }
    }
    Ok(nets)
}

/// docker's applyContainerOptions: the classic flags go to the first network.
fn apply_container_options(a: &mut Attachment, m: &Matches) -> Result<(), String> {
    let aliases = m.list("network-alias");
    let links = m.list("link");
    let ipv4 = m.str("ip");
    let ipv6 = m.str("ip6");
    let mac = m.str("mac-address");
    let link_local = m.list("link-local-ip");
    let conflict = |what: &str| Err(format!("conflicting options: cannot specify both {what}"));
    if !a.aliases.is_empty() && !aliases.is_empty() {
        return conflict("--network-alias and per-network alias");
    }
    if !a.links.is_empty() && !links.is_empty() {
        return conflict("--link and per-network links");
    }
    if !a.ipv4.is_empty() && !ipv4.is_empty() {
        return conflict("--ip and per-network IPv4 address");
    }
    if !a.ipv6.is_empty() && !ipv6.is_empty() {
        return conflict("--ip6 and per-network IPv6 address");
    }
    if !a.mac.is_empty() && !mac.is_empty() {
        return conflict("--mac-address and per-network MAC address");
    }
    if !a.link_local_ips.is_empty() && !link_local.is_empty() {
        return conflict("--link-local-ip and per-network link-local IP addresses");
    }
    if !aliases.is_empty() {
        a.aliases = aliases;
    }
    // On a user-defined network a link is an endpoint alias; on the default bridge it
    // stays a legacy link in HostConfig.Links only.
    if user_defined(&a.target) && !links.is_empty() {
        a.links = links;
    }
    if !ipv4.is_empty() {
        a.ipv4 = ipv4;
    }
    if !ipv6.is_empty() {
        a.ipv6 = ipv6;
    }
    if !mac.is_empty() {
        a.mac = mac;
    }
    if !link_local.is_empty() {
        a.link_local_ips = link_local;
    }
    Ok(())
}

/// docker's parseNetworkOpts: HostConfig.NetworkMode and NetworkingConfig.EndpointsConfig
/// for `run`/`create`. Without `--network` the endpoint is keyed "default" (always sent);
/// a single network without per-endpoint options sends none.
pub fn run_endpoints(
    m: &Matches,
    nets: Vec<Attachment>,
) -> Result<(String, Map<String, Value>), String> {
    let mode = nets
        .first()
        .map(|a| a.target.clone())
        .unwrap_or_else(|| "default".into());
    let mut eps = Map::new();
    if nets.is_empty() {
        let mut a = Attachment {
            target: "default".into(),
            ..Attachment::default()
        };
        apply_container_options(&mut a, m)?;
        let ep = attachment_endpoint(&a)?.unwrap_or_else(|| {
            endpoint_settings(Value::Null, Value::Null, Value::Null, "", Value::Null, 0)
        });
        eps.insert("default".into(), ep);
    }
    let (mut user, mut predefined) = (false, false);
    let count = nets.len();
    for (i, mut a) in nets.into_iter().enumerate() {
        if user_defined(&a.target) {
            user = true;
        } else {
            predefined = true;
        }
        if i == 0 {
            apply_container_options(&mut a, m)?;
        }
        let ep = attachment_endpoint(&a)?;
        if eps.contains_key(&a.target) {
            return Err(format!(
                "network {:?} is specified multiple times",
                a.target
            ));
        }
        let ep = match ep {
            None if i == 0 && count == 1 => continue,
            None => endpoint_settings(Value::Null, Value::Null, Value::Null, "", Value::Null, 0),
            Some(ep) => ep,
        };
        eps.insert(a.target, ep);
    }
    if user && predefined {
        return Err(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        );
    }
    Ok((mode, eps))
}

/// The body of `POST /networks/{id}/connect`.
pub fn connect_body(container: &str, m: &Matches) -> Result<Value, OptErr> {
    let links = m.list("link");
    for link in &links {
        check_link(link).map_err(|e| bad_flag(link, "--link", e))?;
    }
    let aliases = string_slice(m, "alias")?;
    let link_local = string_slice(m, "link-local-ip")?;
    let opts = string_slice(m, "driver-opt")?;
    let gw = match m.value("gw-priority") {
        None => 0,
        Some(s) => go_int(s).map_err(|e| {
            bad_flag(
                s,
                "--gw-priority",
                format!("strconv.ParseInt: parsing {s:?}: {e}"),
            )
        })?,
    };
    let mut driver_opts = BTreeMap::new();
    for o in opts {
        match o.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                driver_opts.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => {
                return Err(OptErr::Plain(
                    "invalid key/value pair format in driver options".into(),
                ))
            }
        }
    }
    Ok(json!({
        "Container": container,
        "EndpointConfig": endpoint_settings(
            endpoint_ipam(&m.str("ip"), &m.str("ip6"), &link_local),
            strs_or_null(&links),
            json!(aliases),
            "",
            obj(driver_opts),
            gw,
        ),
    }))
}

/// The client's trimID: names are trimmed and must not be empty.
fn trim_id<'a>(kind: &str, id: &'a str) -> Result<&'a str, OptErr> {
    let id = id.trim();
    if id.is_empty() {
        return Err(OptErr::Plain(format!(
            "invalid {kind} name or ID: value is empty"
        )));
    }
    Ok(id)
}

/// Escapes a name for a URL path as Go's url.URL does.
fn path_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const INGRESS_WARNING: &str = "WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.";

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    let fail = |e: OptErr| into_error(canon, e);
    match canon {
        "network.create" => {
            let mut body = create_body(&m.args[0], &m).map_err(fail)?;
            // Before API 1.44 the client asked the daemon to refuse duplicate names.
            let api = cli.client.api_version().await?;
            let old = api
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
                .is_some_and(|v| v < (1, 44));
            if old {
                body["CheckDuplicate"] = Value::Bool(true);
            }
            let r = cli
                .client
                .post_json("/networks/create", Some(&body))
                .await?;
            // docker prints the ID only; the response's Warning is not shown.
            println!("{}", r["Id"].as_str().unwrap_or_default());
            Ok(0)
        }
        "network.ls" => {
            let f = filters(&m, "-f, --filter", &[]).map_err(fail)?;
            let v = cli
                .client
                .get_json(&query("/networks", &[("filters", f)]))
                .await?;
            let mut list = v.as_array().cloned().unwrap_or_default();
            list.sort_by(|a, b| {
                natural_cmp(
                    a["Name"].as_str().unwrap_or_default(),
                    b["Name"].as_str().unwrap_or_default(),
                )
            });
            let format = ls_format(
                &m.str("format"),
                cli.config_str("networksFormat"),
                m.flag("quiet"),
            );
            Formatter::new(&format, DEFAULT_TABLE, None)?
                .context("*network.networkContext")
                .print(&headers(), &rows(&list, !m.flag("no-trunc")))?;
            Ok(0)
        }
        "network.rm" => {
            let mut failed = false;
            for name in &m.args {
                let id = match trim_id("network", name) {
                    Ok(id) => path_escape(id),
                    Err(OptErr::Plain(e) | OptErr::Flag(e)) => {
                        eprintln!("{e}");
                        failed = true;
                        continue;
                    }
                };
                let path = format!("/networks/{id}");
                if let Ok(n) = cli.client.get_json(&path).await {
                    if n["Ingress"].as_bool() == Some(true) && !confirm(INGRESS_WARNING) {
                        continue;
                    }
                }
                match cli.client.delete(&path).await {
                    Ok(_) => println!("{name}"),
                    Err(e) if m.flag("force") && is_not_found(&e) => {}
                    Err(e) => {
                        eprintln!("{e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Err(status(1, "exit status 1"));
            }
            Ok(0)
        }
        "network.connect" | "network.disconnect" => {
            let net = trim_id("network", &m.args[0]).map_err(fail)?;
            let container = trim_id("container", &m.args[1]).map_err(fail)?;
            let (verb, body) = if canon == "network.connect" {
                ("connect", connect_body(container, &m).map_err(fail)?)
            } else {
                (
                    "disconnect",
                    json!({"Container": container, "Force": m.flag("force")}),
                )
            };
            cli.client
                .post(
                    &format!("/networks/{}/{verb}", path_escape(net)),
                    Some(&body),
                )
                .await?;
            Ok(0)
        }
        _ => {
            let config: Vec<String> = cli
                .config
                .get("pruneFilters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let f = filters(&m, "--filter", &config).map_err(fail)?;
            if !m.flag("force")
                && !confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.",
                )
            {
                return Ok(0);
            }
            let r = cli
                .client
                .post_json(&query("/networks/prune", &[("filters", f)]), None)
                .await?;
            print!("{}", prune_output(&r));
            Ok(0)
        }
    }
}

/// "Deleted Networks:" and the names, then a blank line; nothing when none went.
pub fn prune_output(r: &Value) -> String {
    let names: Vec<&str> = r["NetworksDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if names.is_empty() {
        return String::new();
    }
    let mut out = String::from("Deleted Networks:\n");
    for n in names {
        out.push_str(n);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
