//! `berth`: one binary, four roles (CLI, daemon, shim, container init).

fn main() {
    println!("berth");
}
