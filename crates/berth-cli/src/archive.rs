//! Tar streams: `cp`, `export`, `save`, `load`, `import`.

use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use hyper::Method;
use serde_json::Value;

use crate::client::{copy_body, full, query, read_bytes, reader_body};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::pull::{normalize_ref, print_json_stream};
use crate::units::human_size;
use crate::Cli;

pub fn handles(canon: &str) -> bool {
    matches!(
        canon,
        "container.cp" | "container.export" | "image.save" | "image.load" | "image.import"
    )
}

pub fn spec(canon: &str) -> Option<Spec> {
    Some(match canon {
        "container.cp" => Spec::new(
            "cp",
            "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
            "Copy files/folders between a container and the local filesystem",
            vec![
                b("archive", Some('a'), "Archive mode (copy all uid/gid information)"),
                b("follow-link", Some('L'), "Always follow symbol link in SRC_PATH"),
                b("quiet", Some('q'), "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached"),
            ],
        )
        .args(Args::Exact(2)),
        "container.export" => Spec::new(
            "export",
            "export [OPTIONS] CONTAINER",
            "Export a container's filesystem as a tar archive",
            vec![v("output", Some('o'), "string", "Write to a file, instead of STDOUT")],
        )
        .args(Args::Exact(1)),
        "image.save" => Spec::new(
            "save",
            "save [OPTIONS] IMAGE [IMAGE...]",
            "Save one or more images to a tar archive (streamed to STDOUT by default)",
            vec![v("output", Some('o'), "string", "Write to a file, instead of STDOUT"), v("platform", None, "string", "Save only the given platform variant")],
        )
        .args(Args::Min(1)),
        "image.load" => Spec::new(
            "load",
            "load [OPTIONS]",
            "Load an image from a tar archive or STDIN",
            vec![
                v("input", Some('i'), "string", "Read from tar archive file, instead of STDIN"),
                v("platform", None, "string", "Load only the given platform variant"),
                b("quiet", Some('q'), "Suppress the load output"),
            ],
        )
        .args(Args::None),
        "image.import" => Spec::new(
            "import",
            "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
            "Import the contents from a tarball to create a filesystem image",
            vec![
                l("change", Some('c'), "list", "Apply Dockerfile instruction to the created image"),
                v("message", Some('m'), "string", "Set commit message for imported image"),
                v("platform", None, "string", "Set platform if server is multi-platform capable"),
            ],
        )
        .args(Args::Range(1, 2)),
        _ => return None,
    })
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    match canon {
        "container.cp" => cp(cli, &m).await,
        "container.export" => {
            let resp = cli
                .client
                .get(&format!("/containers/{}/export", m.args[0]))
                .await?;
            write_out(resp, &m.str("output")).await
        }
        "image.save" => {
            let mut params: Vec<(&str, String)> =
                m.args.iter().map(|n| ("names", n.clone())).collect();
            params.push(("platform", m.str("platform")));
            let out = m.str("output");
            if out.is_empty() && std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let resp = cli.client.get(&query("/images/get", &params)).await?;
            write_out(resp, &out).await
        }
        "image.load" => {
            let input = m.str("input");
            let body = if input.is_empty() {
                if std::io::stdin().is_terminal() {
                    bail!("requested load from stdin, but stdin is empty");
                }
                reader_body(tokio::io::stdin())
            } else {
                reader_body(
                    tokio::fs::File::open(&input)
                        .await
                        .map_err(|e| anyhow!("open {input}: {}", crate::opts::os_err(&e)))?,
                )
            };
            // As docker: progress only for a terminal.
            let quiet = if m.flag("quiet") || !std::io::stdout().is_terminal() {
                "1".to_string()
            } else {
                String::new()
            };
            let path = query(
                "/images/load",
                &[("quiet", quiet), ("platform", m.str("platform"))],
            );
            let resp = cli
                .client
                .send(
                    Method::POST,
                    &path,
                    body,
                    &[("Content-Type", "application/x-tar")],
                )
                .await?;
            print_json_stream(resp, false, false).await?;
            Ok(0)
        }
        _ => import(cli, &m).await,
    }
}

