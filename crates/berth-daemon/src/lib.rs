//! The berth daemon: object model and orchestration (containers, images, events) and the
//! Engine API server in front of them.

pub mod config;
pub mod events;
pub mod store;

pub use config::{Config, TlsConfig};
