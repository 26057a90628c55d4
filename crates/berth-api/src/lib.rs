//! Docker Engine API wire types, version negotiation, error statuses and stream framing.
//!
//! The daemon's HTTP handlers speak these types; nothing below the daemon (runtime, image store)
//! sees them. Published model types come from `bollard-stubs` where they fit.

pub mod error;
pub mod stream;
pub mod version;

pub use bollard_stubs::models;
pub use error::{ApiError, ErrorKind};
