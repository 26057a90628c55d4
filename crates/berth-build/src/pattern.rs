//! Path patterns: Go's `filepath.Match` syntax (`*`, `?`, `[a-z]`, `[^x]`,
//! `\` escapes; `*` and `?` never match `/`), plus `**` for any number of
//! directories as `.dockerignore` has it. COPY/ADD sources use the plain
//! syntax, `.dockerignore` the one with `**`.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct PatternError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    One,
    /// `?` in a shell pattern: any character, `/` included.
    AnyChar,
    /// `*`
    Star,
    /// `**` followed by more pattern: any number of whole directories, `(.*/)?`.
    Dirs,
    /// `**` at the end (or a leading `**` before plain text): anything, `/` included.
    Rest,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Go `filepath.Match` syntax.
    pub fn new(text: &str) -> Result<Self, PatternError> {
        Self::compile(text, false)
    }

    /// With `**` as in `.dockerignore`.
    pub fn with_double_star(text: &str) -> Result<Self, PatternError> {
        Self::compile(text, true)
    }

    /// A shell pattern as in `${VAR#pattern}`, with BuildKit's rules: `*`
    /// and `?` match `/` too, `[` is an ordinary character, `\` escapes only
    /// `*`, `?` and `\` (and is dropped before `}` and `/`).
    pub fn shell(text: &str) -> Result<Self, PatternError> {
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => tokens.push(Token::Rest),
                '?' => tokens.push(Token::AnyChar),
                '\\' => match chars.peek() {
                    Some('}' | '/') => {}
                    Some(&n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        tokens.push(Token::Char(n));
                    }
                    Some(&n) => return Err(PatternError(format!("invalid escape '\\{n}'"))),
                    None => return Err(PatternError("invalid escape '\\'".to_string())),
                },
                c => tokens.push(Token::Char(c)),
            }
        }
        Ok(Pattern {
            text: text.to_string(),
            tokens,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the text has any wildcard (else it is a plain path).
    pub fn has_wildcards(text: &str) -> bool {
        text.contains(['*', '?', '[', '\\'])
    }

    fn compile(text: &str, double_star: bool) -> Result<Self, PatternError> {
        let bad = || PatternError(format!("syntax error in pattern: {text}"));
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if double_star && chars.get(i) == Some(&'*') => {
                    i += 1;
                    let slash = chars.get(i) == Some(&'/');
                    if slash {
                        i += 1;
                    }
                    let rest_is_plain = !chars[i..]
                        .iter()
                        .any(|c| matches!(c, '*' | '?' | '[' | '\\'));
                    if i >= chars.len() || (tokens.is_empty() && !slash && rest_is_plain) {
                        tokens.push(Token::Rest);
                    } else {
                        tokens.push(Token::Dirs);
                    }
                }
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::One),
                '\\' => match chars.get(i) {
                    Some(&n) => {
                        tokens.push(Token::Char(n));
                        i += 1;
                    }
                    None => tokens.push(Token::Char('\\')),
                },
                '[' => {
                    let (token, next) = class(&chars, i).ok_or_else(bad)?;
                    tokens.push(token);
                    i = next;
                }
                c => tokens.push(Token::Char(c)),
            }
        }
        Ok(Pattern {
            text: text.to_string(),
            tokens,
        })
    }

    /// Whether the whole path matches.
    pub fn matches(&self, path: &str) -> bool {
        let text: Vec<char> = path.chars().collect();
        Matcher::new(&self.tokens, &text, false).run(0, 0)
    }

    /// Whether some path starting with `prefix` could match: used to decide
    /// whether an excluded directory must still be walked for exceptions.
    pub fn may_match_under(&self, prefix: &str) -> bool {
        let text: Vec<char> = prefix.chars().collect();
        Matcher::new(&self.tokens, &text, true).run(0, 0)
    }
}

/// Parses a class after its `[`; returns the token and the index after `]`.
fn class(chars: &[char], mut i: usize) -> Option<(Token, usize)> {
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let mut lo = *chars.get(i)?;
        i += 1;
        if lo == ']' && !ranges.is_empty() {
            return Some((Token::Class { negated, ranges }, i));
        }
        if lo == ']' {
            return None;
        }
        if lo == '\\' {
            lo = *chars.get(i)?;
            i += 1;
        }
        let mut hi = lo;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            hi = chars[i + 1];
            i += 2;
            if hi == '\\' {
                hi = *chars.get(i)?;
                i += 1;
            }
            if hi < lo {
                return None;
            }
        }
        ranges.push((lo, hi));
    }
}

struct Matcher<'a> {
    tokens: &'a [Token],
    text: &'a [char],
    partial: bool,
    /// Memo of failed (token, text) positions.
    failed: Vec<bool>,
}

