//! Variable substitution with docker's rules (`$VAR`, `${VAR}`,
//! `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
//! `${VAR:?msg}`), quote removal and the escape character. Only a few
//! instructions substitute (see `expand.rs`); RUN, CMD and ENTRYPOINT leave it
//! to the shell.

use std::collections::{BTreeMap, HashMap};

use thiserror::Error;

use crate::pattern::{Pattern, PatternError};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubstError {
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    #[error("unexpected end of statement while looking for matching {0}")]
    Unterminated(char),
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    #[error("{0}: {1}")]
    Required(String, String),
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    #[error("invalid pattern ({0}) in substitution: {1}")]
    InvalidPattern(String, PatternError),
    #[error("failed to process {0:?}: {1}")]
    Word(String, Box<SubstError>),
}

/// Where substitution looks variables up.
pub trait Vars {
    fn var(&self, name: &str) -> Option<String>;
}

impl Vars for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Vars for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// `KEY=value` strings as in an image config; the last one wins.
impl Vars for [String] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .rev()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
    }
}

impl Vars for Vec<String> {
    fn var(&self, name: &str) -> Option<String> {
        self.as_slice().var(name)
    }
}

/// One word, quotes removed and variables replaced.
pub fn process_word(word: &str, vars: &dyn Vars, escape: char) -> Result<String, SubstError> {
    let mut lexer = Lexer::new(word, vars, escape);
    lexer
        .until(None)
        .map(|(s, _)| s)
        .map_err(|e| SubstError::Word(word.to_string(), Box::new(e)))
}

/// Like [`process_word`] but splits the result into words on unquoted
/// whitespace, also whitespace that came from a variable (EXPOSE).
pub fn process_words(word: &str, vars: &dyn Vars, escape: char) -> Result<Vec<String>, SubstError> {
    let mut lexer = Lexer::new(word, vars, escape);
    lexer
        .until(None)
        .map(|(_, w)| w)
        .map_err(|e| SubstError::Word(word.to_string(), Box::new(e)))
}

/// Substitution in a heredoc body of COPY/ADD (when its delimiter was not
/// quoted), as BuildKit does it: `$` expansions and `\` escapes, quotes kept.
pub fn process_heredoc(body: &str, vars: &dyn Vars) -> Result<String, SubstError> {
    let mut lexer = Lexer::new(body, vars, '\\');
    lexer.keep_quotes = true;
    lexer.until(None).map(|(s, _)| s)
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    vars: &'a dyn Vars,
    escape: char,
    keep_quotes: bool,
}

#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw(c);
        }
    }

    fn add_raw(&mut self, c: char) {
        self.buf.push(c);
        self.in_word = true;
    }

    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_str(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(self.buf);
        }
        self.words
    }
}

