//! `docker import -c` / `docker commit -c`: Dockerfile instructions applied to
//! an image's runtime config.

use serde_json::{json, Map, Value};

use crate::ImageError;

/// Applies each line (e.g. `CMD ["sh"]`, `ENV A=1 B=2`) to `cfg`, the
/// docker-keyed `config` object.
pub fn apply_changes(cfg: &mut Map<String, Value>, changes: &[String]) -> Result<(), ImageError> {
    for line in changes {
        // One `-c` value may hold several lines, as the Dockerfile parser allows.
        for l in line.lines() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            apply_one(cfg, l)?;
        }
    }
    Ok(())
}

fn apply_one(cfg: &mut Map<String, Value>, line: &str) -> Result<(), ImageError> {
    let (instr, rest) = match line.split_once(char::is_whitespace) {
        Some((i, r)) => (i, r.trim()),
        None => (line, ""),
    };
    let lower = instr.to_lowercase();
    match lower.as_str() {
        "cmd" => {
            cfg.insert("Cmd".into(), json!(exec_or_shell(rest)));
        }
        "entrypoint" => {
            cfg.insert("Entrypoint".into(), json!(exec_or_shell(rest)));
        }
        "env" => {
            let pairs = key_values(rest, "ENV")?;
            let env = cfg.entry("Env").or_insert_with(|| json!([]));
            if !env.is_array() {
                *env = json!([]);
            }
            if let Some(list) = env.as_array_mut() {
                for (k, v) in pairs {
                    let entry = json!(format!("{k}={v}"));
                    let prefix = format!("{k}=");
                    match list
                        .iter()
                        .position(|e| e.as_str().is_some_and(|s| s.starts_with(&prefix) || s == k))
                    {
                        Some(i) => list[i] = entry,
                        None => list.push(entry),
                    }
                }
            }
        }
        "label" => {
            let pairs = key_values(rest, "LABEL")?;
            let labels = object_entry(cfg, "Labels");
            for (k, v) in pairs {
                labels.insert(k, json!(v));
            }
        }
        "expose" => {
            let ports = object_entry(cfg, "ExposedPorts");
            for p in words(rest) {
                for port in expand_port(&p)? {
                    ports.insert(port, json!({}));
                }
            }
        }
        "volume" => {
            let vols = object_entry(cfg, "Volumes");
            let list = json_array(rest).unwrap_or_else(|| words(rest));
            for v in list {
                if v.is_empty() {
                    return Err(ImageError::InvalidArgument(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
                vols.insert(v, json!({}));
            }
        }
        "user" => {
            cfg.insert("User".into(), json!(rest));
        }
        "workdir" => {
            let cur = cfg.get("WorkingDir").and_then(Value::as_str).unwrap_or("/");
            let dir = if rest.starts_with('/') {
                rest.to_string()
            } else {
                format!("{}/{rest}", cur.trim_end_matches('/'))
            };
            cfg.insert("WorkingDir".into(), json!(dir));
        }
        "stopsignal" => {
            cfg.insert("StopSignal".into(), json!(rest));
        }
        "onbuild" => {
            let (i, r) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let trigger = format!("{} {}", i.to_uppercase(), r.trim())
                .trim()
                .to_string();
            let list = cfg.entry("OnBuild").or_insert_with(|| json!([]));
            if !list.is_array() {
                *list = json!([]);
            }
            if let Some(a) = list.as_array_mut() {
                a.push(json!(trigger));
            }
        }
        "healthcheck" => {
            cfg.insert("Healthcheck".into(), healthcheck(rest)?);
        }
        _ => {
            return Err(ImageError::InvalidArgument(format!(
                "{lower} is not a valid change command"
            )));
        }
    }
    Ok(())
}

fn object_entry<'a>(cfg: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = cfg.entry(key).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

/// JSON form `["a","b"]` as is; anything else runs through `/bin/sh -c`.
fn exec_or_shell(s: &str) -> Vec<String> {
    json_array(s).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), s.into()])
}

/// Shell-like word splitting with '…', "…" and backslash escapes.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, '\'') | (None, '"') => {
                quote = Some(c);
                has = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                has = true;
            }
            (_, c) => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has {
        out.push(cur);
    }
    out
}

