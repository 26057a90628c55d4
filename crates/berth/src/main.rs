//! `berth`: one binary, four roles.
//!
//! - `berth <command>`: the CLI, a client of the Engine API (crate `berth-cli`);
//! - `berth daemon`: the daemon serving the Engine API (module `daemon`, crate `berth-daemon`);
//! - `berth registry serve|gc`: an image registry (module `registry`, crate `berth-registry`);
//! - `berth shim ...`: the per-container supervisor, started by the daemon (crate `berth-shim`);
//! - the container init runs inside libcontainer, driven by the shim.

mod daemon;
mod registry;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The shim is dispatched before anything else: it must stay single-threaded and small,
    // so it never goes through the CLI parser or starts an async runtime.
    if args.get(1).map(String::as_str) == Some("shim") {
        std::process::exit(berth_shim::main(&args[2..]));
    }
    if args.get(1).map(String::as_str) == Some("daemon") {
        std::process::exit(daemon::main(&args[1..]));
    }
    if args.get(1).map(String::as_str) == Some("registry") {
        std::process::exit(registry::main(&args[1..]));
    }
    std::process::exit(berth_cli::main(args));
}
