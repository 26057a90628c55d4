//! Instruction flags (`--from=stage`, `--link`, `--mount=...`): each
//! instruction declares the flags it knows, anything else is refused with
//! docker's messages.

use super::error::InstructionError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `--name=value`, at most once.
    String,
    /// `--name` or `--name=true|false`, at most once.
    Bool,
    /// `--name=value`, any number of times.
    Repeated,
}

/// The flags given to one instruction, checked against what it accepts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flags {
    values: Vec<(String, String)>,
}

impl Flags {
    pub fn parse(raw: &[String], accepted: &[(&str, FlagKind)]) -> Result<Flags, InstructionError> {
        let mut flags = Flags::default();
        for arg in raw {
            let Some(body) = arg.strip_prefix("--") else {
                return Err(InstructionError::FlagWithoutDashes(arg.clone()));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(_, kind)) = accepted.iter().find(|(n, _)| *n == name) else {
                return Err(InstructionError::UnknownFlag(name.to_string()));
            };
            if kind != FlagKind::Repeated && flags.get(name).is_some() {
                return Err(InstructionError::DuplicateFlag(name.to_string()));
            }
            let value = match (kind, value) {
                (FlagKind::Bool, None) => "true".to_string(),
                (FlagKind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                    "true" | "false" => v.to_ascii_lowercase(),
                    _ => {
                        return Err(InstructionError::NotBoolean(
                            name.to_string(),
                            v.to_string(),
                        ))
                    }
                },
                (_, None) => return Err(InstructionError::MissingFlagValue(name.to_string())),
                (_, Some(v)) => v.to_string(),
            };
            flags.values.push((name.to_string(), value));
        }
        Ok(flags)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value, `None` when absent or empty (`--from=` is no `--from`).
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const SPEC: &[(&str, FlagKind)] = &[
        ("from", FlagKind::String),
        ("link", FlagKind::Bool),
        ("mount", FlagKind::Repeated),
    ];

    #[test]
    fn accepted_flags() {
        let f = Flags::parse(
            &raw(&["--from=a", "--link", "--mount=x", "--mount=y"]),
            SPEC,
        )
        .unwrap();
        assert_eq!(f.get("from"), Some("a"));
        assert!(f.bool("link"));
        assert_eq!(f.all("mount"), vec!["x", "y"]);
        let f = Flags::parse(&raw(&["--link=FALSE", "--from="]), SPEC).unwrap();
        assert!(!f.bool("link"));
        assert_eq!(f.get("from"), Some(""));
    }

    #[test]
    fn errors_use_docker_wording() {
        let err = |v: &[&str]| Flags::parse(&raw(v), SPEC).unwrap_err().to_string();
        assert_eq!(err(&["--nope=1"]), "unknown flag: nope");
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "duplicate flag specified: from"
        );
        assert_eq!(err(&["--from"]), "missing a value on flag: from");
        assert_eq!(
            err(&["--link=maybe"]),
            "expecting boolean value for flag link, not: maybe"
        );
        assert_eq!(err(&["-x"]), "arg should start with -- : -x");
    }
}
