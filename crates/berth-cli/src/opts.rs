//! `run`/`create` flags and their translation into the POST /containers/create body.

use serde_json::{json, Map, Value};

use crate::flags::{b, l, v, Flag, Matches};
use crate::optparse::*;
use crate::units;

pub fn os_err(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Flags shared by `run` and `create`.
pub fn create_flags() -> Vec<Flag> {
    vec![
        l("add-host", None, "list", "Add a custom host-to-IP mapping (host:ip)"),
        l("attach", Some('a'), "list", "Attach to STDIN, STDOUT or STDERR"),
        v("blkio-weight", None, "uint16", "Block IO (relative weight), between 10 and 1000, or 0 to disable").def("0"),
        l("cap-add", None, "list", "Add Linux capabilities"),
        l("cap-drop", None, "list", "Drop Linux capabilities"),
        v("cgroupns", None, "string", "Cgroup namespace to use (host|private)"),
        v("cidfile", None, "string", "Write the container ID to the file"),
        v("cpu-period", None, "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
        v("cpu-quota", None, "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
        v("cpu-shares", Some('c'), "int", "CPU shares (relative weight)"),
        v("cpus", None, "decimal", "Number of CPUs"),
        v("cpuset-cpus", None, "string", "CPUs in which to allow execution (0-3, 0,1)"),
        v("cpuset-mems", None, "string", "MEMs in which to allow execution (0-3, 0,1)"),
        l("device", None, "list", "Add a host device to the container"),
        l("dns", None, "list", "Set custom DNS servers"),
        l("dns-option", None, "list", "Set DNS options"),
        l("dns-search", None, "list", "Set custom DNS search domains"),
        v("domainname", None, "string", "Container NIS domain name"),
        v("entrypoint", None, "string", "Overwrite the default ENTRYPOINT of the image"),
        l("env", Some('e'), "list", "Set environment variables"),
        l("env-file", None, "list", "Read in a file of environment variables"),
        l("expose", None, "list", "Expose a port or a range of ports"),
        l("group-add", None, "list", "Add additional groups to join"),
        v("health-cmd", None, "string", "Command to run to check health"),
        v("health-interval", None, "duration", "Time between running the check (ms|s|m|h) (default 0s)"),
        v("health-on-failure", None, "string", "Action when the container turns unhealthy (none|kill|restart|stop)").hide(),
        v("health-retries", None, "int", "Consecutive failures needed to report unhealthy"),
        v("health-start-interval", None, "duration", "Time between running the check during the start period (ms|s|m|h) (default 0s)"),
        v("health-start-period", None, "duration", "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)"),
        v("health-timeout", None, "duration", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
        v("hostname", Some('h'), "string", "Container host name"),
        b("init", None, "Run an init inside the container that forwards signals and reaps processes"),
        b("interactive", Some('i'), "Keep STDIN open even if not attached"),
        v("ip", None, "string", "IPv4 address (e.g., 172.30.100.104)"),
        v("ip6", None, "string", "IPv6 address (e.g., 2001:db8::33)"),
        v("ipc", None, "string", "IPC mode to use"),
        l("label", Some('l'), "list", "Set meta data on a container"),
        l("label-file", None, "list", "Read in a line delimited file of labels"),
        l("link", None, "list", "Add link to another container"),
        l("link-local-ip", None, "list", "Container IPv4/IPv6 link-local addresses"),
        v("log-driver", None, "string", "Logging driver for the container"),
        l("log-opt", None, "list", "Log driver options"),
        v("mac-address", None, "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
        v("memory", Some('m'), "bytes", "Memory limit"),
        v("memory-reservation", None, "bytes", "Memory soft limit"),
        v("memory-swap", None, "bytes", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
        l("mount", None, "mount", "Attach a filesystem mount to the container"),
        v("name", None, "string", "Assign a name to the container"),
        l("network", None, "network", "Connect a container to a network").alias(&["net"]),
        l("network-alias", None, "list", "Add network-scoped alias for the container").alias(&["net-alias"]),
        b("no-healthcheck", None, "Disable any container-specified HEALTHCHECK"),
        b("oom-kill-disable", None, "Disable OOM Killer"),
        v("oom-score-adj", None, "int", "Tune host's OOM preferences (-1000 to 1000)"),
        v("pid", None, "string", "PID namespace to use"),
        v("pids-limit", None, "int", "Tune container pids limit (set -1 for unlimited)"),
        v("platform", None, "string", "Set platform if server is multi-platform capable"),
        b("privileged", None, "Give extended privileges to this container"),
        l("publish", Some('p'), "list", "Publish a container's port(s) to the host"),
        b("publish-all", Some('P'), "Publish all exposed ports to random ports"),
        v("pull", None, "string", "Pull image before creating (\"always\", \"missing\", \"never\")").def("\"missing\""),
        b("quiet", Some('q'), "Suppress the pull output"),
        b("read-only", None, "Mount the container's root filesystem as read only"),
        v("restart", None, "string", "Restart policy to apply when a container exits").def("\"no\""),
        b("rm", None, "Automatically remove the container and its associated anonymous volumes when it exits"),
        v("runtime", None, "string", "Runtime to use for this container"),
        l("security-opt", None, "list", "Security Options"),
        v("shm-size", None, "bytes", "Size of /dev/shm"),
        v("stop-signal", None, "string", "Signal to stop the container"),
        v("stop-timeout", None, "int", "Timeout (in seconds) to stop a container"),
        l("sysctl", None, "map", "Sysctl options").def("map[]"),
        l("tmpfs", None, "list", "Mount a tmpfs directory"),
        b("tty", Some('t'), "Allocate a pseudo-TTY"),
        l("ulimit", None, "ulimit", "Ulimit options").def("[]"),
        v("user", Some('u'), "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
        v("userns", None, "string", "User namespace to use"),
        v("uts", None, "string", "UTS namespace to use"),
        l("volume", Some('v'), "list", "Bind mount a volume"),
        l("volumes-from", None, "list", "Mount volumes from the specified container(s)"),
        v("workdir", Some('w'), "string", "Working directory inside the container"),
    ]
}

/// The create request: body plus the query parameters.
#[derive(Debug)]
pub struct CreateReq {
    pub body: Value,
    pub name: String,
    pub platform: String,
    pub image: String,
}

pub(crate) fn bytes_flag(
    m: &Matches,
    long: &str,
    short: Option<char>,
) -> Result<Option<i64>, String> {
    let Some(s) = m.value(long) else {
        return Ok(None);
    };
    if long == "memory-swap" && s == "-1" {
        return Ok(Some(-1));
    }
    let name = match short {
        Some(c) => format!("-{c}, --{long}"),
        None => format!("--{long}"),
    };
    units::ram_in_bytes(s)
        .map(Some)
        .map_err(|e| format!("invalid argument {s:?} for \"{name}\" flag: {e}"))
}

fn int_flag(m: &Matches, long: &str) -> Result<Option<i64>, String> {
    m.int(long).map_err(|e| e.to_string())
}

fn dur_flag(m: &Matches, long: &str) -> Result<i64, String> {
    match m.value(long) {
        None => Ok(0),
        Some(s) => units::parse_go_duration(s)
            .map(|secs| (secs * 1e9) as i64)
            .ok_or_else(|| {
                format!(
                    "invalid argument {s:?} for \"--{long}\" flag: time: invalid duration {s:?}"
                )
            }),
    }
}

fn strs(v: Vec<String>) -> Value {
    Value::Array(v.into_iter().map(Value::String).collect())
}

fn opt_list(v: Vec<String>) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        strs(v)
    }
}

/// Builds the create body from parsed flags; `detach` is false for `create`'s
/// caller semantics only through `-a`/`-i`, as docker decides attachments.
pub fn build(m: &Matches, run_detached: bool) -> Result<CreateReq, String> {
    let image = m
        .args
        .first()
        .cloned()
        .ok_or("requires at least 1 argument")?;
    let cmd: Vec<String> = m.args[1..].to_vec();
    // docker rejects bad --network/--link values while parsing flags, before anything else.
    let networks = crate::network::parse_run_networks(m)?;

    let mut env = Vec::new();
    for f in m.list("env-file") {
        env.extend(read_kv_file(&f, true)?);
    }
    for e in m.list("env") {
        env.push(env_entry(&e)?);
    }
    let mut labels = Map::new();
    let mut label_lines = Vec::new();
    for f in m.list("label-file") {
        label_lines.extend(read_kv_file(&f, false)?);
    }
    label_lines.extend(m.list("label"));
    for lb in label_lines {
        let (k, val) = lb.split_once('=').unwrap_or((&lb, ""));
        labels.insert(k.to_string(), Value::String(val.to_string()));
    }
    // podman's flag, beyond docker: the daemon reads it as a label.
    if let Some(action) = m.value("health-on-failure") {
        labels.insert(
            "berth.health-on-failure".into(),
            Value::String(action.into()),
        );
    }

    let mut exposed = Map::new();
    let mut bindings = Map::new();
    for p in m.list("publish") {
        add_port(&p, &mut exposed, &mut bindings)?;
    }
    for e in m.list("expose") {
        add_expose(&e, &mut exposed)?;
    }
    let mut volumes = Map::new();
    let mut binds = Vec::new();
    for vs in m.list("volume") {
        add_volume(&vs, &mut volumes, &mut binds)?;
    }
    let mounts = m
        .list("mount")
        .iter()
        .map(|s| parse_mount(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tmpfs = Map::new();
    for t in m.list("tmpfs") {
        let (p, o) = t.split_once(':').unwrap_or((&t, ""));
        tmpfs.insert(p.to_string(), Value::String(o.to_string()));
    }

    // Attachments as docker decides them.
    let (mut a_in, mut a_out, mut a_err) = (false, false, false);
    let attach = m.list("attach");
    if run_detached {
        if !attach.is_empty() {
            return Err("conflicting options: cannot specify both --attach and --detach".into());
        }
    } else if attach.is_empty() {
        a_out = true;
        a_err = true;
        a_in = m.flag("interactive");
    } else {
        for a in &attach {
            match a.to_lowercase().as_str() {
                "stdin" => a_in = true,
                "stdout" => a_out = true,
                "stderr" => a_err = true,
                _ => return Err(format!("invalid argument {a:?} for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR")),
            }
        }
    }
    let open_stdin = m.flag("interactive");

    let entrypoint = match m.value("entrypoint") {
        Some("") => json!([""]),
        Some(e) => json!([e]),
        None => Value::Null,
    };

    let restart = match m.value("restart") {
        Some(r) => parse_restart(r)?,
        None => json!({"Name": "no", "MaximumRetryCount": 0}),
    };
    if m.flag("rm") && !matches!(restart["Name"].as_str(), Some("no") | Some("")) {
        return Err("conflicting options: cannot specify both --restart and --rm".into());
    }

    let mut log_opts = Map::new();
    for o in m.list("log-opt") {
        let (k, val) = o
            .split_once('=')
            .ok_or_else(|| format!("invalid key value pair format in log-opt: {o}"))?;
        log_opts.insert(k.to_string(), Value::String(val.to_string()));
    }
    let mut sysctls = Map::new();
    for s in m.list("sysctl") {
        let (k, val) = s
            .split_once('=')
            .ok_or_else(|| format!("sysctl '{s}' is not allowed"))?;
        sysctls.insert(k.to_string(), Value::String(val.to_string()));
    }
    let ulimits = m
        .list("ulimit")
        .iter()
        .map(|s| parse_ulimit(s))
        .collect::<Result<Vec<_>, _>>()?;
    let devices = m
        .list("device")
        .iter()
        .map(|s| parse_device(s))
        .collect::<Result<Vec<_>, _>>()?;
    let extra_hosts = m
        .list("add-host")
        .iter()
        .map(|s| parse_add_host(s))
        .collect::<Result<Vec<_>, _>>()?;

    let nano_cpus = match m.value("cpus") {
        Some(s) => units::nano_cpus(s)
            .map_err(|e| format!("invalid argument {s:?} for \"--cpus\" flag: {e}"))?,
        None => 0,
    };
    let (network, endpoints) = crate::network::run_endpoints(m, networks)?;

    let healthcheck = if m.flag("no-healthcheck") {
        json!({"Test": ["NONE"]})
    } else if m.has("health-cmd")
        || m.has("health-interval")
        || m.has("health-retries")
        || m.has("health-timeout")
        || m.has("health-start-period")
        || m.has("health-start-interval")
    {
        let test = match m.value("health-cmd") {
            Some(c) if !c.is_empty() => json!(["CMD-SHELL", c]),
            _ => Value::Null,
        };
        json!({
            "Test": test,
            "Interval": dur_flag(m, "health-interval")?,
            "Timeout": dur_flag(m, "health-timeout")?,
            "StartPeriod": dur_flag(m, "health-start-period")?,
            "StartInterval": dur_flag(m, "health-start-interval")?,
            "Retries": int_flag(m, "health-retries")?.unwrap_or(0),
        })
    } else {
        Value::Null
    };

    let mut config = json!({
        "Hostname": m.str("hostname"),
        "Domainname": m.str("domainname"),
        "User": m.str("user"),
        "AttachStdin": a_in,
        "AttachStdout": a_out,
        "AttachStderr": a_err,
        "Tty": m.flag("tty"),
        "OpenStdin": open_stdin,
        "StdinOnce": open_stdin && a_in,
        "Env": strs(env),
        "Cmd": if cmd.is_empty() { Value::Null } else { strs(cmd) },
        "Image": image,
        "Volumes": if volumes.is_empty() { Value::Null } else { Value::Object(volumes) },
        "WorkingDir": m.str("workdir"),
        "Entrypoint": entrypoint,
        "Labels": Value::Object(labels),
    });
    let c = config.as_object_mut().ok_or("config")?;
    if !exposed.is_empty() {
        c.insert("ExposedPorts".into(), Value::Object(exposed));
    }
    if let Some(s) = m.value("stop-signal") {
        c.insert("StopSignal".into(), Value::String(s.to_string()));
    }
    if let Some(t) = int_flag(m, "stop-timeout")? {
        c.insert("StopTimeout".into(), Value::from(t));
    }
    if !healthcheck.is_null() {
        c.insert("Healthcheck".into(), healthcheck);
    }

    let host = json!({
        "Binds": opt_list(binds.into_iter().filter_map(|b| b.as_str().map(str::to_string)).collect()),
        "ContainerIDFile": m.str("cidfile"),
        "LogConfig": {"Type": m.str("log-driver"), "Config": log_opts},
        "NetworkMode": network,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": m.flag("rm"),
        "VolumesFrom": opt_list(m.list("volumes-from")),
        "CapAdd": opt_list(m.list("cap-add")),
        "CapDrop": opt_list(m.list("cap-drop")),
        "CgroupnsMode": m.str("cgroupns"),
        "Dns": strs(m.list("dns")),
        "DnsOptions": strs(m.list("dns-option")),
        "DnsSearch": strs(m.list("dns-search")),
        "ExtraHosts": opt_list(extra_hosts),
        "GroupAdd": opt_list(m.list("group-add")),
        "IpcMode": m.str("ipc"),
        "Links": opt_list(m.list("link")),
        "OomScoreAdj": int_flag(m, "oom-score-adj")?.unwrap_or(0),
        "PidMode": m.str("pid"),
        "Privileged": m.flag("privileged"),
        "PublishAllPorts": m.flag("publish-all"),
        "ReadonlyRootfs": m.flag("read-only"),
        "SecurityOpt": opt_list(m.list("security-opt")),
        "Tmpfs": if tmpfs.is_empty() { Value::Null } else { Value::Object(tmpfs) },
        "UTSMode": m.str("uts"),
        "UsernsMode": m.str("userns"),
        "ShmSize": bytes_flag(m, "shm-size", None)?.unwrap_or(0),
        "Sysctls": if sysctls.is_empty() { Value::Null } else { Value::Object(sysctls) },
        "Runtime": m.str("runtime"),
        "Init": if m.has("init") { Value::Bool(m.flag("init")) } else { Value::Null },
        "Memory": bytes_flag(m, "memory", Some('m'))?.unwrap_or(0),
        "MemoryReservation": bytes_flag(m, "memory-reservation", None)?.unwrap_or(0),
        "MemorySwap": bytes_flag(m, "memory-swap", None)?.unwrap_or(0),
        "NanoCpus": nano_cpus,
        "CpuShares": int_flag(m, "cpu-shares")?.unwrap_or(0),
        "CpuPeriod": int_flag(m, "cpu-period")?.unwrap_or(0),
        "CpuQuota": int_flag(m, "cpu-quota")?.unwrap_or(0),
        "CpusetCpus": m.str("cpuset-cpus"),
        "CpusetMems": m.str("cpuset-mems"),
        "BlkioWeight": int_flag(m, "blkio-weight")?.unwrap_or(0),
        "Devices": devices,
        "Ulimits": ulimits,
        "PidsLimit": int_flag(m, "pids-limit")?.map(Value::from).unwrap_or(Value::Null),
        "OomKillDisable": m.flag("oom-kill-disable"),
        "Mounts": opt_list_v(mounts),
    });

    let mut body = config;
    if let Some(o) = body.as_object_mut() {
        o.insert("HostConfig".into(), host);
        o.insert(
            "NetworkingConfig".into(),
            json!({"EndpointsConfig": endpoints}),
        );
    }
    let image = body["Image"].as_str().unwrap_or_default().to_string();
    Ok(CreateReq {
        body,
        name: m.str("name"),
        platform: m.str("platform"),
        image,
    })
}

fn opt_list_v(v: Vec<Value>) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        Value::Array(v)
    }
}

#[cfg(test)]
#[path = "opts_tests.rs"]
mod tests;
