//! `.dockerignore`: docker's reading rules (comments only at the start of a
//! line, blanks trimmed, paths cleaned, a leading `/` dropped) and matching
//! rules (a pattern also excludes everything under a matching directory,
//! `!` exceptions apply in order and the last matching line wins).

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::pattern::{Pattern, PatternError};

#[derive(Debug, Error)]
pub enum IgnoreError {
    #[error("illegal exclusion pattern: \"!\"")]
    BareExclamation,
    #[error(".dockerignore line {line}: {source}")]
    Pattern { line: usize, source: PatternError },
    #[error("reading {path}: {source}", path = .path.display())]
    Read { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    pattern: Pattern,
    exception: bool,
}

/// The rules of one `.dockerignore` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

impl DockerIgnore {
    /// Reads the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exception, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if body.is_empty() {
                return Err(IgnoreError::BareExclamation);
            }
            let mut cleaned = clean_path(body);
            if cleaned.len() > 1 {
                if let Some(rest) = cleaned.strip_prefix('/') {
                    cleaned = rest.to_string();
                }
            }
            let pattern =
                Pattern::with_double_star(&cleaned).map_err(|source| IgnoreError::Pattern {
                    line: n + 1,
                    source,
                })?;
            rules.push(Rule { pattern, exception });
        }
        Ok(DockerIgnore { rules })
    }

    /// The ignore file of a context, as BuildKit picks it: `<Dockerfile>.dockerignore`
    /// next to a Dockerfile inside the context if there is one, else
    /// `.dockerignore` at the root, else nothing. The Dockerfile (a path
    /// relative to the context) and the ignore file itself are always kept:
    /// this is what a client sends.
    pub fn for_context(root: &Path, dockerfile: Option<&str>) -> Result<Self, IgnoreError> {
        let (mut ignore, file) = Self::of_context(root, dockerfile)?;
        if let Some(rel) = file {
            ignore.keep(&rel);
        }
        if let Some(df) = dockerfile {
            ignore.keep(df);
        }
        Ok(ignore)
    }

    /// The context's ignore file as [`for_context`](Self::for_context) picks
    /// it, without keeping the Dockerfile and the ignore file: what a build
    /// sees (dockerd removes both from the context when a pattern excludes them).
    pub fn for_build(root: &Path, dockerfile: Option<&str>) -> Result<Self, IgnoreError> {
        Ok(Self::of_context(root, dockerfile)?.0)
    }

    /// The ignore rules of a context and the file they came from.
    fn of_context(
        root: &Path,
        dockerfile: Option<&str>,
    ) -> Result<(Self, Option<String>), IgnoreError> {
        let mut candidates = Vec::new();
        if let Some(df) = dockerfile {
            candidates.push(format!("{}.dockerignore", clean_path(df)));
        }
        candidates.push(".dockerignore".to_string());
        for rel in candidates {
            let path = root.join(&rel);
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok((DockerIgnore::parse(&text)?, Some(rel))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(IgnoreError::Read { path, source }),
            }
        }
        Ok((DockerIgnore::default(), None))
    }

    /// The cleaned patterns, exceptions with their `!`.
    pub fn patterns(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| {
                format!(
                    "{}{}",
                    if r.exception { "!" } else { "" },
                    r.pattern.as_str()
                )
            })
            .collect()
    }

    /// Adds an exception so that `path` is always kept (docker keeps the
    /// Dockerfile and `.dockerignore` even when a pattern excludes them).
    pub fn keep(&mut self, path: &str) {
        if self.is_excluded(path) {
            if let Ok(pattern) = Pattern::new(&escape_pattern(path)) {
                self.rules.push(Rule {
                    pattern,
                    exception: true,
                });
            }
        }
    }

    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded:
    /// the last rule that matches it or one of its parent directories wins.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = clean_path(path);
        if path == "." {
            return false;
        }
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for rule in &self.rules {
            // an inclusion cannot change an excluded path, nor an exception a kept one
            if rule.exception != excluded {
                continue;
            }
            let hit =
                rule.pattern.matches(&path) || parents.iter().any(|p| rule.pattern.matches(p));
            if hit {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether an excluded directory must still be walked because an
    /// exception could re-include something inside it.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        let prefix = format!("{}/", clean_path(dir));
        self.rules
            .iter()
            .any(|r| r.exception && r.pattern.may_match_under(&prefix))
    }
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn escape_pattern(path: &str) -> String {
    let mut out = String::new();
    for c in clean_path(path).chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    #[test]
    fn reading_rules() {
        let i = ig("\u{feff}# comment\n  # not a comment  \n\n  /abs/path/  \n./rel\n!  keep \nx/../y\n/\n");
        assert_eq!(
            i.patterns(),
            vec!["# not a comment", "abs/path", "rel", "!keep", "y", "/"]
        );
    }

    #[test]
    fn bare_exclamation_and_bad_pattern_refused() {
        assert_eq!(
            DockerIgnore::parse("!\n").unwrap_err().to_string(),
            "illegal exclusion pattern: \"!\""
        );
        assert_eq!(
            DockerIgnore::parse("ok\n[x\n").unwrap_err().to_string(),
            ".dockerignore line 2: syntax error in pattern: [x"
        );
    }

    #[test]
    fn directory_excludes_its_contents() {
        let i = ig("node_modules\nbuild/\n");
        assert!(i.is_excluded("node_modules"));
        assert!(i.is_excluded("node_modules/a/b.js"));
        assert!(i.is_excluded("build/out"));
        assert!(!i.is_excluded("src/node_modules"));
        assert!(!i.is_excluded("node_modules2"));
    }

    #[test]
    fn globs_per_segment_and_double_star() {
        let i = ig("*.log\n*/temp*\n**/*.tmp\n");
        assert!(i.is_excluded("a.log"));
        assert!(!i.is_excluded("dir/a.log"));
        assert!(i.is_excluded("x/temporary"));
        assert!(i.is_excluded("x/temp/inner"));
        assert!(!i.is_excluded("x/y/temp"));
        assert!(i.is_excluded("a.tmp"));
        assert!(i.is_excluded("deep/er/a.tmp"));
    }

    #[test]
    fn exceptions_last_match_wins() {
        let i = ig("*.md\n!README.md\nREADME-secret.md\n");
        assert!(i.is_excluded("CHANGES.md"));
        assert!(!i.is_excluded("README.md"));
        assert!(i.is_excluded("README-secret.md"));

        let i = ig("!README.md\n*.md\n");
        assert!(i.is_excluded("README.md"));

        let i = ig("docs\n!docs/keep.txt\n");
        assert!(i.is_excluded("docs/other.txt"));
        assert!(!i.is_excluded("docs/keep.txt"));
        assert!(i.is_excluded("docs"));
        assert!(i.may_reinclude_under("docs"));
        assert!(!i.may_reinclude_under("src"));
    }

    #[test]
    fn exclude_everything_but() {
        let i = ig("*\n!src\n!**/*.go\n");
        assert!(i.is_excluded("README"));
        assert!(!i.is_excluded("src/a/b.c"));
        assert!(!i.is_excluded("other/x.go"));
        assert!(i.is_excluded("other/x.c"));
        assert!(i.may_reinclude_under("other"));
    }

    #[test]
    fn keep_adds_exception_only_when_needed() {
        let mut i = ig("*\n");
        i.keep("Dockerfile");
        i.keep(".dockerignore");
        assert!(!i.is_excluded("Dockerfile"));
        assert!(!i.is_excluded(".dockerignore"));
        assert!(i.is_excluded("other"));
        let mut i = ig("x\n");
        i.keep("Dockerfile");
        assert_eq!(i.patterns(), vec!["x"]);
        let mut i = ig("*\n");
        i.keep("sub/Docker[file]");
        assert!(!i.is_excluded("sub/Docker[file]"));
        assert!(i.is_excluded("sub/Dockerf"));
    }

    #[test]
    fn ignore_file_of_a_context() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(
            DockerIgnore::for_context(root, Some("Dockerfile")).unwrap(),
            DockerIgnore::default()
        );
        std::fs::write(root.join(".dockerignore"), "*\n!src\n").unwrap();
        let i = DockerIgnore::for_context(root, Some("Dockerfile")).unwrap();
        assert!(!i.is_excluded("Dockerfile"));
        assert!(!i.is_excluded(".dockerignore"));
        let seen = DockerIgnore::for_build(root, Some("Dockerfile")).unwrap();
        assert!(seen.is_excluded("Dockerfile"));
        assert!(seen.is_excluded(".dockerignore"));
        assert!(!seen.is_excluded("src"));
        assert!(!i.is_excluded("src/a"));
        assert!(i.is_excluded("other"));
        std::fs::create_dir(root.join("build")).unwrap();
        std::fs::write(root.join("build/app.Dockerfile.dockerignore"), "secret\n").unwrap();
        let i = DockerIgnore::for_context(root, Some("./build/app.Dockerfile")).unwrap();
        assert!(i.is_excluded("secret"));
        assert!(!i.is_excluded("other"));
        assert!(!i.is_excluded("build/app.Dockerfile"));
        std::fs::write(root.join(".dockerignore"), "[bad\n").unwrap();
        assert!(DockerIgnore::for_context(root, None).is_err());
    }

    #[test]
    fn clean() {
        assert_eq!(clean_path("a//b/./c/"), "a/b/c");
        assert_eq!(clean_path("../a/../../b"), "../../b");
        assert_eq!(clean_path("/../a"), "/a");
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("./"), ".");
    }
}
