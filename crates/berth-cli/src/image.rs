//! `images`, `history`, `rmi`, `tag`, `pull`, `image prune`.

use anyhow::Result;
use serde_json::{json, Value};

use crate::client::{enc, query};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::pull::{normalize_ref, pull_tags, push, qualified};
use crate::table::{ellipsis, short_id, Formatter};
use crate::units::human_size;
use crate::util::{add_filter, confirm, filters_json, go_time, reclaimed, rfc3339, since};
use crate::Cli;

const FORMAT_HELP: &str = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

pub fn spec(canon: &str) -> Option<Spec> {
    Some(match canon {
        "image.ls" => Spec::new(
            "images",
            "images [OPTIONS] [REPOSITORY[:TAG]]",
            "List images",
            vec![
                b(
                    "all",
                    Some('a'),
                    "Show all images (default hides intermediate images)",
                ),
                b("digests", None, "Show digests"),
                l(
                    "filter",
                    Some('f'),
                    "filter",
                    "Filter output based on conditions provided",
                ),
                v("format", None, "string", FORMAT_HELP),
                b("no-trunc", None, "Don't truncate output"),
                b("quiet", Some('q'), "Only show image IDs"),
                b(
                    "tree",
                    None,
                    "List multi-platform images as a tree (EXPERIMENTAL)",
                )
                .hide(),
            ],
        )
        .args(Args::Max(1)),
        "image.history" => Spec::new(
            "history",
            "history [OPTIONS] IMAGE",
            "Show the history of an image",
            vec![
                v("format", None, "string", FORMAT_HELP),
                b(
                    "human",
                    Some('H'),
                    "Print sizes and dates in human readable format",
                )
                .def("true"),
                b("no-trunc", None, "Don't truncate output"),
                v(
                    "platform",
                    None,
                    "string",
                    "Show history for the given platform",
                ),
                b("quiet", Some('q'), "Only show image IDs"),
            ],
        )
        .args(Args::Exact(1)),
        "image.rm" => Spec::new(
            "rmi",
            "rmi [OPTIONS] IMAGE [IMAGE...]",
            "Remove one or more images",
            vec![
                b("force", Some('f'), "Force removal of the image"),
                b("no-prune", None, "Do not delete untagged parents"),
            ],
        )
        .args(Args::Min(1)),
        "image.tag" => Spec::new(
            "tag",
            "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
            "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
            vec![],
        )
        .args(Args::Exact(2)),
        "image.pull" => Spec::new(
            "pull",
            "pull [OPTIONS] NAME[:TAG|@DIGEST]",
            "Download an image from a registry",
            vec![
                b(
                    "all-tags",
                    Some('a'),
                    "Download all tagged images in the repository",
                ),
                b("disable-content-trust", None, "Skip image verification").def("true"),
                v(
                    "platform",
                    None,
                    "string",
                    "Set platform if server is multi-platform capable",
                ),
                b("quiet", Some('q'), "Suppress verbose output"),
            ],
        )
        .args(Args::Exact(1)),
        "image.push" => Spec::new(
            "push",
            "push [OPTIONS] NAME[:TAG]",
            "Upload an image to a registry",
            vec![
                b(
                    "all-tags",
                    Some('a'),
                    "Push all tags of an image to the repository",
                ),
                b("disable-content-trust", None, "Skip image signing").def("true"),
                v(
                    "platform",
                    None,
                    "string",
                    "Push a platform-specific manifest as a single-platform image to the registry.\nImage index won't be pushed, meaning that other manifests, including attestations won't be preserved.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)",
                ),
                b("quiet", Some('q'), "Suppress verbose output"),
            ],
        )
        .args(Args::Exact(1)),
        "image.prune" => Spec::new(
            "image prune",
            "image prune [OPTIONS]",
            "Remove unused images",
            vec![
                b(
                    "all",
                    Some('a'),
                    "Remove all unused images, not just dangling ones",
                ),
                l(
                    "filter",
                    None,
                    "filter",
                    "Provide filter values (e.g. \"until=<timestamp>\")",
                ),
                b("force", Some('f'), "Do not prompt for confirmation"),
            ],
        ),
        _ => return None,
    })
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    match canon {
        "image.ls" => images(cli, &m).await,
        "image.history" => history(cli, &m).await,
        "image.rm" => rmi(cli, &m).await,
        "image.tag" => {
            if let Err(e) = berth_image::reference::Reference::parse_normalized(&m.args[1]) {
                anyhow::bail!(
                    "Error parsing reference: {:?} is not a valid repository/tag: {e}",
                    m.args[1]
                );
            }
            let (repo, tag, _) = normalize_ref(&m.args[1]);
            let path = query(
                &format!("/images/{}/tag", m.args[0]),
                &[("repo", repo), ("tag", tag)],
            );
            cli.client.post(&path, None).await?;
            Ok(0)
        }
        "image.pull" => {
            let (repo, tag, full) = normalize_ref(&m.args[0]);
            let quiet = m.flag("quiet");
            let all = m.flag("all-tags");
            let named =
                m.args[0].contains('@') || m.args[0].rsplit('/').next().unwrap_or("").contains(':');
            if all && named {
                anyhow::bail!("tag can't be used with --all-tags/-a");
            }
            if !quiet && !all && !named {
                println!("Using default tag: {tag}");
            }
            pull_tags(cli, &m.args[0], &m.str("platform"), false, quiet, all).await?;
            println!("{}", qualified(if all { &repo } else { &full }));
            Ok(0)
        }
        "image.push" => {
            let all = m.flag("all-tags");
            let named = m.args[0].rsplit('/').next().unwrap_or("").contains(':');
            if all && named {
                anyhow::bail!("tag can't be used with --all-tags/-a");
            }
            let quiet = m.flag("quiet");
            let platform = m.str("platform");
            if !platform.is_empty() {
                // berth keeps one platform of an image: it must be the one asked for.
                let (_, _, full) = normalize_ref(&m.args[0]);
                let img = cli
                    .client
                    .get_json(&format!("/images/{}/json", enc(&full)))
                    .await?;
                let actual = format!(
                    "{}/{}",
                    img["Os"].as_str().unwrap_or(""),
                    img["Architecture"].as_str().unwrap_or("")
                );
                let mut want = platform.split('/');
                let (os, arch) = (want.next().unwrap_or(""), want.next().unwrap_or(""));
                if format!("{os}/{arch}") != actual {
                    anyhow::bail!(
                        "Error response from daemon: image with reference {full} was found but does not match the specified platform: wanted {platform}, actual: {actual}"
                    );
                }
            }
            push(cli, &m.args[0], all, quiet).await?;
            if quiet {
                let (_, _, full) = normalize_ref(&m.args[0]);
                println!(
                    "{}",
                    if all {
                        normalize_ref(&m.args[0]).0
                    } else {
                        full
                    }
                );
            }
            Ok(0)
        }
        _ => prune(cli, &m).await,
    }
}

