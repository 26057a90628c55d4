//! Evaluation of parsed templates over `serde_json::Value` data.

use serde_json::Value;

use super::funcs;
use super::parse::{Arg, Cmd, Node, Pipe};
use super::typed;

pub struct State<'a> {
    pub out: String,
    vars: Vec<(String, Value)>,
    /// Header mode: docker's formatting functions pass their input through.
    pub header: bool,
    root: &'a Value,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

pub fn fail(at: &str, msg: impl AsRef<str>) -> String {
    format!("template: :1: executing \"\" at <{at}>: {}", msg.as_ref())
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        // A time is a struct (true), a nil map or slice false.
        Value::Object(o) if o.contains_key("__shown") => o.get("__json").is_some_and(truthy),
        Value::Object(o) => o.keys().any(|k| !k.starts_with("__")),
    }
}

/// Go's `%v` rendering of a value (`<no value>` at top level for missing/nil).
pub fn display(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        other => display_inner(other),
    }
}

fn display_inner(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => fmt_number(n),
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("__shown") => {
            o["__shown"].as_str().unwrap_or_default().to_string()
        }
        Value::Object(o) if o.contains_key("__struct") => format!(
            "{{{}}}",
            typed::struct_fields(o)
                .unwrap_or_default()
                .iter()
                .map(|(go, _, _)| display_inner(o.get(*go).unwrap_or(&Value::Null)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(display_inner).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(o) => format!(
            "map[{}]",
            o.iter()
                .filter(|(k, _)| !k.starts_with("__"))
                .map(|(k, v)| format!("{k}:{}", display_inner(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

pub fn fmt_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else {
        format!("{f}")
    }
}

/// What a missing field of the data evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub enum Missing {
    /// Go's default on maps: no value.
    Zero,
    /// `missingkey=error` on maps (docker's inspect fallback), at the first hop only: what
    /// deeper hops would give in docker's typed pass is unknown here.
    MapError,
    /// `missingkey=error` on maps at every hop (the fallback after a typed pass).
    MapErrorAll,
    /// The data stands for a Go struct of this type: no such field is an error.
    Struct(String),
}

thread_local! {
    static MISSING: std::cell::RefCell<Missing> = const { std::cell::RefCell::new(Missing::Zero) };
}

/// Runs `f` with missing fields of the first hop of each field chain treated as `mode`.
pub fn with_missing<T>(mode: Missing, f: impl FnOnce() -> T) -> T {
    let prev = MISSING.with(|m| m.replace(mode));
    let out = f();
    MISSING.with(|m| *m.borrow_mut() = prev);
    out
}

fn missing(name: &str, path: &str, first_hop: bool) -> Result<Value, String> {
    MISSING.with(|m| match &*m.borrow() {
        Missing::MapErrorAll => Err(fail(path, format!("map has no entry for key {name:?}"))),
        _ if !first_hop => Ok(Value::Null),
        Missing::Zero => Ok(Value::Null),
        Missing::MapError => Err(fail(path, format!("map has no entry for key {name:?}"))),
        Missing::Struct(t) => Err(fail(
            path,
            format!("can't evaluate field {name} in type {t}"),
        )),
    })
}

fn field(v: &Value, name: &str, path: &str, first_hop: bool) -> Result<Value, String> {
    match v {
        Value::Object(m) => match m.get(name) {
            Some(v) if !name.starts_with("__") => Ok(v.clone()),
            // A struct has its fields only, wherever it is in the chain.
            _ if m.contains_key("__struct") => Err(fail(
                path,
                format!(
                    "can't evaluate field {name} in type {}",
                    m["__type"].as_str().unwrap_or_default()
                ),
            )),
            _ => missing(name, path, first_hop),
        },
        Value::Null => Err(fail(
            path,
            format!("nil pointer evaluating interface {{}}.{name}"),
        )),
        other => Err(fail(
            path,
            format!("can't evaluate field {name} in type {}", type_name(other)),
        )),
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "interface {}",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn chain(mut v: Value, names: &[String], prefix: &str) -> Result<Value, String> {
    // Go names the whole chain in its errors, whichever element failed.
    let mut path = prefix.to_string();
    for n in names {
        path.push('.');
        path.push_str(n);
    }
    for (i, n) in names.iter().enumerate() {
        v = field(&v, n, &path, i == 0)?;
    }
    Ok(v)
}

/// Methods that docker's formatting contexts expose with arguments.
fn method(recv: &Value, name: &str, args: &[Value], path: &str) -> Result<Value, String> {
    match name {
        "Label" => {
            let key = args.first().and_then(Value::as_str).unwrap_or_default();
            let labels = recv.get("__labels").or_else(|| recv.get("Labels"));
            Ok(match labels {
                Some(Value::Object(m)) => {
                    m.get(key).cloned().unwrap_or(Value::String(String::new()))
                }
                _ => Value::String(String::new()),
            })
        }
        _ => Err(fail(
            path,
            format!(
                "can't call method/function {name:?} with {} args",
                args.len()
            ),
        )),
    }
}

impl<'a> State<'a> {
    pub fn new(root: &'a Value, header: bool) -> State<'a> {
        State {
            out: String::new(),
            vars: vec![("$".to_string(), root.clone())],
            header,
            root,
        }
    }

    fn var(&self, name: &str) -> Result<Value, String> {
        if name == "$" {
            return Ok(self.root.clone());
        }
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("template: :1: undefined variable: {name}"))
    }

    fn set_var(&mut self, name: &str, v: Value, declare: bool) -> Result<(), String> {
        if declare {
            self.vars.push((name.to_string(), v));
            return Ok(());
        }
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(format!("template: :1: undefined variable: {name}")),
        }
    }

    pub fn run(&mut self, nodes: &[Node], dot: &Value) -> Result<(), String> {
        self.list(nodes, dot).map(|_| ())
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, String> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.vars.is_empty() {
                        self.out.push_str(&display(&v));
                    }
                }
                Node::If(p, body, els) => {
                    let mark = self.vars.len();
                    let c = self.pipe(p, dot)?;
                    let f = if truthy(&c) {
                        self.list(body, dot)?
                    } else {
                        self.list(els, dot)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(f, Flow::Normal) {
                        return Ok(f);
                    }
                }
                Node::With(p, body, els) => {
                    let mark = self.vars.len();
                    let c = self.pipe(p, dot)?;
                    let f = if truthy(&c) {
                        self.list(body, &c)?
                    } else {
                        self.list(els, dot)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(f, Flow::Normal) {
                        return Ok(f);
                    }
                }
                Node::Range(p, body, els) => self.range(p, body, els, dot)?,
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, p: &Pipe, body: &[Node], els: &[Node], dot: &Value) -> Result<(), String> {
        let mark = self.vars.len();
        let plain = Pipe {
            vars: Vec::new(),
            assign: false,
            cmds: p.cmds.clone(),
        };
        let coll = self.pipe(&plain, dot)?;
        let items: Vec<(Value, Value)> = match &coll {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v.clone()))
                .collect(),
            Value::Object(o) => o
                .iter()
                .filter(|(k, _)| !k.starts_with("__"))
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect(),
            Value::Null => Vec::new(),
            Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            other => {
                return Err(fail(
                    "range",
                    format!("range can't iterate over {}", display(other)),
                ))
            }
        };
        if items.is_empty() {
            self.list(els, dot)?;
            self.vars.truncate(mark);
            return Ok(());
        }
        for (k, v) in items {
            self.vars.truncate(mark);
            match p.vars.len() {
                0 => {}
                1 => self.vars.push((p.vars[0].clone(), v.clone())),
                _ => {
                    self.vars.push((p.vars[0].clone(), k));
                    self.vars.push((p.vars[1].clone(), v.clone()));
                }
            }
            if let Flow::Break = self.list(body, &v)? {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let mut prev: Option<Value> = None;
        for c in &p.cmds {
            prev = Some(self.cmd(c, dot, prev)?);
        }
        let v = prev.unwrap_or(Value::Null);
        if !p.vars.is_empty() {
            let declare = !p.assign;
            self.set_var(&p.vars[0], v.clone(), declare)?;
        }
        Ok(v)
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> Result<Value, String> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Field(f) => chain(dot.clone(), f, "")?,
            Arg::Var(n, f) => chain(self.var(n)?, f, n)?,
            Arg::Str(s) => Value::String(s.clone()),
            Arg::Int(i) => Value::from(*i),
            Arg::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Nil => Value::Null,
            Arg::Ident(name) => self.call(name, Vec::new())?,
            Arg::Sub(p, f) => {
                let v = self.pipe(p, dot)?;
                chain(v, f, "")?
            }
        })
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, prev: Option<Value>) -> Result<Value, String> {
        let first = &c.args[0];
        let mut rest = Vec::new();
        for a in &c.args[1..] {
            rest.push(self.arg(a, dot)?);
        }
        if let Some(p) = prev {
            rest.push(p);
        }
        match first {
            Arg::Ident(name) => self.call(name, rest),
            Arg::Field(f) | Arg::Var(_, f) if !rest.is_empty() => {
                // `.Label "k"`: everything but the last name is the receiver.
                let (recv_path, name) = f.split_at(f.len().saturating_sub(1));
                let base = match first {
                    Arg::Var(n, _) => self.var(n)?,
                    _ => dot.clone(),
                };
                if name.is_empty() {
                    return Err(fail("", "can't give argument to non-function"));
                }
                let recv = chain(base, recv_path, "")?;
                method(&recv, &name[0], &rest, &format!(".{}", f.join(".")))
            }
            other if rest.is_empty() => self.arg(other, dot),
            _ => Err(fail("", "can't give argument to non-function")),
        }
    }

    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        if self.header
            && matches!(
                name,
                "json" | "split" | "join" | "title" | "lower" | "upper" | "pad" | "truncate"
            )
        {
            return Ok(args.into_iter().next().unwrap_or(Value::Null));
        }
        funcs::call(name, args)
    }
}
