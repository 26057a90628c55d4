//! Per-container supervisor: holds stdio/PTY, writes the log, serves attach, records the exit status.
pub fn main(_args: &[String]) -> i32 { 1 }
