//! The berth CLI: docker's commands, flags and output, as a client of the Engine API.

/// Parses the command line and runs the command; returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    let _ = args;
    0
}
