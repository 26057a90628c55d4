//! `update`: change a container's resource limits and restart policy.

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use crate::flags::{v, Args, Matches, Spec};
use crate::optparse::parse_restart;
use crate::units::{nano_cpus, ram_in_bytes};
use crate::util::each;
use crate::Cli;

pub fn spec(canon: &str) -> Option<Spec> {
    (canon == "container.update").then(|| {
        Spec::new(
            "update",
            "update [OPTIONS] CONTAINER [CONTAINER...]",
            "Update configuration of one or more containers",
            vec![
                v(
                    "blkio-weight",
                    None,
                    "uint16",
                    "Block IO (relative weight), between 10 and 1000, or 0 to disable",
                )
                .def("0"),
                v(
                    "cpu-period",
                    None,
                    "int",
                    "Limit CPU CFS (Completely Fair Scheduler) period",
                ),
                v(
                    "cpu-quota",
                    None,
                    "int",
                    "Limit CPU CFS (Completely Fair Scheduler) quota",
                ),
                v(
                    "cpu-rt-period",
                    None,
                    "int",
                    "Limit the CPU real-time period in microseconds",
                ),
                v(
                    "cpu-rt-runtime",
                    None,
                    "int",
                    "Limit the CPU real-time runtime in microseconds",
                ),
                v(
                    "cpu-shares",
                    Some('c'),
                    "int",
                    "CPU shares (relative weight)",
                ),
                v("cpus", None, "decimal", "Number of CPUs"),
                v(
                    "cpuset-cpus",
                    None,
                    "string",
                    "CPUs in which to allow execution (0-3, 0,1)",
                ),
                v(
                    "cpuset-mems",
                    None,
                    "string",
                    "MEMs in which to allow execution (0-3, 0,1)",
                ),
                v("memory", Some('m'), "bytes", "Memory limit"),
                v("memory-reservation", None, "bytes", "Memory soft limit"),
                v(
                    "memory-swap",
                    None,
                    "bytes",
                    "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
                ),
                v(
                    "pids-limit",
                    None,
                    "int",
                    "Tune container pids limit (set -1 for unlimited)",
                ),
                v(
                    "restart",
                    None,
                    "string",
                    "Restart policy to apply when a container exits",
                ),
            ],
        )
        .args(Args::Min(1))
    })
}

fn bytes(m: &Matches, long: &str, short: Option<char>) -> Result<i64> {
    let Some(s) = m.value(long) else {
        return Ok(0);
    };
    if long == "memory-swap" && s == "-1" {
        return Ok(-1);
    }
    let name = match short {
        Some(c) => format!("-{c}, --{long}"),
        None => format!("--{long}"),
    };
    ram_in_bytes(s).map_err(|e| anyhow!("invalid argument {s:?} for \"{name}\" flag: {e}"))
}

/// The request body, as docker's CLI builds `container.UpdateConfig`.
pub fn body(m: &Matches) -> Result<Value> {
    let int = |k: &str| -> Result<i64> { Ok(m.int(k)?.unwrap_or(0)) };
    let nano = match m.value("cpus") {
        Some(s) => {
            nano_cpus(s).map_err(|e| anyhow!("invalid argument {s:?} for \"--cpus\" flag: {e}"))?
        }
        None => 0,
    };
    let restart = match m.value("restart") {
        Some(r) => parse_restart(r).map_err(|e| anyhow!(e))?,
        None => json!({"Name": "", "MaximumRetryCount": 0}),
    };
    let mut b = json!({
        "BlkioWeight": int("blkio-weight")?,
        "CpuPeriod": int("cpu-period")?,
        "CpuQuota": int("cpu-quota")?,
        "CpuRealtimePeriod": int("cpu-rt-period")?,
        "CpuRealtimeRuntime": int("cpu-rt-runtime")?,
        "CpuShares": int("cpu-shares")?,
        "NanoCpus": nano,
        "CpusetCpus": m.str("cpuset-cpus"),
        "CpusetMems": m.str("cpuset-mems"),
        "Memory": bytes(m, "memory", Some('m'))?,
        "MemoryReservation": bytes(m, "memory-reservation", None)?,
        "MemorySwap": bytes(m, "memory-swap", None)?,
        "RestartPolicy": restart,
    });
    if let Some(p) = m.int("pids-limit")? {
        b["PidsLimit"] = json!(p);
    }
    Ok(b)
}

const FLAGS: &[&str] = &[
    "blkio-weight",
    "cpu-period",
    "cpu-quota",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpu-shares",
    "cpus",
    "cpuset-cpus",
    "cpuset-mems",
    "memory",
    "memory-reservation",
    "memory-swap",
    "pids-limit",
    "restart",
];

pub async fn run(cli: &Cli, m: Matches) -> Result<i32> {
    if !FLAGS.iter().any(|f| m.has(f)) {
        return Err(anyhow!(
            "you must provide one or more flags when using this command"
        ));
    }
    let body = body(&m)?;
    each(&m.args, |name| {
        let body = body.clone();
        async move {
            let resp = cli
                .client
                .post_json(&format!("/containers/{name}/update"), Some(&body))
                .await?;
            for w in resp["Warnings"].as_array().into_iter().flatten() {
                if let Some(w) = w.as_str() {
                    eprintln!("{w}");
                }
            }
            println!("{name}");
            Ok(())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_body() {
        let s = spec("container.update").unwrap();
        let argv: Vec<String> = [
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "10",
            "c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = s.parse(&argv).unwrap();
        let b = body(&m).unwrap();
        assert_eq!(b["Memory"], 64 * 1024 * 1024);
        assert_eq!(b["NanoCpus"], 500_000_000);
        assert_eq!(b["PidsLimit"], 10);
        assert_eq!(b["RestartPolicy"]["Name"], "");
    }
}
