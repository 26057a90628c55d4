//! The last step of a container's init: exec the user's process with the environment in
//! the spec's order (libcontainer's default keeps it in a hash map, so the order would be
//! random; docker gives PATH, HOSTNAME, the user's variables, then HOME).

use std::ffi::CString;

use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use oci_spec::runtime::Spec;

/// Spec annotation asking for a minimal init as PID 1 (`docker run --init`).
pub const INIT_ANNOTATION: &str = "io.berth.init";

#[derive(Clone)]
pub struct OrderedEnvExecutor;

fn cstring(s: &str) -> Result<CString, ExecutorError> {
    CString::new(s.as_bytes()).map_err(|_| ExecutorError::InvalidArg)
}

impl Executor for OrderedEnvExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let process = spec.process().as_ref().ok_or(ExecutorError::InvalidArg)?;
        let args = process.args().as_ref().ok_or(ExecutorError::InvalidArg)?;
        let spec_env = process.env().clone().unwrap_or_default();
        let mut env: Vec<String> = spec_env.clone();
        // What libcontainer added beyond the spec (HOME from the user's passwd entry) goes last.
        for (key, value) in std::env::vars() {
            if !spec_env
                .iter()
                .any(|e| e.split('=').next() == Some(key.as_str()))
            {
                env.push(format!("{key}={value}"));
            }
        }
        let argv: Vec<CString> = args.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?;
        let envp: Vec<CString> = env.iter().map(|e| cstring(e)).collect::<Result<_, _>>()?;
        let program = argv.first().ok_or(ExecutorError::InvalidArg)?;
        let wants_init = spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(INIT_ANNOTATION))
            .is_some_and(|v| v == "true");
        if wants_init {
            crate::init::run(program, &argv, &envp);
        }
        // execvpe searches the PATH that libcontainer put in this process's environment.
        nix::unistd::execvpe(program, &argv, &envp)
            .map_err(|err| ExecutorError::Execution(format!("exec {:?}: {err}", args[0]).into()))?;
        unreachable!("execvpe returned without an error");
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }
}
