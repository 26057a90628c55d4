//! Parser for the subset of Go's text/template that docker users write.

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Dot,
    /// `.A.B` (fields from dot).
    Field(Vec<String>),
    /// `$x.A.B`; `$` alone is the root.
    Var(String, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    /// Function name.
    Ident(String),
    /// `( pipeline )` optionally followed by `.Field` chains.
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cmd {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    pub vars: Vec<String>,
    /// `=` instead of `:=`.
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Text(String),
    /// Inner text of an action plus its line number.
    Action(String, usize),
}

fn err(line: usize, msg: impl AsRef<str>) -> String {
    format!("template: :{line}: {}", msg.as_ref())
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut rest = src;
    let mut line = 1;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_string();
        let mut inner = &rest[start + 2..];
        if inner.starts_with("- ") || inner.starts_with("-\t") || inner.starts_with("-\n") {
            text = text.trim_end().to_string();
            inner = &inner[1..];
        }
        line += text.matches('\n').count();
        let close = find_close(inner).ok_or_else(|| {
            if inner.contains('}') {
                err(line, "unexpected \"}\" in operand")
            } else {
                err(line, "unclosed action")
            }
        })?;
        let mut body = &inner[..close];
        let mut after = &inner[close + 2..];
        if body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-") {
            body = &body[..body.len() - 1];
            after = after.trim_start();
        }
        if !text.is_empty() {
            toks.push(Tok::Text(text));
        }
        toks.push(Tok::Action(body.to_string(), line));
        line += body.matches('\n').count();
        rest = after;
    }
    if !rest.is_empty() {
        toks.push(Tok::Text(rest.to_string()));
    }
    Ok(toks)
}

/// Finds `}}` outside string literals.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match quote {
            Some(q) => {
                if b[i] == b'\\' && q == b'"' {
                    i += 1;
                } else if b[i] == q {
                    quote = None;
                }
            }
            None => {
                if b[i] == b'"' || b[i] == b'`' || b[i] == b'\'' {
                    quote = Some(b[i]);
                } else if b[i] == b'}' && b.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum W {
    Word(String),
    Str(String),
    LParen,
    RParen,
    Bar,
    Decl,
    Assign,
    Comma,
}

fn words(s: &str, line: usize) -> Result<Vec<W>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(W::LParen);
                i += 1
            }
            ')' => {
                // `(x).Field`: glue the chain onto the paren.
                out.push(W::RParen);
                i += 1
            }
            '|' => {
                out.push(W::Bar);
                i += 1
            }
            ',' => {
                out.push(W::Comma);
                i += 1
            }
            ':' if c.get(i + 1) == Some(&'=') => {
                out.push(W::Decl);
                i += 2
            }
            '=' => {
                out.push(W::Assign);
                i += 1
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err(err(line, "unterminated quoted string")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match c.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some('r') => s.push('\r'),
                                Some(o) => s.push(*o),
                                None => return Err(err(line, "unterminated quoted string")),
                            }
                        }
                        Some(o) => s.push(*o),
                    }
                    i += 1;
                }
                i += 1;
                out.push(W::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = c[start..]
                    .iter()
                    .position(|&x| x == '`')
                    .ok_or_else(|| err(line, "unterminated raw quoted string"))?;
                out.push(W::Str(c[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            '\'' => {
                let ch = *c
                    .get(i + 1)
                    .ok_or_else(|| err(line, "unterminated character constant"))?;
                out.push(W::Word((ch as i64).to_string()));
                i += 3;
            }
            _ => {
                let start = i;
                while i < c.len()
                    && !" \t\n\r()|,=\"`".contains(c[i])
                    && !(c[i] == ':' && c.get(i + 1) == Some(&'='))
                {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect();
                if w.is_empty() || w.contains('}') || w.contains('{') {
                    return Err(err(
                        line,
                        format!("unexpected {:?} in operand", ch.to_string()),
                    ));
                }
                out.push(W::Word(w));
            }
        }
    }
    Ok(out)
}

fn parse_arg(ws: &[W], i: &mut usize, line: usize) -> Result<Arg, String> {
    let w = ws
        .get(*i)
        .ok_or_else(|| err(line, "missing value for command"))?
        .clone();
    *i += 1;
    Ok(match w {
        W::Str(s) => Arg::Str(s),
        W::LParen => {
            let p = parse_pipe_until(ws, i, line, true)?;
            let mut chain = Vec::new();
            if let Some(W::Word(f)) = ws.get(*i) {
                if f.starts_with('.') && f.len() > 1 {
                    chain = f[1..].split('.').map(str::to_string).collect();
                    *i += 1;
                }
            }
            Arg::Sub(Box::new(p), chain)
        }
        W::Word(w) => word_arg(&w, line)?,
        other => return Err(err(line, format!("unexpected {other:?} in operand"))),
    })
}

fn word_arg(w: &str, line: usize) -> Result<Arg, String> {
    if w == "." {
        return Ok(Arg::Dot);
    }
    if let Some(f) = w.strip_prefix('.') {
        if f.split('.').any(str::is_empty) {
            return Err(err(line, format!("unexpected {w:?} in operand")));
        }
        return Ok(Arg::Field(f.split('.').map(str::to_string).collect()));
    }
    if w.starts_with('$') {
        let mut parts = w.split('.');
        let name = parts.next().unwrap_or("$").to_string();
        return Ok(Arg::Var(name, parts.map(str::to_string).collect()));
    }
    match w {
        "true" => return Ok(Arg::Bool(true)),
        "false" => return Ok(Arg::Bool(false)),
        "nil" => return Ok(Arg::Nil),
        _ => {}
    }
    if w.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
        if let Ok(n) = w.parse::<i64>() {
            return Ok(Arg::Int(n));
        }
        if let Some(h) = w.strip_prefix("0x") {
            if let Ok(n) = i64::from_str_radix(h, 16) {
                return Ok(Arg::Int(n));
            }
        }
        if let Ok(f) = w.parse::<f64>() {
            return Ok(Arg::Float(f));
        }
        return Err(err(line, format!("bad number syntax: {w:?}")));
    }
    if w.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Ok(Arg::Ident(w.to_string()));
    }
    Err(err(line, format!("unexpected {:?} in command", w)))
}

