//! `inspect` and the typed `container|image|volume|network inspect`.

use anyhow::Result;
use bytes::Bytes;
use serde_json::Value;

use crate::client::{is_not_found, query, read_bytes};
use crate::flags::{b, v, Args, Matches, Spec};
use crate::table::format_error;
use crate::template::typed::typed;
use crate::template::{Missing, Template};
use crate::Cli;

pub fn handles(canon: &str) -> bool {
    matches!(
        canon,
        "inspect" | "container.inspect" | "image.inspect" | "volume.inspect" | "network.inspect"
    )
}

const FORMAT_HELP: &str = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

pub fn spec(canon: &str) -> Option<Spec> {
    let f = || v("format", Some('f'), "string", FORMAT_HELP);
    Some(
        match canon {
            "inspect" => Spec::new(
                "inspect",
                "inspect [OPTIONS] NAME|ID [NAME|ID...]",
                "Return low-level information on Docker objects",
                vec![
                    f(),
                    b(
                        "size",
                        Some('s'),
                        "Display total file sizes if the type is container",
                    ),
                    v(
                        "type",
                        None,
                        "string",
                        "Only inspect objects of the given type",
                    ),
                ],
            ),
            "container.inspect" => Spec::new(
                "container inspect",
                "container inspect [OPTIONS] CONTAINER [CONTAINER...]",
                "Display detailed information on one or more containers",
                vec![f(), b("size", Some('s'), "Display total file sizes")],
            ),
            "image.inspect" => Spec::new(
                "image inspect",
                "image inspect [OPTIONS] IMAGE [IMAGE...]",
                "Display detailed information on one or more images",
                vec![
                    f(),
                    v(
                        "platform",
                        None,
                        "string",
                        "Inspect a specific platform of the multi-platform image.",
                    ),
                ],
            ),
            "volume.inspect" => Spec::new(
                "volume inspect",
                "volume inspect [OPTIONS] VOLUME [VOLUME...]",
                "Display detailed information on one or more volumes",
                vec![f()],
            ),
            "network.inspect" => Spec::new(
                "network inspect",
                "network inspect [OPTIONS] NETWORK [NETWORK...]",
                "Display detailed information on one or more networks",
                vec![
                    f(),
                    b("verbose", Some('v'), "Verbose output for diagnostics"),
                ],
            ),
            _ => return None,
        }
        .args(Args::Min(1)),
    )
}

/// Re-indents JSON text like Go's json.Indent with four spaces, keeping key order.
pub fn reindent(raw: &[u8], base: usize) -> String {
    let mut out = String::new();
    let mut depth = base;
    let mut in_str = false;
    let mut esc = false;
    let s = String::from_utf8_lossy(raw);
    let chars: Vec<char> = s.chars().collect();
    let nl = |out: &mut String, d: usize| {
        out.push('\n');
        out.push_str(&"    ".repeat(d));
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                // Empty containers stay on one line.
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let close = if c == '{' { '}' } else { ']' };
                if chars.get(j) == Some(&close) {
                    out.push(c);
                    out.push(close);
                    i = j + 1;
                    continue;
                }
                out.push(c);
                depth += 1;
                nl(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                nl(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                nl(&mut out, depth);
            }
            ':' => out.push_str(": "),
            other => out.push(other),
        }
    }
    out
}

