//! Which stages a build needs: each stage's base (an image, `scratch`, or an
//! earlier stage) and its `COPY --from` / `RUN --mount=from=` references, so
//! that `--target X` builds only X and what X depends on.

use std::collections::BTreeSet;

use thiserror::Error;

use crate::build_args::GlobalArgs;
use crate::dockerfile::{process_word, Dockerfile, InstructionKind, Stage, SubstError};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StageError {
    #[error("target stage {0:?} could not be found")]
    UnknownTarget(String),
    #[error("dockerfile error on line {line}: base name ({image}) should not be blank")]
    BlankBase { line: usize, image: String },
    #[error("dockerfile error on line {line}: {source}")]
    Subst { line: usize, source: SubstError },
    #[error("dockerfile error on line {line}: invalid stage index {index}")]
    InvalidIndex { line: usize, index: usize },
    #[error("dockerfile error on line {line}: cannot copy from stage {from:?}, it needs to be defined before current stage {current:?}")]
    LaterStage {
        line: usize,
        from: String,
        current: String,
    },
    #[error("dockerfile error on line {line}: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")]
    FromExpansion { line: usize },
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Scratch,
    Image(String),
    /// An earlier stage, by index.
    Stage(usize),
}

/// What a `--from` (COPY or RUN --mount) refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromRef {
    Stage(usize),
    Image(String),
}

/// The display name docker uses for a stage: its name or `stage-N`.
pub fn stage_label(stage: &Stage) -> String {
    stage
        .name()
        .map_or_else(|| format!("stage-{}", stage.index), str::to_string)
}

/// The base of a stage: FROM's image substituted with the global ARGs; a
/// name of an earlier stage means that stage (as in docker, a stage cannot
/// start from itself or a later one: that name is an image).
pub fn base_of(df: &Dockerfile, stage: &Stage, globals: &GlobalArgs) -> Result<Base, StageError> {
    let line = stage.from.line;
    let raw = &stage.from().image;
    let image = process_word(raw, globals, df.escape)
        .map_err(|source| StageError::Subst { line, source })?;
    if image.is_empty() {
        return Err(StageError::BlankBase {
            line,
            image: raw.clone(),
        });
    }
    let lower = image.to_ascii_lowercase();
    if let Some(earlier) = df.stages[..stage.index]
        .iter()
        .find(|s| s.name() == Some(lower.as_str()))
    {
        return Ok(Base::Stage(earlier.index));
    }
    if lower == "scratch" {
        return Ok(Base::Scratch);
    }
    Ok(Base::Image(image))
}

/// Resolves a `--from` value seen in `stage` at `line`: a stage index, a
/// stage name (earlier stages only), else an image.
pub fn resolve_from(
    df: &Dockerfile,
    stage: &Stage,
    line: usize,
    from: &str,
) -> Result<FromRef, StageError> {
    if from.contains('$') {
        return Err(StageError::FromExpansion { line });
    }
    let later = || StageError::LaterStage {
        line,
        from: from.to_string(),
        current: stage_label(stage),
    };
    if let Ok(index) = from.parse::<usize>() {
        if index >= df.stages.len() {
            return Err(StageError::InvalidIndex { line, index });
        }
        if index >= stage.index {
            return Err(later());
        }
        return Ok(FromRef::Stage(index));
    }
    let lower = from.to_ascii_lowercase();
    match df.stages.iter().find(|s| s.name() == Some(lower.as_str())) {
        Some(target) if target.index >= stage.index => Err(later()),
        Some(target) => Ok(FromRef::Stage(target.index)),
        None => Ok(FromRef::Image(from.to_string())),
    }
}

/// The stages a stage directly needs: its base stage and every stage it
/// copies or mounts from.
pub fn direct_dependencies(
    df: &Dockerfile,
    stage: &Stage,
    globals: &GlobalArgs,
) -> Result<BTreeSet<usize>, StageError> {
    let mut deps = BTreeSet::new();
    if let Base::Stage(i) = base_of(df, stage, globals)? {
        deps.insert(i);
    }
    for instruction in &stage.instructions {
        let froms: Vec<&str> = match &instruction.kind {
            InstructionKind::Copy(c) => c.from.as_deref().into_iter().collect(),
            InstructionKind::Run(r) => r.mounts.iter().filter_map(|m| m.from.as_deref()).collect(),
            _ => Vec::new(),
        };
        for from in froms {
            if let FromRef::Stage(i) = resolve_from(df, stage, instruction.line, from)? {
                deps.insert(i);
            }
        }
    }
    Ok(deps)
}

/// The index of the target stage: the named one, else the last.
pub fn target_index(df: &Dockerfile, target: Option<&str>) -> Result<usize, StageError> {
    match target {
        None => Ok(df.stages.len() - 1),
        Some(name) => {
            let lower = name.to_ascii_lowercase();
            df.stages
                .iter()
                .find(|s| s.name() == Some(lower.as_str()))
                .map(|s| s.index)
                .ok_or_else(|| StageError::UnknownTarget(name.to_string()))
        }
    }
}

