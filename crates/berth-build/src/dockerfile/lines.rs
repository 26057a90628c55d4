//! From text to logical lines: parser directives, comments, line continuations
//! with the escape character, empty continuation lines and heredoc bodies.
//! Mirrors what docker's parser does before it looks at any instruction.

use super::directives::Directives;
use super::error::{InstructionError, ParseError};
use super::words;

/// One instruction's text, continuation lines joined, with the lines it spans
/// (1-based, heredoc bodies included) and its heredocs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

/// A here-document (`<<EOF` ... `EOF`) attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, quotes removed.
    pub name: String,
    /// The body as written, every line ending in a newline.
    pub body: String,
    /// False when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`): the body
    /// then gets no variable expansion.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body and the delimiter line.
    pub chomp: bool,
    /// The file descriptor written before `<<` (`3<<EOF`), if any.
    pub fd: Option<u32>,
}

impl Heredoc {
    /// The body with leading tabs removed when the heredoc was `<<-`.
    pub fn content(&self) -> String {
        if !self.chomp {
            return self.body.clone();
        }
        self.body
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// The result of splitting a Dockerfile into logical lines.
#[derive(Debug, Clone)]
pub struct Lines {
    pub lines: Vec<LogicalLine>,
    pub directives: Directives,
    /// Things docker also warns about (empty continuation lines).
    pub warnings: Vec<String>,
}

const BOM: char = '\u{feff}';

pub fn split(text: &str) -> Result<Lines, ParseError> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let physical: Vec<&str> = text
        .split_inclusive('\n')
        .map(|l| l.trim_end_matches(['\r', '\n']))
        .collect();
    let mut directives = Directives::default();
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let mut next = 0;
    while next < physical.len() {
        let start = next + 1;
        let first = physical[next].trim_start();
        next += 1;
        directives
            .scan(first)
            .map_err(|e| ParseError::at(start, e))?;
        if first.starts_with('#') {
            continue;
        }
        let escape = directives.escape;
        let (first, mut ended) = trim_continuation(first, escape);
        if ended && first.is_empty() {
            continue;
        }
        let mut text = first.to_string();
        let mut empty_continuation = false;
        while !ended && next < physical.len() {
            let raw = physical[next];
            next += 1;
            directives
                .scan(raw.trim_start())
                .map_err(|e| ParseError::at(next, e))?;
            if raw.trim_start().starts_with('#') {
                continue;
            }
            if raw.trim().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, end) = trim_continuation(raw, escape);
            text.push_str(part);
            ended = end;
        }
        if empty_continuation {
            warnings.push(format!("Empty continuation line found in: {text}"));
        }
        let mut heredocs = Vec::new();
        if may_hold_heredocs(&text, escape) {
            for mut doc in heredoc_words(&text) {
                let mut terminated = false;
                while next < physical.len() {
                    let raw = physical[next];
                    next += 1;
                    let candidate = if doc.chomp {
                        raw.trim_start_matches('\t')
                    } else {
                        raw
                    };
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.body.push_str(raw);
                    doc.body.push('\n');
                }
                if !terminated {
                    return Err(ParseError::at(start, InstructionError::UnterminatedHeredoc));
                }
                heredocs.push(doc);
            }
        }
        lines.push(LogicalLine {
            start,
            end: next,
            text,
            heredocs,
        });
    }
    if lines.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(Lines {
        lines,
        directives,
        warnings,
    })
}

/// Removes a trailing continuation (the escape character, then only blanks)
/// unless that escape character is itself escaped. Returns the rest and
/// whether the logical line ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    let Some(before) = trimmed.strip_suffix(escape) else {
        return (line, true);
    };
    if before.ends_with(escape) {
        return (line, true);
    }
    (before, false)
}

/// Heredocs are read for RUN, COPY and ADD (also behind ONBUILD) in their
/// non-JSON forms, as docker does.
fn may_hold_heredocs(text: &str, escape: char) -> bool {
    if !text.contains("<<") {
        return false;
    }
    let mut split = words::split_command(text, escape);
    if split.command.eq_ignore_ascii_case("ONBUILD") {
        split = words::split_command(&split.rest, escape);
    }
    matches!(
        split.command.to_ascii_uppercase().as_str(),
        "RUN" | "COPY" | "ADD"
    ) && !words::is_json_array(&split.rest)
}

/// The heredoc words of a line (`<<EOF`, `<<-EOF`, `3<<"EOF"`), in order.
fn heredoc_words(line: &str) -> Vec<Heredoc> {
    raw_words(line)
        .iter()
        .filter_map(|w| heredoc_of(w))
        .collect()
}

pub(super) fn heredoc_of(word: &str) -> Option<Heredoc> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let quoted = rest.contains(['\'', '"']);
    let name: String = rest.chars().filter(|c| *c != '\'' && *c != '"').collect();
    if name.is_empty() {
        return None;
    }
    Some(Heredoc {
        name,
        body: String::new(),
        expand: !quoted,
        chomp,
        fd: if digits > 0 {
            word[..digits].parse().ok()
        } else {
            None
        },
    })
}

