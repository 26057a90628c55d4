//! `search`: the daemon asks the registry's v1 search API (`GET /images/search`).

use anyhow::Result;
use serde_json::{json, Value};

use crate::client::{empty, query, read_json};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::table::{ellipsis, Formatter};
use crate::Cli;

pub fn spec(canon: &str) -> Option<Spec> {
    (canon == "search").then(|| {
        Spec::new(
            "search",
            "search [OPTIONS] TERM",
            "Search Docker Hub for images",
            vec![
                l(
                    "filter",
                    Some('f'),
                    "filter",
                    "Filter output based on conditions provided",
                ),
                v(
                    "format",
                    None,
                    "string",
                    "Pretty-print search using a Go template",
                ),
                v("limit", None, "int", "Max number of search results"),
                b("no-trunc", None, "Don't truncate output"),
            ],
        )
        .args(Args::Exact(1))
    })
}

pub async fn run(cli: &Cli, m: Matches) -> Result<i32> {
    let term = m.args[0].clone();
    let mut filters = serde_json::Map::new();
    for f in m.list("filter") {
        let (k, val) = f.split_once('=').unwrap_or((f.as_str(), ""));
        let e = filters.entry(k.to_string()).or_insert_with(|| json!({}));
        e[val] = json!(true);
    }
    let mut params = vec![("term", term.clone())];
    let limit = m.str("limit");
    if !limit.is_empty() && limit != "0" {
        params.push(("limit", limit));
    }
    if !filters.is_empty() {
        params.push(("filters", Value::Object(filters).to_string()));
    }
    let auth = crate::credentials::registry_auth_header(&format!("{term}:latest"));
    let resp = cli
        .client
        .send(
            hyper::Method::GET,
            &query("/images/search", &params),
            empty(),
            &[("X-Registry-Auth", auth.as_str())],
        )
        .await?;
    let results = read_json(resp).await?;
    let trunc = !m.flag("no-trunc");
    let rows: Vec<Value> = results
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let desc = r["description"]
                .as_str()
                .unwrap_or("")
                .replace(['\n', '\r'], " ");
            json!({
                "Name": r["name"],
                "Description": if trunc { ellipsis(&desc, 45) } else { desc },
                "StarCount": r["star_count"].as_u64().unwrap_or(0).to_string(),
                "IsOfficial": if r["is_official"].as_bool() == Some(true) { "[OK]" } else { "" },
                "IsAutomated": if r["is_automated"].as_bool() == Some(true) { "[OK]" } else { "" },
            })
        })
        .collect();
    let headers = json!({
        "Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
        "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED",
    });
    Formatter::new(
        &m.str("format"),
        "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
        None,
    )?
    .context("*formatter.searchContext")
    .print(&headers, &rows)?;
    Ok(0)
}
