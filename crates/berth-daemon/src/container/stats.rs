//! `GET /containers/{id}/stats`: docker's stats JSON from the container's cgroup (v1 or
//! v2), `/proc/stat` and the network namespace's `/proc/<pid>/net/dev`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::cgroup::{Cgroup, Version};
use super::record::{Record, ZERO_TIME};
use super::Container;
use crate::Daemon;

const NANOS: u64 = 1_000_000_000;
/// How far apart the two samples of a non-streamed stats answer are (dockerd: 1 s or more).
const NO_STREAM_WINDOW: Duration = Duration::from_millis(250);

/// Clock ticks per second of `cpuacct.stat` and `/proc/stat`.
fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        n if n > 0 => n as u64,
        _ => 100,
    }
}

pub(crate) fn online_cpus() -> u64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as u64
}

/// The host's CPU time in ns, as docker's `system_cpu_usage` (user..softirq of `/proc/stat`).
fn system_cpu_usage() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks * NANOS / clock_ticks()
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// `cpu_stats` / `precpu_stats` of a container that has none.
fn empty_cpu() -> Value {
    json!({
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

/// What docker answers for a container that is not running: zeros, its name and id.
fn empty(c: &Container) -> Value {
    json!({
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": blkio_null(),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": empty_cpu(),
        "precpu_stats": empty_cpu(),
        "memory_stats": {},
        "name": format!("/{}", c.name()),
        "id": c.id,
    })
}

fn blkio_null() -> Map<String, Value> {
    [
        "io_service_bytes_recursive",
        "io_serviced_recursive",
        "io_queue_recursive",
        "io_service_time_recursive",
        "io_wait_time_recursive",
        "io_merged_recursive",
        "io_time_recursive",
        "sectors_recursive",
    ]
    .into_iter()
    .map(|k| (k.to_string(), Value::Null))
    .collect()
}

fn cpu_stats(cg: &Cgroup) -> Value {
    let system = system_cpu_usage();
    let online = online_cpus();
    match cg.version {
        Version::V1 => {
            let ticks = clock_ticks();
            let stat = cg.read_keyed("cpuacct", "cpuacct.stat");
            let percpu: Vec<u64> = cg
                .read("cpuacct", "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            let thr = cg.read_keyed("cpu", "cpu.stat");
            json!({
                "cpu_usage": {
                    "total_usage": cg.read_u64("cpuacct", "cpuacct.usage").unwrap_or(0),
                    "percpu_usage": percpu,
                    "usage_in_kernelmode": stat.get("system").copied().unwrap_or(0) * NANOS / ticks,
                    "usage_in_usermode": stat.get("user").copied().unwrap_or(0) * NANOS / ticks,
                },
                "system_cpu_usage": system,
                "online_cpus": online,
                "throttling_data": {
                    "periods": thr.get("nr_periods").copied().unwrap_or(0),
                    "throttled_periods": thr.get("nr_throttled").copied().unwrap_or(0),
                    "throttled_time": thr.get("throttled_time").copied().unwrap_or(0),
                },
            })
        }
        Version::V2 => {
            let s = cg.read_keyed("cpu", "cpu.stat");
            let get = |k: &str| s.get(k).copied().unwrap_or(0);
            json!({
                "cpu_usage": {
                    "total_usage": get("usage_usec") * 1000,
                    "usage_in_kernelmode": get("system_usec") * 1000,
                    "usage_in_usermode": get("user_usec") * 1000,
                },
                "system_cpu_usage": system,
                "online_cpus": online,
                "throttling_data": {
                    "periods": get("nr_periods"),
                    "throttled_periods": get("nr_throttled"),
                    "throttled_time": get("throttled_usec") * 1000,
                },
            })
        }
    }
}

/// A limit file's value, or the host's memory when unlimited (as dockerd reports it).
fn limit_or_host(v: Option<String>) -> u64 {
    let host = host_memory();
    match v.and_then(|s| s.trim().parse::<u64>().ok()) {
        Some(l) if host == 0 || l < host => l,
        _ => host,
    }
}

fn memory_stats(cg: &Cgroup) -> Value {
    match cg.version {
        Version::V1 => json!({
            "usage": cg.read_u64("memory", "memory.usage_in_bytes").unwrap_or(0),
            "max_usage": cg.read_u64("memory", "memory.max_usage_in_bytes").unwrap_or(0),
            "failcnt": cg.read_u64("memory", "memory.failcnt").unwrap_or(0),
            "stats": cg.read_keyed("memory", "memory.stat"),
            "limit": limit_or_host(cg.read("memory", "memory.limit_in_bytes")),
        }),
        Version::V2 => json!({
            "usage": cg.read_u64("memory", "memory.current").unwrap_or(0),
            "stats": cg.read_keyed("memory", "memory.stat"),
            "limit": limit_or_host(cg.read("memory", "memory.max")),
        }),
    }
}

fn pids_stats(cg: &Cgroup) -> Value {
    let mut m = Map::new();
    if let Some(n) = cg.read_u64("pids", "pids.current") {
        m.insert("current".into(), json!(n));
    }
    if let Some(n) = cg.read_u64("pids", "pids.max") {
        m.insert("limit".into(), json!(n));
    }
    Value::Object(m)
}

/// v1 `blkio.*` lines: `8:0 Read 4096` (a last `Total N` line has no device).
fn blkio_v1(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (maj, min) = f.first()?.split_once(':')?;
            Some(json!({
                "major": maj.parse::<u64>().ok()?,
                "minor": min.parse::<u64>().ok()?,
                "op": f.get(1)?,
                "value": f.get(2)?.parse::<u64>().ok()?,
            }))
        })
        .collect()
}

/// v2 `io.stat` lines: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`, as docker lists them.
fn blkio_v2(text: &str, read: &str, write: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let op = if k == read {
                "read"
            } else if k == write {
                "write"
            } else {
                continue;
            };
            if let Ok(v) = v.parse::<u64>() {
                out.push(json!({"major": maj, "minor": min, "op": op, "value": v}));
            }
        }
    }
    out
}

