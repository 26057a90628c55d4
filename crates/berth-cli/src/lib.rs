//! berth's command line client: docker's commands, flags, output formats and exit
//! codes, spoken to a daemon over the Docker Engine API.

// The create body is one large json! literal.
#![recursion_limit = "256"]

mod archive;
mod attach;
mod build;
mod client;
mod commands;
mod container;
mod credentials;
mod disk;
mod exec;
mod flags;
mod image;
mod info_fmt;
mod inspect;
mod login;
mod logs;
mod network;
mod optparse;
mod opts;
mod ps;
mod pull;
mod run;
mod search;
mod start;
mod stats;
mod system;
mod table;
mod template;
mod units;
mod update;
mod util;
mod volume;

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

pub use client::Client;

static PROG: OnceLock<String> = OnceLock::new();

/// The program name as invoked ("berth"), used in usage messages.
pub(crate) fn prog() -> &'static str {
    PROG.get().map(String::as_str).unwrap_or("docker")
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = match option_env!("BERTH_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// An error that carries its own exit status; `msg` is printed as is when set.
#[derive(Debug)]
pub struct StatusError {
    pub code: i32,
    pub msg: String,
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for StatusError {}

pub(crate) fn status(code: i32, msg: impl Into<String>) -> anyhow::Error {
    StatusError {
        code,
        msg: msg.into(),
    }
    .into()
}

/// Shared state of one invocation.
pub struct Cli {
    pub client: Arc<Client>,
    /// ~/.docker/config.json (or --config), for psFormat, imagesFormat, detachKeys.
    pub config: Value,
}

impl Cli {
    pub fn client_arc(&self) -> Arc<Client> {
        self.client.clone()
    }

    pub fn config_str(&self, key: &str) -> Option<String> {
        self.config
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

struct Globals {
    hosts: Vec<String>,
    config_dir: Option<String>,
}

pub(crate) const TOP_HELP: &str = "Usage:  {prog} [OPTIONS] COMMAND

A self-sufficient runtime for containers

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  build       Build an image from a Dockerfile
  pull        Download an image from a registry
  push        Upload an image to a registry
  images      List images
  login       Authenticate to a registry
  logout      Log out from a registry
  search      Search Docker Hub for images
  info        Display system-wide information
  version     Show the Docker version information

Management Commands:
  builder     Manage builds
  container   Manage containers
  image       Manage images
  network     Manage networks
  system      Manage Docker
  volume      Manage volumes

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  events      Get real time events from the server
  export      Export a container's filesystem as a tar archive
  history     Show the history of an image
  import      Import the contents from a tarball to create a filesystem image
  inspect     Return low-level information on Docker objects
  kill        Kill one or more running containers
  load        Load an image from a tar archive or STDIN
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  start       Start one or more stopped containers
  stats       Display a live stream of container(s) resource usage statistics
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  update      Update configuration of one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
      --config string      Location of client config files (default \"~/.docker\")
  -D, --debug              Enable debug mode
  -H, --host list          Daemon socket to connect to
  -l, --log-level string   Set the logging level (\"debug\", \"info\", \"warn\", \"error\", \"fatal\") (default \"info\")
  -v, --version            Print version information and quit

Run '{prog} COMMAND --help' for more information on a command.
";

/// Entry point: `args[0]` is the program name. Returns the exit status.
pub fn main(args: Vec<String>) -> i32 {
    let name = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "berth".to_string());
    let _ = PROG.set(name);
    let argv = &args[args.len().min(1)..];

    let mut g = Globals {
        hosts: Vec::new(),
        config_dir: None,
    };
    let mut tls = client::TlsOptions::default();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if !a.starts_with('-') || a == "-" {
            break;
        }
        i += 1;
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (a, None),
        };
        let value = |i: &mut usize| -> Option<String> {
            if inline.is_some() {
                return inline.clone();
            }
            let v = argv.get(*i).cloned();
            *i += 1;
            v
        };
        match name {
            "-v" | "--version" => {
                println!("{} version {VERSION}, build {GIT_COMMIT}", prog());
                return 0;
            }
            "-h" | "--help" => {
                print!("{}", TOP_HELP.replace("{prog}", prog()));
                return 0;
            }
            "--tls" | "--tlsverify" => {
                let on = match inline.as_deref() {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(v) => {
                        eprintln!(
                            "invalid argument {v:?} for \"{name}\" flag: parse error\nSee '{} --help'.",
                            prog()
                        );
                        return 125;
                    }
                };
                if name == "--tls" {
                    tls.tls = on;
                } else {
                    tls.verify = Some(on);
                }
            }
            "-D" | "--debug" => {}
            "-H" | "--host" | "-l" | "--log-level" | "--config" | "-c" | "--context"
            | "--tlscacert" | "--tlscert" | "--tlskey" => {
                let Some(v) = value(&mut i) else {
                    eprintln!("flag needs an argument: {name}\nSee '{} --help'.", prog());
                    return 125;
                };
                match name {
                    "-H" | "--host" => g.hosts.push(v),
                    "--config" => g.config_dir = Some(v),
                    "--tlscacert" => tls.ca = Some(v.into()),
                    "--tlscert" => tls.cert = Some(v.into()),
                    "--tlskey" => tls.key = Some(v.into()),
                    _ => {}
                }
            }
            _ => {
                eprintln!("unknown flag: {name}\nSee '{} --help'.", prog());
                return 125;
            }
        }
    }
    let rest = &argv[i..];
    if rest.is_empty() {
        print!("{}", TOP_HELP.replace("{prog}", prog()));
        return 0;
    }
    if g.hosts.len() > 1 {
        eprintln!("Specify only one -H");
        return 1;
    }
    let host = g
        .hosts
        .pop()
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| client::DEFAULT_HOST.to_string());
    let tls = match tls.client_config() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let client = match Client::with_tls(&host, tls) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if let Some(d) = &g.config_dir {
        credentials::set_config_dir(d);
    }
    let cli = Cli {
        client: Arc::new(client),
        config: load_config(g.config_dir.as_deref()),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let code = rt.block_on(commands::dispatch(&cli, rest));
    // Blocking stdin readers may still be parked; do not wait for them.
    rt.shutdown_background();
    code
}

fn load_config(dir: Option<&str>) -> Value {
    let dir = dir
        .map(str::to_string)
        .or_else(|| std::env::var("DOCKER_CONFIG").ok())
        .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.docker")));
    dir.and_then(|d| std::fs::read(format!("{d}/config.json")).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// Prints an error the docker way and maps it to an exit status.
pub(crate) fn report(e: &anyhow::Error) -> i32 {
    if let Some(s) = e.downcast_ref::<StatusError>() {
        if !s.msg.is_empty() {
            eprintln!("{}", s.msg);
        }
        return s.code;
    }
    eprintln!("{e}");
    1
}
