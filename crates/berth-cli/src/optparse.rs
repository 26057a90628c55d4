//! Parsers for the structured values of `run`/`create` flags, with docker's messages.

use serde_json::{json, Map, Value};

fn port_range(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u32 = a.parse().ok()?;
    let b: u32 = b.parse().ok()?;
    (a <= b && b <= 65535).then_some((a, b))
}

fn split_proto(s: &str) -> (&str, &str) {
    match s.split_once('/') {
        Some((p, proto)) if !proto.is_empty() => (p, proto),
        Some((p, _)) => (p, "tcp"),
        None => (s, "tcp"),
    }
}

/// `-p [ip:][hostPort:]containerPort[/proto]` into ExposedPorts and PortBindings.
pub fn add_port(
    spec: &str,
    exposed: &mut Map<String, Value>,
    bindings: &mut Map<String, Value>,
) -> Result<(), String> {
    // IPv6 addresses come bracketed: [::1]:8080:80
    let (ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let (ip, rest) = r
            .split_once(']')
            .ok_or_else(|| format!("invalid IP address: {spec}"))?;
        (
            ip.to_string(),
            rest.strip_prefix(':').unwrap_or(rest).to_string(),
        )
    } else {
        (String::new(), spec.to_string())
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, ctr) = match (ip.is_empty(), parts.as_slice()) {
        (_, [c]) => (ip, "", *c),
        (true, [h, c]) => (String::new(), *h, *c),
        (false, [h, c]) => (ip, *h, *c),
        (true, [i, h, c]) => (i.to_string(), *h, *c),
        (true, more) if more.len() > 3 => {
            let n = more.len();
            (more[..n - 2].join(":"), more[n - 2], more[n - 1])
        }
        _ => return Err(format!("invalid port format: {spec}")),
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    let (ctr, proto) = split_proto(ctr);
    if ctr.is_empty() {
        return Err(format!("no port specified: {spec}<empty>"));
    }
    let (cs, ce) = port_range(ctr).ok_or_else(|| format!("invalid containerPort: {ctr}"))?;
    let (hs, he) = if host.is_empty() {
        (0, 0)
    } else {
        port_range(host).ok_or_else(|| format!("invalid hostPort: {host}"))?
    };
    if !host.is_empty() && ce - cs != he - hs && ce != cs {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {ctr} and {host}"
        ));
    }
    if !matches!(proto.to_lowercase().as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    for i in 0..=(ce - cs) {
        let key = format!("{}/{}", cs + i, proto.to_lowercase());
        let mut hp = if host.is_empty() {
            String::new()
        } else {
            (hs + i).to_string()
        };
        if cs == ce && hs != he {
            hp = format!("{hp}-{he}");
        }
        exposed.insert(key.clone(), json!({}));
        let entry = bindings.entry(key).or_insert_with(|| json!([]));
        if let Value::Array(a) = entry {
            a.push(json!({"HostIp": ip, "HostPort": hp}));
        }
    }
    Ok(())
}

/// `--expose 80[-90][/proto]`.
pub fn add_expose(spec: &str, exposed: &mut Map<String, Value>) -> Result<(), String> {
    let (p, proto) = split_proto(spec);
    let (s, e) = port_range(p).ok_or_else(|| {
        format!("invalid range format for --expose: {spec}, error: invalid syntax")
    })?;
    for i in s..=e {
        exposed.insert(format!("{i}/{proto}"), json!({}));
    }
    Ok(())
}

