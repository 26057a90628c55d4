//! `run`, `create`, `start` and `attach`: creating containers and wiring the
//! local terminal to them.

use std::io::IsTerminal;

use anyhow::{anyhow, Result};
use serde_json::Value;

use crate::attach::{self, RawTerm, DEFAULT_DETACH_KEYS};
use crate::client::{is_not_found, query, read_json, ApiError};
use crate::flags::{b, v, Args, Matches, Spec};
use crate::pull::{normalize_ref, pull};
use crate::{opts, prog, status, Cli};

pub fn handles(canon: &str) -> bool {
    matches!(
        canon,
        "container.run" | "container.create" | "container.start" | "container.attach"
    )
}

pub fn spec(canon: &str) -> Option<Spec> {
    Some(match canon {
        "container.run" => {
            let mut f = opts::create_flags();
            f.push(b(
                "detach",
                Some('d'),
                "Run container in background and print container ID",
            ));
            f.push(v(
                "detach-keys",
                None,
                "string",
                "Override the key sequence for detaching a container",
            ));
            f.push(b("sig-proxy", None, "Proxy received signals to the process").def("true"));
            Spec::new(
                "run",
                "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
                "Create and run a new container from an image",
                f,
            )
            .stop()
            .args(Args::Min(1))
        }
        "container.create" => Spec::new(
            "create",
            "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
            "Create a new container",
            opts::create_flags(),
        )
        .stop()
        .args(Args::Min(1)),
        "container.start" => Spec::new(
            "start",
            "start [OPTIONS] CONTAINER [CONTAINER...]",
            "Start one or more stopped containers",
            vec![
                b(
                    "attach",
                    Some('a'),
                    "Attach STDOUT/STDERR and forward signals",
                ),
                v(
                    "detach-keys",
                    None,
                    "string",
                    "Override the key sequence for detaching a container",
                ),
                b("interactive", Some('i'), "Attach container's STDIN"),
            ],
        )
        .args(Args::Min(1)),
        "container.attach" => Spec::new(
            "attach",
            "attach [OPTIONS] CONTAINER",
            "Attach local standard input, output, and error streams to a running container",
            vec![
                v(
                    "detach-keys",
                    None,
                    "string",
                    "Override the key sequence for detaching a container",
                ),
                b("no-stdin", None, "Do not attach STDIN"),
                b(
                    "sig-proxy",
                    None,
                    "Proxy all received signals to the process",
                )
                .def("true"),
            ],
        )
        .args(Args::Exact(1)),
        _ => return None,
    })
}

pub async fn run(cli: &Cli, canon: &str, spec: &Spec, m: Matches) -> Result<i32> {
    let res = match canon {
        "container.run" => run_container(cli, &m).await,
        "container.create" => create_only(cli, &m).await,
        "container.start" => return crate::start::start(cli, &m).await,
        _ => return crate::start::attach_cmd(cli, &m).await,
    };
    // docker turns every run/create failure into status 125 (126/127 for exec errors).
    res.map_err(|e| {
        if e.downcast_ref::<crate::StatusError>().is_some() {
            return e;
        }
        let msg = e.to_string();
        let code = if e.downcast_ref::<OptionError>().is_some() {
            // A value pflag itself rejects is reported with the usage line.
            if msg.starts_with("invalid argument ") {
                return status(
                    125,
                    format!(
                        "{msg}\n\nUsage:  {}\n\nRun '{} {} --help' for more information",
                        spec.usage_line(),
                        prog(),
                        spec.path
                    ),
                );
            }
            125
        } else if canon == "container.create" {
            // docker create returns other failures as they are: printed plainly, 1.
            return e;
        } else {
            exit_code_for(&msg)
        };
        status(
            code,
            format!(
                "{p}: {msg}\n\nRun '{p} {} --help' for more information",
                spec.path,
                p = prog()
            ),
        )
    })
}

/// A flag value that does not parse: always 125, as docker's `parse` failures.
#[derive(Debug)]
struct OptionError(String);

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionError {}

/// docker's toStatusError: 126 when the command cannot be invoked, 127 when not found.
pub(crate) fn exit_code_for(msg: &str) -> i32 {
    if msg.contains("executable file not found") || msg.contains("no such file or directory") {
        127
    } else if msg.contains("permission denied") {
        126
    } else {
        125
    }
}

pub(crate) fn detach_keys(cli: &Cli, m: &Matches) -> String {
    m.value("detach-keys")
        .map(str::to_string)
        .or_else(|| cli.config_str("detachKeys"))
        .unwrap_or_else(|| DEFAULT_DETACH_KEYS.to_string())
}

async fn create(cli: &Cli, m: &Matches, detached: bool) -> Result<String> {
    // docker reports flag-parsing failures (a missing --env-file, a bad -v) with 125,
    // whatever the text says.
    let req = opts::build(m, detached).map_err(|e| anyhow::Error::new(OptionError(e)))?;
    // The image reference is checked by the client, before any request.
    if let Err(e) = berth_image::reference::AnyReference::parse(&req.image) {
        anyhow::bail!("{e}");
    }
    let cidfile = m.str("cidfile");
    if !cidfile.is_empty() && std::path::Path::new(&cidfile).exists() {
        anyhow::bail!("container ID file found, make sure the other container isn't running or delete {cidfile}");
    }
    let path = query(
        "/containers/create",
        &[
            ("name", req.name.clone()),
            ("platform", req.platform.clone()),
        ],
    );
    let pull_mode = m.value("pull").unwrap_or("missing");
    let quiet = m.flag("quiet");
    if !matches!(pull_mode, "missing" | "always" | "never") {
        anyhow::bail!("invalid pull option: '{pull_mode}': must be one of \"always\", \"missing\" or \"never\"");
    }
    if pull_mode == "always" {
        pull(cli, &req.image, &req.platform, true, quiet).await?;
    }
    let resp = match cli.client.post_json(&path, Some(&req.body)).await {
        Err(e) if is_not_found(&e) && pull_mode == "missing" && is_missing_image(&e) => {
            eprintln!(
                "Unable to find image '{}' locally",
                normalize_ref(&req.image).2
            );
            pull(cli, &req.image, &req.platform, true, quiet).await?;
            cli.client.post_json(&path, Some(&req.body)).await?
        }
        other => other?,
    };
    for w in resp
        .get("Warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(w) = w.as_str() {
            eprintln!("WARNING: {w}");
        }
    }
    let id = resp
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("daemon returned no container id"))?
        .to_string();
    if !cidfile.is_empty() {
        std::fs::write(&cidfile, &id)
            .map_err(|e| anyhow!("failed to write the container ID to the file: {e}"))?;
    }
    Ok(id)
}

