//! `stats`: a live table of containers' resource usage, computed as docker's CLI does
//! from the daemon's stats stream (CPU % from the sample and its `precpu_stats`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};

use crate::client::{check, for_each_line, query};
use crate::flags::{b, v, Args, Matches, Spec};
use crate::table::{short_id, Formatter};
use crate::units::{bytes_size, human_size};
use crate::Cli;

const DEFAULT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

pub fn spec(canon: &str) -> Option<Spec> {
    (canon == "container.stats").then(|| {
        Spec::new(
            "stats",
            "stats [OPTIONS] [CONTAINER...]",
            "Display a live stream of container(s) resource usage statistics",
            vec![
                b("all", Some('a'), "Show all containers (default shows just running)"),
                v("format", None, "string", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"),
                b("no-stream", None, "Disable streaming stats and only pull the first result"),
                b("no-trunc", None, "Do not truncate output"),
            ],
        )
        .args(Args::Min(0))
    })
}

fn headers() -> Value {
    json!({
        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

/// One container's figures, as docker's `StatsEntry`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub container: String,
    pub name: String,
    pub id: String,
    pub cpu: f64,
    pub mem: f64,
    pub mem_limit: f64,
    pub mem_perc: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub blk_read: f64,
    pub blk_write: f64,
    pub pids: u64,
    /// No stats could be read (docker shows `--`).
    pub invalid: bool,
}

fn u(v: &Value) -> f64 {
    v.as_u64().unwrap_or(0) as f64
}

/// docker's calculateCPUPercentUnix.
pub fn cpu_percent(s: &Value) -> f64 {
    let cpu = &s["cpu_stats"];
    let pre = &s["precpu_stats"];
    let cpu_delta = u(&cpu["cpu_usage"]["total_usage"]) - u(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = u(&cpu["system_cpu_usage"]) - u(&pre["system_cpu_usage"]);
    let mut online = u(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"]
            .as_array()
            .map_or(0, Vec::len) as f64;
    }
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    }
}

/// docker's calculateMemUsageUnixNoCache: usage without the inactive page cache.
pub fn mem_usage(m: &Value) -> f64 {
    let usage = u(&m["usage"]);
    for k in ["total_inactive_file", "inactive_file"] {
        if let Some(v) = m["stats"][k].as_u64() {
            if (v as f64) < usage {
                return usage - v as f64;
            }
        }
    }
    usage
}

pub fn entry(container: &str, s: &Value) -> Entry {
    let mem = mem_usage(&s["memory_stats"]);
    let mem_limit = u(&s["memory_stats"]["limit"]);
    let (mut blk_read, mut blk_write) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => blk_read += u(&e["value"]),
            Some("write") => blk_write += u(&e["value"]),
            _ => {}
        }
    }
    let (mut net_rx, mut net_tx) = (0.0, 0.0);
    for n in s["networks"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        net_rx += u(&n["rx_bytes"]);
        net_tx += u(&n["tx_bytes"]);
    }
    Entry {
        container: container.to_string(),
        name: s["name"].as_str().unwrap_or("").to_string(),
        id: s["id"].as_str().unwrap_or("").to_string(),
        cpu: cpu_percent(s),
        mem,
        mem_limit,
        mem_perc: if mem_limit > 0.0 {
            mem / mem_limit * 100.0
        } else {
            0.0
        },
        net_rx,
        net_tx,
        blk_read,
        blk_write,
        pids: s["pids_stats"]["current"].as_u64().unwrap_or(0),
        invalid: false,
    }
}

/// A row for the template, as docker's statsContext renders each field.
pub fn row(e: &Entry, trunc: bool) -> Value {
    let id = if trunc { short_id(&e.id) } else { e.id.clone() };
    let name = e.name.strip_prefix('/').unwrap_or(&e.name).to_string();
    if e.invalid {
        let dash = "--";
        return json!({
            "Container": e.container, "ID": id, "Name": dash, "CPUPerc": dash,
            "MemUsage": "-- / --", "MemPerc": dash, "NetIO": dash, "BlockIO": dash, "PIDs": dash,
        });
    }
    json!({
        "Container": e.container,
        "ID": id,
        "Name": name,
        "CPUPerc": format!("{:.2}%", e.cpu),
        "MemUsage": format!("{} / {}", bytes_size(e.mem), bytes_size(e.mem_limit)),
        "MemPerc": format!("{:.2}%", e.mem_perc),
        "NetIO": format!("{} / {}", human_size(e.net_rx), human_size(e.net_tx)),
        "BlockIO": format!("{} / {}", human_size(e.blk_read), human_size(e.blk_write)),
        "PIDs": e.pids.to_string(),
    })
}

type Table = Arc<Mutex<Vec<(String, Option<Entry>)>>>;

/// Follows one container's stats into the table until the stream ends.
fn follow(cli: &Cli, container: String, stream: bool, table: Table) -> tokio::task::JoinHandle<()> {
    let client = cli.client.clone();
    tokio::spawn(async move {
        let path = query(
            &format!("/containers/{container}/stats"),
            &[("stream", if stream { "1" } else { "0" }.into())],
        );
        let set = |e: Entry| {
            let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(slot) = t.iter_mut().find(|(c, _)| *c == container) {
                slot.1 = Some(e);
            }
        };
        let result = async {
            let resp = check(client.get(&path).await?).await?;
            for_each_line(resp, |line| {
                if let Ok(s) = serde_json::from_slice::<Value>(line) {
                    set(entry(&container, &s));
                }
                Ok(())
            })
            .await
        }
        .await;
        if result.is_err() {
            set(Entry {
                container: container.clone(),
                invalid: true,
                ..Default::default()
            });
        }
    })
}

async fn list(cli: &Cli, all: bool) -> Result<Vec<String>> {
    let path = query(
        "/containers/json",
        &[("all", if all { "1" } else { "" }.into())],
    );
    let list = cli.client.get_json(&path).await?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Id"].as_str().map(short_id))
        .collect())
}

