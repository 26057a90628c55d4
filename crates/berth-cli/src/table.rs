//! Output formatting as docker's formatter package does it: `table`, `json` and
//! raw Go templates, aligned with Go's text/tabwriter (minwidth 10, padding 3).

use serde_json::Value;

use crate::template::{Missing, Template};

/// The `--format` help of the list commands that print a table by default.
pub const FORMAT_HELP: &str = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

/// Go's text/tabwriter with padchar ' ' and no flags.
pub fn tabwrite(text: &str, minwidth: usize, padding: usize) -> String {
    let mut lines: Vec<Vec<String>> = text
        .split('\n')
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    // The text ends with '\n', so the final "line" is empty; keep it out of alignment.
    let trailing = lines
        .last()
        .is_some_and(|l| l.len() == 1 && l[0].is_empty());
    if trailing {
        lines.pop();
    }
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        minwidth,
        padding,
        &mut out,
    );
    if !trailing && out.ends_with('\n') {
        out.pop();
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn write_lines(lines: &[Vec<String>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, c) in line.iter().enumerate() {
            out.push_str(c);
            if j < widths.len() && j + 1 < line.len() {
                out.push_str(&" ".repeat(widths[j].saturating_sub(width(c))));
            }
        }
        out.push('\n');
    }
}

fn format_block(
    lines: &[Vec<String>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    minwidth: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut w = minwidth;
        while this < line1 && column + 1 < lines[this].len() {
            w = w.max(width(&lines[this][column]) + padding);
            this += 1;
        }
        widths.push(w);
        format_block(lines, line0, this, widths, minwidth, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

/// A `--format` value resolved against a command's default table.
pub struct Formatter {
    tmpl: Template,
    table: bool,
    missing: Missing,
}

pub fn format_error(e: &str) -> anyhow::Error {
    anyhow::anyhow!("template parsing error: {e}")
}

impl Formatter {
    /// `format` is the user's value ("" means the default table); `default_table`
    /// is the command's "table ..." format; `quiet` is the template for `-q`.
    pub fn new(
        format: &str,
        default_table: &str,
        quiet: Option<&str>,
    ) -> anyhow::Result<Formatter> {
        let f = if let Some(q) = quiet {
            q.to_string()
        } else if format.is_empty() || format == "table" {
            default_table.to_string()
        } else if format == "json" {
            "{{json .}}".to_string()
        } else {
            format.to_string()
        };
        let (table, body) = match f.strip_prefix("table") {
            Some(rest) => (true, rest.to_string()),
            None => (false, f),
        };
        let body = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let tmpl = Template::parse(&body).map_err(|e| format_error(&e))?;
        Ok(Formatter {
            tmpl,
            table,
            missing: Missing::Zero,
        })
    }

    /// Rows stand for docker's Go formatting context `ty` (`*formatter.imageContext`):
    /// a field it lacks is an execution error, as in docker.
    pub fn context(mut self, ty: &str) -> Formatter {
        self.missing = Missing::Struct(ty.to_string());
        self
    }

    pub fn render(&self, headers: &Value, rows: &[Value]) -> anyhow::Result<String> {
        let mut text = String::new();
        if self.table {
            text.push_str(
                &self
                    .tmpl
                    .render_header(headers)
                    .map_err(anyhow::Error::msg)?,
            );
            text.push('\n');
        }
        for r in rows {
            // Every column docker's context has is a field, even where a row lacks it.
            let mut full;
            let r = match (&self.missing, r, headers) {
                (Missing::Struct(_), Value::Object(row), Value::Object(h)) => {
                    full = row.clone();
                    for k in h.keys() {
                        full.entry(k.clone())
                            .or_insert_with(|| Value::String(String::new()));
                    }
                    &Value::Object(full)
                }
                _ => r,
            };
            text.push_str(
                &self
                    .tmpl
                    .render_missing(r, self.missing.clone())
                    .map_err(|e| format_error(&e))?,
            );
            text.push('\n');
        }
        Ok(if self.table {
            tabwrite(&text, 10, 3)
        } else {
            text
        })
    }

    pub fn print(&self, headers: &Value, rows: &[Value]) -> anyhow::Result<()> {
        use std::io::Write;
        let s = self.render(headers, rows)?;
        let mut out = std::io::stdout().lock();
        out.write_all(s.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

/// Shortens `s` to `n` characters ending in "…", as docker's ellipsis helper.
pub fn ellipsis(s: &str, n: usize) -> String {
    let c: Vec<char> = s.chars().collect();
    if c.len() <= n {
        return s.to_string();
    }
    if n == 0 {
        return String::new();
    }
    let mut out: String = c[..n - 1].iter().collect();
    out.push('…');
    out
}

/// Strips "sha256:" and keeps 12 characters, as docker's TruncateID.
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map(|(_, r)| r).unwrap_or(id);
    id.chars().take(12).collect()
}

/// A `.Labels` column: the `k=v` pairs of a label map, sorted and joined with commas.
pub fn joined_labels(labels: &Value) -> String {
    let mut ls: Vec<String> = labels
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    ls.sort();
    ls.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tabwriter_like_go() {
        let t = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n";
        assert_eq!(
            tabwrite(t, 10, 3),
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
        let t = "A\tB\nlonger-than-ten\tx\n";
        assert_eq!(
            tabwrite(t, 10, 3),
            "A                 B\nlonger-than-ten   x\n"
        );
        // A line without the column does not widen it.
        let t = "a\tb\nno-tabs-here-at-all\nc\td\n";
        assert_eq!(
            tabwrite(t, 10, 3),
            "a         b\nno-tabs-here-at-all\nc         d\n"
        );
    }

    #[test]
    fn formatter_table_and_raw() {
        let headers = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let rows = vec![json!({"ID": "abc", "Names": "web"})];
        let f = Formatter::new("", "table {{.ID}}\t{{.Names}}", None).unwrap();
        assert_eq!(
            f.render(&headers, &rows).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\n"
        );
        let f = Formatter::new("table {{.Names}}\\t{{.ID}}", "", None).unwrap();
        assert_eq!(
            f.render(&headers, &rows).unwrap(),
            "NAMES     CONTAINER ID\nweb       abc\n"
        );
        let f = Formatter::new("{{.Names}}", "", None).unwrap();
        assert_eq!(f.render(&headers, &rows).unwrap(), "web\n");
        let f = Formatter::new("json", "", None).unwrap();
        assert_eq!(
            f.render(&headers, &rows).unwrap(),
            "{\"ID\":\"abc\",\"Names\":\"web\"}\n"
        );
        let f = Formatter::new("", "table {{.ID}}", Some("{{.ID}}")).unwrap();
        assert_eq!(f.render(&headers, &rows).unwrap(), "abc\n");
        let e = Formatter::new("{{.ID}", "", None).err().unwrap();
        assert_eq!(
            e.to_string(),
            "template parsing error: template: :1: unexpected \"}\" in operand"
        );
    }

    #[test]
    fn truncation() {
        assert_eq!(ellipsis("sh -c 'sleep 1000'", 20), "sh -c 'sleep 1000'");
        assert_eq!(
            ellipsis("abcdefghijklmnopqrstuvwxyz", 20),
            "abcdefghijklmnopqrs…"
        );
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