fn blkio_stats(cg: &Cgroup) -> Value {
    let mut m = blkio_null();
    match cg.version {
        Version::V1 => {
            // CFQ's recursive files are empty under other schedulers; the throttle
            // policy's counters are what dockerd falls back to.
            let pick = |names: &[&str]| {
                names
                    .iter()
                    .map(|n| blkio_v1(&cg.read("blkio", n).unwrap_or_default()))
                    .find(|v| !v.is_empty())
                    .unwrap_or_default()
            };
            m.insert(
                "io_service_bytes_recursive".into(),
                json!(pick(&[
                    "blkio.io_service_bytes_recursive",
                    "blkio.throttle.io_service_bytes_recursive",
                    "blkio.throttle.io_service_bytes",
                ])),
            );
            m.insert(
                "io_serviced_recursive".into(),
                json!(pick(&[
                    "blkio.io_serviced_recursive",
                    "blkio.throttle.io_serviced_recursive",
                    "blkio.throttle.io_serviced",
                ])),
            );
        }
        Version::V2 => {
            let text = cg.read("io", "io.stat").unwrap_or_default();
            m.insert(
                "io_service_bytes_recursive".into(),
                json!(blkio_v2(&text, "rbytes", "wbytes")),
            );
            m.insert(
                "io_serviced_recursive".into(),
                json!(blkio_v2(&text, "rios", "wios")),
            );
        }
    }
    Value::Object(m)
}

/// `/proc/<pid>/net/dev` of the container's init: its network namespace's interfaces
/// (without `lo`, as docker).
fn networks(pid: i64) -> Option<Value> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut out = Map::new();
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if f.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            json!({
                "rx_bytes": f[0], "rx_packets": f[1], "rx_errors": f[2], "rx_dropped": f[3],
                "tx_bytes": f[8], "tx_packets": f[9], "tx_errors": f[10], "tx_dropped": f[11],
            }),
        );
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

