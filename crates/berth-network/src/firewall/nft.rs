//! Running the nft binary: a script on stdin (one atomic batch) or a JSON listing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone)]
pub(crate) struct Nft {
    path: PathBuf,
}

#[derive(Debug)]
pub(crate) enum NftFailure {
    Exec(std::io::Error),
    /// nft's stderr, trimmed.
    Refused(String),
    BadJson(String),
}

impl Nft {
    pub(crate) fn new(path: PathBuf) -> Nft {
        Nft { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `nft -f -`: nft parses the whole script and commits it as one transaction, so
    /// a refused script changes nothing.
    pub(crate) fn run_script(&self, script: &str) -> Result<(), NftFailure> {
        self.run(&["-f", "-"], Some(script)).map(drop)
    }

    pub(crate) fn list_json(&self, args: &[&str]) -> Result<serde_json::Value, NftFailure> {
        let out = self.run(args, None)?;
        serde_json::from_slice(&out).map_err(|e| NftFailure::BadJson(e.to_string()))
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Vec<u8>, NftFailure> {
        let mut child = Command::new(&self.path)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(NftFailure::Exec)?;
        let output = std::thread::scope(|s| {
            // Feed stdin from another thread so a chatty nft cannot fill its stderr
            // pipe while we are still blocked writing the script.
            if let (Some(script), Some(mut pipe)) = (stdin, child.stdin.take()) {
                s.spawn(move || {
                    // A write error means nft exited early; its status and stderr say why.
                    let _ = pipe.write_all(script.as_bytes());
                });
            }
            child.wait_with_output()
        })
        .map_err(NftFailure::Exec)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_owned();
            Err(NftFailure::Refused(if stderr.is_empty() {
                format!("nft {} exited with {}", args.join(" "), output.status)
            } else {
                stderr
            }))
        }
    }
}
