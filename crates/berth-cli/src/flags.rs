//! A small pflag-compatible parser.
//!
//! docker's CLI is built on cobra/pflag, whose semantics differ from clap's in ways
//! users notice: `--rm=false`, `-it`, `-p8080:80`, flags ending at the first
//! positional for `run`/`exec`, and the exact error texts with exit status 125.
//! Reproducing them here is simpler than bending clap into shape.

use std::collections::HashMap;

/// How a flag takes values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    /// Single value; the last occurrence wins.
    Value,
    /// Repeatable; every occurrence is kept.
    List,
}

#[derive(Clone, Debug)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: Kind,
    /// Type word shown in help ("string", "list", "int", ...).
    pub typ: &'static str,
    pub help: &'static str,
    pub default: &'static str,
    /// Other long names (`--net` for `--network`).
    pub aliases: &'static [&'static str],
    pub hidden: bool,
}

const fn flag(
    long: &'static str,
    short: Option<char>,
    kind: Kind,
    typ: &'static str,
    help: &'static str,
) -> Flag {
    Flag {
        long,
        short,
        kind,
        typ,
        help,
        default: "",
        aliases: &[],
        hidden: false,
    }
}

/// A boolean flag.
pub const fn b(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    flag(long, short, Kind::Bool, "", help)
}

/// A flag taking one value (the last one given wins).
pub const fn v(
    long: &'static str,
    short: Option<char>,
    typ: &'static str,
    help: &'static str,
) -> Flag {
    flag(long, short, Kind::Value, typ, help)
}

/// A repeatable flag.
pub const fn l(
    long: &'static str,
    short: Option<char>,
    typ: &'static str,
    help: &'static str,
) -> Flag {
    flag(long, short, Kind::List, typ, help)
}

impl Flag {
    pub const fn def(mut self, d: &'static str) -> Flag {
        self.default = d;
        self
    }
    pub const fn alias(mut self, a: &'static [&'static str]) -> Flag {
        self.aliases = a;
        self
    }
    pub const fn hide(mut self) -> Flag {
        self.hidden = true;
        self
    }
}

/// Arity of positional arguments, checked after parsing.
#[derive(Clone, Copy, Debug)]
pub enum Args {
    None,
    Exact(usize),
    Min(usize),
    Max(usize),
    Range(usize, usize),
}

pub struct Spec {
    /// e.g. "run" or "container ls": used in messages as "docker run".
    pub path: String,
    pub usage: &'static str,
    pub about: &'static str,
    pub aliases: Vec<String>,
    pub flags: Vec<Flag>,
    /// Flags stop at the first positional (`run IMAGE -x` passes `-x` to the command).
    pub stop_at_positional: bool,
    pub args: Args,
}

#[derive(Debug)]
pub enum ParseError {
    /// Bad flag: docker exits 125.
    Flag(String),
    /// Wrong number of arguments: exit 1.
    Args(String),
    Help,
}

#[derive(Debug, Default)]
pub struct Matches {
    values: HashMap<&'static str, Vec<String>>,
    pub args: Vec<String>,
}

