//! Links `berth` as a position-dependent executable. Every container's shim is a `berth`
//! process; in a PIE the dynamic loader relocates half a megabyte of `.data.rel.ro` at each
//! start, which becomes private memory of every shim. Without PIE those pages stay shared
//! with the page cache (measured: shim private dirty 816 KiB -> see BENCHMARKS.md).
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