/// `-v`: an anonymous volume (`/ctr`) goes to Config.Volumes, anything with a
/// source (bind or named volume) to HostConfig.Binds, as docker does.
pub fn add_volume(
    spec: &str,
    volumes: &mut Map<String, Value>,
    binds: &mut Vec<Value>,
) -> Result<(), String> {
    let bad = || format!("invalid volume specification: '{spec}'");
    let parts: Vec<&str> = spec.split(':').collect();
    // docker's volumeSplitN check, before anything else.
    if parts.len() > 1 && parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "invalid spec: {spec}: empty section between colons"
        ));
    }
    match parts.as_slice() {
        [dst] => {
            if !dst.starts_with('/') {
                return Err(format!("invalid volume specification: '{spec}': invalid mount config for type \"volume\": invalid mount path: '{dst}' mount path must be absolute"));
            }
            volumes.insert(dst.to_string(), json!({}));
        }
        [src, dst] | [src, dst, _] => {
            if src.is_empty() || dst.is_empty() {
                return Err(bad());
            }
            if !dst.starts_with('/') {
                return Err(format!("invalid volume specification: '{spec}': invalid mount config for type \"bind\": invalid mount path: '{dst}' mount path must be absolute"));
            }
            let mut s = spec.to_string();
            // docker 23+ resolves relative host paths on the client.
            if src.starts_with('.') {
                let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
                let abs = cwd.join(src);
                let abs = normalize(&abs.to_string_lossy());
                s = std::iter::once(abs.as_str())
                    .chain(parts[1..].iter().copied())
                    .collect::<Vec<_>>()
                    .join(":");
            }
            binds.push(Value::String(s));
        }
        _ => return Err(bad()),
    }
    Ok(())
}

fn normalize(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            o => out.push(o),
        }
    }
    format!("/{}", out.join("/"))
}

/// `--mount type=bind,source=/a,target=/b,readonly`.
pub fn parse_mount(spec: &str) -> Result<Value, String> {
    let mut typ = "volume".to_string();
    let mut m = Map::new();
    let mut bind = Map::new();
    let mut vol = Map::new();
    let mut tmpfs = Map::new();
    let mut vlabels = Map::new();
    let mut vopts = Map::new();
    let mut vdriver = String::new();
    for field in spec.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_lowercase(), Some(v.to_string())),
            None => (field.trim().to_lowercase(), None),
        };
        let truth = |v: &Option<String>| -> Result<bool, String> {
            match v.as_deref() {
                None | Some("1") | Some("true") => Ok(true),
                Some("0") | Some("false") => Ok(false),
                Some(o) => Err(format!("invalid value for {k}: {o}")),
            }
        };
        let val = || {
            v.clone()
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))
        };
        match k.as_str() {
            "type" => typ = val()?,
            "source" | "src" => {
                m.insert("Source".into(), Value::String(val()?));
            }
            "target" | "dst" | "destination" => {
                m.insert("Target".into(), Value::String(val()?));
            }
            "readonly" | "ro" => {
                m.insert("ReadOnly".into(), Value::Bool(truth(&v)?));
            }
            "consistency" => {
                m.insert("Consistency".into(), Value::String(val()?));
            }
            "bind-propagation" => {
                bind.insert("Propagation".into(), Value::String(val()?));
            }
            "bind-nonrecursive" => {
                bind.insert("NonRecursive".into(), Value::Bool(truth(&v)?));
            }
            "volume-nocopy" => {
                vol.insert("NoCopy".into(), Value::Bool(truth(&v)?));
            }
            "volume-subpath" => {
                vol.insert("Subpath".into(), Value::String(val()?));
            }
            "volume-label" => {
                let s = val()?;
                let (a, b) = s.split_once('=').unwrap_or((&s, ""));
                vlabels.insert(a.to_string(), Value::String(b.to_string()));
            }
            "volume-driver" => vdriver = val()?,
            "volume-opt" => {
                let s = val()?;
                let (a, b) = s
                    .split_once('=')
                    .ok_or_else(|| format!("invalid value for volume-opt: {s}"))?;
                vopts.insert(a.to_string(), Value::String(b.to_string()));
            }
            "tmpfs-size" => {
                let s = val()?;
                let n = crate::units::ram_in_bytes(&s)
                    .map_err(|_| format!("invalid value for {k}: {s}"))?;
                tmpfs.insert("SizeBytes".into(), Value::from(n));
            }
            "tmpfs-mode" => {
                let s = val()?;
                let n = u32::from_str_radix(&s, 8)
                    .map_err(|_| format!("invalid value for {k}: {s}"))?;
                tmpfs.insert("Mode".into(), Value::from(n));
            }
            _ => return Err(format!("unexpected key '{k}' in '{field}'")),
        }
    }
    if !matches!(
        typ.as_str(),
        "bind" | "volume" | "tmpfs" | "npipe" | "cluster" | "image"
    ) {
        return Err(format!("invalid mount type: {typ}"));
    }
    if !m.contains_key("Target") {
        return Err("target is required".into());
    }
    m.insert("Type".into(), Value::String(typ));
    if !bind.is_empty() {
        m.insert("BindOptions".into(), Value::Object(bind));
    }
    if !vlabels.is_empty() {
        vol.insert("Labels".into(), Value::Object(vlabels));
    }
    if !vdriver.is_empty() || !vopts.is_empty() {
        vol.insert(
            "DriverConfig".into(),
            json!({"Name": vdriver, "Options": vopts}),
        );
    }
    if !vol.is_empty() {
        m.insert("VolumeOptions".into(), Value::Object(vol));
    }
    if !tmpfs.is_empty() {
        m.insert("TmpfsOptions".into(), Value::Object(tmpfs));
    }
    Ok(Value::Object(m))
}

