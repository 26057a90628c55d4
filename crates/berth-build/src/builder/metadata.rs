//! Instructions that only change the image config (ENV, LABEL, CMD, ...),
//! applied to the docker-keyed runtime config, with the comment docker's
//! legacy builder records in the history (`/bin/sh -c #(nop)  ENV A=1`).

use serde_json::{json, Map, Value};

use crate::dockerfile::{CommandLine, Healthcheck, InstructionKind, KeyValue};

/// The stage's state besides the config: whether CMD was set in this stage
/// (ENTRYPOINT then keeps it, as docker does), and MAINTAINER, which docker
/// records as the `author` of this and every later image of the stage.
#[derive(Debug, Default)]
pub struct StageFlags {
    pub cmd_set: bool,
    pub maintainer: String,
}

/// The shell of shell-form commands: the config's `Shell`, else `/bin/sh -c`.
pub fn shell(config: &Map<String, Value>) -> Vec<String> {
    let list = string_list(config.get("Shell"));
    if list.is_empty() {
        vec!["/bin/sh".into(), "-c".into()]
    } else {
        list
    }
}

pub fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A command line as the config stores it (shell form through `shell`).
pub fn command(line: &CommandLine, shell: &[String]) -> Vec<String> {
    match line {
        CommandLine::Exec(args) => args.clone(),
        CommandLine::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}

/// `["a" "b"]`, as Go's `%q` prints a string slice.
fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", items.join(" "))
}

/// Applies a metadata instruction (already substituted) and returns the
/// history comment; `None` for instructions that are not metadata.
pub fn apply(
    kind: &InstructionKind,
    config: &mut Map<String, Value>,
    flags: &mut StageFlags,
) -> Option<String> {
    let comment = match kind {
        InstructionKind::Env(pairs) => {
            let mut env = string_list(config.get("Env"));
            let mut text = String::from("ENV");
            for KeyValue { key, value } in pairs {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
                env.push(format!("{key}={value}"));
                text.push_str(&format!(" {key}={value}"));
            }
            config.insert("Env".into(), json!(env));
            text
        }
        InstructionKind::Label(pairs) => {
            let labels = object(config, "Labels");
            let mut text = String::from("LABEL");
            for KeyValue { key, value } in pairs {
                labels.insert(key.clone(), json!(value));
                text.push_str(&format!(" {key}={value}"));
            }
            text
        }
        InstructionKind::Expose(ports) => {
            let exposed = object(config, "ExposedPorts");
            let mut names = Vec::new();
            for p in ports {
                for port in expand_port(p) {
                    exposed.insert(port.clone(), json!({}));
                    names.push(port);
                }
            }
            format!("EXPOSE {}", names.join(" "))
        }
        InstructionKind::Volume(vols) => {
            let volumes = object(config, "Volumes");
            for v in vols {
                volumes.insert(v.clone(), json!({}));
            }
            format!("VOLUME {}", go_quoted(vols))
        }
        InstructionKind::User(u) => {
            config.insert("User".into(), json!(u));
            format!("USER {u}")
        }
        InstructionKind::Cmd(line) => {
            let cmd = command(line, &shell(config));
            config.insert("Cmd".into(), json!(cmd));
            flags.cmd_set = true;
            format!("CMD {}", go_quoted(&cmd))
        }
        InstructionKind::Entrypoint(line) => {
            let ep = command(line, &shell(config));
            config.insert("Entrypoint".into(), json!(ep));
            if !flags.cmd_set {
                config.insert("Cmd".into(), Value::Null);
            }
            format!("ENTRYPOINT {}", go_quoted(&ep))
        }
        InstructionKind::Shell(sh) => {
            config.insert("Shell".into(), json!(sh));
            format!("SHELL {}", go_quoted(sh))
        }
        InstructionKind::StopSignal(s) => {
            config.insert("StopSignal".into(), json!(s));
            format!("STOPSIGNAL {s}")
        }
        InstructionKind::Maintainer(m) => {
            flags.maintainer = m.clone();
            format!("MAINTAINER {m}")
        }
        InstructionKind::Onbuild(o) => {
            let mut list = string_list(config.get("OnBuild"));
            list.push(o.expression.clone());
            config.insert("OnBuild".into(), json!(list));
            format!("ONBUILD {}", o.expression)
        }
        InstructionKind::Healthcheck(h) => {
            let value = match h {
                Healthcheck::None => json!({"Test": ["NONE"]}),
                Healthcheck::Check(c) => {
                    let mut m = Map::new();
                    m.insert("Test".into(), json!(c.test));
                    for (key, d) in [
                        ("Interval", c.interval),
                        ("Timeout", c.timeout),
                        ("StartPeriod", c.start_period),
                        ("StartInterval", c.start_interval),
                    ] {
                        if let Some(d) = d {
                            m.insert(key.into(), json!(d.as_nanos() as u64));
                        }
                    }
                    if let Some(r) = c.retries {
                        m.insert("Retries".into(), json!(r));
                    }
                    Value::Object(m)
                }
            };
            let test = string_list(value.get("Test"));
            config.insert("Healthcheck".into(), value);
            format!("HEALTHCHECK &{{{}}}", go_quoted(&test))
        }
        _ => return None,
    };
    Some(comment)
}

