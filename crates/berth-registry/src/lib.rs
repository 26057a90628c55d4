//! The distribution API: the registry client (`client`: pull, push, login and search against
//! registries) and the registry server (`server`: `berth registry serve` and `gc`).

pub mod client;
pub mod server;
