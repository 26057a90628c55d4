//! Helpers shared by several commands: filters, prompts, times.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use anyhow::Result;
use chrono::{DateTime, Local, TimeZone, Utc};
use serde_json::{json, Value};

use crate::units::human_duration;

/// `-f key=value` flags as the API's `filters` JSON: {"key":{"value":true}}.
pub fn filters_json(list: &[String]) -> Result<String> {
    let mut m: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for f in list {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
        m.entry(k.trim().to_lowercase())
            .or_default()
            .insert(v.to_string(), true);
    }
    Ok(if m.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&m)?
    })
}

/// Adds one filter to an existing filters JSON string.
pub fn add_filter(filters: &str, key: &str, value: &str) -> String {
    let mut v: Value = serde_json::from_str(filters).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        let e = o.entry(key.to_string()).or_insert_with(|| json!({}));
        if let Some(e) = e.as_object_mut() {
            e.insert(value.to_string(), Value::Bool(true));
        }
    }
    v.to_string()
}

/// docker's PromptForConfirmation: true only for "y"/"Y".
pub fn confirm(msg: &str) -> bool {
    print!("{msg}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y")
}

pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// "2 minutes ago" from a unix timestamp.
pub fn since(ts: i64) -> String {
    format!("{} ago", human_duration(now() - ts))
}

/// Go's time.Time.String() in local time: "2024-01-02 15:04:05 +0000 UTC".
pub fn go_time(ts: i64) -> String {
    match Local.timestamp_opt(ts, 0).single() {
        Some(t) => {
            let zone = if t.offset().local_minus_utc() == 0 {
                "UTC".to_string()
            } else {
                t.format("%Z").to_string()
            };
            format!("{} {zone}", t.format("%Y-%m-%d %H:%M:%S %z"))
        }
        None => ts.to_string(),
    }
}

/// RFC 3339 in local time, as docker prints CreatedAt with -H=false.
pub fn rfc3339(ts: i64) -> String {
    match Local.timestamp_opt(ts, 0).single() {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => ts.to_string(),
    }
}

/// Parses an API timestamp string ("2024-01-02T03:04:05.123456789Z").
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `--since`/`--until` values: RFC 3339, unix seconds, or durations relative to now ("10m").
pub fn time_arg(s: &str) -> Result<String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    if let Some(d) = crate::units::parse_go_duration(s) {
        let t = Utc::now().timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9 - d;
        return Ok(format!("{:.9}", t));
    }
    if s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Ok(s.to_string());
    }
    if let Some(t) = parse_time(s) {
        return Ok(format!(
            "{}.{:09}",
            t.timestamp(),
            t.timestamp_subsec_nanos()
        ));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f).or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, f)
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        }) {
            if let Some(t) = Local.from_local_datetime(&t).single() {
                return Ok(t.timestamp().to_string());
            }
        }
    }
    anyhow::bail!("invalid value for \"since\": failed to parse value as time or duration: {s:?}")
}

/// Prints the daemon's pruning report.
pub fn reclaimed(bytes: u64) -> String {
    format!(
        "Total reclaimed space: {}",
        crate::units::human_size4(bytes as f64)
    )
}

/// Runs an action for each name, printing errors as docker does and failing
/// with status 1 at the end when any failed.
pub async fn each<F, Fut>(names: &[String], mut f: F) -> Result<i32>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut errs = Vec::new();
    for n in names {
        if let Err(e) = f(n.clone()).await {
            errs.push(e.to_string());
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
    fn filters() {
        assert_eq!(
            filters_json(&["status=exited".into(), "label=a=b".into()]).unwrap(),
            r#"{"label":{"a=b":true},"status":{"exited":true}}"#
        );
        assert_eq!(filters_json(&[]).unwrap(), "");
        assert!(filters_json(&["nope".into()]).is_err());
        assert_eq!(
            add_filter("", "dangling", "true"),
            r#"{"dangling":{"true":true}}"#
        );
    }

    #[test]
    fn times() {
        assert_eq!(time_arg("1700000000").unwrap(), "1700000000");
        assert_eq!(
            time_arg("2024-01-02T03:04:05Z").unwrap(),
            "1704164645.000000000"
        );
        assert!(time_arg("garbage").is_err());
        assert!(since(now() - 120).starts_with("2 minutes ago"));
    }
}