fn headers() -> Value {
    json!({
        "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
        "Containers": "CONTAINERS",
    })
}

fn image_rows(list: &[Value], no_trunc: bool) -> Vec<Value> {
    let mut rows = Vec::new();
    for img in list {
        let id = img["Id"].as_str().unwrap_or_default();
        let id = if no_trunc {
            id.to_string()
        } else {
            short_id(id)
        };
        let created = img["Created"].as_i64().unwrap_or(0);
        let size = img["Size"].as_f64().unwrap_or(0.0);
        let shared = img["SharedSize"].as_i64().unwrap_or(-1);
        let strs = |k: &str| -> Vec<String> {
            img[k]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|s| *s != "<none>:<none>" && *s != "<none>@<none>")
                .map(str::to_string)
                .collect()
        };
        let tags = strs("RepoTags");
        let digests = strs("RepoDigests");
        let mut pairs: Vec<(String, String, String)> = Vec::new();
        let digest_for = |repo: &str| {
            digests
                .iter()
                .find(|d| d.split_once('@').is_some_and(|(r, _)| r == repo))
                .and_then(|d| d.split_once('@'))
                .map(|(_, d)| d.to_string())
                .unwrap_or_else(|| "<none>".into())
        };
        for t in &tags {
            let (repo, tag, _) = normalize_ref(t);
            let d = digest_for(&repo);
            pairs.push((repo, tag, d));
        }
        if pairs.is_empty() {
            for d in &digests {
                if let Some((repo, dg)) = d.split_once('@') {
                    pairs.push((repo.to_string(), "<none>".into(), dg.to_string()));
                }
            }
        }
        if pairs.is_empty() {
            pairs.push(("<none>".into(), "<none>".into(), "<none>".into()));
        }
        let labels = img.get("Labels").cloned().unwrap_or(Value::Null);
        for (repo, tag, digest) in pairs {
            rows.push(json!({
                "Repository": repo, "Tag": tag, "ID": id, "Digest": digest,
                "CreatedSince": since(created), "CreatedAt": go_time(created),
                "Size": human_size(size), "VirtualSize": human_size(size),
                "SharedSize": if shared < 0 { "N/A".to_string() } else { human_size(shared as f64) },
                "UniqueSize": if shared < 0 { "N/A".to_string() } else { human_size(size - shared as f64) },
                "Containers": match img["Containers"].as_i64() { Some(n) if n >= 0 => n.to_string(), _ => "N/A".into() },
                "__labels": labels,
            }));
        }
    }
    rows
}

