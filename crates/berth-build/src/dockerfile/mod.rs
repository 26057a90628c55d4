//! The Dockerfile parser: text → logical lines → typed instructions →
//! build stages. Nothing is substituted here; `expand` does it per step.

mod directives;
mod duration;
mod error;
mod expand;
mod flags;
mod instruction;
mod lines;
mod parse;
mod run_mount;
mod substitution;
mod words;

pub use error::{InstructionError, ParseError};
pub use expand::{parse_port_spec, parse_signal, ExpandError, PortSpec, StepError};
pub use instruction::*;
pub use lines::Heredoc;
pub use run_mount::{Mount, MountError, MountType, Sharing};
pub use substitution::{process_heredoc, process_word, process_words, SubstError, Vars};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// ARG instructions before the first FROM: the global scope, usable in
    /// FROM lines only unless a stage declares them again.
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    /// What docker would warn about (empty continuation lines).
    pub warnings: Vec<String>,
    /// What berth accepted but ignores (`# syntax=`, `# check=`).
    pub notes: Vec<String>,
}

/// A build stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// 0-based position, what `COPY --from=0` refers to.
    pub index: usize,
    /// The FROM instruction (always `InstructionKind::From`).
    pub from: Instruction,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    pub fn from(&self) -> &From {
        match &self.from.kind {
            InstructionKind::From(f) => f,
            _ => unreachable!("a stage always starts with FROM"),
        }
    }

    /// The `AS name`, lower case.
    pub fn name(&self) -> Option<&str> {
        self.from().stage_name.as_deref()
    }
}

/// Parses a whole Dockerfile, refusing it at the first malformed line.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let split = lines::split(text)?;
    let escape = split.directives.escape;
    let mut notes = Vec::new();
    if let Some(syntax) = &split.directives.syntax {
        notes.push(format!(
            "the syntax directive ({syntax}) is ignored: berth uses its built-in Dockerfile frontend"
        ));
    }
    if let Some(check) = &split.directives.check {
        notes.push(format!(
            "the check directive ({check}) is ignored: berth has no Dockerfile linter"
        ));
    }
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for line in &split.lines {
        let instruction =
            parse::parse_instruction(line, escape).map_err(|e| ParseError::at(line.start, e))?;
        match &instruction.kind {
            InstructionKind::From(from) => {
                if let Some(name) = &from.stage_name {
                    if stages.iter().any(|s| s.name() == Some(name)) {
                        return Err(ParseError::at(
                            line.start,
                            InstructionError::DuplicateStageName(name.clone()),
                        ));
                    }
                }
                stages.push(Stage {
                    index: stages.len(),
                    from: instruction,
                    instructions: Vec::new(),
                });
            }
            InstructionKind::Arg(_) if stages.is_empty() => meta_args.push(instruction),
            _ => match stages.last_mut() {
                Some(stage) => stage.instructions.push(instruction),
                None => return Err(ParseError::at(line.start, InstructionError::NoBuildStage)),
            },
        }
    }
    if stages.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(Dockerfile {
        escape,
        meta_args,
        stages,
        warnings: split.warnings,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_split_at_from() {
        let df = parse(
            "ARG BASE=alpine\nARG V\nFROM $BASE AS Build\nRUN make\nFROM scratch\nCOPY --from=build /out /\n",
        )
        .unwrap();
        assert_eq!(df.meta_args.len(), 2);
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].name(), Some("build"));
        assert_eq!(df.stages[0].from().image, "$BASE");
        assert_eq!(df.stages[0].instructions.len(), 1);
        assert_eq!(df.stages[1].index, 1);
        assert_eq!(df.stages[1].name(), None);
        assert_eq!(df.stages[1].instructions[0].line, 6);
    }

    #[test]
    fn instruction_before_from_is_refused() {
        let err = parse("# c\nRUN x\nFROM a\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dockerfile parse error on line 2: no build stage in current context"
        );
        assert_eq!(err.line(), Some(2));
    }

    #[test]
    fn only_args_is_no_stage() {
        assert_eq!(parse("ARG A=1\n").unwrap_err(), ParseError::Empty);
    }

    #[test]
    fn duplicate_stage_names_refused() {
        let err = parse("FROM a AS x\nFROM b as X\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dockerfile parse error on line 2: Duplicate stage name \"x\", stage names should be unique"
        );
    }

    #[test]
    fn syntax_directive_is_noted() {
        let df = parse("# syntax=docker/dockerfile:1.7\n# check=skip=all\nFROM a\n").unwrap();
        assert_eq!(df.notes.len(), 2);
        assert!(df.notes[0].contains("docker/dockerfile:1.7"));
        assert_eq!(df.stages[0].from.line, 3);
    }

    #[test]
    fn escape_directive_applies_to_instructions() {
        let df = parse("# escape=`\nFROM a\nCOPY c:\\src `\n  c:\\dst\n").unwrap();
        assert_eq!(df.escape, '`');
        match &df.stages[0].instructions[0].kind {
            InstructionKind::Copy(c) => {
                assert_eq!(c.sources, vec![Source::Path("c:\\src".into())]);
                assert_eq!(c.dest, "c:\\dst");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_line_is_where_the_instruction_starts() {
        let err = parse("FROM a\n\nRUN a \\\n  b\nFOO \\\n bar\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dockerfile parse error on line 5: unknown instruction: FOO"
        );
    }
}
