//! Go's template builtins plus the functions docker registers.

use std::cmp::Ordering;

use serde_json::Value;

use super::exec::{display, fmt_number, truthy, type_name};

fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "template: :1: wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => display(other),
    }
}

fn int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| "bad number".to_string()),
        Value::String(s) => s
            .parse()
            .map_err(|_| format!("expected integer; found {s:?}")),
        other => Err(format!("expected integer; found {}", display(other))),
    }
}

/// Encodes like Go's json.Encoder with SetEscapeHTML(false), as docker's `json` does.
pub fn to_json(v: &Value) -> String {
    let mut out = String::new();
    super::typed::write_json(v, &mut out);
    out
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal)),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Null, Value::Null) => Ok(Ordering::Equal),
        _ => Err("template: :1: error calling eq: incompatible types for comparison".to_string()),
    }
}

fn eq(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            Err("template: :1: error calling eq: non-comparable types".to_string())
        }
        (Value::Null, _) | (_, Value::Null) => Ok(a == b),
        _ => compare(a, b).map(|o| o == Ordering::Equal),
    }
}

fn title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

fn index(args: &[Value]) -> Result<Value, String> {
    let mut cur = args.first().cloned().unwrap_or(Value::Null);
    for k in &args[1..] {
        cur = match (&cur, k) {
            // A typed map gives its element type's zero value for a missing key.
            (Value::Object(m), Value::String(k)) => m
                .get(k)
                .filter(|_| !k.starts_with("__"))
                .or_else(|| m.get("__zero"))
                .cloned()
                .unwrap_or(Value::Null),
            (Value::Array(a), k) => {
                let i = int(k)?;
                a.get(
                    usize::try_from(i)
                        .map_err(|_| format!("error calling index: index out of range: {i}"))?,
                )
                .cloned()
                .ok_or_else(|| {
                    format!("template: :1: error calling index: index out of range: {i}")
                })?
            }
            (Value::Null, _) => Value::Null,
            (o, _) => {
                return Err(format!(
                    "template: :1: error calling index: can't index item of type {}",
                    type_name(o)
                ))
            }
        };
    }
    Ok(cur)
}

