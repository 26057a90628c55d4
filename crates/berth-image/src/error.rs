//! The image store's error type and the kinds the daemon maps to HTTP statuses.

use crate::layer::LayerError;
use crate::reference::ReferenceError;
use crate::rootfs::RootfsError;

/// What an error means to an API client; the daemon maps it to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 404
    NotFound,
    /// 409
    Conflict,
    /// 400
    InvalidArgument,
    /// 500
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Docker's text: `No such image: busybox:latest`.
    #[error("No such image: {0}")]
    NotFound(String),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("{0}")]
    InvalidArgument(String),
    /// Docker's conflict texts are passed whole.
    #[error("{0}")]
    Conflict(String),
    #[error("layer {layer}: {source}")]
    Layer {
        layer: String,
        #[source]
        source: LayerError,
    },
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("blob {expected}: content has digest {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("image metadata store: {0}")]
    Db(String),
    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Corrupt(String),
}

impl ImageError {
    pub fn status_kind(&self) -> Kind {
        match self {
            ImageError::NotFound(_) => Kind::NotFound,
            ImageError::Reference(_) | ImageError::InvalidArgument(_) => Kind::InvalidArgument,
            ImageError::Conflict(_) => Kind::Conflict,
            ImageError::Layer { source, .. } if source.is_input_error() => Kind::InvalidArgument,
            ImageError::Json { .. } => Kind::InvalidArgument,
            _ => Kind::Internal,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ImageError::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        ImageError::Json {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn layer(layer: impl Into<String>, source: LayerError) -> Self {
        ImageError::Layer {
            layer: layer.into(),
            source,
        }
    }
}

impl From<redb::Error> for ImageError {
    fn from(e: redb::Error) -> Self {
        ImageError::Db(e.to_string())
    }
}

macro_rules! db_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ImageError {
            fn from(e: $t) -> Self {
                ImageError::Db(e.to_string())
            }
        }
    )*};
}
db_error_from!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