impl Matches {
    pub fn has(&self, long: &str) -> bool {
        self.values.contains_key(long)
    }
    pub fn flag(&self, long: &str) -> bool {
        self.values
            .get(long)
            .and_then(|v| v.last())
            .is_some_and(|s| s == "true")
    }
    pub fn value(&self, long: &str) -> Option<&str> {
        self.values
            .get(long)
            .and_then(|v| v.last())
            .map(String::as_str)
    }
    pub fn str(&self, long: &str) -> String {
        self.value(long).unwrap_or_default().to_string()
    }
    pub fn list(&self, long: &str) -> Vec<String> {
        self.values.get(long).cloned().unwrap_or_default()
    }
    pub fn int(&self, long: &str) -> anyhow::Result<Option<i64>> {
        match self.value(long) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| {
                anyhow::anyhow!("invalid argument {s:?} for \"--{long}\" flag: strconv.ParseInt: parsing {s:?}: invalid syntax")
            }),
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl Spec {
    pub fn new(path: &str, usage: &'static str, about: &'static str, flags: Vec<Flag>) -> Spec {
        Spec {
            path: path.to_string(),
            usage,
            about,
            aliases: Vec::new(),
            flags,
            stop_at_positional: false,
            args: Args::None,
        }
    }
    pub fn args(mut self, a: Args) -> Spec {
        self.args = a;
        self
    }
    pub fn stop(mut self) -> Spec {
        self.stop_at_positional = true;
        self
    }

    fn find_long(&self, name: &str) -> Option<&Flag> {
        self.flags
            .iter()
            .find(|f| f.long == name || f.aliases.contains(&name))
    }
    fn find_short(&self, c: char) -> Option<&Flag> {
        self.flags.iter().find(|f| f.short == Some(c))
    }

    pub fn parse(&self, argv: &[String]) -> Result<Matches, ParseError> {
        let mut m = Matches::default();
        let mut i = 0;
        let mut only_pos = false;
        while i < argv.len() {
            let a = &argv[i];
            i += 1;
            if only_pos || a == "-" || !a.starts_with('-') {
                m.args.push(a.clone());
                if self.stop_at_positional {
                    only_pos = true;
                }
                continue;
            }
            if a == "--" {
                only_pos = true;
                continue;
            }
            if let Some(body) = a.strip_prefix("--") {
                let (name, inline) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (body, None),
                };
                if name == "help" {
                    return Err(ParseError::Help);
                }
                let f = self
                    .find_long(name)
                    .ok_or_else(|| ParseError::Flag(format!("unknown flag: --{name}")))?;
                let val = match (f.kind, inline) {
                    (Kind::Bool, None) => "true".to_string(),
                    (Kind::Bool, Some(v)) => match parse_bool(&v) {
                        Some(b) => b.to_string(),
                        None => {
                            return Err(ParseError::Flag(format!(
                                "invalid argument {v:?} for \"--{name}\" flag: strconv.ParseBool: parsing {v:?}: invalid syntax"
                            )))
                        }
                    },
                    (_, Some(v)) => v,
                    (_, None) => {
                        if i < argv.len() {
                            i += 1;
                            argv[i - 1].clone()
                        } else {
                            return Err(ParseError::Flag(format!("flag needs an argument: --{name}")));
                        }
                    }
                };
                m.values.entry(f.long).or_default().push(val);
                continue;
            }
            // Short flags, possibly clustered: -it, -p80:80, -e=FOO.
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                if c == 'h' && self.find_short('h').is_none() {
                    return Err(ParseError::Help);
                }
                let f = self.find_short(c).ok_or_else(|| {
                    ParseError::Flag(format!("unknown shorthand flag: '{c}' in {a}"))
                })?;
                if f.kind == Kind::Bool {
                    let mut val = "true".to_string();
                    if j < chars.len() && chars[j] == '=' {
                        let rest: String = chars[j + 1..].iter().collect();
                        val = parse_bool(&rest).map(|b| b.to_string()).ok_or_else(|| {
                            ParseError::Flag(format!(
                                "invalid argument {rest:?} for \"-{c}, --{}\" flag: strconv.ParseBool: parsing {rest:?}: invalid syntax",
                                f.long
                            ))
                        })?;
                        j = chars.len();
                    }
                    m.values.entry(f.long).or_default().push(val);
                    continue;
                }
                let rest: String = chars[j..].iter().collect();
                let val = if !rest.is_empty() {
                    rest.strip_prefix('=').map(str::to_string).unwrap_or(rest)
                } else if i < argv.len() {
                    i += 1;
                    argv[i - 1].clone()
                } else {
                    return Err(ParseError::Flag(format!(
                        "flag needs an argument: '{c}' in -{c}"
                    )));
                };
                m.values.entry(f.long).or_default().push(val);
                j = chars.len();
            }
        }
        self.check_args(m.args.len()).map_err(ParseError::Args)?;
        Ok(m)
    }

    fn check_args(&self, n: usize) -> Result<(), String> {
        let (ok, what) = match self.args {
            Args::None => (n == 0, "no arguments".to_string()),
            Args::Exact(k) => (n == k, format!("{k} {}", plural(k))),
            Args::Min(k) => (n >= k, format!("at least {k} {}", plural(k))),
            Args::Max(k) => (n <= k, format!("at most {k} {}", plural(k))),
            Args::Range(a, b) => (
                n >= a && n <= b,
                format!("at least {a} and at most {b} arguments"),
            ),
        };
        if ok {
            Ok(())
        } else if matches!(self.args, Args::None) {
            Err(format!(
                "'{} {}' accepts no arguments",
                crate::prog(),
                self.path
            ))
        } else {
            Err(format!("'{} {}' requires {what}", crate::prog(), self.path))
        }
    }

    /// docker's help layout: usage, description, aliases, options.
    pub fn help(&self) -> String {
        let mut out = format!("Usage:  {}\n\n{}\n", self.usage_line(), self.about);
        if !self.aliases.is_empty() {
            out.push_str(&format!("\nAliases:\n  {}\n", self.aliases.join(", ")));
        }
        let mut flags: Vec<&Flag> = self.flags.iter().filter(|f| !f.hidden).collect();
        flags.sort_by_key(|f| f.long);
        if !flags.is_empty() {
            let left: Vec<String> = flags
                .iter()
                .map(|f| {
                    let s = match f.short {
                        Some(c) => format!("  -{c}, --{}", f.long),
                        None => format!("      --{}", f.long),
                    };
                    if f.typ.is_empty() {
                        s
                    } else {
                        format!("{s} {}", f.typ)
                    }
                })
                .collect();
            let w = left.iter().map(|s| s.len()).max().unwrap_or(0) + 3;
            let cols = help_columns();
            out.push_str("\nOptions:\n");
            for (f, l) in flags.iter().zip(left) {
                let mut h = f.help.to_string();
                if !f.default.is_empty() {
                    h.push_str(&format!(" (default {})", f.default));
                }
                out.push_str(&format!("{l:w$}{}\n", wrap(w, cols, &h)));
            }
        }
        out
    }

    pub fn usage_line(&self) -> String {
        format!("{} {}", crate::prog(), self.usage)
    }

    /// Prints a parse error the way docker does and returns the exit status.
    pub fn report(&self, e: ParseError) -> i32 {
        match e {
            ParseError::Help => {
                print!("{}", self.help());
                0
            }
            ParseError::Flag(msg) => {
                eprintln!(
                    "{msg}\n\nUsage:  {}\n\nRun '{} {} --help' for more information",
                    self.usage_line(),
                    crate::prog(),
                    self.path
                );
                125
            }
            ParseError::Args(msg) => {
                // docker/cli's cli/required.go words the last line per arity
                // ("SRun" is its typo for RequiresMaxArgs).
                let see = match self.args {
                    Args::Min(_) => "See",
                    Args::Max(_) => "SRun",
                    _ => "Run",
                };
                eprintln!(
                    "{p}: {msg}\n\nUsage:  {}\n\n{see} '{p} {} --help' for more information",
                    self.usage_line(),
                    self.path,
                    p = crate::prog()
                );
                1
            }
        }
    }
}