async fn images(cli: &Cli, m: &Matches) -> Result<i32> {
    let mut filters = filters_json(&m.list("filter"))?;
    if let Some(r) = m.args.first() {
        filters = add_filter(&filters, "reference", r);
    }
    let all = if m.flag("all") {
        "1".to_string()
    } else {
        String::new()
    };
    let list = cli
        .client
        .get_json(&query(
            "/images/json",
            &[("all", all), ("filters", filters)],
        ))
        .await?;
    let list = list.as_array().cloned().unwrap_or_default();
    let no_trunc = m.flag("no-trunc");
    let rows = image_rows(&list, no_trunc);
    let quiet = m.flag("quiet");
    // docker 28 prints one id per listed tag, repeats included.
    let format = m
        .value("format")
        .map(str::to_string)
        .or_else(|| cli.config_str("imagesFormat"))
        .unwrap_or_default();
    let default = if m.flag("digests") {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    Formatter::new(&format, default, quiet.then_some("{{.ID}}"))?
        .context("*formatter.imageContext")
        .print(&headers(), &rows)?;
    Ok(0)
}

async fn history(cli: &Cli, m: &Matches) -> Result<i32> {
    let path = query(
        &format!("/images/{}/history", m.args[0]),
        &[("platform", m.str("platform"))],
    );
    let list = cli.client.get_json(&path).await?;
    let human = m.value("human") != Some("false");
    let no_trunc = m.flag("no-trunc");
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let id = h["Id"].as_str().unwrap_or("<missing>");
            let id = if id == "<missing>" || no_trunc { id.to_string() } else { short_id(id) };
            let created = h["Created"].as_i64().unwrap_or(0);
            let by = h["CreatedBy"].as_str().unwrap_or_default().replace('\t', " ");
            let by = if no_trunc { by } else { ellipsis(&by, 45) };
            let size = h["Size"].as_i64().unwrap_or(0);
            json!({
                "ID": id,
                "CreatedSince": if human { since(created) } else { rfc3339(created) },
                "CreatedAt": if human { since(created) } else { rfc3339(created) },
                "CreatedBy": by,
                "Size": if human { human_size(size as f64) } else { size.to_string() },
                "Comment": h["Comment"].as_str().unwrap_or_default(),
                "Tags": h["Tags"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
            })
        })
        .collect();
    let headers = json!({"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT", "Tags": "TAGS"});
    let default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
    Formatter::new(
        &m.str("format"),
        default,
        m.flag("quiet").then_some("{{.ID}}"),
    )?
    .print(&headers, &rows)?;
    Ok(0)
}

async fn rmi(cli: &Cli, m: &Matches) -> Result<i32> {
    let flag = |b: bool| if b { "1".to_string() } else { String::new() };
    let force = flag(m.flag("force"));
    let noprune = flag(m.flag("no-prune"));
    // As docker: errors are shown after all names are tried; with -f, images that
    // do not exist are reported but do not fail the command.
    let mut errs = Vec::new();
    let mut fatal = false;
    for name in &m.args {
        let path = query(
            &format!("/images/{}", enc(name)),
            &[("force", force.clone()), ("noprune", noprune.clone())],
        );
        let resp = match cli.client.delete(&path).await {
            Ok(r) => crate::client::read_json(r).await,
            Err(e) => Err(e),
        };
        match resp {
            Ok(resp) => {
                for item in resp.as_array().into_iter().flatten() {
                    if let Some(u) = item.get("Untagged").and_then(Value::as_str) {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = item.get("Deleted").and_then(Value::as_str) {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => {
                if !crate::client::is_not_found(&e) {
                    fatal = true;
                }
                errs.push(e.to_string());
            }
        }
    }
    if errs.is_empty() {
        return Ok(0);
    }
    let msg = errs.join("\n");
    if !m.flag("force") || fatal {
        return Err(crate::status(1, msg));
    }
    eprintln!("{msg}");
    Ok(0)
}

async fn prune(cli: &Cli, m: &Matches) -> Result<i32> {
    let all = m.flag("all");
    let warning = if all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !m.flag("force") && !confirm(warning) {
        return Ok(0);
    }
    let filters = add_filter(
        &filters_json(&m.list("filter"))?,
        "dangling",
        if all { "false" } else { "true" },
    );
    let r = cli
        .client
        .post_json(&query("/images/prune", &[("filters", filters)]), None)
        .await?;
    print_prune_images(&r);
    Ok(0)
}

pub fn print_prune_images(r: &Value) {
    let items = r["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !items.is_empty() {
        println!("Deleted Images:");
        for i in &items {
            if let Some(u) = i.get("Untagged").and_then(Value::as_str) {
                println!("untagged: {u}");
            }
            if let Some(d) = i.get("Deleted").and_then(Value::as_str) {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    println!("{}", reclaimed(r["SpaceReclaimed"].as_u64().unwrap_or(0)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_table() {
        let list = vec![
            json!({
                "Id": "sha256:0123456789abcdef0123", "Created": crate::util::now() - 7200,
                "Size": 4_400_000, "RepoTags": ["busybox:latest", "busybox:1"], "RepoDigests": ["busybox@sha256:dd"],
            }),
            json!({"Id": "sha256:ffffffffffffffff", "Created": crate::util::now() - 7200, "Size": 10, "RepoTags": null}),
        ];
        let rows = image_rows(&list, false);
        assert_eq!(rows.len(), 3);
        let f = Formatter::new(
            "",
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
            None,
        )
        .unwrap();
        let out = f.render(&headers(), &rows).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE"
        );
        assert_eq!(
            lines[1],
            "busybox      latest    0123456789ab   2 hours ago   4.4MB"
        );
        assert!(lines[3].starts_with("<none>       <none>    ffffffffffff"));
        assert_eq!(rows[0]["Digest"], "sha256:dd");
    }
}
