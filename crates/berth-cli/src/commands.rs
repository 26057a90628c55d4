//! Command resolution: top-level shortcuts, management groups and their aliases.

use crate::flags::{Matches, Spec};
use crate::{
    archive, build, container, exec, image, inspect, login, logs, network, prog, ps, report, run,
    search, system, volume, Cli,
};
use crate::{stats, update};

/// (group, subcommand, aliases within the group, top-level shortcut)
const COMMANDS: &[(&str, &str, &[&str], Option<&str>)] = &[
    ("container", "attach", &[], Some("attach")),
    ("container", "commit", &[], Some("commit")),
    ("container", "cp", &[], Some("cp")),
    ("container", "create", &[], Some("create")),
    ("container", "diff", &[], Some("diff")),
    ("container", "exec", &[], Some("exec")),
    ("container", "export", &[], Some("export")),
    ("container", "inspect", &[], None),
    ("container", "kill", &[], Some("kill")),
    ("container", "logs", &[], Some("logs")),
    ("container", "ls", &["list", "ps"], Some("ps")),
    ("container", "pause", &[], Some("pause")),
    ("container", "port", &[], Some("port")),
    ("container", "prune", &[], None),
    ("container", "rename", &[], Some("rename")),
    ("container", "restart", &[], Some("restart")),
    ("container", "rm", &["remove"], Some("rm")),
    ("container", "run", &[], Some("run")),
    ("container", "start", &[], Some("start")),
    ("container", "stats", &[], Some("stats")),
    ("container", "stop", &[], Some("stop")),
    ("container", "top", &[], Some("top")),
    ("container", "unpause", &[], Some("unpause")),
    ("container", "update", &[], Some("update")),
    ("container", "wait", &[], Some("wait")),
    ("builder", "prune", &[], None),
    ("image", "build", &[], Some("build")),
    ("image", "history", &[], Some("history")),
    ("image", "import", &[], Some("import")),
    ("image", "inspect", &[], None),
    ("image", "load", &[], Some("load")),
    ("image", "ls", &["list"], Some("images")),
    ("image", "prune", &[], None),
    ("image", "pull", &[], Some("pull")),
    ("image", "push", &[], Some("push")),
    ("image", "rm", &["remove"], Some("rmi")),
    ("image", "save", &[], Some("save")),
    ("image", "tag", &[], Some("tag")),
    ("network", "connect", &[], None),
    ("network", "create", &[], None),
    ("network", "disconnect", &[], None),
    ("network", "inspect", &[], None),
    ("network", "ls", &["list"], None),
    ("network", "prune", &[], None),
    ("network", "rm", &["remove"], None),
    ("system", "df", &[], None),
    ("system", "events", &[], Some("events")),
    ("system", "info", &[], Some("info")),
    ("system", "prune", &[], None),
    ("volume", "create", &[], None),
    ("volume", "inspect", &[], None),
    ("volume", "ls", &["list"], None),
    ("volume", "prune", &[], None),
    ("volume", "rm", &["remove"], None),
];

const GROUPS: &[(&str, &str)] = &[
    ("builder", "Manage builds"),
    ("container", "Manage containers"),
    ("image", "Manage images"),
    ("network", "Manage networks"),
    ("system", "Manage Docker"),
    ("volume", "Manage volumes"),
];

/// docker's "Aliases:" line for a command.
fn alias_line(group: &str, sub: &str) -> Vec<String> {
    let p = prog();
    let Some((_, _, al, top)) = COMMANDS.iter().find(|c| c.0 == group && c.1 == sub) else {
        return Vec::new();
    };
    let mut v = vec![format!("{p} {group} {sub}")];
    v.extend(al.iter().map(|a| format!("{p} {group} {a}")));
    if let Some(t) = top {
        v.push(format!("{p} {t}"));
    }
    if v.len() == 1 {
        Vec::new()
    } else {
        v
    }
}

fn group_help(group: &str, about: &str) -> String {
    let mut s = format!(
        "Usage:  {} {group} COMMAND\n\n{about}\n\nCommands:\n",
        prog()
    );
    for (_, sub, _, _) in COMMANDS.iter().filter(|c| c.0 == group) {
        let about = spec_for(&format!("{group}.{sub}"))
            .map(|s| s.about)
            .unwrap_or_default();
        s.push_str(&format!("  {sub:<11} {about}\n"));
    }
    s.push_str(&format!(
        "\nRun '{} {group} COMMAND --help' for more information on a command.\n",
        prog()
    ));
    s
}

