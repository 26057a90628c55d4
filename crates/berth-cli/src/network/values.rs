//! Flag values read as docker's pflag and opts packages read them: CSV `strings`,
//! `k=v` maps, labels, links, MAC addresses, Go integers and `--filter`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{bad_flag, OptErr};
use crate::flags::Matches;

/// One line of Go's encoding/csv, as pflag reads `strings` flag values.
pub(super) fn csv_fields(s: &str) -> Result<Vec<String>, String> {
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
pub(super) fn string_slice(m: &Matches, long: &str) -> Result<Vec<String>, OptErr> {
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
pub(super) fn map_opt(m: &Matches, long: &str) -> BTreeMap<String, String> {
    m.list(long)
        .into_iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s, String::new()),
        })
        .collect()
}

pub(super) fn obj(map: BTreeMap<String, String>) -> Value {
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// docker's ValidateLabel.
pub(super) fn check_label(label: &str) -> Result<(), String> {
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
pub(super) fn go_int(s: &str) -> Result<i64, &'static str> {
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

/// Go's strconv.Atoi.
pub(super) fn go_int10(s: &str) -> Result<i64, &'static str> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    s.parse().map_err(|_| "value out of range")
}

/// docker's FilterOpt: `name=value` with the name lower-cased and both trimmed;
/// an empty value is ignored. Returns the `filters` query value.
pub(super) fn filters(m: &Matches, flag: &str, extra: &[String]) -> Result<String, OptErr> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::tests::parse;

    #[test]
    fn csv_like_go() {
        assert_eq!(csv_fields("a,b").unwrap(), vec!["a", "b"]);
        assert_eq!(csv_fields("\"a,b\",c").unwrap(), vec!["a,b", "c"]);
        assert_eq!(csv_fields("a,").unwrap(), vec!["a", ""]);
        assert_eq!(csv_fields("\"x\"\"y\"").unwrap(), vec!["x\"y"]);
        assert!(csv_fields("\"open").is_err());
    }

    #[test]
    fn filter_query() {
        let m = parse(
            "network.ls",
            &[
                "-f",
                "driver=bridge",
                "-f",
                "name=x",
                "-f",
                "label=a=b",
                "-f",
                " Type = custom ",
                "-f",
                "dangling=true",
            ],
        );
        assert_eq!(
            filters(&m, "-f, --filter", &[]).unwrap(),
            r#"{"dangling":{"true":true},"driver":{"bridge":true},"label":{"a=b":true},"name":{"x":true},"type":{"custom":true}}"#
        );
        let m = parse("network.ls", &[]);
        assert_eq!(filters(&m, "-f, --filter", &[]).unwrap(), "");
        let m = parse("network.ls", &["-f", "nope"]);
        assert_eq!(
            filters(&m, "-f, --filter", &[]).unwrap_err(),
            OptErr::Flag(
                "invalid argument \"nope\" for \"-f, --filter\" flag: bad format of filter (expected name=value)".into()
            )
        );
        // The config file's pruneFilters merge in; a "label" one only next to a
        // "label!" flag that does not name it (docker's ExactMatch quirk).
        let m = parse(
            "network.prune",
            &["--filter", "label!=keep", "--filter", "until=1h"],
        );
        let cfg = vec!["label=keep".to_string(), "label=x".to_string()];
        assert_eq!(
            filters(&m, "--filter", &cfg).unwrap(),
            r#"{"label":{"x":true},"label!":{"keep":true},"until":{"1h":true}}"#
        );
        let m = parse("network.prune", &[]);
        let cfg = vec!["label=keep".to_string(), "until=5m".to_string()];
        assert_eq!(
            filters(&m, "--filter", &cfg).unwrap(),
            r#"{"until":{"5m":true}}"#
        );
    }
}
