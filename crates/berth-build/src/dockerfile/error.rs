//! Errors of the Dockerfile parser. The wording follows docker's (BuildKit's
//! `frontend/dockerfile/parser` and `instructions` packages) so that a user who
//! searches for a message finds docker's documentation of it.

use thiserror::Error;

use super::run_mount::MountError;

/// A Dockerfile that cannot be parsed. Always names the line (1-based) where
/// the offending instruction starts, except for an empty file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("file with no instructions")]
    Empty,
    #[error("dockerfile parse error on line {line}: {kind}")]
    Line { line: usize, kind: InstructionError },
}

impl ParseError {
    pub(crate) fn at(line: usize, kind: InstructionError) -> Self {
        ParseError::Line { line, kind }
    }

    /// The line the error is on, if it is about one line.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Empty => None,
            ParseError::Line { line, .. } => Some(*line),
        }
    }
}

/// What is wrong with one instruction or line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InstructionError {
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    #[error("{0} requires at least one argument")]
    AtLeastOneArgument(&'static str),
    #[error("{0} requires exactly one argument")]
    ExactlyOneArgument(&'static str),
    #[error("{0} requires at least two arguments, but only one was provided. Destination could not be determined")]
    NoDestination(&'static str),
    #[error("FROM requires either one or three arguments")]
    FromArguments,
    #[error(
        "invalid name for build stage: {0:?}, name can't start with a number or contain symbols"
    )]
    InvalidStageName(String),
    #[error("Bad input to {0}, too many arguments")]
    TooManyArguments(&'static str),
    #[error("{0} names can not be blank")]
    BlankNames(&'static str),
    #[error("{0} must have two arguments")]
    MustHaveTwoArguments(&'static str),
    #[error("Syntax error - can't find = in {0:?}. Must be of the form: name=value")]
    MissingEquals(String),
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    #[error("{0} requires the arguments to be in JSON form")]
    NotJson(&'static str),
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain,
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArguments,
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCommand,
    #[error("Unknown type {0:?} in HEALTHCHECK (try CMD)")]
    HealthcheckType(String),
    #[error("Interval {0:?} cannot be less than 1ms")]
    IntervalTooShort(&'static str),
    #[error("time: invalid duration {0:?}")]
    InvalidDuration(String),
    #[error("--retries cannot be negative ({0})")]
    NegativeRetries(i64),
    #[error("strconv.ParseInt: parsing {0:?}: invalid syntax")]
    InvalidRetries(String),
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    #[error("arg should start with -- : {0}")]
    FlagWithoutDashes(String),
    #[error("unknown flag: {0}")]
    UnknownFlag(String),
    #[error("duplicate flag specified: {0}")]
    DuplicateFlag(String),
    #[error("missing a value on flag: {0}")]
    MissingFlagValue(String),
    #[error("expecting boolean value for flag {0}, not: {1}")]
    NotBoolean(String, String),
    #[error("invalid network mode {0:?}")]
    InvalidNetwork(String),
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error("no build stage in current context")]
    NoBuildStage,
    #[error("{0} cannot accept a heredoc as {1}")]
    HeredocNotAllowed(&'static str, &'static str),
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscapeToken(String),
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    #[error("Duplicate stage name {0:?}, stage names should be unique")]
    DuplicateStageName(String),
}