fn parse_pipe_until(ws: &[W], i: &mut usize, line: usize, paren: bool) -> Result<Pipe, String> {
    let mut pipe = Pipe {
        vars: Vec::new(),
        assign: false,
        cmds: Vec::new(),
    };
    // Variable declarations: `$x :=`, `$i, $e :=`, `$x =`.
    let mut j = *i;
    let mut vars = Vec::new();
    while let Some(W::Word(w)) = ws.get(j) {
        if !w.starts_with('$') || w.contains('.') {
            break;
        }
        vars.push(w.clone());
        j += 1;
        match ws.get(j) {
            Some(W::Comma) => j += 1,
            Some(W::Decl) | Some(W::Assign) => {
                pipe.assign = ws[j] == W::Assign;
                pipe.vars = vars.clone();
                *i = j + 1;
                break;
            }
            _ => break,
        }
    }
    let mut cmd = Cmd { args: Vec::new() };
    loop {
        match ws.get(*i) {
            None => {
                if paren {
                    return Err(err(line, "unclosed left paren"));
                }
                break;
            }
            Some(W::RParen) => {
                if !paren {
                    return Err(err(line, "unexpected right paren"));
                }
                *i += 1;
                break;
            }
            Some(W::Bar) => {
                *i += 1;
                if cmd.args.is_empty() {
                    return Err(err(line, "missing command"));
                }
                pipe.cmds
                    .push(std::mem::replace(&mut cmd, Cmd { args: Vec::new() }));
            }
            _ => cmd.args.push(parse_arg(ws, i, line)?),
        }
    }
    if cmd.args.is_empty() {
        return Err(err(line, "missing value for command"));
    }
    pipe.cmds.push(cmd);
    Ok(pipe)
}

fn parse_pipe(s: &str, line: usize) -> Result<Pipe, String> {
    let ws = words(s, line)?;
    let mut i = 0;
    parse_pipe_until(&ws, &mut i, line, false)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

/// What ended a list of nodes.
enum End {
    Eof,
    Close,
    Else(Option<String>),
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, End, usize), String> {
        let mut nodes = Vec::new();
        while self.pos < self.toks.len() {
            let tok = self.toks[self.pos].clone();
            self.pos += 1;
            let (body, line) = match tok {
                Tok::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Tok::Action(b, l) => (b, l),
            };
            let t = body.trim();
            if t.starts_with("/*") {
                if !t.ends_with("*/") {
                    return Err(err(line, "unclosed comment"));
                }
                continue;
            }
            let (kw, rest) = match t.find(|c: char| c.is_whitespace()) {
                Some(p) => (&t[..p], t[p..].trim()),
                None => (t, ""),
            };
            match kw {
                "" => return Err(err(line, "missing value for command")),
                "end" => return Ok((nodes, End::Close, line)),
                "else" => {
                    return Ok((
                        nodes,
                        End::Else((!rest.is_empty()).then(|| rest.to_string())),
                        line,
                    ))
                }
                "break" => nodes.push(Node::Break),
                "continue" => nodes.push(Node::Continue),
                "if" | "range" | "with" => nodes.push(self.block(kw, rest, line)?),
                _ => nodes.push(Node::Action(parse_pipe(t, line)?)),
            }
        }
        Ok((nodes, End::Eof, 0))
    }

    fn block(&mut self, kw: &str, rest: &str, line: usize) -> Result<Node, String> {
        if rest.is_empty() {
            return Err(err(line, format!("missing value for {kw}")));
        }
        let pipe = parse_pipe(rest, line)?;
        let (body, end, eline) = self.list()?;
        let els = match end {
            End::Eof => return Err(err(eline.max(line), "unexpected EOF")),
            End::Close => Vec::new(),
            End::Else(None) => {
                let (els, end2, l2) = self.list()?;
                if !matches!(end2, End::Close) {
                    return Err(err(l2.max(line), "unexpected EOF"));
                }
                els
            }
            // `{{else if x}}` / `{{else with x}}` nest a block that shares our `{{end}}`.
            End::Else(Some(chain)) => {
                let (k2, r2) = chain
                    .split_once(char::is_whitespace)
                    .unwrap_or((chain.as_str(), ""));
                if k2 != "if" && k2 != "with" {
                    return Err(err(eline, format!("unexpected {chain:?} in else")));
                }
                vec![self.block(k2, r2.trim(), eline)?]
            }
        };
        Ok(match kw {
            "if" => Node::If(pipe, body, els),
            "range" => Node::Range(pipe, body, els),
            _ => Node::With(pipe, body, els),
        })
    }
}

pub fn parse(src: &str) -> Result<Vec<Node>, String> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
    };
    let (nodes, end, line) = p.list()?;
    match end {
        End::Eof => Ok(nodes),
        End::Close => Err(err(line, "unexpected {{end}}")),
        End::Else(_) => Err(err(line, "unexpected {{else}}")),
    }
}
