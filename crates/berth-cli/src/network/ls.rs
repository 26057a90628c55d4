//! `network ls`: its flags, docker's natural name order and the networkContext
//! rows its table and templates print.

use std::cmp::Ordering;

use anyhow::Result;
use serde_json::{json, Value};

use super::values::filters;
use super::{into_error, OptErr};
use crate::client::query;
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::table::{joined_labels, short_id, Formatter, FORMAT_HELP};
use crate::Cli;

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

#[rustfmt::skip]
pub(super) fn spec() -> Spec {
    Spec::new(
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
    .args(Args::None)
}

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
                "Labels": joined_labels(&labels),
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

pub(super) async fn run(cli: &Cli, canon: &str, m: &Matches) -> Result<i32> {
    let fail = |e: OptErr| into_error(canon, e);
    let f = filters(m, "-f, --filter", &[]).map_err(fail)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Value> {
        vec![
            json!({"Name": "net10", "Id": "1234567890ab1234567890ab", "Created": "2024-05-02T11:00:00Z", "Scope": "local", "Driver": "bridge", "EnableIPv4": true, "EnableIPv6": true, "Internal": true, "Labels": {"b": "2", "a": "1"}}),
            json!({"Name": "bridge", "Id": "aaaa1111bbbb2222cccc", "Created": "2024-05-01T10:00:00.123456789Z", "Scope": "local", "Driver": "bridge", "EnableIPv4": true, "EnableIPv6": false, "Internal": false, "Labels": {}}),
            json!({"Name": "net9", "Id": "abcdefabcdef0000", "Created": "2024-05-02T11:00:00+02:00", "Scope": "local", "Driver": "bridge", "Labels": null}),
            json!({"Name": "host", "Id": "ffff", "Created": "0001-01-01T00:00:00Z", "Scope": "local", "Driver": "host", "Labels": {}}),
        ]
    }

    fn render(format: &str, quiet: bool, trunc: bool) -> anyhow::Result<String> {
        let mut list = sample();
        list.sort_by(|a, b| natural_cmp(a["Name"].as_str().unwrap(), b["Name"].as_str().unwrap()));
        Formatter::new(&ls_format(format, None, quiet), DEFAULT_TABLE, None)?
            .context("*network.networkContext")
            .render(&headers(), &rows(&list, trunc))
    }

    #[test]
    fn ls_table() {
        assert_eq!(
            render("", false, true).unwrap(),
            "NETWORK ID     NAME      DRIVER    SCOPE\n\
             aaaa1111bbbb   bridge    bridge    local\n\
             ffff           host      host      local\n\
             abcdefabcdef   net9      bridge    local\n\
             1234567890ab   net10     bridge    local\n"
        );
        assert_eq!(
            render("", true, true).unwrap(),
            "aaaa1111bbbb\nffff\nabcdefabcdef\n1234567890ab\n"
        );
        // -q only replaces the default table.
        assert_eq!(
            render("{{.Name}}", true, true).unwrap(),
            "bridge\nhost\nnet9\nnet10\n"
        );
        assert_eq!(
            render("table {{.ID}}", true, true).unwrap(),
            "NETWORK ID\naaaa1111bbbb\nffff\nabcdefabcdef\n1234567890ab\n"
        );
        assert_eq!(
            render("raw", true, true).unwrap(),
            "network_id: aaaa1111bbbb\nnetwork_id: ffff\nnetwork_id: abcdefabcdef\nnetwork_id: 1234567890ab\n"
        );
        assert!(render("raw", false, true)
            .unwrap()
            .starts_with("network_id: aaaa1111bbbb\nname: bridge\ndriver: bridge\nscope: local\n\nnetwork_id: ffff\n"));
    }

    #[test]
    fn ls_fields() {
        let out = render(
            "{{.ID}} {{.Name}} [{{.Labels}}] {{.IPv6}} {{.Internal}} {{.CreatedAt}} {{.IPv4}} {{.Label \"a\"}}",
            false,
            false,
        )
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "aaaa1111bbbb2222cccc bridge [] false false 2024-05-01 10:00:00.123456789 +0000 UTC true "
        );
        assert_eq!(
            lines[1],
            "ffff host [] false false 0001-01-01 00:00:00 +0000 UTC false "
        );
        assert!(
            lines[2].starts_with("abcdefabcdef0000 net9 [] false false 2024-05-02 11:00:00 +0200 ")
        );
        assert_eq!(
            lines[3],
            "1234567890ab1234567890ab net10 [a=1,b=2] true true 2024-05-02 11:00:00 +0000 UTC true 1"
        );
        let json_line = render("json", false, true).unwrap();
        assert_eq!(
            json_line.lines().next().unwrap(),
            r#"{"CreatedAt":"2024-05-01 10:00:00.123456789 +0000 UTC","Driver":"bridge","ID":"aaaa1111bbbb","IPv4":"true","IPv6":"false","Internal":"false","Labels":"","Name":"bridge","Scope":"local"}"#
        );
        let e = render("{{.Foo}}", false, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "template parsing error: template: :1:2: executing \"\" at <.Foo>: can't evaluate field Foo in type *network.networkContext"
        );
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["net10", "net9", "a", "net09", "B", "net1x"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["B", "a", "net1x", "net9", "net09", "net10"]);
    }
}
