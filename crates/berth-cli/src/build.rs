//! `build` (the legacy builder's output, as `DOCKER_BUILDKIT=0 docker build`)
//! and `builder prune`. The context is walked here with `.dockerignore`
//! applied, sent as a tar, and the daemon's JSON stream printed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use berth_build::context::{walk_context, EntryKind};
use berth_build::ignore::DockerIgnore;
use hyper::Method;
use serde_json::{json, Map, Value};

use crate::client::{for_each_line, full, query};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::units::human_size4;
use crate::{Cli, StatusError};

pub fn handles(canon: &str) -> bool {
    matches!(canon, "image.build" | "builder.prune")
}

pub fn spec(canon: &str) -> Option<Spec> {
    Some(match canon {
        "image.build" => Spec::new(
            "build",
            "build [OPTIONS] PATH | URL | -",
            "Build an image from a Dockerfile",
            vec![
                l(
                    "add-host",
                    None,
                    "list",
                    "Add a custom host-to-IP mapping (host:ip)",
                ),
                l("build-arg", None, "list", "Set build-time variables"),
                l(
                    "cache-from",
                    None,
                    "strings",
                    "Images to consider as cache sources",
                ),
                b("compress", None, "Compress the build context using gzip"),
                v(
                    "cgroup-parent",
                    None,
                    "string",
                    "Set the parent cgroup for the \"RUN\" instructions during build",
                ),
                v(
                    "cpu-period",
                    None,
                    "int",
                    "Limit the CPU CFS (Completely Fair Scheduler) period",
                ),
                v(
                    "cpu-quota",
                    None,
                    "int",
                    "Limit the CPU CFS (Completely Fair Scheduler) quota",
                ),
                v(
                    "cpu-shares",
                    Some('c'),
                    "int",
                    "CPU shares (relative weight)",
                ),
                v(
                    "cpuset-cpus",
                    None,
                    "string",
                    "CPUs in which to allow execution (0-3, 0,1)",
                ),
                v(
                    "cpuset-mems",
                    None,
                    "string",
                    "MEMs in which to allow execution (0-3, 0,1)",
                ),
                v(
                    "file",
                    Some('f'),
                    "string",
                    "Name of the Dockerfile (Default is \"PATH/Dockerfile\")",
                ),
                b("force-rm", None, "Always remove intermediate containers"),
                v("iidfile", None, "string", "Write the image ID to the file"),
                v(
                    "isolation",
                    None,
                    "string",
                    "Container isolation technology",
                ),
                l("label", None, "list", "Set metadata for an image"),
                v("memory", Some('m'), "bytes", "Memory limit"),
                v(
                    "memory-swap",
                    None,
                    "bytes",
                    "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
                ),
                v(
                    "network",
                    None,
                    "string",
                    "Set the networking mode for the RUN instructions during build",
                )
                .def("default"),
                b("no-cache", None, "Do not use cache when building the image"),
                v(
                    "platform",
                    None,
                    "string",
                    "Set platform if server is multi-platform capable",
                ),
                b(
                    "pull",
                    None,
                    "Always attempt to pull a newer version of the image",
                ),
                b(
                    "quiet",
                    Some('q'),
                    "Suppress the build output and print image ID on success",
                ),
                b(
                    "rm",
                    None,
                    "Remove intermediate containers after a successful build",
                )
                .def("true"),
                v("shm-size", None, "bytes", "Size of \"/dev/shm\""),
                l(
                    "tag",
                    Some('t'),
                    "list",
                    "Name and optionally a tag in the \"name:tag\" format",
                ),
                v(
                    "target",
                    None,
                    "string",
                    "Set the target build stage to build.",
                ),
                l("ulimit", None, "ulimit", "Ulimit options").def("[]"),
            ],
        )
        .args(Args::Exact(1)),
        "builder.prune" => Spec::new(
            "prune",
            "builder prune",
            "Remove build cache",
            vec![
                b(
                    "all",
                    Some('a'),
                    "Remove all unused build cache, not just dangling ones",
                ),
                l(
                    "filter",
                    None,
                    "filter",
                    "Provide filter values (e.g. \"until=24h\")",
                ),
                b("force", Some('f'), "Do not prompt for confirmation"),
            ],
        )
        .args(Args::None),
        _ => return None,
    })
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    match canon {
        "builder.prune" => prune(cli, &m).await,
        _ => build(cli, &m).await,
    }
}