/// Every stage needed to build `target` (itself included), in Dockerfile
/// order; stages not in the list are skipped. Dependencies always point to
/// earlier stages, so the order is also a valid build order.
pub fn required_stages(
    df: &Dockerfile,
    target: Option<&str>,
    globals: &GlobalArgs,
) -> Result<Vec<usize>, StageError> {
    let target = target_index(df, target)?;
    let mut needed = BTreeSet::from([target]);
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        for dep in direct_dependencies(df, &df.stages[i], globals)? {
            if needed.insert(dep) {
                todo.push(dep);
            }
        }
    }
    Ok(needed.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::dockerfile::parse;

    const MULTI: &str = "\
ARG BASE=alpine
FROM $BASE AS base
RUN echo base
FROM golang AS build
COPY --from=base /etc/os-release /
FROM base AS test
RUN echo test
FROM scratch AS unused
FROM busybox AS final
COPY --from=build /out /out
COPY --from=1 /x /y
COPY --from=nginx:latest /etc/nginx /etc/nginx
RUN --mount=type=bind,from=test,target=/t ls /t
";

    fn globals(df: &Dockerfile) -> GlobalArgs {
        GlobalArgs::resolve(df, &BTreeMap::new()).unwrap()
    }

    #[test]
    fn bases() {
        let df = parse(MULTI).unwrap();
        let g = globals(&df);
        assert_eq!(
            base_of(&df, &df.stages[0], &g).unwrap(),
            Base::Image("alpine".into())
        );
        assert_eq!(base_of(&df, &df.stages[2], &g).unwrap(), Base::Stage(0));
        assert_eq!(base_of(&df, &df.stages[3], &g).unwrap(), Base::Scratch);
    }

    #[test]
    fn target_needs_only_its_dependencies() {
        let df = parse(MULTI).unwrap();
        let g = globals(&df);
        assert_eq!(required_stages(&df, None, &g).unwrap(), vec![0, 1, 2, 4]);
        assert_eq!(required_stages(&df, Some("test"), &g).unwrap(), vec![0, 2]);
        assert_eq!(required_stages(&df, Some("BUILD"), &g).unwrap(), vec![0, 1]);
        assert_eq!(required_stages(&df, Some("unused"), &g).unwrap(), vec![3]);
    }

    #[test]
    fn unknown_target_refused() {
        let df = parse(MULTI).unwrap();
        let err = required_stages(&df, Some("nope"), &globals(&df)).unwrap_err();
        assert_eq!(err.to_string(), "target stage \"nope\" could not be found");
    }

    #[test]
    fn copy_from_image_is_not_a_stage() {
        let df = parse(MULTI).unwrap();
        let s = &df.stages[4];
        assert_eq!(
            resolve_from(&df, s, 12, "nginx:latest").unwrap(),
            FromRef::Image("nginx:latest".into())
        );
        assert_eq!(resolve_from(&df, s, 11, "1").unwrap(), FromRef::Stage(1));
    }

    #[test]
    fn bad_from_references() {
        let df = parse("FROM a AS one\nCOPY --from=two /a /b\nFROM b AS two\nCOPY --from=7 /a /b\nCOPY --from=1 /a /b\nCOPY --from=$X /a /b\n").unwrap();
        let g = globals(&df);
        assert_eq!(
            direct_dependencies(&df, &df.stages[0], &g).unwrap_err().to_string(),
            "dockerfile error on line 2: cannot copy from stage \"two\", it needs to be defined before current stage \"one\""
        );
        let s = &df.stages[1];
        assert_eq!(
            resolve_from(&df, s, 4, "7").unwrap_err().to_string(),
            "dockerfile error on line 4: invalid stage index 7"
        );
        assert_eq!(
            resolve_from(&df, s, 5, "1").unwrap_err().to_string(),
            "dockerfile error on line 5: cannot copy from stage \"1\", it needs to be defined before current stage \"two\""
        );
        assert!(matches!(
            resolve_from(&df, s, 6, "$X").unwrap_err(),
            StageError::FromExpansion { line: 6 }
        ));
    }

    #[test]
    fn from_itself_is_an_image_and_blank_base_refused() {
        let df = parse("FROM golang AS golang\nARG EMPTY=\nFROM ${NOPE}\n").unwrap();
        let g = globals(&df);
        assert_eq!(
            base_of(&df, &df.stages[0], &g).unwrap(),
            Base::Image("golang".into())
        );
        assert_eq!(
            base_of(&df, &df.stages[1], &g).unwrap_err().to_string(),
            "dockerfile error on line 3: base name (${NOPE}) should not be blank"
        );
    }

    #[test]
    fn from_uses_build_args_through_globals() {
        let df = parse("ARG V=1\nFROM busybox:$V\nFROM busybox:${V}-${UNDECLARED:-x}\n").unwrap();
        let g = GlobalArgs::resolve(&df, &BTreeMap::from([("V".to_string(), "2".to_string())]))
            .unwrap();
        assert_eq!(
            base_of(&df, &df.stages[0], &g).unwrap(),
            Base::Image("busybox:2".into())
        );
        assert_eq!(
            base_of(&df, &df.stages[1], &g).unwrap(),
            Base::Image("busybox:2-x".into())
        );
        assert_eq!(stage_label(&df.stages[1]), "stage-1");
    }
}
