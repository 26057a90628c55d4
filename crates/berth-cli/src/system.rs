//! `version`, `info`, `events`, `system df`, `system prune`.

use anyhow::Result;
use chrono::{Local, TimeZone};
use serde_json::{json, Value};

use crate::client::{for_each_line, query, MAX_API};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::table::format_error;
use crate::template::Template;
use crate::util::{filters_json, time_arg};
use crate::{Cli, GIT_COMMIT, VERSION};

pub fn spec(canon: &str) -> Option<Spec> {
    let fmt = || {
        v("format", Some('f'), "string", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates")
    };
    Some(match canon {
        "version" => Spec::new("version", "version [OPTIONS]", "Show the Docker version information", vec![fmt()]).args(Args::None),
        "system.info" => Spec::new("info", "info [OPTIONS]", "Display system-wide information", vec![fmt()]).args(Args::None),
        "system.events" => Spec::new(
            "events",
            "events [OPTIONS]",
            "Get real time events from the server",
            vec![
                l("filter", Some('f'), "filter", "Filter output based on conditions provided"),
                v("format", None, "string", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"),
                v("since", None, "string", "Show all events created since timestamp"),
                v("until", None, "string", "Stream events until this timestamp"),
            ],
        )
        .args(Args::None),
        "system.df" => Spec::new(
            "system df",
            "system df [OPTIONS]",
            "Show docker disk usage",
            vec![v("format", None, "string", "Format output using a custom template"), b("verbose", Some('v'), "Show detailed information on space usage")],
        )
        .args(Args::None),
        "system.prune" => Spec::new(
            "system prune",
            "system prune [OPTIONS]",
            "Remove unused data",
            vec![
                b("all", Some('a'), "Remove all unused images not just dangling ones"),
                l("filter", None, "filter", "Provide filter values (e.g. \"label=<key>=<value>\")"),
                b("force", Some('f'), "Do not prompt for confirmation"),
                b("volumes", None, "Prune anonymous volumes"),
            ],
        )
        .args(Args::None),
        _ => return None,
    })
}

pub async fn run(cli: &Cli, canon: &str, m: Matches) -> Result<i32> {
    match canon {
        "version" => version(cli, &m).await,
        "system.info" => info(cli, &m).await,
        "system.events" => events(cli, &m).await,
        "system.df" => crate::disk::df(cli, &m).await,
        _ => crate::disk::prune(cli, &m).await,
    }
}

fn client_info(cli: &Cli) -> Value {
    json!({
        "Platform": {"Name": "berth"},
        "Version": VERSION,
        "ApiVersion": format!("{}.{}", MAX_API.0, MAX_API.1),
        "APIVersion": format!("{}.{}", MAX_API.0, MAX_API.1),
        "DefaultAPIVersion": format!("{}.{}", MAX_API.0, MAX_API.1),
        "GitCommit": GIT_COMMIT,
        "GoVersion": "n/a",
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "BuildTime": "",
        "Context": "default",
        "Host": cli.client.host(),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `name` is the Go template's name, which docker shows in parse errors ("version").
fn render_one(name: &str, format: &str, data: &Value) -> Result<()> {
    let f = if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    let t = Template::parse(f).map_err(|e| {
        crate::status(
            64,
            format!(
                "template parsing error: {}",
                e.replacen("template: :", &format!("template: {name}:"), 1)
            ),
        )
    })?;
    println!("{}", t.render(data).map_err(anyhow::Error::msg)?);
    Ok(())
}

async fn version(cli: &Cli, m: &Matches) -> Result<i32> {
    let client = client_info(cli);
    let server = cli.client.get_json("/version").await;
    if let Some(f) = m.value("format").filter(|f| !f.is_empty()) {
        let mut s = server.as_ref().ok().cloned().unwrap_or(Value::Null);
        if let Some(o) = s.as_object_mut() {
            let api = o.get("ApiVersion").cloned().unwrap_or(Value::Null);
            o.insert("APIVersion".into(), api);
        }
        render_one("version", f, &json!({"Client": client, "Server": s}))?;
        return server.map(|_| 0);
    }
    println!("Client:");
    println!(" Version:           {VERSION}");
    println!(
        " API version:       {}",
        client["ApiVersion"].as_str().unwrap_or_default()
    );
    println!(" Git commit:        {GIT_COMMIT}");
    println!(" OS/Arch:           {}/{}", std::env::consts::OS, go_arch());
    println!(" Context:           default");
    let s = server?;
    println!();
    println!(
        "Server: {}",
        s["Platform"]["Name"].as_str().unwrap_or_default()
    );
    for c in s["Components"].as_array().into_iter().flatten() {
        println!(" {}:", c["Name"].as_str().unwrap_or_default());
        println!(
            "  Version:          {}",
            c["Version"].as_str().unwrap_or_default()
        );
        if c["Name"] == "Engine" {
            println!(
                "  API version:      {} (minimum version {})",
                s["ApiVersion"].as_str().unwrap_or_default(),
                s["MinAPIVersion"].as_str().unwrap_or_default()
            );
            println!(
                "  Go version:       {}",
                s["GoVersion"].as_str().unwrap_or_default()
            );
            println!(
                "  Git commit:       {}",
                s["GitCommit"].as_str().unwrap_or_default()
            );
            println!(
                "  Built:            {}",
                s["BuildTime"].as_str().unwrap_or_default()
            );
            println!(
                "  OS/Arch:          {}/{}",
                s["Os"].as_str().unwrap_or_default(),
                s["Arch"].as_str().unwrap_or_default()
            );
            println!(
                "  Experimental:     {}",
                s["Experimental"].as_bool().unwrap_or(false)
            );
        } else {
            let mut details: Vec<(&String, &Value)> =
                c["Details"].as_object().into_iter().flatten().collect();
            details.sort_by_key(|d| d.0);
            for (k, v) in details {
                println!(
                    "  {:<18}{}",
                    format!("{k}:"),
                    v.as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(0)
}

async fn info(cli: &Cli, m: &Matches) -> Result<i32> {
    let server = cli.client.get_json("/info").await;
    if let Some(f) = m.value("format").filter(|f| !f.is_empty()) {
        let mut data = server.as_ref().ok().cloned().unwrap_or_else(|| json!({}));
        if let Some(o) = data.as_object_mut() {
            o.insert(
                "ClientInfo".into(),
                json!({"Debug": false, "Context": "default", "Version": VERSION}),
            );
        }
        render_one("", f, &data)?;
        return server.map(|_| 0);
    }
    println!("Client:\n Version:    {VERSION}\n Context:    default\n Debug Mode: false\n");
    let s = server?;
    crate::info_fmt::print_server(&s);
    Ok(0)
}

/// jsonmessage.RFC3339NanoFixed in local time.
pub fn event_time(nanos: i64) -> String {
    let t = Local.timestamp_nanos(nanos);
    if t.offset().local_minus_utc() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.9f%:z").to_string()
    }
}

pub fn pretty_event(e: &Value) -> String {
    let mut out = String::new();
    let nanos = e["timeNano"].as_i64().unwrap_or(0);
    if nanos != 0 {
        out.push_str(&format!("{} ", event_time(nanos)));
    } else if let Some(t) = e["time"].as_i64().filter(|t| *t != 0) {
        out.push_str(&format!("{} ", event_time(t * 1_000_000_000)));
    }
    out.push_str(&format!(
        "{} {} {}",
        e["Type"].as_str().unwrap_or_default(),
        e["Action"].as_str().unwrap_or_default(),
        e["Actor"]["ID"].as_str().unwrap_or_default()
    ));
    if let Some(attrs) = e["Actor"]["Attributes"]
        .as_object()
        .filter(|a| !a.is_empty())
    {
        let a: Vec<String> = attrs
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        out.push_str(&format!(" ({})", a.join(", ")));
    }
    out
}

async fn events(cli: &Cli, m: &Matches) -> Result<i32> {
    let format = m.str("format");
    let tmpl = match format.as_str() {
        "" => None,
        "json" => Some(Template::parse("{{json .}}").map_err(|e| format_error(&e))?),
        f => Some(
            Template::parse(f)
                .map_err(|e| crate::status(64, format!("Error parsing format: {e}")))?,
        ),
    };
    let path = query(
        "/events",
        &[
            ("since", time_arg(&m.str("since"))?),
            ("until", time_arg(&m.str("until"))?),
            ("filters", filters_json(&m.list("filter"))?),
        ],
    );
    let resp = cli.client.get(&path).await?;
    for_each_line(resp, |line| {
        use std::io::Write;
        let Ok(e) = serde_json::from_slice::<Value>(line) else {
            return Ok(());
        };
        let text = match &tmpl {
            Some(t) => t.render(&e).map_err(anyhow::Error::msg)?,
            None => pretty_event(&e),
        };
        let mut o = std::io::stdout().lock();
        writeln!(o, "{text}")?;
        o.flush()?;
        Ok(())
    })
    .await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_line() {
        let e = json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "x", "image": "busybox"}}, "timeNano": 1_700_000_000_123_456_789i64});
        let s = pretty_event(&e);
        assert!(
            s.ends_with(" container start abc (image=busybox, name=x)"),
            "{s}"
        );
        assert!(s.contains(".123456789"));
    }
}
