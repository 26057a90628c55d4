//! Splitting an instruction's text the way docker's parser does: the
//! instruction word, its `--flags`, and the arguments as whitespace-separated
//! words, quoted words (ENV, LABEL, ARG) or a JSON array.

use super::error::InstructionError;

/// An instruction line split into its word, its flags and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub command: String,
    /// `--name=value` words before the arguments, quotes removed.
    pub flags: Vec<String>,
    pub rest: String,
}

pub fn split_command(line: &str, escape: char) -> Split {
    let line = line.trim();
    let (command, args) = match line.find(is_blank) {
        Some(i) => (&line[..i], line[i..].trim_start_matches(is_blank)),
        None => (line, ""),
    };
    let (flags, rest) = extract_flags(args, escape);
    Split {
        command: command.to_string(),
        flags,
        rest: rest.trim().to_string(),
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r')
}

/// Leading words that start with `--` are flags; a bare `--` ends them.
fn extract_flags(line: &str, escape: char) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut pos = 0;
    let bytes = line.as_bytes();
    loop {
        while pos < line.len() && (bytes[pos] as char).is_whitespace() {
            pos += 1;
        }
        if !line[pos..].starts_with("--") {
            return (flags, &line[pos..]);
        }
        let (word, end) = flag_word(line, pos, escape);
        if word == "--" {
            return (flags, &line[end..]);
        }
        if !word.is_empty() {
            flags.push(word);
        }
        pos = end;
        if pos >= line.len() {
            return (flags, "");
        }
    }
}

/// One flag word from `start`: quotes are removed, the escape character
/// takes the next character literally.
fn flag_word(line: &str, start: usize, escape: char) -> (String, usize) {
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line[start..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if quote.is_none() && c.is_whitespace() {
            return (word, start + i);
        }
        if Some(c) == quote {
            quote = None;
        } else if quote.is_none() && (c == '\'' || c == '"') {
            quote = Some(c);
        } else if c == escape {
            if let Some((_, n)) = chars.next() {
                word.push(n);
            }
        } else {
            word.push(c);
        }
    }
    (word, line.len())
}

/// Whether the arguments are a JSON array of strings (docker then uses the
/// exec form; anything else that starts with `[` is the shell form).
pub fn is_json_array(rest: &str) -> bool {
    matches!(parse_json(rest), Some(Ok(_)))
}

/// `None` when `rest` is not JSON at all, `Some(Err)` for a JSON array holding
/// something other than strings.
pub fn parse_json(rest: &str) -> Option<Result<Vec<String>, InstructionError>> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(rest).ok()?;
    let items = value.as_array()?;
    Some(
        items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or(InstructionError::NotStringArray)
            })
            .collect(),
    )
}

/// Splits on runs of blanks (FROM, EXPOSE, plain COPY/ADD/VOLUME).
pub fn split_blanks(rest: &str) -> Vec<String> {
    rest.split(is_blank)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whitespace-separated words keeping quotes and escapes as written, so that
/// variable substitution can interpret them later (ENV, LABEL, ARG).
pub fn quoted_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    match chars.next() {
                        Some(n) => {
                            word.push(c);
                            word.push(n);
                        }
                        None => quote = None,
                    }
                    continue;
                }
                word.push(c);
            }
            None => {
                if c.is_whitespace() {
                    if in_word && (blank_ok || !word.is_empty()) {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    in_word = false;
                    blank_ok = false;
                    continue;
                }
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    if let Some(n) = chars.next() {
                        word.push(c);
                        word.push(n);
                    }
                    continue;
                }
                word.push(c);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_flags_and_rest() {
        let s = split_command("  COPY --from=build --chown=\"1:2\" a b  ", '\\');
        assert_eq!(s.command, "COPY");
        assert_eq!(s.flags, vec!["--from=build", "--chown=1:2"]);
        assert_eq!(s.rest, "a b");
    }

    #[test]
    fn double_dash_ends_flags() {
        let s = split_command("RUN --network=none -- --weird arg", '\\');
        assert_eq!(s.flags, vec!["--network=none"]);
        assert_eq!(s.rest, "--weird arg");
    }

    #[test]
    fn single_dash_is_not_a_flag() {
        let s = split_command("RUN -x", '\\');
        assert!(s.flags.is_empty());
        assert_eq!(s.rest, "-x");
    }

    #[test]
    fn only_flags() {
        let s = split_command("COPY --link", '\\');
        assert_eq!(s.flags, vec!["--link"]);
        assert_eq!(s.rest, "");
        let s = split_command("FROM", '\\');
        assert_eq!((s.command.as_str(), s.rest.as_str()), ("FROM", ""));
    }

    #[test]
    fn json_detection() {
        assert_eq!(
            parse_json(r#" ["a", "b c"]"#),
            Some(Ok(vec!["a".into(), "b c".into()]))
        );
        assert_eq!(parse_json("echo [a]"), None);
        assert_eq!(parse_json("[a, b]"), None);
        assert_eq!(
            parse_json(r#"["a", 1]"#),
            Some(Err(InstructionError::NotStringArray))
        );
        assert!(is_json_array("[]"));
        assert!(!is_json_array("['single']"));
    }

    #[test]
    fn blanks() {
        assert_eq!(split_blanks("a \t b"), vec!["a", "b"]);
    }

    #[test]
    fn quoted_words_keep_quotes_and_escapes() {
        assert_eq!(
            quoted_words(r#"a="b c" d=e\ f g='h \' i"#, '\\'),
            vec![r#"a="b c""#, r"d=e\ f", r"g='h \'", "i"]
        );
        assert_eq!(quoted_words(r#""" x"#, '\\'), vec![r#""""#, "x"]);
        assert_eq!(quoted_words("a=`\"b c`\"", '`'), vec!["a=`\"b", "c`\""]);
    }
}