impl<'a> Matcher<'a> {
    fn new(tokens: &'a [Token], text: &'a [char], partial: bool) -> Self {
        Matcher {
            tokens,
            text,
            partial,
            failed: vec![false; (tokens.len() + 1) * (text.len() + 1)],
        }
    }

    fn run(&mut self, t: usize, p: usize) -> bool {
        let key = t * (self.text.len() + 1) + p;
        if self.failed[key] {
            return false;
        }
        let ok = self.step(t, p);
        if !ok {
            self.failed[key] = true;
        }
        ok
    }

    fn step(&mut self, t: usize, p: usize) -> bool {
        if p == self.text.len() && self.partial {
            return true;
        }
        let Some(token) = self.tokens.get(t) else {
            return p == self.text.len();
        };
        let c = self.text.get(p).copied();
        match token {
            Token::Char(want) => c == Some(*want) && self.run(t + 1, p + 1),
            Token::One => c.is_some_and(|c| c != '/') && self.run(t + 1, p + 1),
            Token::AnyChar => c.is_some() && self.run(t + 1, p + 1),
            Token::Class { negated, ranges } => {
                let Some(c) = c else { return false };
                let inside = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
                inside != *negated && self.run(t + 1, p + 1)
            }
            Token::Star => {
                let mut q = p;
                loop {
                    if self.run(t + 1, q) {
                        return true;
                    }
                    if q >= self.text.len() || self.text[q] == '/' {
                        return false;
                    }
                    q += 1;
                }
            }
            Token::Rest => (p..=self.text.len()).any(|q| self.run(t + 1, q)),
            Token::Dirs => {
                if self.run(t + 1, p) {
                    return true;
                }
                (p..self.text.len()).any(|q| self.text[q] == '/' && self.run(t + 1, q + 1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::with_double_star(pattern).unwrap().matches(path)
    }

    fn go(pattern: &str, path: &str) -> bool {
        Pattern::new(pattern).unwrap().matches(path)
    }

    #[test]
    fn go_match_syntax() {
        assert!(go("*.go", "main.go"));
        assert!(!go("*.go", "src/main.go"));
        assert!(go("src/*.go", "src/main.go"));
        assert!(go("a?c", "abc"));
        assert!(!go("a?c", "a/c"));
        assert!(go("[a-c]x", "bx"));
        assert!(!go("[^a-c]x", "bx"));
        assert!(go("[^a-c]x", "dx"));
        assert!(go("[\\]]", "]"));
        assert!(go("a\\*b", "a*b"));
        assert!(!go("a\\*b", "axb"));
        assert!(go("**", "ab"));
        assert!(!go("**", "a/b"));
        assert!(go("*", ""));
        assert!(go("file", "file"));
        assert!(!go("file", "file2"));
    }

    #[test]
    fn bad_patterns() {
        assert!(Pattern::new("[").is_err());
        assert!(Pattern::new("[]").is_err());
        assert!(Pattern::new("[z-a]").is_err());
        assert!(go("a]", "a]"));
        assert_eq!(
            Pattern::new("[abc").unwrap_err().to_string(),
            "syntax error in pattern: [abc"
        );
    }

    #[test]
    fn double_star() {
        assert!(m("**", "a/b/c"));
        assert!(m("**/foo", "foo"));
        assert!(m("**/foo", "a/b/foo"));
        assert!(!m("**/foo", "a/xfoo"));
        assert!(m("**foo", "a/xfoo"));
        assert!(m("a/**", "a/b/c"));
        assert!(!m("a/**", "a"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "a/x/yb"));
        assert!(m("**/*.go", "main.go"));
        assert!(m("**/*.go", "x/y/main.go"));
        assert!(!m("**/*.go", "x/y/main.golang"));
        assert!(m("a**", "abc/d"));
    }

    #[test]
    fn shell_patterns_cross_slashes() {
        let p = Pattern::shell("*/?").unwrap();
        assert!(p.matches("a/b/c"));
        assert!(p.matches("a//"));
        assert!(!p.matches("abc"));
        assert!(Pattern::shell("[a]\\*").unwrap().matches("[a]*"));
        assert!(Pattern::shell("a\\/b").unwrap().matches("a/b"));
        assert_eq!(
            Pattern::shell("\\x").unwrap_err().to_string(),
            "invalid escape '\\x'"
        );
    }

    #[test]
    fn may_match_under() {
        let p = Pattern::with_double_star("dir/keep.txt").unwrap();
        assert!(p.may_match_under("dir/"));
        assert!(!p.may_match_under("other/"));
        let p = Pattern::with_double_star("**/*.md").unwrap();
        assert!(p.may_match_under("any/deep/"));
        let p = Pattern::with_double_star("d*/x").unwrap();
        assert!(p.may_match_under("data/"));
        assert!(!p.may_match_under("e/"));
    }
}
