//! The registry client (`client`): pull, push, login and search against registries that
//! speak the distribution API.

pub mod client;