fn object<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = config.entry(key).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// `80` → `80/tcp`; `8000-8001/udp` → both ports (checked by the parser).
fn expand_port(spec: &str) -> Vec<String> {
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    match range.split_once('-') {
        Some((lo, hi)) => match (lo.parse::<u16>(), hi.parse::<u16>()) {
            (Ok(lo), Ok(hi)) if lo <= hi => (lo..=hi).map(|p| format!("{p}/{proto}")).collect(),
            _ => vec![format!("{range}/{proto}")],
        },
        None => vec![format!("{range}/{proto}")],
    }
}

/// The history text of a config-only step: `/bin/sh -c #(nop)  ENV A=1`.
pub fn nop_created_by(shell: &[String], comment: &str) -> String {
    format!("{} #(nop)  {comment}", shell.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse;

    fn run(text: &str) -> (Map<String, Value>, Vec<String>) {
        let df = parse(text).unwrap();
        let mut config = Map::new();
        let mut flags = StageFlags::default();
        let comments = df.stages[0]
            .instructions
            .iter()
            .filter_map(|i| apply(&i.kind, &mut config, &mut flags))
            .collect();
        (config, comments)
    }

    #[test]
    fn config_and_comments() {
        let (c, comments) = run(
            "FROM x\nENV A=1 B=2\nENV A=3\nLABEL l=v\nEXPOSE 80 53/udp\nCMD echo hi\nENTRYPOINT [\"/e\"]\nSHELL [\"/bin/bash\", \"-c\"]\nCMD run\nHEALTHCHECK --interval=5s CMD true\nONBUILD RUN make\n",
        );
        assert_eq!(c["Env"], json!(["B=2", "A=3"]));
        assert_eq!(c["Labels"], json!({"l": "v"}));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["Entrypoint"], json!(["/e"]));
        assert_eq!(c["Cmd"], json!(["/bin/bash", "-c", "run"]));
        assert_eq!(c["Healthcheck"]["Interval"], json!(5_000_000_000u64));
        assert_eq!(c["OnBuild"], json!(["RUN make"]));
        assert_eq!(comments[0], "ENV A=1 B=2");
        assert_eq!(comments[4], "CMD [\"/bin/sh\" \"-c\" \"echo hi\"]");
    }

    #[test]
    fn entrypoint_clears_an_inherited_cmd() {
        let df = parse("FROM x\nENTRYPOINT [\"/e\"]\n").unwrap();
        let mut config = Map::new();
        config.insert("Cmd".into(), json!(["sh"]));
        apply(
            &df.stages[0].instructions[0].kind,
            &mut config,
            &mut StageFlags::default(),
        );
        assert_eq!(config["Cmd"], Value::Null);
    }
}
