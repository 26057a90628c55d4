//! Pulling images and displaying the daemon's JSON progress streams.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use serde_json::Value;

use crate::client::{empty, for_each_line, query};
use crate::Cli;

/// "busybox" → ("busybox", "latest", "busybox:latest"); digests keep their form.
pub fn normalize_ref(r: &str) -> (String, String, String) {
    if let Some((repo, digest)) = r.split_once('@') {
        return (repo.to_string(), digest.to_string(), r.to_string());
    }
    let slash = r.rfind('/').map(|i| i + 1).unwrap_or(0);
    match r[slash..].rfind(':') {
        Some(i) => (
            r[..slash + i].to_string(),
            r[slash + i + 1..].to_string(),
            r.to_string(),
        ),
        None => (r.to_string(), "latest".to_string(), format!("{r}:latest")),
    }
}

/// docker.io/library/busybox:latest, as `docker pull` prints last.
pub fn qualified(r: &str) -> String {
    let first = r.split('/').next().unwrap_or_default();
    let has_domain =
        r.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        r.to_string()
    } else if r.contains('/') {
        format!("docker.io/{r}")
    } else {
        format!("docker.io/library/{r}")
    }
}

/// Pulls an image, printing the progress stream docker-style.
pub async fn pull(
    cli: &Cli,
    image: &str,
    platform: &str,
    to_stderr: bool,
    quiet: bool,
) -> Result<()> {
    pull_tags(cli, image, platform, to_stderr, quiet, false).await
}

/// As [`pull`]; `all_tags` asks for every tag of the repository (`pull -a`).
pub async fn pull_tags(
    cli: &Cli,
    image: &str,
    platform: &str,
    to_stderr: bool,
    quiet: bool,
    all_tags: bool,
) -> Result<()> {
    let (repo, tag, _) = normalize_ref(image);
    let tag = if all_tags { String::new() } else { tag };
    let path = query(
        "/images/create",
        &[
            ("fromImage", repo),
            ("tag", tag),
            ("platform", platform.to_string()),
        ],
    );
    let auth = crate::credentials::registry_auth_header(image);
    let resp = cli
        .client
        .send(
            hyper::Method::POST,
            &path,
            empty(),
            &[("X-Registry-Auth", auth.as_str())],
        )
        .await?;
    print_json_stream(resp, to_stderr, quiet).await
}

/// Pushes `image` (every tag of the repository when it names none and `all_tags`).
pub async fn push(cli: &Cli, image: &str, all_tags: bool, quiet: bool) -> Result<()> {
    let (repo, tag, _) = normalize_ref(image);
    let tag = if all_tags { String::new() } else { tag };
    let path = query(&format!("/images/{repo}/push"), &[("tag", tag)]);
    let auth = crate::credentials::registry_auth_header(image);
    let resp = cli
        .client
        .send(
            hyper::Method::POST,
            &path,
            empty(),
            &[("X-Registry-Auth", auth.as_str())],
        )
        .await?;
    print_json_stream(resp, false, quiet).await
}

/// Lines of layers already printed on a terminal, rewritten in place as docker does.
#[derive(Default)]
struct Screen {
    ids: Vec<String>,
}

impl Screen {
    /// The text to write for a line about `id`: a new line, or the cursor moved up to its
    /// line, the line rewritten, and the cursor moved back.
    fn render(&mut self, id: &str, line: &str) -> String {
        match self.ids.iter().position(|i| i == id) {
            Some(pos) => {
                let up = self.ids.len() - pos;
                format!("\x1b[{up}A\r\x1b[2K{line}\r\x1b[{up}B")
            }
            None => {
                self.ids.push(id.to_string());
                format!("{line}\n")
            }
        }
    }
}

/// Shows docker's JSON progress messages: `stream` text, and `status` lines (a layer's
/// line updated in place on a terminal; progress bars only there).
pub struct JsonPrinter {
    to_stderr: bool,
    tty: bool,
    screen: Screen,
}

impl JsonPrinter {
    pub fn new(to_stderr: bool) -> JsonPrinter {
        let tty = if to_stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        JsonPrinter {
            to_stderr,
            tty,
            screen: Screen::default(),
        }
    }

    pub fn show(&mut self, msg: &Value) {
        let mut text = String::new();
        if let Some(s) = msg.get("stream").and_then(Value::as_str) {
            text.push_str(s);
        } else if let Some(s) = msg.get("status").and_then(Value::as_str) {
            let progress = msg
                .get("progress")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !progress.is_empty() && !self.tty {
                return;
            }
            let id = msg.get("id").and_then(Value::as_str);
            if let Some(id) = id {
                text.push_str(&format!("{id}: "));
            }
            text.push_str(s);
            if !progress.is_empty() {
                text.push(' ');
                text.push_str(progress);
            }
            // On a terminal a layer's line is updated in place; "Pulling from" and the
            // other messages with an id but no layer state are plain lines.
            let layer_line = self.tty && id.is_some() && msg.get("progressDetail").is_some();
            text = match id {
                Some(id) if layer_line => self.screen.render(id, &text),
                _ => {
                    text.push('\n');
                    text
                }
            };
        }
        if self.to_stderr {
            let _ = std::io::stderr().write_all(text.as_bytes());
        } else {
            let mut o = std::io::stdout();
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
        }
    }
}

/// Displays a JSON message stream (pull, load, import): status lines, errors.
pub async fn print_json_stream(
    resp: hyper::Response<hyper::body::Incoming>,
    to_stderr: bool,
    quiet: bool,
) -> Result<()> {
    let mut err: Option<String> = None;
    let mut printer = JsonPrinter::new(to_stderr);
    for_each_line(resp, |line| {
        let Ok(msg) = serde_json::from_slice::<Value>(line) else {
            return Ok(());
        };
        if let Some(e) = msg.get("error").and_then(Value::as_str) {
            err = Some(e.to_string());
            return Ok(());
        }
        if !quiet {
            printer.show(&msg);
        }
        Ok(())
    })
    .await?;
    match err {
        Some(e) => Err(anyhow::anyhow!(e)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        assert_eq!(normalize_ref("busybox").2, "busybox:latest");
        assert_eq!(normalize_ref("localhost:5000/app").0, "localhost:5000/app");
        assert_eq!(normalize_ref("localhost:5000/app:v1").1, "v1");
        assert_eq!(normalize_ref("a@sha256:ab").1, "sha256:ab");
        assert_eq!(
            qualified("busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(qualified("me/app:1"), "docker.io/me/app:1");
        assert_eq!(qualified("localhost:5000/app:1"), "localhost:5000/app:1");
    }
}
