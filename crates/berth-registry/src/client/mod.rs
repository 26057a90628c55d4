//! The registry client: what `docker pull`, `push`, `login` and `search` do in dockerd.
//!
//! - [`config`]: insecure registries, docker.io mirrors, CA certificates; endpoints to try.
//! - [`http`]: one HTTP/1.1 connection per request over TCP or rustls.
//! - [`auth`]: credentials and `WWW-Authenticate` challenges (bearer tokens, basic).
//! - [`session`]: a repository at the endpoint that answered, authorized.
//! - [`manifest`]: manifests, indexes and platforms.
//! - [`download`] and [`pull`]: layers fetched in parallel, resumed, unpacked as they come.
//! - [`push`]: layers gzip'd while uploaded, existing blobs skipped or mounted.
//! - [`login`], [`search`].

pub mod auth;
pub mod config;
pub mod distribution;
pub mod download;
mod error;
pub mod errors;
pub mod http;
pub mod login;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod push;
pub mod session;
mod unpack;

pub use auth::{AuthConfig, AuthConfigs};
pub use config::RegistryConfig;
pub use error::RegistryError;
pub use progress::Progress;