fn is_missing_image(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>().is_some_and(|a| {
        let msg = a.message.to_lowercase();
        msg.contains("no such image") || msg.contains("not found")
    })
}

async fn create_only(cli: &Cli, m: &Matches) -> Result<i32> {
    let id = create(cli, m, true).await?;
    println!("{id}");
    Ok(0)
}

/// Starts the long-poll wait before the container starts, so no exit is missed.
/// Like docker's client it waits for the response headers (the daemon flushes
/// them once the waiter is registered), but only briefly, so a daemon that
/// holds them back cannot deadlock `run`.
pub(crate) async fn spawn_wait(
    cli: &Cli,
    id: &str,
    condition: &str,
) -> tokio::task::JoinHandle<Result<i32>> {
    let client = cli.client_arc();
    let path = query(
        &format!("/containers/{id}/wait"),
        &[("condition", condition.to_string())],
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let resp = client.post(&path, None).await;
        let _ = tx.send(());
        let v = read_json(resp?).await?;
        if let Some(msg) = v
            .pointer("/Error/Message")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            anyhow::bail!("{msg}");
        }
        Ok(v.get("StatusCode").and_then(Value::as_i64).unwrap_or(0) as i32)
    });
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), rx).await;
    task
}

/// Forwards the signals a user sends to the CLI to the container (--sig-proxy).
pub(crate) fn spawn_sig_proxy(cli: &Cli, id: &str) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let client = cli.client_arc();
    let id = id.to_string();
    tokio::spawn(async move {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
            (SignalKind::user_defined1(), "SIGUSR1"),
            (SignalKind::user_defined2(), "SIGUSR2"),
        ];
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        for (k, name) in kinds {
            if let Ok(mut s) = signal(k) {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        if tx.send(name).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        drop(tx);
        while let Some(sig) = rx.recv().await {
            let _ = client
                .post(
                    &query(
                        &format!("/containers/{id}/kill"),
                        &[("signal", sig.to_string())],
                    ),
                    None,
                )
                .await;
        }
    })
}

pub(crate) struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

pub(crate) async fn open_attach(
    cli: &Cli,
    id: &str,
    s: &Streams,
    keys: &str,
) -> Result<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>> {
    let flag = |b: bool| if b { "1".to_string() } else { String::new() };
    let path = query(
        &format!("/containers/{id}/attach"),
        &[
            ("stream", "1".into()),
            ("stdin", flag(s.stdin)),
            ("stdout", flag(s.stdout)),
            ("stderr", flag(s.stderr)),
            ("detachKeys", keys.to_string()),
        ],
    );
    cli.client.upgrade(&path, None).await
}

async fn run_container(cli: &Cli, m: &Matches) -> Result<i32> {
    let detach = m.flag("detach");
    let tty = m.flag("tty");
    let interactive = m.flag("interactive");
    if tty && interactive && !detach && !std::io::stdin().is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let id = create(cli, m, detach).await?;
    if detach {
        cli.client
            .post(&format!("/containers/{id}/start"), None)
            .await?;
        println!("{id}");
        return Ok(0);
    }
    let attach = m.list("attach");
    let has = |s: &str| attach.is_empty() || attach.iter().any(|a| a.eq_ignore_ascii_case(s));
    let streams = Streams {
        stdin: if attach.is_empty() {
            interactive
        } else {
            has("stdin")
        },
        stdout: has("stdout"),
        stderr: has("stderr"),
    };
    let keys = detach_keys(cli, m);
    let conn = if streams.stdin || streams.stdout || streams.stderr {
        Some(open_attach(cli, &id, &streams, &keys).await?)
    } else {
        None
    };
    let condition = if m.flag("rm") { "removed" } else { "next-exit" };
    let waiter = spawn_wait(cli, &id, condition).await;
    let _raw = (tty && streams.stdin).then(RawTerm::enable);
    if let Err(e) = cli
        .client
        .post(&format!("/containers/{id}/start"), None)
        .await
    {
        drop(_raw);
        waiter.abort();
        return Err(e);
    }
    if tty && std::io::stdout().is_terminal() {
        tokio::spawn(attach::resize_loop(
            cli.client_arc(),
            format!("/containers/{id}"),
        ));
    }
    let proxy = (!tty && m.value("sig-proxy") != Some("false")).then(|| spawn_sig_proxy(cli, &id));
    let detached = match conn {
        Some(c) => attach::session(c, tty, streams.stdin, &keys).await?,
        None => false,
    };
    drop(_raw);
    if let Some(p) = proxy {
        p.abort();
    }
    if detached {
        return Ok(0);
    }
    let code = waiter.await.map_err(|e| anyhow!("{e}"))??;
    Ok(code)
}