async fn prune(cli: &Cli, m: &Matches) -> Result<i32> {
    if !m.flag("force") {
        let what = if m.flag("all") { "all" } else { "all dangling" };
        print!(
            "WARNING! This will remove {what} build cache. Are you sure you want to continue? [y/N] "
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y") {
            return Ok(0);
        }
    }
    let all = if m.flag("all") {
        "1".to_string()
    } else {
        String::new()
    };
    let v = cli
        .client
        .post_json(&query("/build/prune", &[("all", all)]), None)
        .await?;
    let ids = v["CachesDeleted"].as_array().cloned().unwrap_or_default();
    let mut text = String::new();
    if !ids.is_empty() {
        text.push_str("Deleted build cache objects:\n");
        for id in &ids {
            text.push_str(id.as_str().unwrap_or_default());
            text.push('\n');
        }
        text.push('\n');
    }
    println!(
        "{text}Total reclaimed space: {}",
        crate::units::human_size(v["SpaceReclaimed"].as_f64().unwrap_or(0.0))
    );
    Ok(0)
}

/// `--build-arg K=V`, or `K` alone taking `$K` (null when unset, as docker).
fn build_args(list: &[String]) -> Value {
    let mut m = Map::new();
    for a in list {
        match a.split_once('=') {
            Some((k, v)) => m.insert(k.to_string(), json!(v)),
            None => m.insert(
                a.clone(),
                std::env::var(a).map_or(Value::Null, |v| json!(v)),
            ),
        };
    }
    Value::Object(m)
}

fn labels(list: &[String]) -> Value {
    let mut m = Map::new();
    for a in list {
        let (k, v) = a.split_once('=').unwrap_or((a.as_str(), ""));
        m.insert(k.to_string(), json!(v));
    }
    Value::Object(m)
}

