//! `exec`: run a command in a running container.

use std::io::IsTerminal;

use anyhow::Result;
use serde_json::{json, Value};

use crate::attach::{self, RawTerm, DEFAULT_DETACH_KEYS};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::optparse::{env_entry, read_kv_file};
use crate::Cli;

pub fn spec(canon: &str) -> Option<Spec> {
    (canon == "container.exec").then(|| {
        Spec::new(
            "exec",
            "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
            "Execute a command in a running container",
            vec![
                b(
                    "detach",
                    Some('d'),
                    "Detached mode: run command in the background",
                ),
                v(
                    "detach-keys",
                    None,
                    "string",
                    "Override the key sequence for detaching a container",
                ),
                l("env", Some('e'), "list", "Set environment variables"),
                l(
                    "env-file",
                    None,
                    "list",
                    "Read in a file of environment variables",
                ),
                b(
                    "interactive",
                    Some('i'),
                    "Keep STDIN open even if not attached",
                ),
                b(
                    "privileged",
                    None,
                    "Give extended privileges to the command",
                ),
                b("tty", Some('t'), "Allocate a pseudo-TTY"),
                v(
                    "user",
                    Some('u'),
                    "string",
                    "Username or UID (format: \"<name|uid>[:<group|gid>]\")",
                ),
                v(
                    "workdir",
                    Some('w'),
                    "string",
                    "Working directory inside the container",
                ),
            ],
        )
        .stop()
        .args(Args::Min(2))
    })
}

/// The POST /containers/{id}/exec body.
pub fn exec_body(m: &Matches, keys: &str) -> Result<Value, String> {
    let mut env = Vec::new();
    for f in m.list("env-file") {
        env.extend(read_kv_file(&f, true)?);
    }
    for e in m.list("env") {
        env.push(env_entry(&e)?);
    }
    let detach = m.flag("detach");
    let interactive = m.flag("interactive");
    let mut body = json!({
        "User": m.str("user"),
        "Privileged": m.flag("privileged"),
        "Tty": m.flag("tty"),
        "AttachStdin": interactive && !detach,
        "AttachStdout": !detach,
        "AttachStderr": !detach,
        "DetachKeys": keys,
        "Env": env,
        "WorkingDir": m.str("workdir"),
        "Cmd": m.args[1..].to_vec(),
    });
    if m.flag("tty") {
        if let Some((h, w)) = attach::term_size() {
            body["ConsoleSize"] = json!([h, w]);
        }
    }
    Ok(body)
}

pub async fn run(cli: &Cli, m: Matches) -> Result<i32> {
    let container = &m.args[0];
    let keys = m
        .value("detach-keys")
        .map(str::to_string)
        .or_else(|| cli.config_str("detachKeys"))
        .unwrap_or_else(|| DEFAULT_DETACH_KEYS.to_string());
    let body = exec_body(&m, &keys).map_err(anyhow::Error::msg)?;
    let tty = m.flag("tty");
    let stdin = body["AttachStdin"].as_bool().unwrap_or(false);
    if tty && stdin && !std::io::stdin().is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let created = cli
        .client
        .post_json(&format!("/containers/{container}/exec"), Some(&body))
        .await?;
    let id = created["Id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("exec ID empty"))?
        .to_string();
    if m.flag("detach") {
        cli.client
            .post(
                &format!("/exec/{id}/start"),
                Some(&json!({"Detach": true, "Tty": tty})),
            )
            .await?;
        return Ok(0);
    }
    let mut start = json!({"Detach": false, "Tty": tty});
    if let Some(cs) = body.get("ConsoleSize") {
        start["ConsoleSize"] = cs.clone();
    }
    let conn = cli
        .client
        .upgrade(&format!("/exec/{id}/start"), Some(&start))
        .await?;
    let raw = (tty && stdin).then(RawTerm::enable);
    if tty && std::io::stdout().is_terminal() {
        tokio::spawn(attach::resize_loop(cli.client_arc(), format!("/exec/{id}")));
    }
    let detached = attach::session(conn, tty, stdin, &keys).await?;
    drop(raw);
    if detached {
        return Ok(0);
    }
    let info = cli.client.get_json(&format!("/exec/{id}/json")).await?;
    Ok(info["ExitCode"].as_i64().unwrap_or(0) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body() {
        let spec = spec("container.exec").unwrap();
        let argv: Vec<String> = "-i -e A=1 -w /tmp -u nobody web sh -c id"
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let m = spec.parse(&argv).unwrap();
        let b = exec_body(&m, "ctrl-p,ctrl-q").unwrap();
        assert_eq!(b["Cmd"], json!(["sh", "-c", "id"]));
        assert_eq!(b["Env"], json!(["A=1"]));
        assert_eq!(b["AttachStdin"], true);
        assert_eq!(b["WorkingDir"], "/tmp");
        assert_eq!(b["User"], "nobody");
        let m = spec
            .parse(&["-d".to_string(), "web".into(), "true".into()])
            .unwrap();
        let b = exec_body(&m, "").unwrap();
        assert_eq!(b["AttachStdout"], false);
    }
}
