//! Parser directives: `# escape=`, `# syntax=` and `# check=` comments at the
//! very top of a Dockerfile. As in docker, they are only recognised before the
//! first instruction, empty line or other comment, and each at most once.

use super::error::InstructionError;

/// The directives found so far and the state of the directive scanner.
#[derive(Debug, Clone)]
pub struct Directives {
    pub escape: char,
    /// The `# syntax=` value: berth has one built-in frontend and ignores it.
    pub syntax: Option<String>,
    /// The `# check=` value: berth has no linter and ignores it.
    pub check: Option<String>,
    seen: Vec<String>,
    done: bool,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
            seen: Vec::new(),
            done: false,
        }
    }
}

impl Directives {
    /// Looks at one physical line (leading whitespace already removed). Returns
    /// whether it was a directive; once a line is not one, no later line is.
    pub fn scan(&mut self, line: &str) -> Result<bool, InstructionError> {
        if self.done {
            return Ok(false);
        }
        let Some((key, value)) = directive_of(line) else {
            self.done = true;
            return Ok(false);
        };
        let key = key.to_ascii_lowercase();
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            self.done = true;
            return Ok(false);
        }
        if self.seen.contains(&key) {
            return Err(InstructionError::DuplicateDirective(key));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "escape" => {
                self.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => return Err(InstructionError::InvalidEscapeToken(other.to_string())),
                }
            }
            "syntax" => self.syntax = Some(value.to_string()),
            _ => self.check = Some(value.to_string()),
        }
        Ok(true)
    }
}

/// `#  key = value ` → (key, value): a key of letters and digits starting with a
/// letter, the value trimmed and not empty.
fn directive_of(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let key_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let (key, after) = rest.split_at(key_len);
    let value = after.trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_directive_backtick_and_backslash() {
        let mut d = Directives::default();
        assert!(d.scan("# escape=`").unwrap());
        assert_eq!(d.escape, '`');
        let mut d = Directives::default();
        assert!(d.scan("#escape = \\ ").unwrap());
        assert_eq!(d.escape, '\\');
    }

    #[test]
    fn invalid_escape_refused() {
        let mut d = Directives::default();
        let err = d.scan("# escape=x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid escape token 'x' does not match ` or \\"
        );
    }

    #[test]
    fn syntax_and_check_are_kept_but_unused() {
        let mut d = Directives::default();
        assert!(d.scan("# syntax=docker/dockerfile:1").unwrap());
        assert!(d.scan("# check=skip=all").unwrap());
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.check.as_deref(), Some("skip=all"));
    }

    #[test]
    fn duplicate_directive_refused() {
        let mut d = Directives::default();
        d.scan("# escape=`").unwrap();
        let err = d.scan("# ESCAPE=\\").unwrap_err();
        assert_eq!(
            err.to_string(),
            "only one escape parser directive can be used"
        );
    }

    #[test]
    fn directives_stop_at_first_other_line() {
        let mut d = Directives::default();
        assert!(!d.scan("# a comment").unwrap());
        assert!(!d.scan("# escape=`").unwrap());
        assert_eq!(d.escape, '\\');

        let mut d = Directives::default();
        assert!(!d.scan("# unknown=1").unwrap());
        assert!(!d.scan("# escape=`").unwrap());

        let mut d = Directives::default();
        assert!(!d.scan("").unwrap());
        assert!(!d.scan("# escape=`").unwrap());
    }
}
