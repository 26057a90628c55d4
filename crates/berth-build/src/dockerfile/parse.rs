//! One logical line to one typed instruction, with docker's argument rules
//! and messages for each instruction.

use super::duration::parse_go_duration;
use super::error::InstructionError as E;
use super::flags::{FlagKind, Flags};
use super::instruction::*;
use super::lines::{heredoc_of, Heredoc, LogicalLine};
use super::run_mount::parse_mount;
use super::words::{parse_json, quoted_words, split_blanks, split_command, Split};

pub fn parse_instruction(line: &LogicalLine, escape: char) -> Result<Instruction, E> {
    let split = split_command(&line.text, escape);
    let kind = parse_kind(&split, line, escape)?;
    Ok(Instruction {
        line: line.start,
        end_line: line.end,
        original: line.text.trim().to_string(),
        kind,
    })
}

fn parse_kind(s: &Split, line: &LogicalLine, escape: char) -> Result<InstructionKind, E> {
    use InstructionKind as K;
    let no_flags = || Flags::parse(&s.flags, &[]);
    Ok(match s.command.to_ascii_lowercase().as_str() {
        "from" => K::From(parse_from(s)?),
        "run" => K::Run(parse_run(s, &line.heredocs)?),
        "cmd" => {
            no_flags()?;
            K::Cmd(command_line(&s.rest)?)
        }
        "entrypoint" => {
            no_flags()?;
            K::Entrypoint(command_line(&s.rest)?)
        }
        "copy" => K::Copy(parse_copy(s, &line.heredocs)?),
        "add" => K::Add(parse_add(s, &line.heredocs)?),
        "env" => {
            no_flags()?;
            K::Env(key_values(&s.rest, "ENV", escape)?)
        }
        "label" => {
            no_flags()?;
            K::Label(key_values(&s.rest, "LABEL", escape)?)
        }
        "arg" => {
            no_flags()?;
            K::Arg(parse_arg(&s.rest, escape)?)
        }
        "workdir" => K::Workdir(one_argument(s, "WORKDIR")?),
        "user" => K::User(one_argument(s, "USER")?),
        "stopsignal" => K::StopSignal(one_argument(s, "STOPSIGNAL")?),
        "maintainer" => K::Maintainer(one_argument(s, "MAINTAINER")?),
        "expose" => {
            let ports = split_blanks(&s.rest);
            if ports.is_empty() {
                return Err(E::AtLeastOneArgument("EXPOSE"));
            }
            no_flags()?;
            K::Expose(ports)
        }
        "volume" => {
            let list = json_or_blanks(&s.rest)?;
            if list.is_empty() {
                return Err(E::AtLeastOneArgument("VOLUME"));
            }
            no_flags()?;
            let mut volumes = Vec::new();
            for v in list {
                let v = v.trim();
                if v.is_empty() {
                    return Err(E::EmptyVolume);
                }
                volumes.push(v.to_string());
            }
            K::Volume(volumes)
        }
        "healthcheck" => K::Healthcheck(parse_healthcheck(s)?),
        "shell" => {
            no_flags()?;
            match parse_json(&s.rest) {
                Some(Ok(v)) if v.is_empty() => return Err(E::AtLeastOneArgument("SHELL")),
                Some(Ok(v)) => K::Shell(v),
                Some(Err(e)) => return Err(e),
                None if s.rest.is_empty() => return Err(E::AtLeastOneArgument("SHELL")),
                None => return Err(E::NotJson("SHELL")),
            }
        }
        "onbuild" => K::Onbuild(parse_onbuild(s, line, escape)?),
        _ => return Err(E::UnknownInstruction(s.command.clone())),
    })
}

fn parse_from(s: &Split) -> Result<From, E> {
    let args = split_blanks(&s.rest);
    let stage_name = match args.len() {
        3 if args[1].eq_ignore_ascii_case("as") => {
            let name = args[2].to_ascii_lowercase();
            if !valid_stage_name(&name) {
                return Err(E::InvalidStageName(args[2].clone()));
            }
            Some(name)
        }
        1 => None,
        _ => return Err(E::FromArguments),
    };
    let flags = Flags::parse(&s.flags, &[("platform", FlagKind::String)])?;
    Ok(From {
        image: args[0].clone(),
        stage_name,
        platform: flags.string("platform"),
    })
}

/// docker's `^[a-z][a-z0-9-_.]*$`.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn command_line(rest: &str) -> Result<CommandLine, E> {
    match parse_json(rest) {
        Some(Ok(v)) => Ok(CommandLine::Exec(v)),
        Some(Err(e)) => Err(e),
        None => Ok(CommandLine::Shell(rest.to_string())),
    }
}