/// Go's fmt.Sprintf for the verbs people use in templates.
pub fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let c: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut ai = 0;
    while i < c.len() {
        if c[i] != '%' {
            out.push(c[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut flags = String::new();
        while i < c.len() && "-+ #0".contains(c[i]) {
            flags.push(c[i]);
            i += 1;
        }
        let mut width = String::new();
        while i < c.len() && c[i].is_ascii_digit() {
            width.push(c[i]);
            i += 1;
        }
        let mut prec: Option<usize> = None;
        if i < c.len() && c[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < c.len() && c[i].is_ascii_digit() {
                p.push(c[i]);
                i += 1;
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(&verb) = c.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.get(ai) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        ai += 1;
        let body = match verb {
            's' | 'v' => {
                let t = s(a);
                match prec {
                    Some(p) if verb == 's' => t.chars().take(p).collect(),
                    _ => t,
                }
            }
            'q' => serde_json::to_string(&s(a)).unwrap_or_default(),
            'd' => match a {
                Value::Number(n) => fmt_number(n),
                other => format!("%!d({})", s(other)),
            },
            'f' | 'g' | 'e' => {
                let f = a.as_f64().unwrap_or(0.0);
                match verb {
                    'f' => format!("{:.*}", prec.unwrap_or(6), f),
                    'e' => format!("{:e}", f),
                    _ => format!("{f}"),
                }
            }
            'x' | 'X' => {
                let t = match a {
                    Value::Number(n) => format!("{:x}", n.as_i64().unwrap_or(0)),
                    other => s(other).bytes().map(|b| format!("{b:02x}")).collect(),
                };
                if verb == 'X' {
                    t.to_uppercase()
                } else {
                    t
                }
            }
            't' => s(a),
            'T' => type_name(a).to_string(),
            other => format!("%!{other}({})", s(a)),
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len >= w {
            out.push_str(&body);
        } else if flags.contains('-') {
            out.push_str(&body);
            out.push_str(&" ".repeat(w - len));
        } else {
            let pad = if flags.contains('0') && verb != 's' {
                "0"
            } else {
                " "
            };
            out.push_str(&pad.repeat(w - len));
            out.push_str(&body);
        }
    }
    if ai < args.len() {
        out.push_str("%!(EXTRA ");
        out.push_str(
            &args[ai..]
                .iter()
                .map(|a| format!("{}={}", type_name(a), s(a)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push(')');
    }
    out
}

/// fmt.Sprint: spaces between operands when neither side is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&s(a));
    }
    out
}

pub fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let str_v = |x: String| Ok(Value::String(x));
    match name {
        "json" => {
            want(name, &args, 1)?;
            str_v(to_json(&args[0]))
        }
        "split" => {
            want(name, &args, 2)?;
            let (a, sep) = (s(&args[0]), s(&args[1]));
            let parts: Vec<Value> = if sep.is_empty() {
                a.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                a.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Value::Array(parts))
        }
        "join" => {
            want(name, &args, 2)?;
            let items: Vec<String> = match &args[0] {
                Value::Array(a) => a.iter().map(s).collect(),
                Value::Null => Vec::new(),
                other => return Err(format!("template: :1: error calling join: wrong type for value; expected []string; got {}", type_name(other))),
            };
            str_v(items.join(&s(&args[1])))
        }
        "title" => {
            want(name, &args, 1)?;
            str_v(title(&s(&args[0])))
        }
        "lower" => {
            want(name, &args, 1)?;
            str_v(s(&args[0]).to_lowercase())
        }
        "upper" => {
            want(name, &args, 1)?;
            str_v(s(&args[0]).to_uppercase())
        }
        "pad" => {
            want(name, &args, 3)?;
            let (l, r) = (
                int(&args[1])?.max(0) as usize,
                int(&args[2])?.max(0) as usize,
            );
            str_v(format!("{}{}{}", " ".repeat(l), s(&args[0]), " ".repeat(r)))
        }
        "truncate" => {
            want(name, &args, 2)?;
            let n = int(&args[1])?.max(0) as usize;
            str_v(s(&args[0]).chars().take(n).collect())
        }
        "println" => str_v(format!(
            "{}\n",
            args.iter().map(s).collect::<Vec<_>>().join(" ")
        )),
        "print" => str_v(sprint(&args)),
        "printf" => {
            let f = args.first().map(s).unwrap_or_default();
            str_v(sprintf(&f, args.get(1..).unwrap_or(&[])))
        }
        "len" => {
            want(name, &args, 1)?;
            let n = match &args[0] {
                Value::String(x) => x.len(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.keys().filter(|k| !k.starts_with("__")).count(),
                Value::Null => 0,
                other => {
                    return Err(format!(
                        "template: :1: error calling len: len of type {}",
                        type_name(other)
                    ))
                }
            };
            Ok(Value::from(n))
        }
        "index" => {
            if args.is_empty() {
                return Err(
                    "template: :1: wrong number of args for index: want at least 1 got 0".into(),
                );
            }
            index(&args)
        }
        "slice" => {
            let a = args.first().cloned().unwrap_or(Value::Null);
            let lo = args.get(1).map(int).transpose()?.unwrap_or(0).max(0) as usize;
            match a {
                Value::String(x) => {
                    let hi = args
                        .get(2)
                        .map(int)
                        .transpose()?
                        .map(|h| h as usize)
                        .unwrap_or(x.len());
                    str_v(x.get(lo..hi).unwrap_or_default().to_string())
                }
                Value::Array(v) => {
                    let hi = args
                        .get(2)
                        .map(int)
                        .transpose()?
                        .map(|h| h as usize)
                        .unwrap_or(v.len());
                    Ok(Value::Array(v.get(lo..hi).unwrap_or_default().to_vec()))
                }
                other => Err(format!(
                    "template: :1: error calling slice: can't slice item of type {}",
                    type_name(&other)
                )),
            }
        }
        "eq" => {
            if args.len() < 2 {
                return Err(
                    "template: :1: error calling eq: missing argument for comparison".into(),
                );
            }
            for b in &args[1..] {
                if eq(&args[0], b)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" => {
            want(name, &args, 2)?;
            Ok(Value::Bool(!eq(&args[0], &args[1])?))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, &args, 2)?;
            let o = compare(&args[0], &args[1])?;
            Ok(Value::Bool(match name {
                "lt" => o == Ordering::Less,
                "le" => o != Ordering::Greater,
                "gt" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
        "and" => Ok(args
            .iter()
            .find(|a| !truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null)),
        "or" => Ok(args
            .iter()
            .find(|a| truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null)),
        "not" => {
            want(name, &args, 1)?;
            Ok(Value::Bool(!truthy(&args[0])))
        }
        "urlquery" => str_v(crate::client::enc(&sprint(&args))),
        "html" => str_v(
            sprint(&args)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;"),
        ),
        _ => Err(format!("template: :1: function {name:?} not defined")),
    }
}
