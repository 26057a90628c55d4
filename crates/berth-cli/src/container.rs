//! Container lifecycle verbs: stop, kill, restart, wait, rm, rename, pause,
//! unpause, top, port, diff, prune, commit.

use anyhow::Result;
use serde_json::Value;

use crate::client::{query, read_json};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::table::tabwrite;
use crate::util::{confirm, each, filters_json, reclaimed};
use crate::Cli;

pub fn spec(canon: &str) -> Option<Spec> {
    let stop_flags = || {
        vec![
            v(
                "signal",
                Some('s'),
                "string",
                "Signal to send to the container",
            ),
            v(
                "timeout",
                Some('t'),
                "int",
                "Seconds to wait before killing the container",
            )
            .alias(&["time"]),
        ]
    };
    Some(match canon {
        "container.stop" => Spec::new(
            "stop",
            "stop [OPTIONS] CONTAINER [CONTAINER...]",
            "Stop one or more running containers",
            stop_flags(),
        )
        .args(Args::Min(1)),
        "container.restart" => Spec::new(
            "restart",
            "restart [OPTIONS] CONTAINER [CONTAINER...]",
            "Restart one or more containers",
            stop_flags(),
        )
        .args(Args::Min(1)),
        "container.kill" => Spec::new(
            "kill",
            "kill [OPTIONS] CONTAINER [CONTAINER...]",
            "Kill one or more running containers",
            vec![v(
                "signal",
                Some('s'),
                "string",
                "Signal to send to the container",
            )],
        )
        .args(Args::Min(1)),
        "container.wait" => Spec::new(
            "wait",
            "wait CONTAINER [CONTAINER...]",
            "Block until one or more containers stop, then print their exit codes",
            vec![],
        )
        .args(Args::Min(1)),
        "container.rm" => Spec::new(
            "rm",
            "rm [OPTIONS] CONTAINER [CONTAINER...]",
            "Remove one or more containers",
            vec![
                b(
                    "force",
                    Some('f'),
                    "Force the removal of a running container (uses SIGKILL)",
                ),
                b("link", Some('l'), "Remove the specified link"),
                b(
                    "volumes",
                    Some('v'),
                    "Remove anonymous volumes associated with the container",
                ),
            ],
        )
        .args(Args::Min(1)),
        "container.rename" => Spec::new(
            "rename",
            "rename CONTAINER NEW_NAME",
            "Rename a container",
            vec![],
        )
        .args(Args::Exact(2)),
        "container.pause" => Spec::new(
            "pause",
            "pause CONTAINER [CONTAINER...]",
            "Pause all processes within one or more containers",
            vec![],
        )
        .args(Args::Min(1)),
        "container.unpause" => Spec::new(
            "unpause",
            "unpause CONTAINER [CONTAINER...]",
            "Unpause all processes within one or more containers",
            vec![],
        )
        .args(Args::Min(1)),
        "container.top" => Spec::new(
            "top",
            "top CONTAINER [ps OPTIONS]",
            "Display the running processes of a container",
            vec![],
        )
        .stop()
        .args(Args::Min(1)),
        "container.port" => Spec::new(
            "port",
            "port CONTAINER [PRIVATE_PORT[/PROTO]]",
            "List port mappings or a specific mapping for the container",
            vec![],
        )
        .args(Args::Range(1, 2)),
        "container.diff" => Spec::new(
            "diff",
            "diff CONTAINER",
            "Inspect changes to files or directories on a container's filesystem",
            vec![],
        )
        .args(Args::Exact(1)),
        "container.prune" => Spec::new(
            "container prune",
            "container prune [OPTIONS]",
            "Remove all stopped containers",
            vec![
                l(
                    "filter",
                    None,
                    "filter",
                    "Provide filter values (e.g. \"until=<timestamp>\")",
                ),
                b("force", Some('f'), "Do not prompt for confirmation"),
            ],
        )
        .args(Args::None),
        "container.commit" => Spec::new(
            "commit",
            "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
            "Create a new image from a container's changes",
            vec![
                v(
                    "author",
                    Some('a'),
                    "string",
                    "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")",
                ),
                l(
                    "change",
                    Some('c'),
                    "list",
                    "Apply Dockerfile instruction to the created image",
                ),
                v("message", Some('m'), "string", "Commit message"),
                b("pause", Some('p'), "Pause container during commit").def("true"),
            ],
        )
        .args(Args::Range(1, 2)),
        _ => return None,
    })
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    let simple = |verb: &'static str, params: Vec<(&'static str, String)>| {
        each(&m.args, move |name| {
            let path = query(&format!("/containers/{name}/{verb}"), &params);
            async move {
                cli.client.post(&path, None).await?;
                println!("{name}");
                Ok(())
            }
        })
    };
    match canon {
        "container.stop" | "container.restart" => {
            let verb = if canon == "container.stop" {
                "stop"
            } else {
                "restart"
            };
            let t = m.int("timeout")?.map(|t| t.to_string()).unwrap_or_default();
            simple(verb, vec![("signal", m.str("signal")), ("t", t)]).await
        }
        "container.kill" => simple("kill", vec![("signal", m.str("signal"))]).await,
        "container.pause" => simple("pause", vec![]).await,
        "container.unpause" => simple("unpause", vec![]).await,
        "container.wait" => {
            each(&m.args, |name| async move {
                let v = read_json(
                    cli.client
                        .post(&format!("/containers/{name}/wait"), None)
                        .await?,
                )
                .await?;
                println!("{}", v["StatusCode"].as_i64().unwrap_or(0));
                Ok(())
            })
            .await
        }
        "container.rm" => {
            let flag = |k: &str| {
                if m.flag(k) {
                    "1".to_string()
                } else {
                    String::new()
                }
            };
            let params = vec![
                ("force", flag("force")),
                ("v", flag("volumes")),
                ("link", flag("link")),
            ];
            each(&m.args, |name| {
                let path = query(&format!("/containers/{name}"), &params);
                async move {
                    if name.is_empty() {
                        anyhow::bail!("Error response from daemon: invalid container name or ID: value is empty");
                    }
                    cli.client.delete(&path).await?;
                    println!("{name}");
                    Ok(())
                }
            })
            .await
        }
        "container.rename" => {
            let new = &m.args[1];
            if new.trim().is_empty() {
                anyhow::bail!("Error: Neither old nor new names may be empty");
            }
            if let Err(e) = cli
                .client
                .post(
                    &query(
                        &format!("/containers/{}/rename", m.args[0]),
                        &[("name", new.clone())],
                    ),
                    None,
                )
                .await
            {
                eprintln!("{e}");
                anyhow::bail!("Error: failed to rename container named {}", m.args[0]);
            }
            Ok(0)
        }
        "container.top" => top(cli, &m).await,
        "container.port" => port(cli, &m).await,
        "container.diff" => {
            let v = cli
                .client
                .get_json(&format!("/containers/{}/changes", m.args[0]))
                .await?;
            for c in v.as_array().into_iter().flatten() {
                let kind = match c["Kind"].as_i64() {
                    Some(1) => "A",
                    Some(2) => "D",
                    _ => "C",
                };
                println!("{kind} {}", c["Path"].as_str().unwrap_or_default());
            }
            Ok(0)
        }
        "container.prune" => {
            if !m.flag("force") && !confirm("WARNING! This will remove all stopped containers.") {
                return Ok(0);
            }
            let r = cli
                .client
                .post_json(
                    &query(
                        "/containers/prune",
                        &[("filters", filters_json(&m.list("filter"))?)],
                    ),
                    None,
                )
                .await?;
            print_prune_containers(&r);
            Ok(0)
        }
        _ => commit(cli, &m).await,
    }
}

