//! Pulling images and displaying the daemon's JSON progress streams.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use serde_json::Value;

use crate::client::{for_each_line, query};
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
    let (repo, tag, _) = normalize_ref(image);
    let path = query(
        "/images/create",
        &[
            ("fromImage", repo),
            ("tag", tag),
            ("platform", platform.to_string()),
        ],
    );
    let resp = cli.client.post(&path, None).await?;
    print_json_stream(resp, to_stderr, quiet).await
}

/// Displays a JSON message stream (pull, load, import): status lines, errors.
pub async fn print_json_stream(
    resp: hyper::Response<hyper::body::Incoming>,
    to_stderr: bool,
    quiet: bool,
) -> Result<()> {
    let tty = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let mut err: Option<String> = None;
    for_each_line(resp, |line| {
        let Ok(msg) = serde_json::from_slice::<Value>(line) else {
            return Ok(());
        };
        if let Some(e) = msg.get("error").and_then(Value::as_str) {
            err = Some(e.to_string());
            return Ok(());
        }
        if quiet {
            return Ok(());
        }
        let mut text = String::new();
        if let Some(s) = msg.get("stream").and_then(Value::as_str) {
            text.push_str(s);
        } else if let Some(s) = msg.get("status").and_then(Value::as_str) {
            let progress = msg
                .get("progress")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !progress.is_empty() && !tty {
                return Ok(());
            }
            if let Some(id) = msg.get("id").and_then(Value::as_str) {
                text.push_str(&format!("{id}: "));
            }
            text.push_str(s);
            if !progress.is_empty() {
                text.push(' ');
                text.push_str(progress);
            }
            text.push('\n');
        }
        if to_stderr {
            let _ = std::io::stderr().write_all(text.as_bytes());
        } else {
            let mut o = std::io::stdout();
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
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