fn spec_for(canon: &str) -> Option<Spec> {
    run::spec(canon)
        .or_else(|| container::spec(canon))
        .or_else(|| ps::spec(canon))
        .or_else(|| exec::spec(canon))
        .or_else(|| logs::spec(canon))
        .or_else(|| inspect::spec(canon))
        .or_else(|| image::spec(canon))
        .or_else(|| archive::spec(canon))
        .or_else(|| build::spec(canon))
        .or_else(|| system::spec(canon))
        .or_else(|| volume::spec(canon))
        .or_else(|| network::spec(canon))
        .or_else(|| stats::spec(canon))
        .or_else(|| update::spec(canon))
        .or_else(|| login::spec(canon))
        .or_else(|| search::spec(canon))
}

async fn run_cmd(cli: &Cli, canon: &str, spec: &Spec, m: Matches) -> anyhow::Result<i32> {
    let group = canon.split('.').next().unwrap_or_default();
    match group {
        _ if run::handles(canon) => run::run(cli, canon, spec, m).await,
        _ if canon == "container.ls" => ps::run(cli, m).await,
        _ if canon == "container.exec" => exec::run(cli, m).await,
        _ if canon == "container.logs" => logs::run(cli, m).await,
        _ if canon == "container.stats" => stats::run(cli, m).await,
        _ if canon == "container.update" => update::run(cli, m).await,
        "login" | "logout" => login::run(cli, canon, m).await,
        "search" => search::run(cli, m).await,
        _ if inspect::handles(canon) => inspect::run(cli, canon, m).await,
        _ if archive::handles(canon) => archive::run(cli, canon, m).await,
        _ if build::handles(canon) => build::run(cli, canon, m).await,
        "container" => container::run(cli, canon, m).await,
        "image" => image::run(cli, canon, m).await,
        "volume" => volume::run(cli, canon, m).await,
        "network" => network::run(cli, canon, m).await,
        _ => system::run(cli, canon, m).await,
    }
}

fn unknown(path: &str, help_path: &str) -> i32 {
    let p = prog();
    // Under a group docker shows the group's cobra `Use` line.
    let usage = match help_path.trim_end() {
        "" => String::new(),
        "volume" => format!("Usage:  {p} volume COMMAND\n\n"),
        g => format!("Usage:  {p} {g}\n\n"),
    };
    eprintln!(
        "{p}: unknown command: {p} {path}\n\n{usage}Run '{p} {help_path}--help' for more information"
    );
    1
}

pub async fn dispatch(cli: &Cli, words: &[String]) -> i32 {
    // `help run` is `run --help`.
    if words[0] == "help" {
        if words.len() == 1 {
            print!("{}", crate::TOP_HELP.replace("{prog}", prog()));
            return 0;
        }
        let mut w: Vec<String> = words[1..].to_vec();
        w.push("--help".into());
        return Box::pin(dispatch(cli, &w)).await;
    }
    let first = words[0].as_str();
    let (canon, path, argv) = if let Some((g, about)) = GROUPS.iter().find(|g| g.0 == first) {
        let Some(sub) = words.get(1).map(String::as_str) else {
            // A bare group shows its help on stderr, as docker's ShowHelp(dockerCli.Err()).
            eprint!("{}", group_help(g, about));
            return 0;
        };
        if sub == "--help" || sub == "-h" {
            print!("{}", group_help(g, about));
            return 0;
        }
        let Some(c) = COMMANDS
            .iter()
            .find(|c| c.0 == *g && (c.1 == sub || c.2.contains(&sub)))
        else {
            if sub.starts_with('-') {
                eprintln!("unknown flag: {sub}\nSee '{} {g} --help'.", prog());
                return 125;
            }
            return unknown(&format!("{g} {sub}"), &format!("{g} "));
        };
        (format!("{g}.{}", c.1), format!("{g} {}", c.1), &words[2..])
    } else if let Some(c) = COMMANDS.iter().find(|c| c.3 == Some(first)) {
        (format!("{}.{}", c.0, c.1), first.to_string(), &words[1..])
    } else if matches!(first, "inspect" | "version" | "login" | "logout" | "search") {
        (first.to_string(), first.to_string(), &words[1..])
    } else {
        return unknown(first, "");
    };
    let Some(mut spec) = spec_for(&canon) else {
        return unknown(&path, "");
    };
    spec.path = path;
    if let Some((g, s)) = canon.split_once('.') {
        spec.aliases = alias_line(g, s);
    }
    let m = match spec.parse(argv) {
        Ok(m) => m,
        Err(e) => return spec.report(e),
    };
    match run_cmd(cli, &canon, &spec, m).await {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_spec() {
        for (g, s, _, _) in COMMANDS {
            assert!(spec_for(&format!("{g}.{s}")).is_some(), "{g} {s}");
        }
        assert!(spec_for("inspect").is_some());
        assert!(spec_for("version").is_some());
    }

    #[test]
    fn aliases() {
        let a = alias_line("container", "ls");
        assert_eq!(
            a,
            vec![
                "docker container ls",
                "docker container list",
                "docker container ps",
                "docker ps"
            ]
        );
        assert!(alias_line("volume", "create").is_empty());
    }
}
