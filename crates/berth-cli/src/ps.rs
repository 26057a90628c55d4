//! `ps` / `container ls`.

use anyhow::Result;
use serde_json::{json, Value};

use crate::client::query;
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::table::{ellipsis, short_id, Formatter};
use crate::units::human_size;
use crate::util::{filters_json, go_time, since};
use crate::Cli;

pub fn spec(canon: &str) -> Option<Spec> {
    if canon != "container.ls" {
        return None;
    }
    Some(
        Spec::new(
            "ps",
            "ps [OPTIONS]",
            "List containers",
            vec![
                b("all", Some('a'), "Show all containers (default shows just running)"),
                l("filter", Some('f'), "filter", "Filter output based on conditions provided"),
                v("format", None, "string", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"),
                v("last", Some('n'), "int", "Show n last created containers (includes all states)").def("-1"),
                b("latest", Some('l'), "Show the latest created container (includes all states)"),
                b("no-trunc", None, "Don't truncate output"),
                b("quiet", Some('q'), "Only display container IDs"),
                b("size", Some('s'), "Display total file sizes"),
            ],
        )
        .args(Args::None),
    )
}

pub fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
        "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES",
        "Networks": "NETWORKS", "Platform": "PLATFORM",
    })
}

/// docker's DisplayablePorts: ports published on the same number are folded
/// into ranges per ip/proto ("0.0.0.0:7000-7001->7000-7001/tcp"), other
/// mappings follow ("0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp").
pub fn display_ports(ports: &[Value]) -> String {
    let mut items: Vec<(i64, String, i64, String)> = ports
        .iter()
        .map(|p| {
            (
                p["PrivatePort"].as_i64().unwrap_or(0),
                p["IP"].as_str().unwrap_or_default().to_string(),
                p["PublicPort"].as_i64().unwrap_or(0),
                p["Type"].as_str().unwrap_or("tcp").to_string(),
            )
        })
        .collect();
    items.sort();
    let form = |key: &str, first: i64, last: i64| {
        let (ip, proto) = match key.rsplit_once('/') {
            Some((ip, proto)) => (ip, proto),
            None => ("", key),
        };
        let mut g = first.to_string();
        if first != last {
            g = format!("{g}-{last}");
        }
        if !ip.is_empty() {
            g = format!("{ip}:{g}->{g}");
        }
        format!("{g}/{proto}")
    };
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    let mut groups: Vec<(String, i64, i64)> = Vec::new();
    for (private, ip, public, proto) in items {
        let mut key = proto.clone();
        if !ip.is_empty() {
            if public != private {
                let host = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.clone()
                };
                host_mappings.push(format!("{host}:{public}->{private}/{proto}"));
                continue;
            }
            key = format!("{ip}/{proto}");
        }
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, private, private)),
            Some(g) if private == g.2 + 1 => g.2 = private,
            Some(g) => {
                result.push(form(&g.0, g.1, g.2));
                g.1 = private;
                g.2 = private;
            }
        }
    }
    for (k, f, l) in &groups {
        result.push(form(k, *f, *l));
    }
    result.extend(host_mappings);
    result.join(", ")
}

pub fn row(c: &Value, trunc: bool) -> Value {
    let id = c["Id"].as_str().unwrap_or_default();
    let mut image = c["Image"].as_str().unwrap_or_default().to_string();
    if trunc && image.starts_with("sha256:") {
        image = short_id(&image);
    }
    let cmd = c["Command"].as_str().unwrap_or_default();
    let cmd = if trunc {
        ellipsis(cmd, 20)
    } else {
        cmd.to_string()
    };
    let mut names: Vec<String> = c["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    if trunc {
        if let Some(n) = names.iter().find(|n| !n.contains('/')).cloned() {
            names = vec![n];
        }
    }
    let created = c["Created"].as_i64().unwrap_or(0);
    let labels = c.get("Labels").cloned().unwrap_or(Value::Null);
    let mut label_str: Vec<String> = labels
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    label_str.sort();
    let mounts: Vec<Value> = c["Mounts"].as_array().cloned().unwrap_or_default();
    let mount_names: Vec<String> = mounts
        .iter()
        .map(|m| {
            let n = m["Name"]
                .as_str()
                .filter(|s| !s.is_empty())
                .or(m["Source"].as_str())
                .unwrap_or_default();
            if trunc {
                ellipsis(n, 15)
            } else {
                n.to_string()
            }
        })
        .collect();
    let local_volumes = mounts
        .iter()
        .filter(|m| m["Driver"].as_str() == Some("local"))
        .count();
    let mut nets: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    nets.sort();
    let size_rw = c["SizeRw"].as_f64().unwrap_or(0.0);
    let size_root = c["SizeRootFs"].as_f64().unwrap_or(0.0);
    let size = if size_root > 0.0 {
        format!(
            "{} (virtual {})",
            human_size(size_rw),
            human_size(size_root)
        )
    } else {
        human_size(size_rw)
    };
    json!({
        "Command": serde_json::to_string(&cmd).unwrap_or_default(),
        "CreatedAt": go_time(created),
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Image": image,
        "Labels": label_str.join(","),
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": mount_names.join(","),
        "Names": names.join(","),
        "Networks": nets.join(","),
        "Ports": display_ports(c["Ports"].as_array().map(Vec::as_slice).unwrap_or(&[])),
        "RunningFor": since(created),
        "Size": size,
        "State": c["State"].as_str().unwrap_or_default(),
        "Status": c["Status"].as_str().unwrap_or_default(),
        "__labels": labels,
    })
}