/// `K=V K2="v 2"` or the legacy `K value with spaces`.
fn key_values(rest: &str, instr: &str) -> Result<Vec<(String, String)>, ImageError> {
    let first = rest.split_whitespace().next().unwrap_or("");
    if first.is_empty() {
        return Err(ImageError::InvalidArgument(format!(
            "{instr} requires at least one argument"
        )));
    }
    if !first.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if instr == "ENV" && v.trim().is_empty() {
            return Err(ImageError::InvalidArgument(
                "ENV must have two arguments".into(),
            ));
        }
        return Ok(vec![(k.to_string(), words(v.trim()).join(" "))]);
    }
    words(rest)
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(ImageError::InvalidArgument(format!(
                "{instr} names can not be blank"
            ))),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(ImageError::InvalidArgument(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            ))),
        })
        .collect()
}

/// `80`, `80/udp`, `8000-8002/tcp` → `["80/tcp"]`…
fn expand_port(p: &str) -> Result<Vec<String>, ImageError> {
    let (range, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let bad = || ImageError::InvalidArgument(format!("invalid containerPort: {p}"));
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let n = range.parse::<u16>().map_err(|_| bad())?;
            (n, n)
        }
    };
    if hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi)
        .map(|n| format!("{n}/{}", proto.to_lowercase()))
        .collect())
}

fn healthcheck(rest: &str) -> Result<Value, ImageError> {
    let mut hc = Map::new();
    let mut s = rest.trim();
    while let Some(opt) = s.strip_prefix("--") {
        let (o, r) = opt.split_once(char::is_whitespace).unwrap_or((opt, ""));
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| ImageError::InvalidArgument(format!("HEALTHCHECK: bad option --{o}")))?;
        let key = match k {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => "Retries",
            _ => return Err(ImageError::InvalidArgument(format!("Unknown flag: {k}"))),
        };
        let val = if key == "Retries" {
            json!(v
                .parse::<i64>()
                .map_err(|_| ImageError::InvalidArgument(format!(
                    "HEALTHCHECK: bad retries {v}"
                )))?)
        } else {
            json!(
                duration_ns(v).ok_or_else(|| ImageError::InvalidArgument(format!(
                    "HEALTHCHECK: bad duration {v}"
                )))?
            )
        };
        hc.insert(key.into(), val);
        s = r.trim();
    }
    let (kw, cmd) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    match kw.to_uppercase().as_str() {
        "NONE" => Ok(json!({"Test": ["NONE"]})),
        "CMD" => {
            let test = match json_array(cmd.trim()) {
                Some(mut a) => {
                    a.insert(0, "CMD".into());
                    a
                }
                None => vec!["CMD-SHELL".into(), cmd.trim().into()],
            };
            hc.insert("Test".into(), json!(test));
            Ok(Value::Object(hc))
        }
        _ => Err(ImageError::InvalidArgument(
            "Unknown type \"".to_string() + kw + "\" in HEALTHCHECK (try CMD)",
        )),
    }
}

/// Go duration text (`30s`, `1m30s`, `500ms`) → nanoseconds.
fn duration_ns(s: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Value {
        let mut m = Map::new();
        apply_changes(
            &mut m,
            &lines.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        Value::Object(m)
    }

    #[test]
    fn parses_docker_changes() {
        let v = run(&[
            "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]",
            "ENTRYPOINT /init --x",
            "ENV A=1 B=\"two words\"",
            "ENV C legacy value",
            "ENV A=3",
            "LABEL com.x=y",
            "EXPOSE 80 53/udp 8000-8001",
            "VOLUME [\"/data\"]",
            "USER nobody",
            "WORKDIR /srv",
            "WORKDIR app",
            "STOPSIGNAL SIGINT",
            "onbuild run make",
            "HEALTHCHECK --interval=5s --retries=2 CMD curl -f http://x",
        ]);
        assert_eq!(v["Cmd"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c", "/init --x"]));
        assert_eq!(v["Env"], json!(["A=3", "B=two words", "C=legacy value"]));
        assert_eq!(v["Labels"], json!({"com.x": "y"}));
        assert_eq!(
            v["ExposedPorts"],
            json!({"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}})
        );
        assert_eq!(v["Volumes"], json!({"/data": {}}));
        assert_eq!(v["User"], json!("nobody"));
        assert_eq!(v["WorkingDir"], json!("/srv/app"));
        assert_eq!(v["StopSignal"], json!("SIGINT"));
        assert_eq!(v["OnBuild"], json!(["RUN make"]));
        assert_eq!(
            v["Healthcheck"],
            json!({"Interval": 5_000_000_000i64, "Retries": 2, "Test": ["CMD-SHELL", "curl -f http://x"]})
        );
    }

    #[test]
    fn rejects_unknown() {
        let mut m = Map::new();
        let e = apply_changes(&mut m, &["RUN x".to_string()]).unwrap_err();
        assert_eq!(e.to_string(), "run is not a valid change command");
    }
}
