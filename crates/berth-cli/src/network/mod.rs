//! `docker network`: the subcommands, one file a group, and what they share: the
//! error of a client-side check, name trimming and path escaping. `network inspect`
//! runs in crate::inspect over the schema in inspect.rs here.
//!
//! Request bodies follow docker/cli 28.2 field for field, including its quirks
//! (which empty values are `null`, `[]` or `{}`), so the daemon sees what the
//! official client would send.

mod connect;
mod create;
mod endpoint;
mod inspect;
mod ipam;
mod ls;
mod rm;
mod values;

use anyhow::Result;

use crate::flags::{Matches, Spec};
use crate::{prog, status, Cli};

pub use endpoint::{parse_run_networks, run_endpoints};
pub use inspect::INSPECT;
pub use ls::{go_time_string, natural_cmp};

pub fn spec(canon: &str) -> Option<Spec> {
    Some(match canon {
        "network.create" => create::spec(),
        "network.ls" => ls::spec(),
        "network.rm" => rm::spec(),
        "network.connect" => connect::spec(),
        "network.disconnect" => connect::disconnect_spec(),
        "network.prune" => rm::prune_spec(),
        _ => return None,
    })
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    match canon {
        "network.create" => create::run(cli, canon, &m).await,
        "network.ls" => ls::run(cli, canon, &m).await,
        "network.rm" => rm::run(cli, &m).await,
        "network.connect" | "network.disconnect" => connect::run(cli, canon, &m).await,
        _ => rm::prune(cli, canon, &m).await,
    }
}

/// A client-side failure before any request: a value docker's flag parser rejects
/// (status 125, printed with the usage line) or a check made after parsing (status 1).
#[derive(Debug, PartialEq, Eq)]
pub enum OptErr {
    Flag(String),
    Plain(String),
}

fn into_error(canon: &str, e: OptErr) -> anyhow::Error {
    match e {
        OptErr::Plain(msg) => anyhow::anyhow!(msg),
        OptErr::Flag(msg) => {
            let usage = spec(canon).map(|s| s.usage_line()).unwrap_or_default();
            status(
                125,
                format!(
                    "{msg}\n\nUsage:  {usage}\n\nRun '{} {} --help' for more information",
                    prog(),
                    canon.replace('.', " ")
                ),
            )
        }
    }
}

fn bad_flag(value: &str, flag: &str, why: impl std::fmt::Display) -> OptErr {
    OptErr::Flag(format!(
        "invalid argument {value:?} for \"{flag}\" flag: {why}"
    ))
}

/// The client's trimID: names are trimmed and must not be empty.
fn trim_id<'a>(kind: &str, id: &'a str) -> Result<&'a str, OptErr> {
    let id = id.trim();
    if id.is_empty() {
        return Err(OptErr::Plain(format!(
            "invalid {kind} name or ID: value is empty"
        )));
    }
    Ok(id)
}

/// Escapes a name for a URL path as Go's url.URL does.
fn path_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `args` parsed with the flags of `canon`, as the command line would be.
    pub(super) fn parse(canon: &str, args: &[&str]) -> Matches {
        let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        spec(canon)
            .unwrap()
            .parse(&argv)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn help_lists_docker_flags() {
        // Wrapping depends on the terminal, so only the starts of lines are checked.
        let h = spec("network.create").unwrap().help();
        assert!(
            h.contains("\n  -d, --driver string        Driver to manage the Network"),
            "{h}"
        );
        assert!(
            h.contains("\n      --ipv4                 Enable or disable IPv4 address assignment"),
            "{h}"
        );
        assert!(h.contains("(default true)\n"), "{h}");
        assert!(
            h.starts_with("Usage:  docker network create [OPTIONS] NETWORK\n\nCreate a network\n")
        );
    }
}