impl Daemon {
    /// The cgroup parent of a container: its `CgroupParent`, else the daemon's.
    pub(crate) fn cgroup_parent_of(&self, r: &Record) -> String {
        match r.host_config["CgroupParent"].as_str() {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => self.config.cgroup_parent.clone(),
        }
    }

    pub(crate) fn cgroup(&self, c: &Container) -> Cgroup {
        Cgroup::new(&self.cgroup_parent_of(&c.record()), &c.id)
    }

    /// One sample, without `precpu_stats`/`preread` (filled from the previous one).
    fn stats_sample(&self, c: &Container) -> Value {
        let r = c.record();
        if !r.state.running {
            return empty(c);
        }
        let cg = self.cgroup(c);
        let mut v = json!({
            "read": super::now(),
            "preread": ZERO_TIME,
            "pids_stats": pids_stats(&cg),
            "blkio_stats": blkio_stats(&cg),
            "num_procs": 0,
            "storage_stats": {},
            "cpu_stats": cpu_stats(&cg),
            "precpu_stats": empty_cpu(),
            "memory_stats": memory_stats(&cg),
            "name": format!("/{}", r.name),
            "id": c.id,
        });
        if let Some(n) = networks(r.state.pid) {
            v["networks"] = n;
        }
        v
    }

    /// Writes stats JSON lines to `tx`: one per second while `stream`, else one (after a
    /// second sample [`NO_STREAM_WINDOW`] later unless `one_shot`, so that CPU % can be
    /// computed).
    pub fn stream_stats(
        self: &Arc<Self>,
        c: Arc<Container>,
        stream: bool,
        one_shot: bool,
        tx: mpsc::Sender<Bytes>,
    ) {
        let d = self.clone();
        tokio::spawn(async move {
            let send = |v: &Value| {
                let mut b = serde_json::to_vec(v).unwrap_or_default();
                b.push(b'\n');
                Bytes::from(b)
            };
            if !stream && (one_shot || !c.is_running()) {
                let _ = tx.send(send(&d.stats_sample(&c))).await;
                return;
            }
            let mut prev: Option<Value> = None;
            // A stream samples every second, as dockerd does. A single answer needs two
            // samples for CPU %: a quarter of a second apart is enough for the ratio of the
            // container's CPU time to the host's, and keeps `stats --no-stream` quick.
            let period = if stream {
                Duration::from_secs(1)
            } else {
                NO_STREAM_WINDOW
            };
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let mut v = d.stats_sample(&c);
                if let Some(p) = &prev {
                    if v["read"] != ZERO_TIME {
                        v["preread"] = p["read"].clone();
                        v["precpu_stats"] = p["cpu_stats"].clone();
                    }
                }
                if stream || prev.is_some() {
                    if tx.send(send(&v)).await.is_err() {
                        return;
                    }
                    if !stream {
                        return;
                    }
                }
                prev = Some(v);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_lines() {
        let v = blkio_v1("8:0 Read 4096\n8:0 Write 512\nTotal 4608\n");
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0],
            json!({"major": 8, "minor": 0, "op": "Read", "value": 4096})
        );
        let v = blkio_v2(
            "259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
            "rbytes",
            "wbytes",
        );
        assert_eq!(
            v[1],
            json!({"major": 259, "minor": 0, "op": "write", "value": 20})
        );
    }

    #[test]
    fn host_figures() {
        assert!(system_cpu_usage() > 0);
        assert!(online_cpus() >= 1);
        assert!(host_memory() > 0);
        assert_eq!(
            limit_or_host(Some("9223372036854771712\n".into())),
            host_memory()
        );
        assert_eq!(limit_or_host(Some("max\n".into())), host_memory());
        assert_eq!(limit_or_host(Some("33554432".into())), 33554432);
    }
}