/// `--restart no|always|unless-stopped|on-failure[:N]`. Only the format is checked here,
/// as docker's CLI does: the daemon refuses unknown names and misplaced counts with its
/// own messages.
pub fn parse_restart(s: &str) -> Result<Value, String> {
    if s.is_empty() {
        return Ok(json!({"Name": "no", "MaximumRetryCount": 0}));
    }
    let (name, count) = s.split_once(':').unwrap_or((s, ""));
    if name.is_empty() {
        return Err("invalid restart policy format: no policy provided before colon".into());
    }
    let max: i64 = if count.is_empty() {
        0
    } else {
        count.parse().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?
    };
    Ok(json!({"Name": name, "MaximumRetryCount": max}))
}

/// `--ulimit nofile=1024[:2048]`.
pub fn parse_ulimit(s: &str) -> Result<Value, String> {
    let (name, v) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    let (soft, hard) = v.split_once(':').unwrap_or((v, v));
    let soft: i64 = soft
        .parse()
        .map_err(|_| format!("invalid ulimit soft value: {soft}"))?;
    let hard: i64 = hard
        .parse()
        .map_err(|_| format!("invalid ulimit hard value: {hard}"))?;
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(json!({"Name": name, "Soft": soft, "Hard": hard}))
}

/// `--device /dev/x[:/dev/y][:rwm]`.
pub fn parse_device(s: &str) -> Result<Value, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let is_mode = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (src, dst, perm) = match parts.as_slice() {
        [a] => (*a, *a, "rwm"),
        [a, b] if is_mode(b) => (*a, *a, *b),
        [a, b] => (*a, *b, "rwm"),
        [a, b, c] if is_mode(c) => (*a, *b, *c),
        _ => return Err(format!("invalid device specification: {s}")),
    };
    Ok(json!({"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perm}))
}

/// `-e FOO` takes FOO's value from the environment, as docker's ValidateEnv.
pub fn env_entry(s: &str) -> Result<String, String> {
    let (k, has_value) = match s.split_once('=') {
        Some((k, _)) => (k, true),
        None => (s, false),
    };
    if k.is_empty() {
        return Err(format!("invalid environment variable: {s}"));
    }
    if has_value {
        return Ok(s.to_string());
    }
    Ok(match std::env::var(k) {
        Ok(v) => format!("{k}={v}"),
        Err(_) => s.to_string(),
    })
}

/// Reads an --env-file / --label-file: one entry per line, `#` comments.
pub fn read_kv_file(path: &str, env: bool) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("open {path}: {}", crate::opts::os_err(&e)))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if env {
            let (k, _) = line.split_once('=').unwrap_or((line, ""));
            if k.is_empty() || k.contains(char::is_whitespace) {
                return Err(format!(
                    "variable '{k}' contains whitespaces (line {})",
                    n + 1
                ));
            }
            // A bare name from a file is only passed on when set here (docker's kvfile).
            if !line.contains('=') && std::env::var_os(line.trim_end()).is_none() {
                continue;
            }
            out.push(env_entry(line)?);
        } else {
            out.push(line.to_string());
        }
    }
    Ok(out)
}

/// `--add-host host:ip` (docker 28 also takes `host=ip`).
pub fn parse_add_host(s: &str) -> Result<String, String> {
    let (h, ip) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(|| format!("bad format for add-host: {s:?}"))?;
    if h.is_empty() || ip.is_empty() {
        return Err(format!("bad format for add-host: {s:?}"));
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address in add-host: {ip:?}"));
    }
    Ok(format!("{h}:{ip}"))
}