/// docker wraps flag help to the width of the terminal on stdin (80 without one),
/// less one column.
fn help_columns() -> isize {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own; failure leaves it unused.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } == 0;
    let width = if ok && ws.ws_col > 0 {
        ws.ws_col as isize
    } else {
        80
    };
    width - 1
}

/// pflag's wrapN: splits `s` at the last blank within `i` bytes, going `slop`
/// over when that takes the whole rest.
fn wrap_n(i: usize, slop: usize, s: &str) -> (&str, &str) {
    if i + slop > s.len() {
        return (s, "");
    }
    let head = &s.as_bytes()[..i];
    let Some(w) = head
        .iter()
        .rposition(|c| matches!(c, b' ' | b'\t' | b'\n'))
        .filter(|w| *w > 0)
    else {
        return (s, "");
    };
    match head.iter().rposition(|c| *c == b'\n') {
        Some(nl) if nl > 0 && nl < w => (&s[..nl], &s[nl + 1..]),
        _ => (&s[..w], &s[w + 1..]),
    }
}

/// pflag's wrap: `s` wrapped to `w` columns, continuation lines indented by `i`.
fn wrap(i: usize, w: isize, s: &str) -> String {
    let indent = |n: usize| format!("\n{}", " ".repeat(n));
    if w == 0 {
        return s.replace('\n', &indent(i));
    }
    let mut i = i;
    let mut width = w - i as isize;
    let mut out = String::new();
    if width < 24 {
        i = 16;
        width = w - 16;
        out.push_str(&indent(i));
    }
    if width < 24 {
        return s.replace('\n', &out);
    }
    let slop = 5;
    let width = (width - slop as isize) as usize;
    let (first, mut rest) = wrap_n(width, slop, s);
    out.push_str(&first.replace('\n', &indent(i)));
    while !rest.is_empty() {
        let (line, r) = wrap_n(width, slop, rest);
        out.push_str(&indent(i));
        out.push_str(&line.replace('\n', &indent(i)));
        rest = r;
    }
    out
}

