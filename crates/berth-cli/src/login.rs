//! `login` and `logout`: credentials checked by the daemon (`POST /auth`) and kept in
//! docker's config.json.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};
use serde_json::json;

use crate::credentials::{self, server_key};
use crate::flags::{b, v, Args, Matches, Spec};
use crate::Cli;

pub fn spec(canon: &str) -> Option<Spec> {
    Some(match canon {
        "login" => Spec::new(
            "login",
            "login [OPTIONS] [SERVER]",
            "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
            vec![
                v("password", Some('p'), "string", "Password or Personal Access Token (PAT)"),
                b("password-stdin", None, "Take the Password or Personal Access Token (PAT) from stdin"),
                v("username", Some('u'), "string", "Username"),
            ],
        )
        .args(Args::Max(1)),
        "logout" => Spec::new(
            "logout",
            "logout [SERVER]",
            "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
            vec![],
        )
        .args(Args::Max(1)),
        _ => return None,
    })
}

fn prompt(text: &str) -> Result<String> {
    eprint!("{text}");
    let _ = std::io::stderr().flush();
    let mut s = String::new();
    std::io::stdin().lock().read_line(&mut s)?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    let server = m.args.first().cloned().unwrap_or_default();
    let key = server_key(&server);
    if canon == "logout" {
        let shown = if server.is_empty() {
            key.clone()
        } else {
            server
        };
        if credentials::erase(&key)? {
            println!("Removing login credentials for {shown}");
        } else {
            println!("Not logged in to {shown}");
        }
        return Ok(0);
    }
    let mut user = m.str("username");
    let mut password = m.str("password");
    if m.flag("password-stdin") {
        if !password.is_empty() {
            bail!("--password and --password-stdin are mutually exclusive");
        }
        if user.is_empty() {
            bail!("Must provide --username with --password-stdin");
        }
        let mut s = String::new();
        std::io::stdin().lock().read_line(&mut s)?;
        password = s.trim_end_matches(['\r', '\n']).to_string();
    } else if !password.is_empty() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if user.is_empty() {
        if let Ok(Some((u, p))) = credentials::get(&key) {
            if password.is_empty() {
                user = u;
                password = p;
            }
        }
    }
    if user.is_empty() {
        if !std::io::stdin().is_terminal() {
            bail!("Error: Cannot perform an interactive login from a non TTY device");
        }
        user = prompt("Username: ")?;
    }
    if password.is_empty() {
        if !std::io::stdin().is_terminal() {
            bail!("Error: Cannot perform an interactive login from a non TTY device");
        }
        password = prompt("Password: ")?;
    }
    if user.is_empty() {
        bail!("Error: Non-null Username Required");
    }
    let body = json!({"username": user, "password": password, "serveraddress": key});
    cli.client.post_json("/auth", Some(&body)).await?;
    credentials::store(&key, &user, &password)?;
    println!("Login Succeeded");
    Ok(0)
}