impl<'a> Lexer<'a> {
    fn new(word: &str, vars: &'a dyn Vars, escape: char) -> Self {
        Lexer {
            chars: word.chars().collect(),
            pos: 0,
            vars,
            escape,
            keep_quotes: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads up to `stop` (consumed) or the end.
    fn until(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), SubstError> {
        self.until_raw(stop, false)
    }

    /// With `raw_escapes` the escape character is kept (for patterns).
    fn until_raw(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), SubstError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match c {
                '$' => {
                    let value = self.dollar()?;
                    words.add_str(&value);
                    result.push_str(&value);
                }
                '\'' if !self.keep_quotes => {
                    let value = self.single_quoted()?;
                    words.add_raw_str(&value);
                    result.push_str(&value);
                }
                '"' if !self.keep_quotes => {
                    let value = self.double_quoted()?;
                    words.add_raw_str(&value);
                    result.push_str(&value);
                }
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        if raw_escapes {
                            words.add_raw(c);
                            result.push(c);
                        }
                        let Some(escaped) = self.next() else { break };
                        words.add_raw(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(c);
                        result.push(c);
                    }
                }
            }
        }
        match stop {
            Some(s) => Err(SubstError::Unterminated(s)),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quoted(&mut self) -> Result<String, SubstError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(SubstError::UnterminatedSingleQuote),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, SubstError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(SubstError::UnterminatedDoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    fn dollar(&mut self) -> Result<String, SubstError> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(self.vars.var(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(SubstError::MissingBrace),
            Some('{' | '}' | ':') => return Err(SubstError::BadSubstitution),
            Some(_) => {}
        }
        let name = self.name();
        let Some(mut modifier) = self.next() else {
            return Err(SubstError::MissingBrace);
        };
        if modifier == '}' {
            return Ok(self.vars.var(&name).unwrap_or_default());
        }
        if modifier == '#' || modifier == '%' {
            return self.trim(&name, modifier);
        }
        if modifier == '/' {
            return self.replace(&name);
        }
        let mut shown = modifier.to_string();
        let null_is_unset = modifier == ':';
        if null_is_unset {
            let Some(m) = self.next() else {
                return Err(SubstError::MissingBrace);
            };
            modifier = m;
            shown.push(m);
        }
        if !matches!(modifier, '-' | '+' | '?') {
            return Err(SubstError::UnsupportedModifier(shown));
        }
        let (word, _) = self.until(Some('}')).map_err(missing_brace)?;
        let value = self.vars.var(&name);
        let missing = match &value {
            None => true,
            Some(v) => null_is_unset && v.is_empty(),
        };
        match modifier {
            '-' if missing => Ok(word),
            '-' => Ok(value.unwrap_or_default()),
            '+' if missing => Ok(String::new()),
            '+' => Ok(word),
            _ => match value {
                None => Err(SubstError::Required(
                    name,
                    non_empty_or(word, "is not allowed to be unset"),
                )),
                Some(v) if null_is_unset && v.is_empty() => Err(SubstError::Required(
                    name,
                    non_empty_or(word, "is not allowed to be empty"),
                )),
                Some(v) => Ok(v),
            },
        }
    }

    /// `${VAR#pat}`, `${VAR##pat}` (prefix), `${VAR%pat}`, `${VAR%%pat}` (suffix).
    fn trim(&mut self, name: &str, modifier: char) -> Result<String, SubstError> {
        let (mut word, _) = self.until_raw(Some('}'), true).map_err(missing_brace)?;
        let greedy = word.starts_with(modifier);
        if greedy {
            word.remove(0);
        }
        let pattern =
            Pattern::shell(&word).map_err(|e| SubstError::InvalidPattern(word.clone(), e))?;
        let value = self.vars.var(name).unwrap_or_default();
        let bounds: Vec<usize> = value
            .char_indices()
            .map(|(i, _)| i)
            .chain([value.len()])
            .collect();
        let found = if modifier == '#' {
            let mut cuts: Box<dyn Iterator<Item = &usize>> = if greedy {
                Box::new(bounds.iter().rev())
            } else {
                Box::new(bounds.iter())
            };
            cuts.find(|&&i| pattern.matches(&value[..i]))
                .map(|&i| value[i..].to_string())
        } else {
            let mut cuts: Box<dyn Iterator<Item = &usize>> = if greedy {
                Box::new(bounds.iter())
            } else {
                Box::new(bounds.iter().rev())
            };
            cuts.find(|&&i| pattern.matches(&value[i..]))
                .map(|&i| value[..i].to_string())
        };
        Ok(found.unwrap_or(value))
    }

    /// `${VAR/pat/repl}` (first match) and `${VAR//pat/repl}` (every match),
    /// each match the longest at its leftmost start.
    fn replace(&mut self, name: &str) -> Result<String, SubstError> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let (pat, _) = self.until_raw(Some('/'), true).map_err(|e| match e {
            SubstError::Unterminated('/') => SubstError::MissingSlash,
            other => other,
        })?;
        let (replacement, _) = self.until_raw(Some('}'), true).map_err(missing_brace)?;
        let pattern =
            Pattern::shell(&pat).map_err(|e| SubstError::InvalidPattern(pat.clone(), e))?;
        let value = self.vars.var(name).unwrap_or_default();
        let bounds: Vec<usize> = value
            .char_indices()
            .map(|(i, _)| i)
            .chain([value.len()])
            .collect();
        let mut out = String::new();
        let mut copied = 0;
        let mut b = 0;
        while b < bounds.len() {
            let start = bounds[b];
            let end = bounds[b..]
                .iter()
                .rev()
                .find(|&&e| pattern.matches(&value[start..e]));
            match end {
                Some(&end) => {
                    out.push_str(&value[copied..start]);
                    out.push_str(&replacement);
                    copied = end;
                    if !all {
                        break;
                    }
                    b = bounds
                        .iter()
                        .position(|&x| x == end)
                        .unwrap_or(bounds.len())
                        .max(b + 1);
                }
                None => b += 1,
            }
        }
        out.push_str(&value[copied..]);
        Ok(out)
    }

    /// A variable name: letters, digits and `_`; or only digits (`$1`); or
    /// one of the shell's special parameters, which are never set.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.pos += 1;
                name.push(c);
                return name;
            }
            _ => {}
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            name.push(c);
            self.pos += 1;
        }
        name
    }
}

