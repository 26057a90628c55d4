//! `volume create|ls|rm|prune` (inspect lives in inspect.rs).

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::client::query;
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::table::{joined_labels, Formatter, FORMAT_HELP};
use crate::util::{add_filter, confirm, each, filters_json, reclaimed};
use crate::Cli;

#[rustfmt::skip]
pub fn spec(canon: &str) -> Option<Spec> {
    Some(match canon {
        "volume.create" => Spec::new(
            "volume create",
            "volume create [OPTIONS] [VOLUME]",
            "Create a volume",
            vec![
                v("driver", Some('d'), "string", "Specify volume driver name").def("\"local\""),
                l("label", None, "list", "Set metadata for a volume"),
                v("name", None, "string", "Specify volume name").hide(),
                l("opt", Some('o'), "map", "Set driver specific options").def("map[]"),
            ],
        )
        .args(Args::Max(1)),
        "volume.ls" => Spec::new(
            "volume ls",
            "volume ls [OPTIONS]",
            "List volumes",
            vec![
                l("filter", Some('f'), "filter", "Provide filter values (e.g. \"dangling=true\")"),
                v("format", None, "string", FORMAT_HELP),
                b("quiet", Some('q'), "Only display volume names"),
            ],
        )
        .args(Args::None),
        "volume.rm" => Spec::new(
            "volume rm",
            "volume rm [OPTIONS] VOLUME [VOLUME...]",
            "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
            vec![b("force", Some('f'), "Force the removal of one or more volumes")],
        )
        .args(Args::Min(1)),
        "volume.prune" => Spec::new(
            "volume prune",
            "volume prune [OPTIONS]",
            "Remove unused local volumes",
            vec![
                b("all", Some('a'), "Remove all unused volumes, not just anonymous ones"),
                l("filter", None, "filter", "Provide filter values (e.g. \"label=<label>\")"),
                b("force", Some('f'), "Do not prompt for confirmation"),
            ],
        )
        .args(Args::None),
        _ => return None,
    })
}

fn kv_map(list: Vec<String>) -> Map<String, Value> {
    list.into_iter()
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap_or((&s, ""));
            (k.to_string(), Value::String(v.to_string()))
        })
        .collect()
}

pub fn rows(list: &[Value]) -> Vec<Value> {
    list.iter()
        .map(|vol| {
            let labels = vol.get("Labels").cloned().unwrap_or(Value::Null);
            let size = vol["UsageData"]["Size"]
                .as_i64()
                .filter(|s| *s >= 0)
                .map(|s| crate::units::human_size(s as f64))
                .unwrap_or_else(|| "N/A".into());
            let links = vol["UsageData"]["RefCount"]
                .as_i64()
                .filter(|s| *s >= 0)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "N/A".into());
            json!({
                "Availability": "N/A", "Driver": vol["Driver"], "Group": "", "Labels": joined_labels(&labels),
                "Links": links, "Mountpoint": vol["Mountpoint"], "Name": vol["Name"],
                "Scope": vol["Scope"], "Size": size, "Status": "N/A", "__labels": labels,
            })
        })
        .collect()
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    match canon {
        "volume.create" => {
            let name = m.args.first().cloned().unwrap_or_else(|| m.str("name"));
            if !m.args.is_empty() && m.has("name") && m.str("name") != name {
                anyhow::bail!("conflicting options: cannot specify a volume-name through both --name and as a positional arg");
            }
            let body = json!({
                "Name": name,
                "Driver": m.value("driver").unwrap_or("local"),
                "DriverOpts": kv_map(m.list("opt")),
                "Labels": kv_map(m.list("label")),
            });
            let v = cli.client.post_json("/volumes/create", Some(&body)).await?;
            println!("{}", v["Name"].as_str().unwrap_or_default());
            Ok(0)
        }
        "volume.ls" => {
            let v = cli
                .client
                .get_json(&query(
                    "/volumes",
                    &[("filters", filters_json(&m.list("filter"))?)],
                ))
                .await?;
            let mut list = v["Volumes"].as_array().cloned().unwrap_or_default();
            list.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
            let headers = json!({
                "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
                "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Availability": "AVAILABILITY", "Group": "GROUP", "Status": "STATUS",
            });
            let format = m
                .value("format")
                .map(str::to_string)
                .or_else(|| cli.config_str("volumesFormat"))
                .unwrap_or_default();
            Formatter::new(
                &format,
                "table {{.Driver}}\t{{.Name}}",
                m.flag("quiet").then_some("{{.Name}}"),
            )?
            .context("*formatter.volumeContext")
            .print(&headers, &rows(&list))?;
            Ok(0)
        }
        "volume.rm" => {
            let force = if m.flag("force") {
                "1".to_string()
            } else {
                String::new()
            };
            each(&m.args, |name| {
                let path = query(&format!("/volumes/{name}"), &[("force", force.clone())]);
                async move {
                    cli.client.delete(&path).await?;
                    println!("{name}");
                    Ok(())
                }
            })
            .await
        }
        _ => {
            let all = m.flag("all");
            let warning = if all {
                "WARNING! This will remove all local volumes not used by at least one container."
            } else {
                "WARNING! This will remove anonymous local volumes not used by at least one container."
            };
            if !m.flag("force") && !confirm(warning) {
                return Ok(0);
            }
            let mut filters = filters_json(&m.list("filter"))?;
            if all {
                filters = add_filter(&filters, "all", "true");
            }
            let r = cli
                .client
                .post_json(&query("/volumes/prune", &[("filters", filters)]), None)
                .await?;
            print_prune_volumes(&r);
            Ok(0)
        }
    }
}

pub fn print_prune_volumes(r: &Value) {
    let names = r["VolumesDeleted"].as_array().cloned().unwrap_or_default();
    if !names.is_empty() {
        println!("Deleted Volumes:");
        for n in names {
            println!("{}", n.as_str().unwrap_or_default());
        }
        println!();
    }
    println!("{}", reclaimed(r["SpaceReclaimed"].as_u64().unwrap_or(0)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_table() {
        let list = vec![
            json!({"Name": "data", "Driver": "local", "Mountpoint": "/x", "Scope": "local", "Labels": {"a": "b"}}),
        ];
        let headers = json!({"Name": "VOLUME NAME", "Driver": "DRIVER"});
        let out = Formatter::new("", "table {{.Driver}}\t{{.Name}}", None)
            .unwrap()
            .render(&headers, &rows(&list))
            .unwrap();
        assert_eq!(out, "DRIVER    VOLUME NAME\nlocal     data\n");
    }
}