/// Go's json.Compact: insignificant whitespace removed, key order kept.
fn compact_json(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let (mut in_str, mut esc) = (false, false);
    for &c in raw {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
        } else if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            in_str = c == b'"';
            out.push(c);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn fetch(cli: &Cli, kind: &str, name: &str, m: &Matches) -> Result<Bytes> {
    let (size, platform) = (m.flag("size"), m.str("platform"));
    let path = match kind {
        "container" => query(
            &format!("/containers/{name}/json"),
            &[("size", if size { "1".into() } else { String::new() })],
        ),
        "image" => query(&format!("/images/{name}/json"), &[("platform", platform)]),
        "volume" => format!("/volumes/{name}"),
        "network" => query(
            &format!("/networks/{name}"),
            &[(
                "verbose",
                if m.flag("verbose") {
                    "true".into()
                } else {
                    String::new()
                },
            )],
        ),
        other => anyhow::bail!("\"{other}\" is not a valid value for --type"),
    };
    read_bytes(cli.client.get(&path).await?).await
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    let kinds: Vec<&str> = match canon {
        "container.inspect" => vec!["container"],
        "image.inspect" => vec!["image"],
        "volume.inspect" => vec!["volume"],
        "network.inspect" => vec!["network"],
        _ => match m.value("type") {
            Some("") | None => vec!["container", "image", "volume", "network"],
            Some(t @ ("container" | "image" | "volume" | "network")) => vec![t],
            Some(t) => anyhow::bail!("\"{t}\" is not a valid value for --type"),
        },
    };
    let format = m.str("format");
    let tmpl = match format.as_str() {
        "" => None,
        "json" => Some(Template::parse("{{json .}}").map_err(|e| format_error(&e))?),
        f => Some(
            Template::parse(f)
                .map_err(|e| crate::status(64, format!("template parsing error: {e}")))?,
        ),
    };
    let mut found: Vec<(&str, Bytes)> = Vec::new();
    let mut errs: Vec<String> = Vec::new();
    for name in &m.args {
        let mut hit = None;
        let mut last_err = None;
        for k in &kinds {
            match fetch(cli, k, name, &m).await {
                Ok(b) => {
                    hit = Some((*k, b));
                    break;
                }
                // Asked for one kind, docker shows the daemon's answer.
                Err(e) if is_not_found(&e) => {
                    last_err = (kinds.len() == 1).then(|| e.to_string());
                }
                Err(e) => {
                    last_err = Some(e.to_string());
                    if kinds.len() == 1 {
                        break;
                    }
                }
            }
        }
        match hit {
            Some(b) => found.push(b),
            None => errs.push(last_err.unwrap_or_else(|| {
                if kinds.len() == 1 {
                    format!("Error: No such {}: {name}", kinds[0])
                } else {
                    format!("Error: No such object: {name}")
                }
            })),
        }
    }
    match tmpl {
        // docker's jsonInspector: the daemon's raw objects, compacted, in one array.
        Some(_) if format == "json" => {
            let compact: Vec<String> = found.iter().map(|(_, b)| compact_json(b)).collect();
            println!("[{}]", compact.join(","));
        }
        None => {
            let joined: Vec<String> = found.iter().map(|(_, b)| reindent(b, 1)).collect();
            if joined.is_empty() {
                println!("[]");
            } else {
                println!("[\n    {}\n]", joined.join(",\n    "));
            }
        }
        Some(t) => {
            let mut out = String::new();
            for (kind, b) in &found {
                let v: Value = serde_json::from_slice(b)?;
                // docker runs the template over the decoded Go struct first (only the
                // network one is modelled here), and falls back to the raw JSON map with
                // missingkey=error.
                let rendered = match *kind {
                    "network" => t
                        .render_missing(&typed(Some(&v), &crate::network::INSPECT), Missing::Zero)
                        .or_else(|_| t.render_missing(&v, Missing::MapErrorAll)),
                    _ => t.render_missing(&v, Missing::MapError),
                };
                match rendered {
                    Ok(text) => {
                        out.push_str(&text);
                        out.push('\n');
                    }
                    Err(e) => errs.push(format!("template parsing error: {e}")),
                }
            }
            if out.is_empty() {
                out.push('\n');
            }
            print!("{out}");
        }
    }
    if errs.is_empty() {
        Ok(0)
    } else {
        Err(crate::status(1, errs.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indent_like_go() {
        let raw =
            br#"{"Id":"abc","Args":[],"Config":{"Env":["A=1","x:{y}"],"Labels":{}},"N":null}"#;
        let want = "{\n        \"Id\": \"abc\",\n        \"Args\": [],\n        \"Config\": {\n            \"Env\": [\n                \"A=1\",\n                \"x:{y}\"\n            ],\n            \"Labels\": {}\n        },\n        \"N\": null\n    }";
        assert_eq!(reindent(raw, 1), want);
    }
}