fn parse_run(s: &Split, heredocs: &[Heredoc]) -> Result<Run, E> {
    let flags = Flags::parse(
        &s.flags,
        &[("mount", FlagKind::Repeated), ("network", FlagKind::String)],
    )?;
    let network = match flags.get("network") {
        None => None,
        Some("default") => Some(NetworkMode::Default),
        Some("none") => Some(NetworkMode::None),
        Some("host") => Some(NetworkMode::Host),
        Some(other) => return Err(E::InvalidNetwork(other.to_string())),
    };
    let mounts = flags
        .all("mount")
        .iter()
        .map(|m| parse_mount(m))
        .collect::<Result<Vec<_>, _>>()?;
    if s.rest.is_empty() {
        return Err(E::AtLeastOneArgument("RUN"));
    }
    Ok(Run {
        command: command_line(&s.rest)?,
        mounts,
        network,
        heredocs: heredocs.to_vec(),
    })
}

/// ADD, COPY and VOLUME: a JSON array, else blank-separated words.
fn json_or_blanks(rest: &str) -> Result<Vec<String>, E> {
    match parse_json(rest) {
        Some(r) => r,
        None => Ok(split_blanks(rest)),
    }
}

fn sources_and_dest(
    args: Vec<String>,
    heredocs: &[Heredoc],
    command: &'static str,
) -> Result<(Vec<Source>, String), E> {
    if args.len() < 2 {
        return Err(E::NoDestination(command));
    }
    let (srcs, dest) = args.split_at(args.len() - 1);
    if heredoc_of(&dest[0]).is_some() {
        return Err(E::HeredocNotAllowed(command, "a destination"));
    }
    let sources = srcs
        .iter()
        .map(|src| {
            let doc =
                heredoc_of(src).and_then(|h| heredocs.iter().find(|d| d.name == h.name).cloned());
            match doc {
                Some(doc) => Source::Heredoc(doc),
                None => Source::Path(src.clone()),
            }
        })
        .collect();
    Ok((sources, dest[0].clone()))
}

fn parse_copy(s: &Split, heredocs: &[Heredoc]) -> Result<Copy, E> {
    let args = json_or_blanks(&s.rest)?;
    if args.len() < 2 {
        return Err(E::NoDestination("COPY"));
    }
    let flags = Flags::parse(
        &s.flags,
        &[
            ("chown", FlagKind::String),
            ("from", FlagKind::String),
            ("chmod", FlagKind::String),
            ("link", FlagKind::Bool),
        ],
    )?;
    let (sources, dest) = sources_and_dest(args, heredocs, "COPY")?;
    Ok(Copy {
        sources,
        dest,
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
    })
}

fn parse_add(s: &Split, heredocs: &[Heredoc]) -> Result<Add, E> {
    let args = json_or_blanks(&s.rest)?;
    if args.len() < 2 {
        return Err(E::NoDestination("ADD"));
    }
    let flags = Flags::parse(
        &s.flags,
        &[
            ("chown", FlagKind::String),
            ("chmod", FlagKind::String),
            ("link", FlagKind::Bool),
            ("keep-git-dir", FlagKind::Bool),
            ("checksum", FlagKind::String),
        ],
    )?;
    let (sources, dest) = sources_and_dest(args, heredocs, "ADD")?;
    Ok(Add {
        sources,
        dest,
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        checksum: flags.string("checksum"),
        keep_git_dir: flags.bool("keep-git-dir"),
    })
}

