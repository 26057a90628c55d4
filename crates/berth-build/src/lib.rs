//! berth's builder foundations: the Dockerfile parser with docker's rules and
//! messages, the model of build stages and build args, `.dockerignore`
//! handling with a build-context walker, and content checksums for the layer
//! cache. The builder itself (running steps, committing layers) lives in the
//! daemon and uses these.

pub mod build_args;
pub mod cache;
pub mod context;
pub mod dockerfile;
pub mod ignore;
pub mod pattern;
pub mod stages;
