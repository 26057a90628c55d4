//! Layer tars: applying one to a directory safely, and writing a directory as one.
//! Overlayfs whiteouts (char 0/0, `trusted.overlay.opaque`) are converted to and
//! from OCI whiteouts (`.wh.name`, `.wh..wh..opq`) here, at the edge.

mod apply;
mod compress;
mod gzip;
mod path;
mod write;

pub use apply::{apply, apply_mapped, apply_unhashed, Applied};
pub use compress::{decompress, Compression};
pub use gzip::LayerGzip;
pub use path::{clean_entry_path, resolve_in_root};
pub use write::{write_dir, write_dir_mapped};

/// Translates the owner of an entry, `(uid, gid)` to `(uid, gid)`.
pub type IdMap = std::sync::Arc<dyn Fn(u32, u32) -> (u32, u32) + Send + Sync>;

use std::path::PathBuf;

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer entry {0} escapes the root")]
    Escape(String),
    #[error("layer entry {path}: {reason}")]
    InvalidEntry { path: String, reason: String },
    #[error("layer entry {path}: hard link target {target} does not exist in the layer")]
    LinkTarget { path: String, target: String },
    #[error("unsupported layer compression: {0}")]
    UnsupportedCompression(String),
    #[error("reading layer tar: {0}")]
    Tar(#[source] std::io::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("too many levels of symbolic links resolving {0}")]
    SymlinkLoop(String),
}

impl LayerError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LayerError::Io {
            path: path.into(),
            source,
        }
    }

    /// The tar was bad (rather than the host failing).
    pub fn is_input_error(&self) -> bool {
        !matches!(self, LayerError::Io { .. })
    }
}

#[cfg(test)]
pub(crate) mod tests;