async fn write_out(resp: hyper::Response<hyper::body::Incoming>, out: &str) -> Result<i32> {
    if out.is_empty() {
        if std::io::stdout().is_terminal() {
            bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        }
        copy_body(resp, &mut tokio::io::stdout()).await?;
    } else {
        let tmp = format!("{out}.berth-tmp");
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| anyhow!("failed to save: open {out}: {}", crate::opts::os_err(&e)))?;
        copy_body(resp, &mut f).await?;
        tokio::fs::rename(&tmp, out).await?;
    }
    Ok(0)
}

async fn import(cli: &Cli, m: &Matches) -> Result<i32> {
    let src = &m.args[0];
    if src.starts_with("http://") || src.starts_with("https://") {
        bail!("importing from a URL is not supported by berth; download the file and import it");
    }
    let (repo, tag) = match m.args.get(1) {
        Some(r) => {
            let (repo, tag, _) = normalize_ref(r);
            (repo, tag)
        }
        None => (String::new(), String::new()),
    };
    let mut params: Vec<(&str, String)> = vec![
        ("fromSrc", "-".into()),
        ("repo", repo),
        ("tag", tag),
        ("message", m.str("message")),
        ("platform", m.str("platform")),
    ];
    for c in m.list("change") {
        params.push(("changes", c));
    }
    let body = if src == "-" {
        reader_body(tokio::io::stdin())
    } else {
        reader_body(
            tokio::fs::File::open(src)
                .await
                .map_err(|e| anyhow!("open {src}: {}", crate::opts::os_err(&e)))?,
        )
    };
    let resp = cli
        .client
        .send(
            Method::POST,
            &query("/images/create", &params),
            body,
            &[("Content-Type", "application/x-tar")],
        )
        .await?;
    print_json_stream(resp, false, false).await?;
    Ok(0)
}

/// Splits "container:/path" (a local path with a colon needs a "./" prefix).
fn split_cp(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':')
}