pub async fn run(cli: &Cli, m: Matches) -> Result<i32> {
    let stream = !m.flag("no-stream");
    let trunc = !m.flag("no-trunc");
    let named = !m.args.is_empty();
    let mut format = m.str("format");
    if format.is_empty() {
        format = cli.config["statsFormat"].as_str().unwrap_or("").to_string();
    }
    let formatter = Formatter::new(&format, DEFAULT, None)?;
    let names = if named {
        let mut errs = Vec::new();
        for n in &m.args {
            if let Err(e) = cli.client.get_json(&format!("/containers/{n}/json")).await {
                errs.push(e.to_string());
            }
        }
        if !errs.is_empty() {
            return Err(crate::status(1, errs.join("\n")));
        }
        m.args.clone()
    } else {
        list(cli, m.flag("all")).await?
    };
    let table: Table = Arc::new(Mutex::new(Vec::new()));
    let mut tasks: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let add = |name: &String, tasks: &mut HashMap<String, _>| {
        table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.clone(), None));
        tasks.insert(
            name.clone(),
            follow(cli, name.clone(), stream, table.clone()),
        );
    };
    for n in &names {
        add(n, &mut tasks);
    }
    let rows = |t: &Table| -> Vec<Value> {
        t.lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(c, e)| {
                let e = e.clone().unwrap_or_else(|| Entry {
                    container: c.clone(),
                    id: c.clone(),
                    ..Default::default()
                });
                row(&e, trunc)
            })
            .collect()
    };
    if !stream {
        for (_, t) in tasks.drain() {
            let _ = t.await;
        }
        formatter.print(&headers(), &rows(&table))?;
        return Ok(0);
    }
    let tty = std::io::stdout().is_terminal();
    if tty {
        print!("\x1b[2J");
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut n = 0u64;
    loop {
        tick.tick().await;
        n += 1;
        // Without names the set follows the daemon's list: new containers come, removed go.
        if !named && n % 2 == 0 {
            if let Ok(current) = list(cli, m.flag("all")).await {
                for c in &current {
                    if !tasks.contains_key(c) {
                        add(c, &mut tasks);
                    }
                }
                table
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|(c, _)| current.contains(c));
                tasks.retain(|c, t| {
                    let keep = current.contains(c);
                    if !keep {
                        t.abort();
                    }
                    keep
                });
            }
        }
        let text = formatter.render(&headers(), &rows(&table))?;
        let mut out = String::new();
        if tty {
            out.push_str("\x1b[H");
            for line in text.lines() {
                out.push_str(line);
                out.push_str("\x1b[K\n");
            }
            out.push_str("\x1b[J");
        } else {
            out = text;
        }
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(out.as_bytes())
            .and_then(|_| stdout.flush())
            .is_err()
        {
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_figures() {
        let s = json!({
            "id": "4f2d0c8b1a2e0000", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 10485760, "limit": 104857600, "stats": {"total_inactive_file": 5242880}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "Read", "value": 2000},
                {"major": 8, "minor": 0, "op": "Write", "value": 1000},
                {"major": 8, "minor": 0, "op": "Total", "value": 3000}]},
            "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 700}},
            "pids_stats": {"current": 3},
        });
        let e = entry("web", &s);
        assert!((e.cpu - 40.0).abs() < 1e-9);
        let r = row(&e, true);
        assert_eq!(r["ID"], "4f2d0c8b1a2e");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["CPUPerc"], "40.00%");
        assert_eq!(r["MemUsage"], "5MiB / 100MiB");
        assert_eq!(r["MemPerc"], "5.00%");
        assert_eq!(r["NetIO"], "1.5kB / 700B");
        assert_eq!(r["BlockIO"], "2kB / 1kB");
        assert_eq!(r["PIDs"], "3");
        let f = Formatter::new("", DEFAULT, None).unwrap();
        let out = f.render(&headers(), &[r]).unwrap();
        assert_eq!(
            out.lines().next().unwrap(),
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O   PIDS"
        );
    }

    #[test]
    fn stopped_is_zero() {
        let e = entry("x", &json!({"name": "/x", "id": "abc", "memory_stats": {}}));
        let r = row(&e, true);
        assert_eq!(r["CPUPerc"], "0.00%");
        assert_eq!(r["MemUsage"], "0B / 0B");
        assert_eq!(r["PIDs"], "0");
    }
}