const PS_CONTEXT: &str = "*formatter.ContainerContext";

pub async fn run(cli: &Cli, m: Matches) -> Result<i32> {
    let format = m
        .value("format")
        .map(str::to_string)
        .or_else(|| cli.config_str("psFormat"))
        .unwrap_or_default();
    // docker validates --format by running it over an empty context first.
    if let Some(f) = m.value("format").filter(|f| !f.is_empty()) {
        let t = crate::template::Template::parse(f)
            .map_err(|e| anyhow::anyhow!("failed to parse template: {e}"))?;
        t.render_missing(
            &headers(),
            crate::template::Missing::Struct(PS_CONTEXT.into()),
        )
        .map_err(|e| anyhow::anyhow!("failed to execute template: {e}"))?;
    }
    let last = m.int("last")?.unwrap_or(-1);
    let latest = m.flag("latest");
    let limit = if latest && last == -1 { 1 } else { last };
    let size = m.flag("size") || format.contains(".Size");
    let all = m.flag("all") || limit > 0;
    let flag = |b: bool| if b { "1".to_string() } else { String::new() };
    let path = query(
        "/containers/json",
        &[
            ("all", flag(all)),
            (
                "limit",
                if limit > 0 {
                    limit.to_string()
                } else {
                    String::new()
                },
            ),
            ("size", flag(size)),
            ("filters", filters_json(&m.list("filter"))?),
        ],
    );
    let list = cli.client.get_json(&path).await?;
    let trunc = !m.flag("no-trunc");
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| row(c, trunc))
        .collect();
    let mut default = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".to_string();
    if m.flag("size") {
        default.push_str("\t{{.Size}}");
    }
    Formatter::new(&format, &default, m.flag("quiet").then_some("{{.ID}}"))?
        .context(PS_CONTEXT)
        .print(&headers(), &rows)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = vec![
            json!({"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}),
            json!({"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}),
            json!({"PrivatePort": 53, "Type": "udp"}),
            json!({"IP": "0.0.0.0", "PrivatePort": 7001, "PublicPort": 7001, "Type": "tcp"}),
            json!({"IP": "0.0.0.0", "PrivatePort": 7000, "PublicPort": 7000, "Type": "tcp"}),
        ];
        assert_eq!(
            display_ports(&p),
            "53/udp, 0.0.0.0:7000-7001->7000-7001/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
    }

    #[test]
    fn ps_table() {
        let c = json!({
            "Id": "4f2d0c8b1a2e3f4a5b6c7d8e9f", "Names": ["/web"], "Image": "busybox",
            "Command": "sh -c 'while true; do sleep 1; done'", "Created": crate::util::now() - 125,
            "State": "running", "Status": "Up 2 minutes", "Ports": [], "Labels": {"a": "b"},
        });
        let r = row(&c, true);
        assert_eq!(r["Command"], "\"sh -c 'while true; …\"");
        let f = Formatter::new("", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}", None).unwrap();
        let out = f.render(&headers(), std::slice::from_ref(&r)).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS     NAMES");
        assert_eq!(lines[1], "4f2d0c8b1a2e   busybox   \"sh -c 'while true; …\"   2 minutes ago   Up 2 minutes             web");
        let f = Formatter::new("{{.Names}} {{.Label \"a\"}} {{.Labels}}", "", None).unwrap();
        assert_eq!(f.render(&headers(), &[r]).unwrap(), "web b a=b\n");
    }
}