/// ENV and LABEL: `KEY value` (one pair, the rest of the line is the value)
/// or `KEY=value KEY2="value 2" ...`.
fn key_values(rest: &str, command: &'static str, escape: char) -> Result<Vec<KeyValue>, E> {
    let words = quoted_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(E::AtLeastOneArgument(command));
    };
    if !first.contains('=') {
        let mut parts = rest.splitn(2, |c: char| {
            matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r')
        });
        let key = parts.next().unwrap_or_default();
        let value = parts
            .next()
            .map(|v| v.trim_start_matches([' ', '\t', '\u{b}', '\u{c}', '\r']));
        let Some(value) = value else {
            return Err(E::MustHaveTwoArguments(command));
        };
        return Ok(vec![KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        }]);
    }
    words
        .iter()
        .map(|word| {
            let Some((key, value)) = word.split_once('=') else {
                return Err(E::MissingEquals(word.clone()));
            };
            if key.is_empty() {
                return Err(E::BlankNames(command));
            }
            Ok(KeyValue {
                key: key.to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

fn parse_arg(rest: &str, escape: char) -> Result<Vec<ArgDecl>, E> {
    let words = quoted_words(rest, escape);
    if words.is_empty() {
        return Err(E::AtLeastOneArgument("ARG"));
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err(E::BlankNames("ARG")),
            Some((name, default)) => Ok(ArgDecl {
                name: name.to_string(),
                default: Some(default.to_string()),
            }),
            None => Ok(ArgDecl {
                name: word,
                default: None,
            }),
        })
        .collect()
}

/// WORKDIR, USER, STOPSIGNAL and MAINTAINER take the rest of the line as one
/// argument (`WORKDIR /a b` is the directory "/a b", as in docker).
fn one_argument(s: &Split, command: &'static str) -> Result<String, E> {
    if s.rest.is_empty() {
        return Err(E::ExactlyOneArgument(command));
    }
    Flags::parse(&s.flags, &[])?;
    Ok(s.rest.clone())
}

fn parse_healthcheck(s: &Split) -> Result<Healthcheck, E> {
    let (typ, rest) = match s.rest.split_once(char::is_whitespace) {
        Some((t, r)) => (t, r.trim_start()),
        None => (s.rest.as_str(), ""),
    };
    if typ.is_empty() {
        return Err(E::AtLeastOneArgument("HEALTHCHECK"));
    }
    let typ = typ.to_ascii_uppercase();
    let command = command_line(rest)?;
    if typ == "NONE" {
        // docker does not look at flags here either
        if !rest.is_empty() {
            return Err(E::HealthcheckNoneArguments);
        }
        return Ok(Healthcheck::None);
    }
    let flags = Flags::parse(
        &s.flags,
        &[
            ("interval", FlagKind::String),
            ("timeout", FlagKind::String),
            ("start-period", FlagKind::String),
            ("start-interval", FlagKind::String),
            ("retries", FlagKind::String),
        ],
    )?;
    if typ != "CMD" {
        return Err(E::HealthcheckType(typ));
    }
    let test = match command {
        CommandLine::Exec(v) if v.is_empty() => return Err(E::HealthcheckMissingCommand),
        CommandLine::Shell(s) if s.is_empty() => return Err(E::HealthcheckMissingCommand),
        CommandLine::Exec(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
        CommandLine::Shell(s) => vec!["CMD-SHELL".to_string(), s],
    };
    let retries = match flags.get("retries") {
        None | Some("") => None,
        Some(v) => {
            let n: i64 = v.parse().map_err(|_| E::InvalidRetries(v.to_string()))?;
            if n < 0 {
                return Err(E::NegativeRetries(n));
            }
            Some(u32::try_from(n).map_err(|_| E::InvalidRetries(v.to_string()))?)
        }
    };
    Ok(Healthcheck::Check(HealthcheckConfig {
        test,
        interval: interval(&flags, "interval")?,
        timeout: interval(&flags, "timeout")?,
        start_period: interval(&flags, "start-period")?,
        start_interval: interval(&flags, "start-interval")?,
        retries,
    }))
}

fn interval(flags: &Flags, name: &'static str) -> Result<Option<std::time::Duration>, E> {
    let Some(value) = flags.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let d = parse_go_duration(value).ok_or_else(|| E::InvalidDuration(value.to_string()))?;
    if d.is_zero() {
        return Ok(None);
    }
    if d < std::time::Duration::from_millis(1) {
        return Err(E::IntervalTooShort(name));
    }
    Ok(Some(d))
}

fn parse_onbuild(s: &Split, line: &LogicalLine, escape: char) -> Result<Onbuild, E> {
    if s.rest.is_empty() {
        return Err(E::AtLeastOneArgument("ONBUILD"));
    }
    Flags::parse(&s.flags, &[])?;
    let word = s
        .rest
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match word.as_str() {
        "ONBUILD" => return Err(E::OnbuildChain),
        "MAINTAINER" | "FROM" => return Err(E::OnbuildTrigger(word)),
        _ => {}
    }
    let inner = LogicalLine {
        start: line.start,
        end: line.end,
        text: s.rest.clone(),
        heredocs: line.heredocs.clone(),
    };
    let trigger = parse_instruction(&inner, escape)?;
    let mut expression = s.rest.clone();
    for doc in &line.heredocs {
        expression.push('\n');
        expression.push_str(&doc.body);
        expression.push_str(&doc.name);
    }
    Ok(Onbuild {
        expression,
        trigger: Box::new(trigger),
    })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