pub fn print_prune_containers(r: &Value) {
    let ids = r["ContainersDeleted"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for id in ids {
            println!("{}", id.as_str().unwrap_or_default());
        }
        println!();
    }
    println!("{}", reclaimed(r["SpaceReclaimed"].as_u64().unwrap_or(0)));
}

async fn top(cli: &Cli, m: &Matches) -> Result<i32> {
    let args = m.args[1..].join(" ");
    let v = cli
        .client
        .get_json(&query(
            &format!("/containers/{}/top", m.args[0]),
            &[("ps_args", args)],
        ))
        .await?;
    let mut text = String::new();
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    text.push_str(&titles.join("\t"));
    text.push('\n');
    for p in v["Processes"].as_array().into_iter().flatten() {
        let cells: Vec<&str> = p
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    print!("{}", tabwrite(&text, 20, 3));
    Ok(0)
}

/// Go's net.JoinHostPort of a binding's HostIp and HostPort.
fn host_port(b: &Value) -> String {
    let ip = b["HostIp"].as_str().unwrap_or_default();
    let port = b["HostPort"].as_str().unwrap_or_default();
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// docker's runPort: lines sorted with NaturalLess; a port must parse as a uint16.
async fn port(cli: &Cli, m: &Matches) -> Result<i32> {
    let v = cli
        .client
        .get_json(&format!("/containers/{}/json", m.args[0]))
        .await?;
    let ports = v["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    if let Some(want) = m.args.get(1) {
        let (p, proto) = want.split_once('/').unwrap_or((want, ""));
        let proto = if proto.is_empty() { "tcp" } else { proto };
        if !p.bytes().all(|c| c.is_ascii_digit()) || p.is_empty() {
            anyhow::bail!(
                "Error: invalid port ({p}): strconv.ParseUint: parsing {p:?}: invalid syntax"
            );
        }
        if p.parse::<u16>().is_err() {
            anyhow::bail!(
                "Error: invalid port ({p}): strconv.ParseUint: parsing {p:?}: value out of range"
            );
        }
        let Some(list) = ports.get(&format!("{p}/{proto}")).and_then(Value::as_array) else {
            anyhow::bail!("Error: No public port '{want}' published for {}", m.args[0]);
        };
        out.extend(list.iter().map(host_port));
    } else {
        for (k, list) in &ports {
            for b in list.as_array().into_iter().flatten() {
                out.push(format!("{k} -> {}", host_port(b)));
            }
        }
    }
    out.sort_by(|a, b| crate::network::natural_cmp(a, b));
    if !out.is_empty() {
        println!("{}", out.join("\n"));
    }
    Ok(0)
}

async fn commit(cli: &Cli, m: &Matches) -> Result<i32> {
    let (repo, tag) = match m.args.get(1) {
        Some(r) => {
            let (repo, tag, _) = crate::pull::normalize_ref(r);
            let explicit = r.rsplit('/').next().is_some_and(|last| last.contains(':'));
            (repo, if explicit { tag } else { String::new() })
        }
        None => (String::new(), String::new()),
    };
    let mut params: Vec<(&str, String)> = vec![
        ("container", m.args[0].clone()),
        ("repo", repo),
        ("tag", tag),
        ("comment", m.str("message")),
        ("author", m.str("author")),
        (
            "pause",
            if m.value("pause") == Some("false") {
                "0".into()
            } else {
                "1".into()
            },
        ),
    ];
    for c in m.list("change") {
        params.push(("changes", c));
    }
    let v = cli
        .client
        .post_json(&query("/commit", &params), None)
        .await?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(0)
}
