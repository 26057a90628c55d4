//! `start` and `attach`: wiring the terminal to existing containers.

use std::io::IsTerminal;

use anyhow::{anyhow, Result};

use crate::attach::{self, RawTerm};
use crate::flags::Matches;
use crate::run::{detach_keys, exit_code_for, open_attach, spawn_sig_proxy, spawn_wait, Streams};
use crate::{status, Cli};

pub async fn start(cli: &Cli, m: &Matches) -> Result<i32> {
    if m.flag("attach") || m.flag("interactive") {
        if m.args.len() > 1 {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        }
        return start_attached(cli, m).await.map_err(|e| {
            if e.downcast_ref::<crate::StatusError>().is_some() {
                e
            } else {
                let msg = e.to_string();
                status(exit_code_for(&msg).max(1), msg)
            }
        });
    }
    let mut failed = Vec::new();
    for c in &m.args {
        match cli
            .client
            .post(&format!("/containers/{c}/start"), None)
            .await
        {
            Ok(_) => println!("{c}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(c.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(status(
            1,
            format!("Error: failed to start containers: {}", failed.join(", ")),
        ))
    }
}

async fn start_attached(cli: &Cli, m: &Matches) -> Result<i32> {
    let name = &m.args[0];
    let info = cli
        .client
        .get_json(&format!("/containers/{name}/json"))
        .await?;
    let id = info["Id"].as_str().unwrap_or(name).to_string();
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = m.flag("interactive") && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let keys = detach_keys(cli, m);
    let streams = Streams {
        stdin,
        stdout: true,
        stderr: true,
    };
    let conn = open_attach(cli, &id, &streams, &keys).await?;
    let waiter = spawn_wait(cli, &id, "next-exit").await;
    let _raw = (tty && stdin).then(RawTerm::enable);
    cli.client
        .post(&format!("/containers/{id}/start"), None)
        .await?;
    if tty && std::io::stdout().is_terminal() {
        tokio::spawn(attach::resize_loop(
            cli.client_arc(),
            format!("/containers/{id}"),
        ));
    }
    let proxy = (!tty).then(|| spawn_sig_proxy(cli, &id));
    let detached = attach::session(conn, tty, stdin, &keys).await?;
    drop(_raw);
    if let Some(p) = proxy {
        p.abort();
    }
    if detached {
        return Ok(0);
    }
    waiter.await.map_err(|e| anyhow!("{e}"))?
}

pub async fn attach_cmd(cli: &Cli, m: &Matches) -> Result<i32> {
    let name = &m.args[0];
    let info = cli
        .client
        .get_json(&format!("/containers/{name}/json"))
        .await?;
    if !info["State"]["Running"].as_bool().unwrap_or(false) {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    if info["State"]["Paused"].as_bool().unwrap_or(false) {
        anyhow::bail!("You cannot attach to a paused container, unpause it first");
    }
    let id = info["Id"].as_str().unwrap_or(name).to_string();
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !m.flag("no-stdin") && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    if tty && stdin && !std::io::stdin().is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let keys = detach_keys(cli, m);
    let conn = open_attach(
        cli,
        &id,
        &Streams {
            stdin,
            stdout: true,
            stderr: true,
        },
        &keys,
    )
    .await?;
    let waiter = spawn_wait(cli, &id, "next-exit").await;
    let _raw = (tty && stdin).then(RawTerm::enable);
    if tty && std::io::stdout().is_terminal() {
        tokio::spawn(attach::resize_loop(
            cli.client_arc(),
            format!("/containers/{id}"),
        ));
    }
    let proxy = (!tty && m.value("sig-proxy") != Some("false")).then(|| spawn_sig_proxy(cli, &id));
    let detached = attach::session(conn, tty, stdin, &keys).await?;
    drop(_raw);
    if let Some(p) = proxy {
        p.abort();
    }
    if detached {
        waiter.abort();
        return Ok(0);
    }
    waiter.await.map_err(|e| anyhow!("{e}"))?
}