/// Whitespace-separated words with quotes and backslashes kept as written.
fn raw_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == q {
                    quote = None;
                } else if c == '\\' && q == '"' {
                    word.extend(chars.next());
                }
            }
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            None => {
                word.push(c);
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == '\\' {
                    word.extend(chars.next());
                }
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(usize, String)> {
        split(src)
            .unwrap()
            .lines
            .into_iter()
            .map(|l| (l.start, l.text))
            .collect()
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let got = texts("# comment\n\nFROM a\n   # indented comment\nRUN x\n");
        assert_eq!(got, vec![(3, "FROM a".into()), (5, "RUN x".into())]);
    }

    #[test]
    fn continuation_joins_lines_and_keeps_indent() {
        let got = texts("RUN a \\\n  b \\\n  c\nCMD d\n");
        assert_eq!(got, vec![(1, "RUN a   b   c".into()), (4, "CMD d".into())]);
    }

    #[test]
    fn trailing_blanks_after_escape_still_continue() {
        let got = texts("RUN a \\  \t\nb\n");
        assert_eq!(got, vec![(1, "RUN a b".into())]);
    }

    #[test]
    fn escaped_escape_does_not_continue() {
        let got = texts("RUN echo a\\\\\nCMD b\n");
        assert_eq!(got, vec![(1, "RUN echo a\\\\".into()), (2, "CMD b".into())]);
    }

    #[test]
    fn comments_between_continuation_lines_are_dropped() {
        let got = texts("RUN a \\\n# note\n   # indented note\n  b\n");
        assert_eq!(got, vec![(1, "RUN a   b".into())]);
    }

    #[test]
    fn empty_continuation_line_warns() {
        let lines = split("RUN a \\\n\n  b\n").unwrap();
        assert_eq!(lines.lines[0].text, "RUN a   b");
        assert_eq!(lines.lines[0].end, 3);
        assert_eq!(
            lines.warnings,
            vec!["Empty continuation line found in: RUN a   b"]
        );
    }

    #[test]
    fn continuation_at_eof_ends_the_line() {
        let got = texts("FROM a\nRUN b \\");
        assert_eq!(got, vec![(1, "FROM a".into()), (2, "RUN b ".into())]);
    }

    #[test]
    fn backtick_escape_directive_changes_continuation() {
        let lines = split("# escape=`\nRUN a `\n  b\nRUN c:\\dir\\\n").unwrap();
        assert_eq!(lines.directives.escape, '`');
        assert_eq!(lines.lines[0].text, "RUN a   b");
        assert_eq!(lines.lines[1].text, "RUN c:\\dir\\");
    }

    #[test]
    fn crlf_and_bom_are_handled() {
        let got = texts("\u{feff}FROM a\r\nRUN b \\\r\n c\r\n");
        assert_eq!(got, vec![(1, "FROM a".into()), (2, "RUN b  c".into())]);
    }

    #[test]
    fn empty_and_comment_only_files_are_empty() {
        assert_eq!(split("").unwrap_err(), ParseError::Empty);
        assert_eq!(split("# only\n\n  \n").unwrap_err(), ParseError::Empty);
        assert_eq!(
            split("# only\n").unwrap_err().to_string(),
            "file with no instructions"
        );
    }

    #[test]
    fn heredoc_body_is_read() {
        let lines = split("RUN <<EOF\necho hi\necho $HOME\nEOF\nCMD x\n").unwrap();
        let run = &lines.lines[0];
        assert_eq!((run.start, run.end), (1, 4));
        assert_eq!(run.heredocs.len(), 1);
        assert_eq!(run.heredocs[0].name, "EOF");
        assert_eq!(run.heredocs[0].body, "echo hi\necho $HOME\n");
        assert!(run.heredocs[0].expand);
        assert_eq!(lines.lines[1].text, "CMD x");
        assert_eq!(lines.lines[1].start, 5);
    }

    #[test]
    fn heredoc_quoted_chomped_and_several() {
        let src = "COPY <<-'A' 3<<\"B\" /dst/\n\tone\n\tA\ntwo\nB\n";
        let lines = split(src).unwrap();
        let docs = &lines.lines[0].heredocs;
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].name, "A");
        assert!(docs[0].chomp && !docs[0].expand);
        assert_eq!(docs[0].body, "\tone\n");
        assert_eq!(docs[0].content(), "one\n");
        assert_eq!(docs[1].name, "B");
        assert_eq!(docs[1].fd, Some(3));
        assert_eq!(docs[1].body, "two\n");
    }

    #[test]
    fn heredoc_not_read_for_other_instructions_or_json() {
        let lines = split("ENV a=<<EOF\nRUN [\"cat\", \"<<EOF\"]\nCMD x\n").unwrap();
        assert_eq!(lines.lines.len(), 3);
        assert!(lines.lines.iter().all(|l| l.heredocs.is_empty()));
    }

    #[test]
    fn heredoc_behind_onbuild() {
        let lines = split("ONBUILD RUN <<EOF\nls\nEOF\n").unwrap();
        assert_eq!(lines.lines[0].heredocs[0].body, "ls\n");
    }

    #[test]
    fn unterminated_heredoc_names_its_line() {
        let err = split("FROM a\nRUN <<EOF\necho\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dockerfile parse error on line 2: unterminated heredoc"
        );
    }

    #[test]
    fn quoted_heredoc_word_is_not_a_heredoc() {
        let lines = split("RUN echo \"<<EOF\"\nCMD x\n").unwrap();
        assert!(lines.lines[0].heredocs.is_empty());
        assert_eq!(lines.lines.len(), 2);
    }
}