fn b64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The container-side stat of a path, or None when it does not exist.
async fn stat(cli: &Cli, id: &str, path: &str) -> Result<Option<Value>> {
    let p = query(
        &format!("/containers/{id}/archive"),
        &[("path", path.to_string())],
    );
    match cli
        .client
        .send(Method::HEAD, &p, crate::client::empty(), &[])
        .await
    {
        Ok(resp) => {
            let h = resp
                .headers()
                .get("x-docker-container-path-stat")
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            Ok(Some(
                serde_json::from_slice(&b64_decode(h)).unwrap_or(Value::Null),
            ))
        }
        Err(e) if crate::client::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_dir_mode(st: &Value) -> bool {
    // Go's os.ModeDir is the top bit of a uint32.
    st["mode"].as_u64().is_some_and(|m| m & (1 << 31) != 0)
}

async fn cp(cli: &Cli, m: &Matches) -> Result<i32> {
    let (src, dst) = (&m.args[0], &m.args[1]);
    match (split_cp(src), split_cp(dst)) {
        (Some((c, p)), None) => cp_from(cli, m, c, p, dst).await,
        (None, Some((c, p))) => cp_to(cli, m, src, c, p).await,
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
}

fn safe_join(base: &Path, rel: &Path) -> Option<PathBuf> {
    let mut out = base.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

async fn cp_from(cli: &Cli, m: &Matches, ctr: &str, path: &str, dst: &str) -> Result<i32> {
    let p = query(
        &format!("/containers/{ctr}/archive"),
        &[("path", path.to_string())],
    );
    let resp = cli.client.get(&p).await?;
    if dst == "-" {
        copy_body(resp, &mut tokio::io::stdout()).await?;
        return Ok(0);
    }
    let data = read_bytes(resp).await?;
    let contents_only = path.ends_with("/.");
    let dst_path = PathBuf::from(dst);
    let dst_is_dir = dst_path.is_dir();
    if dst.ends_with('/') && !dst_is_dir {
        bail!("destination \"{dst}\" must be a directory");
    }
    let total = data.len();
    let mut ar = tar::Archive::new(std::io::Cursor::new(data));
    ar.set_preserve_permissions(true);
    ar.set_preserve_ownerships(m.flag("archive"));
    for entry in ar.entries()? {
        let mut entry = entry?;
        let ep = entry.path()?.into_owned();
        let mut comps = ep.components();
        comps.next();
        let rest: PathBuf = comps.collect();
        let root_name = ep
            .components()
            .next()
            .map(|c| PathBuf::from(c.as_os_str()))
            .unwrap_or_default();
        let base = if dst_is_dir && !contents_only {
            dst_path.join(root_name)
        } else {
            dst_path.clone()
        };
        let target = safe_join(&base, &rest)
            .ok_or_else(|| anyhow!("invalid path in archive: {}", ep.display()))?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        entry.unpack(&target)?;
    }
    if !m.flag("quiet") && std::io::stderr().is_terminal() {
        eprintln!("Successfully copied {} to {dst}", human_size(total as f64));
    }
    Ok(0)
}

async fn cp_to(cli: &Cli, m: &Matches, src: &str, ctr: &str, path: &str) -> Result<i32> {
    let copy_uid = if m.flag("archive") {
        "1".to_string()
    } else {
        String::new()
    };
    if src == "-" {
        let st = stat(cli, ctr, path).await?;
        if !st.as_ref().is_some_and(is_dir_mode) {
            bail!("destination \"{ctr}:{path}\" must be a directory");
        }
        let q = query(
            &format!("/containers/{ctr}/archive"),
            &[("path", path.to_string()), ("copyUIDGID", copy_uid)],
        );
        cli.client
            .send(
                Method::PUT,
                &q,
                reader_body(tokio::io::stdin()),
                &[("Content-Type", "application/x-tar")],
            )
            .await?;
        return Ok(0);
    }
    let src_path = PathBuf::from(src);
    // docker resolves the path first, so it names the first component that is missing.
    let meta = std::fs::symlink_metadata(&src_path).map_err(|_| {
        let mut ancestors: Vec<&std::path::Path> = src_path
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .collect();
        ancestors.reverse();
        let missing = ancestors
            .into_iter()
            .find(|a| std::fs::symlink_metadata(a).is_err())
            .map(|a| a.display().to_string())
            .unwrap_or_else(|| src.to_string());
        anyhow!("lstat {missing}: no such file or directory")
    })?;
    let contents_only = src.ends_with("/.");
    let st = stat(cli, ctr, path).await?;
    let dst_is_dir = st.as_ref().is_some_and(is_dir_mode);
    let src_name = src_path
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| src.to_string());
    // Upload into the destination directory, or into its parent under the new name.
    let (upload_dir, root) = if dst_is_dir {
        (
            path.to_string(),
            if contents_only {
                String::new()
            } else {
                src_name
            },
        )
    } else {
        if path.ends_with('/') {
            bail!("destination \"{ctr}:{path}\" must be a directory");
        }
        let p = Path::new(path);
        let parent = p
            .parent()
            .map(|p| p.to_string_lossy().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/".into());
        (
            parent,
            p.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
        )
    };
    let follow = m.flag("follow-link");
    let tarball = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
        let mut bld = tar::Builder::new(Vec::new());
        bld.follow_symlinks(follow);
        if meta.is_dir() {
            let name = if root.is_empty() { "." } else { root.as_str() };
            bld.append_dir_all(name, &src_path)?;
        } else {
            bld.append_path_with_name(&src_path, &root)?;
        }
        Ok(bld.into_inner()?)
    })
    .await??;
    let size = tarball.len();
    let q = query(
        &format!("/containers/{ctr}/archive"),
        &[("path", upload_dir), ("copyUIDGID", copy_uid)],
    );
    cli.client
        .send(
            Method::PUT,
            &q,
            full(tarball),
            &[("Content-Type", "application/x-tar")],
        )
        .await?;
    if !m.flag("quiet") && std::io::stderr().is_terminal() {
        eprintln!(
            "Successfully copied {} to {ctr}:{path}",
            human_size(size as f64)
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_args() {
        assert_eq!(split_cp("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(split_cp("/tmp/a:b"), None);
        assert_eq!(split_cp("./a:b"), None);
        assert_eq!(b64_decode("eyJuYW1lIjoiYSJ9"), br#"{"name":"a"}"#.to_vec());
        assert_eq!(safe_join(Path::new("/x"), Path::new("a/../b")), None);
    }
}
