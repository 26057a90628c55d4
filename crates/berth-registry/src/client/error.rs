//! The client's error type; [`RegistryError::status`] is the HTTP status the daemon answers with.

use berth_image::ImageError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A bad reference, platform or request (400).
    #[error("{0}")]
    InvalidArgument(String),
    /// The registry has no such manifest or repository (404), in docker's words.
    #[error("{0}")]
    NotFound(String),
    /// Credentials were refused (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The registry could not be reached at any of its endpoints.
    #[error("{what}: {message}")]
    Connect { what: String, message: String },
    /// The registry answered something this client cannot use (a status, a body).
    #[error("{0}")]
    Registry(String),
    /// A blob or manifest is not what its digest says.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Image(#[from] ImageError),
}

impl RegistryError {
    /// The status code of an API answer carrying this error.
    pub fn status(&self) -> u16 {
        match self {
            RegistryError::InvalidArgument(_) => 400,
            RegistryError::NotFound(_) => 404,
            RegistryError::Unauthorized(_) => 401,
            RegistryError::Image(e) => match e.status_kind() {
                berth_image::Kind::NotFound => 404,
                berth_image::Kind::InvalidArgument => 400,
                berth_image::Kind::Conflict => 409,
                berth_image::Kind::Internal => 500,
            },
            _ => 500,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        RegistryError::Io {
            what: what.into(),
            source,
        }
    }

    /// Whether another endpoint of the same registry may do better (it was not reached).
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, RegistryError::Connect { .. })
    }
}