fn missing_brace(e: SubstError) -> SubstError {
    match e {
        SubstError::Unterminated('}') => SubstError::MissingBrace,
        other => other,
    }
}

fn non_empty_or(word: String, default: &str) -> String {
    if word.is_empty() {
        default.to_string()
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, String> {
        [
            ("A", "apple"),
            ("EMPTY", ""),
            ("SP", "a b  c"),
            ("_x1", "under"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn w(s: &str) -> String {
        process_word(s, &vars(), '\\').unwrap()
    }

    fn err(s: &str) -> String {
        match process_word(s, &vars(), '\\').unwrap_err() {
            SubstError::Word(_, inner) => inner.to_string(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn plain_and_braced() {
        assert_eq!(w("$A"), "apple");
        assert_eq!(w("${A}"), "apple");
        assert_eq!(w("x$A/y"), "xapple/y");
        assert_eq!(w("${A}s"), "apples");
        assert_eq!(w("$As"), "");
        assert_eq!(w("$_x1"), "under");
        assert_eq!(w("$UNSET"), "");
        assert_eq!(w("$"), "$");
        assert_eq!(w("a$ b"), "a$ b");
        assert_eq!(w("$1x"), "x");
    }

    #[test]
    fn default_and_alternative() {
        assert_eq!(w("${UNSET:-def}"), "def");
        assert_eq!(w("${EMPTY:-def}"), "def");
        assert_eq!(w("${EMPTY-def}"), "");
        assert_eq!(w("${UNSET-def}"), "def");
        assert_eq!(w("${A:-def}"), "apple");
        assert_eq!(w("${A:+alt}"), "alt");
        assert_eq!(w("${EMPTY:+alt}"), "");
        assert_eq!(w("${EMPTY+alt}"), "alt");
        assert_eq!(w("${UNSET+alt}"), "");
        assert_eq!(w("${UNSET:-$A}"), "apple");
        assert_eq!(w("${UNSET:-${A:+nested}}"), "nested");
        assert_eq!(w("${UNSET:-'quoted word'}"), "quoted word");
    }

    #[test]
    fn required() {
        assert_eq!(w("${A:?oops}"), "apple");
        assert_eq!(err("${UNSET?}"), "UNSET: is not allowed to be unset");
        assert_eq!(err("${EMPTY:?}"), "EMPTY: is not allowed to be empty");
        assert_eq!(err("${UNSET:?need it}"), "UNSET: need it");
        assert_eq!(w("${EMPTY?}"), "");
    }

    #[test]
    fn quotes() {
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\"$A\""), "apple");
        assert_eq!(w("\"a 'b' c\""), "a 'b' c");
        assert_eq!(w(r#""say \"hi\"""#), "say \"hi\"");
        assert_eq!(w(r#""\$A""#), "$A");
        assert_eq!(w(r#""a\b""#), "a\\b");
        assert_eq!(w("'a\\b'"), "a\\b");
        assert_eq!(w("x\"\"y"), "xy");
    }

    #[test]
    fn escape_character() {
        assert_eq!(w(r"\$A"), "$A");
        assert_eq!(w(r"a\ b"), "a b");
        assert_eq!(w(r"\\"), "\\");
        assert_eq!(w(r"a\"), "a");
        assert_eq!(process_word("`$A`\\", &vars(), '`').unwrap(), "$A\\");
    }

    #[test]
    fn words_split_on_unquoted_whitespace() {
        let ws = |s: &str| process_words(s, &vars(), '\\').unwrap();
        assert_eq!(ws("80 443/tcp"), vec!["80", "443/tcp"]);
        assert_eq!(ws("$SP"), vec!["a", "b", "c"]);
        assert_eq!(ws("\"$SP\""), vec!["a b  c"]);
        assert_eq!(ws("'x y' z"), vec!["x y", "z"]);
        assert_eq!(ws(r"x\ y"), vec!["x y"]);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            err("'abc"),
            "unexpected end of statement while looking for matching single-quote"
        );
        assert_eq!(
            err("\"abc"),
            "unexpected end of statement while looking for matching double-quote"
        );
        assert_eq!(err("${A"), "syntax error: missing '}'");
        assert_eq!(err("${A:-x"), "syntax error: missing '}'");
        assert_eq!(err("${"), "syntax error: missing '}'");
        assert_eq!(err("${}"), "syntax error: bad substitution");
        assert_eq!(err("${:a}"), "syntax error: bad substitution");
        assert_eq!(err("${A:x}"), "unsupported modifier (:x) in substitution");
        assert_eq!(err("${A*}"), "unsupported modifier (*) in substitution");
        assert_eq!(err("${A:#x}"), "unsupported modifier (:#) in substitution");
        assert_eq!(err("${A/x"), "syntax error: missing '/' in ${}");
        assert_eq!(err("${A/x/y"), "syntax error: missing '}'");
        assert_eq!(
            err("${A#\\x}"),
            "invalid pattern (\\x) in substitution: invalid escape '\\x'"
        );
        let full = process_word("'x", &vars(), '\\').unwrap_err().to_string();
        assert_eq!(full, "failed to process \"'x\": unexpected end of statement while looking for matching single-quote");
    }

    #[test]
    fn prefix_and_suffix_removal() {
        let mut v = vars();
        v.insert("P".into(), "/usr/local/bin/tool.tar.gz".into());
        let w = |s: &str| process_word(s, &v, '\\').unwrap();
        assert_eq!(w("${P#*/}"), "usr/local/bin/tool.tar.gz");
        assert_eq!(w("${P##*/}"), "tool.tar.gz");
        assert_eq!(w("${P%.*}"), "/usr/local/bin/tool.tar");
        assert_eq!(w("${P%%.*}"), "/usr/local/bin/tool");
        assert_eq!(w("${P#nomatch}"), "/usr/local/bin/tool.tar.gz");
        assert_eq!(w("${P%.g?}"), "/usr/local/bin/tool.tar");
        v.insert("S".into(), "a***yy*".into());
        let w = |s: &str| process_word(s, &v, '\\').unwrap();
        assert_eq!(w("${S%%\\**\\*}"), "a");
        assert_eq!(w("${UNSET#x}"), "");
        assert_eq!(w("${A#a?p}"), "le");
    }

    #[test]
    fn pattern_replacement() {
        let mut v = vars();
        v.insert("P".into(), "a-b-c".into());
        let w = |s: &str| process_word(s, &v, '\\').unwrap();
        assert_eq!(w("${P/-/+}"), "a+b-c");
        assert_eq!(w("${P//-/+}"), "a+b+c");
        assert_eq!(w("${P/-*/}"), "a");
        assert_eq!(w("${P/z/y}"), "a-b-c");
        assert_eq!(w("${P/$EMPTY/ww}"), "wwa-b-c");
        assert_eq!(w("${P///}"), "a-b-c");
        v.insert("F".into(), "/tmp/foo.txt".into());
        let w = |s: &str| process_word(s, &v, '\\').unwrap();
        assert_eq!(w("${F//\\//\\/}"), "\\/tmp\\/foo.txt");
        v.insert("B".into(), "[a]-[a]".into());
        let w = |s: &str| process_word(s, &v, '\\').unwrap();
        assert_eq!(w("${B//[a]/x}"), "x-x");
    }

    #[test]
    fn heredoc_bodies_keep_quotes() {
        let got = process_heredoc("say \"$A\" and '$A' \\$A ${UNSET:-x}\n", &vars()).unwrap();
        assert_eq!(got, "say \"apple\" and 'apple' $A x\n");
    }

    #[test]
    fn env_list_lookup_last_wins() {
        let env = vec![
            "PATH=/bin".to_string(),
            "A=1".to_string(),
            "A=2".to_string(),
            "AB=3".to_string(),
        ];
        assert_eq!(
            process_word("$A-$AB-$PATH", &env, '\\').unwrap(),
            "2-3-/bin"
        );
    }
}