fn is_remote(s: &str) -> bool {
    ["http://", "https://", "git://", "git@", "github.com/"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// A tar stream's first bytes: gzip, bzip2, xz, zstd or a ustar header.
fn is_archive(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (head.len() >= 262 && &head[257..262] == b"ustar")
}

fn random_name() -> String {
    let mut bytes = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(".dockerfile.{hex}")
}

fn header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// The context directory as a tar (owners zeroed, `.dockerignore` applied),
/// with an extra Dockerfile added under `extra.0` when it is not in the context
/// and named in `.dockerignore` so that the daemon leaves it out of the
/// build's files (as the docker CLI does).
fn context_tar(dir: &Path, dockerfile: &str, extra: Option<(&str, &[u8])>) -> Result<Vec<u8>> {
    let ignore = DockerIgnore::for_context(dir, Some(dockerfile))
        .map_err(|e| anyhow!("unable to prepare context: {e}"))?;
    let entries =
        walk_context(dir, &ignore).map_err(|e| anyhow!("unable to prepare context: {e}"))?;
    let mut t = tar::Builder::new(Vec::new());
    for e in &entries {
        if extra.is_some() && e.path == ".dockerignore" {
            continue;
        }
        let path = dir.join(&e.path);
        match &e.kind {
            EntryKind::Dir => {
                let mut h = header(0, e.mode, tar::EntryType::Directory);
                t.append_data(&mut h, format!("{}/", e.path), std::io::empty())?;
            }
            EntryKind::File { .. } => {
                let f = std::fs::File::open(&path).map_err(|err| {
                    anyhow!("unable to prepare context: open {}: {err}", path.display())
                })?;
                let size = f.metadata()?.len();
                let mut h = header(size, e.mode, tar::EntryType::Regular);
                t.append_data(&mut h, &e.path, f)?;
            }
            EntryKind::Symlink { target } => {
                let mut h = header(0, e.mode, tar::EntryType::Symlink);
                t.append_link(&mut h, &e.path, target)?;
            }
            EntryKind::Special => {}
        }
    }
    if let Some((name, data)) = extra {
        let mut h = header(data.len() as u64, 0o600, tar::EntryType::Regular);
        t.append_data(&mut h, name, data)?;
        // A context without a .dockerignore gets one that also leaves itself out.
        let mut ignore =
            std::fs::read(dir.join(".dockerignore")).unwrap_or_else(|_| b".dockerignore".to_vec());
        ignore.extend_from_slice(format!("\n{name}\n").as_bytes());
        let mut h = header(ignore.len() as u64, 0o600, tar::EntryType::Regular);
        t.append_data(&mut h, ".dockerignore", ignore.as_slice())?;
    }
    Ok(t.into_inner()?)
}

/// The Dockerfile's name in the context: `-f` relative to the current
/// directory (inside the context), or added to the context when outside it.
fn dockerfile_in(dir: &Path, file: &str) -> Result<(String, Option<Vec<u8>>)> {
    if file.is_empty() {
        return Ok(("Dockerfile".into(), None));
    }
    let p = PathBuf::from(file);
    let abs = if p.is_absolute() {
        p
    } else {
        std::env::current_dir()?.join(p)
    };
    let abs = std::fs::canonicalize(&abs).map_err(|e| {
        anyhow!("unable to prepare context: unable to evaluate symlinks in Dockerfile path: {e}")
    })?;
    let root = std::fs::canonicalize(dir)?;
    match abs.strip_prefix(&root) {
        Ok(rel) => Ok((rel.to_string_lossy().into_owned(), None)),
        Err(_) => {
            let data = std::fs::read(&abs)
                .map_err(|e| anyhow!("unable to prepare context: read {}: {e}", abs.display()))?;
            Ok((random_name(), Some(data)))
        }
    }
}

async fn build(cli: &Cli, m: &Matches) -> Result<i32> {
    let src = m.args[0].clone();
    let file = m.str("file");
    let quiet = m.flag("quiet");
    if is_remote(&src) {
        bail!("unable to prepare context: {src}: berth builds from a local directory or a tar on stdin; remote contexts cannot be fetched here");
    }
    let (body, dockerfile) = if src == "-" {
        if file == "-" {
            bail!("invalid argument: can't use stdin for both build context and dockerfile");
        }
        let mut input = Vec::new();
        std::io::stdin().read_to_end(&mut input)?;
        if is_archive(&input) {
            let name = if file.is_empty() {
                "Dockerfile".to_string()
            } else {
                file.clone()
            };
            (input, name)
        } else {
            // A Dockerfile alone: an empty context.
            let dir = tempfile_dir()?;
            let name = random_name();
            let tar = context_tar(dir.path(), &name, Some((&name, &input)))?;
            (tar, name)
        }
    } else {
        let dir = PathBuf::from(&src);
        if !dir.is_dir() {
            bail!("unable to prepare context: path {src:?} not found");
        }
        if file == "-" {
            let mut text = Vec::new();
            std::io::stdin().read_to_end(&mut text)?;
            let name = random_name();
            (context_tar(&dir, &name, Some((&name, &text)))?, name)
        } else {
            let (name, extra) = dockerfile_in(&dir, &file)?;
            if extra.is_none() && !dir.join(&name).exists() {
                let shown = if file.is_empty() {
                    dir.join("Dockerfile")
                } else {
                    PathBuf::from(&file)
                };
                bail!("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory", std::fs::canonicalize(&dir).unwrap_or(dir.clone()).join(shown.file_name().unwrap_or_default()).display());
            }
            let extra_ref = extra.as_deref().map(|d| (name.as_str(), d));
            (context_tar(&dir, &name, extra_ref)?, name)
        }
    };
    let body = if m.flag("compress") {
        let mut gz = berth_image::layer::LayerGzip::new(Vec::new());
        gz.write_all(&body)?;
        gz.finish()?
    } else {
        body
    };
    if !quiet {
        println!(
            "Sending build context to Docker daemon {:>8}",
            human_size4(body.len() as f64)
        );
    }
    let flag01 = |f: &str| {
        if m.flag(f) {
            "1".to_string()
        } else {
            String::new()
        }
    };
    let mut params: Vec<(&str, String)> = m.list("tag").into_iter().map(|t| ("t", t)).collect();
    params.extend([
        ("dockerfile", dockerfile),
        ("buildargs", build_args(&m.list("build-arg")).to_string()),
        ("labels", labels(&m.list("label")).to_string()),
        ("target", m.str("target")),
        ("nocache", flag01("no-cache")),
        ("pull", flag01("pull")),
        (
            "rm",
            if !m.has("rm") || m.flag("rm") {
                "1".into()
            } else {
                "0".into()
            },
        ),
        ("forcerm", flag01("force-rm")),
        ("networkmode", m.str("network")),
        ("q", flag01("quiet")),
        ("platform", m.str("platform")),
    ]);
    params.extend(run_params(m)?);
    let registry_config = crate::credentials::registry_config_header();
    let resp = cli
        .client
        .send(
            Method::POST,
            &query("/build", &params),
            full(body),
            &[
                ("Content-Type", "application/x-tar"),
                ("X-Registry-Config", &registry_config),
            ],
        )
        .await?;
    let mut image_id = String::new();
    let mut failure: Option<(String, i32)> = None;
    let mut printer = crate::pull::JsonPrinter::new(false);
    for_each_line(resp, |line| {
        let Ok(msg) = serde_json::from_slice::<Value>(line) else {
            return Ok(());
        };
        if let Some(e) = msg.get("error").and_then(Value::as_str) {
            let code = msg["errorDetail"]["code"].as_i64().unwrap_or(1) as i32;
            failure = Some((e.to_string(), if code == 0 { 1 } else { code }));
            return Ok(());
        }
        if let Some(id) = msg["aux"]["ID"].as_str() {
            image_id = id.to_string();
        }
        printer.show(&msg);
        Ok(())
    })
    .await?;
    let _ = std::io::stdout().flush();
    if let Some((msg, code)) = failure {
        return Err(StatusError { code, msg }.into());
    }
    let iidfile = m.str("iidfile");
    if !iidfile.is_empty() {
        std::fs::write(&iidfile, &image_id)
            .map_err(|e| anyhow!("failed to write image ID to {iidfile}: {e}"))?;
    }
    Ok(0)
}

/// The query parameters of the RUN containers' limits and options.
fn run_params(m: &Matches) -> Result<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    for (flag, short, param) in [
        ("memory", Some('m'), "memory"),
        ("memory-swap", None, "memswap"),
        ("shm-size", None, "shmsize"),
    ] {
        if let Some(n) = crate::opts::bytes_flag(m, flag, short).map_err(|e| anyhow!(e))? {
            params.push((param, n.to_string()));
        }
    }
    for (flag, param) in [
        ("cpu-shares", "cpushares"),
        ("cpu-period", "cpuperiod"),
        ("cpu-quota", "cpuquota"),
    ] {
        if let Some(n) = m.int(flag)? {
            params.push((param, n.to_string()));
        }
    }
    for (flag, param) in [
        ("cpuset-cpus", "cpusetcpus"),
        ("cpuset-mems", "cpusetmems"),
        ("cgroup-parent", "cgroupparent"),
        ("isolation", "isolation"),
    ] {
        params.push((param, m.str(flag)));
    }
    for h in m.list("add-host") {
        params.push((
            "extrahosts",
            crate::optparse::parse_add_host(&h).map_err(|e| anyhow!(e))?,
        ));
    }
    let ulimits = m
        .list("ulimit")
        .iter()
        .map(|u| crate::optparse::parse_ulimit(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!(e))?;
    if !ulimits.is_empty() {
        params.push(("ulimits", Value::Array(ulimits).to_string()));
    }
    let cache_from = m.list("cache-from");
    if !cache_from.is_empty() {
        params.push(("cachefrom", json!(cache_from).to_string()));
    }
    Ok(params)
}

fn tempfile_dir() -> Result<tempfile::TempDir> {
    tempfile::tempdir().map_err(|e| anyhow!("unable to prepare context: {e}"))
}