fn plural(k: usize) -> &'static str {
    if k == 1 {
        "argument"
    } else {
        "arguments"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec::new(
            "run",
            "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
            "Create and run a new container from an image",
            vec![
                b("detach", Some('d'), "Run in background"),
                b("interactive", Some('i'), "Keep STDIN open"),
                b("tty", Some('t'), "Allocate a pseudo-TTY"),
                b("rm", None, "Remove"),
                v("name", None, "string", "Name"),
                l("env", Some('e'), "list", "Env"),
                l("publish", Some('p'), "list", "Publish"),
                v("network", None, "network", "Net").alias(&["net"]),
            ],
        )
        .stop()
        .args(Args::Min(1))
    }

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn clusters_and_values() {
        let m = spec()
            .parse(&argv(
                "-it -p8080:80 -e A=1 --env=B --name=x --net host --rm=false img sh -c ls",
            ))
            .unwrap();
        assert!(m.flag("interactive") && m.flag("tty"));
        assert!(!m.flag("rm") && m.has("rm"));
        assert_eq!(m.list("publish"), vec!["8080:80"]);
        assert_eq!(m.list("env"), vec!["A=1", "B"]);
        assert_eq!(m.value("name"), Some("x"));
        assert_eq!(m.value("network"), Some("host"));
        assert_eq!(m.args, argv("img sh -c ls"));
    }

    #[test]
    fn errors() {
        match spec().parse(&argv("--bogus img")) {
            Err(ParseError::Flag(m)) => assert_eq!(m, "unknown flag: --bogus"),
            other => panic!("{other:?}"),
        }
        match spec().parse(&argv("-z img")) {
            Err(ParseError::Flag(m)) => assert_eq!(m, "unknown shorthand flag: 'z' in -z"),
            other => panic!("{other:?}"),
        }
        match spec().parse(&argv("img --name")) {
            Ok(m) => assert_eq!(m.args, argv("img --name")),
            other => panic!("{other:?}"),
        }
        match spec().parse(&argv("--name")) {
            Err(ParseError::Flag(m)) => assert_eq!(m, "flag needs an argument: --name"),
            other => panic!("{other:?}"),
        }
        match spec().parse(&argv("-e")) {
            Err(ParseError::Flag(m)) => assert_eq!(m, "flag needs an argument: 'e' in -e"),
            other => panic!("{other:?}"),
        }
        match spec().parse(&[]) {
            Err(ParseError::Args(m)) => assert_eq!(m, "'docker run' requires at least 1 argument"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            spec().parse(&argv("--help")),
            Err(ParseError::Help)
        ));
    }

    #[test]
    fn help_layout() {
        let h = spec().help();
        assert!(h.contains("Usage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]"));
        assert!(
            h.contains("  -d, --detach            Run in background\n"),
            "{h}"
        );
        assert!(h.contains("      --network network"));
    }

    #[test]
    fn help_wraps_like_pflag() {
        // docker network create --help at 80 columns.
        assert_eq!(
            wrap(29, 79, "Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])"),
            "Auxiliary IPv4 or IPv6 addresses used by\n                             Network driver (default map[])"
        );
        assert_eq!(
            wrap(24, 79, "Format output using a custom template:\n'json':             Print in JSON format"),
            "Format output using a custom template:\n                        'json':             Print in JSON format"
        );
        assert_eq!(wrap(10, 79, "short"), "short");
    }
}
